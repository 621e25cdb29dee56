"""The ledger in the admin, read-only: accounts with their statements (every entry with the
balance after it), and transactions with all their legs, so an operator can follow every cent."""

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from market.accounts.admin import AgentAdmin
from market.accounts.models import Agent
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.ledger.models import Entry, LedgerAccount, Transaction
from market.ledger.selectors import wallet_summary
from market.ledger.services import wallet_credit_test_funds


class ReadOnlyAdmin(admin.ModelAdmin):
    """The books are append-only: nothing here can add, change or delete a row."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def _statement_url(account: LedgerAccount) -> str:
    return reverse("admin:ledger_entry_changelist") + f"?account__id__exact={account.pk}"


def _legs(txn: Transaction, exclude: Entry | None = None) -> str:
    """Each leg of a transaction as 'account: amount', linked to the account's statement."""
    entries = [entry for entry in txn.entries.all() if exclude is None or entry.pk != exclude.pk]
    return format_html_join(
        ", ",
        '<a href="{}">{}</a>&nbsp;{}',
        (
            (_statement_url(e.account), str(e.account), format_money(e.amount_minor, e.currency))
            for e in entries
        ),
    )


@admin.register(LedgerAccount)
class LedgerAccountAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "kind", "owner", "currency", "balance", "protected", "statement")
    list_filter = ("kind", "currency", "protected")
    search_fields = ("owner",)
    fields = ("kind", "owner", "currency", "protected", "balance", "statement", "created_at")
    readonly_fields = fields

    @admin.display(description="balance", ordering="balance_minor")
    def balance(self, account: LedgerAccount) -> str:
        return format_money(account.balance_minor, account.currency)

    @admin.display(description="statement")
    def statement(self, account: LedgerAccount) -> str:
        return format_html(
            '<a href="{}">{} entries</a>', _statement_url(account), account.entries.count()
        )


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdmin):
    """An account's statement: filter by account to see its running balance."""

    list_display = (
        "id", "created", "account", "txn", "kind", "reference", "amount", "balance_after",
        "counterparties",
    )  # fmt: skip
    list_filter = ("account__kind", "transaction__kind", "currency")
    search_fields = ("account__owner", "transaction__reference", "transaction__idempotency_key")
    list_select_related = ("account", "transaction")
    ordering = ("-id",)
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet[Entry]:
        return super().get_queryset(request).prefetch_related("transaction__entries__account")

    @admin.display(description="at", ordering="transaction__created_at")
    def created(self, entry: Entry) -> str:
        return f"{entry.transaction.created_at:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="transaction")
    def txn(self, entry: Entry) -> str:
        url = reverse("admin:ledger_transaction_change", args=[entry.transaction_id])
        return format_html('<a href="{}">#{}</a>', url, entry.transaction_id)

    @admin.display(description="kind")
    def kind(self, entry: Entry) -> str:
        return entry.transaction.get_kind_display()

    @admin.display(description="reference")
    def reference(self, entry: Entry) -> str:
        return entry.transaction.reference

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, entry: Entry) -> str:
        return format_money(entry.amount_minor, entry.currency)

    @admin.display(description="balance after")
    def balance_after(self, entry: Entry) -> str:
        return format_money(entry.balance_after_minor, entry.currency)

    @admin.display(description="other side")
    def counterparties(self, entry: Entry) -> str:
        return _legs(entry.transaction, exclude=entry)


class EntryInline(admin.TabularInline):
    model = Entry
    extra = 0
    fields = ("account_link", "amount", "balance_after")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="account")
    def account_link(self, entry: Entry) -> str:
        return format_html('<a href="{}">{}</a>', _statement_url(entry.account), entry.account)

    @admin.display(description="amount")
    def amount(self, entry: Entry) -> str:
        return format_money(entry.amount_minor, entry.currency)

    @admin.display(description="balance after")
    def balance_after(self, entry: Entry) -> str:
        return format_money(entry.balance_after_minor, entry.currency)


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "kind", "reference", "legs", "memo")
    list_filter = ("kind", "created_at")
    search_fields = ("reference", "idempotency_key", "memo")
    date_hierarchy = "created_at"
    fields = ("kind", "reference", "idempotency_key", "memo", "reverses", "created_at")
    readonly_fields = fields
    inlines = [EntryInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Transaction]:
        return super().get_queryset(request).prefetch_related("entries__account")

    @admin.display(description="entries")
    def legs(self, txn: Transaction) -> str:
        return _legs(txn)


class TestFundsForm(forms.Form):
    amount_minor = forms.IntegerField(
        min_value=1,
        max_value=10_000_000,
        label="Amount in minor units",
        help_text="e.g. 2500 is $25.00",
    )
    # One form, one credit: a resubmitted form replays the same ledger keys.
    nonce = forms.CharField(widget=forms.HiddenInput)


admin.site.unregister(Agent)


@admin.register(Agent)
class AgentWithWalletAdmin(AgentAdmin):
    """The accounts app's agent admin, plus the wallet (which the ledger owns)."""

    list_display = (*AgentAdmin.list_display, "wallet")
    actions = [*AgentAdmin.actions, "credit_test_funds"]

    @admin.display(description="wallet")
    def wallet(self, agent: Agent) -> str:
        summary = wallet_summary(agent)
        return (
            f"{format_money(summary.available_minor, summary.currency)} available, "
            f"{format_money(summary.held_minor, summary.currency)} held"
        )

    @admin.action(description="Credit test funds…")
    def credit_test_funds(
        self, request: HttpRequest, queryset: QuerySet[Agent]
    ) -> TemplateResponse | None:
        if "apply" in request.POST:
            form = TestFundsForm(request.POST)
            if form.is_valid():
                amount = form.cleaned_data["amount_minor"]
                for agent in queryset:
                    try:
                        wallet_credit_test_funds(
                            agent=agent,
                            amount_minor=amount,
                            idempotency_key=f"admin-test-funds:{form.cleaned_data['nonce']}:{agent.pk}",
                            memo=f"test funds by {request.user}",
                        )
                    except ApplicationError as error:
                        self.message_user(request, f"{agent.name}: {error.message}", messages.ERROR)
                    else:
                        credited = format_money(amount, agent.currency)
                        self.message_user(request, f"Credited {credited} to {agent.name}.")
                return None
        else:
            form = TestFundsForm(initial={"nonce": uuid.uuid4().hex})
        return TemplateResponse(
            request,
            "admin/ledger/credit_test_funds.html",
            {
                **self.admin_site.each_context(request),
                "title": "Credit test funds",
                "agents": queryset,
                "form": form,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            },
        )
