"""Operators' view of the money leaving and entering through Stripe. Payouts change only through
services (actions below), each writing a PayoutEvent; everything else is read-only."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from market.accounts.actors import operator_actor
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.payments.models import (
    CheckoutSession,
    ConnectedAccount,
    Payout,
    PayoutEvent,
    ReconciliationReport,
    StripeEvent,
)
from market.payments.selectors import payout_totals
from market.payments.services import payout_hold, payout_release, payout_retry


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: viewable, never edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PayoutEventInline(admin.TabularInline):
    model = PayoutEvent
    extra = 0
    can_delete = False
    fields = ("at", "old", "new", "actor", "reason")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "worker",
        "amount",
        "status",
        "on_hold",
        "reason",
        "created_at",
        "paid_at",
    )
    list_filter = ("status", "on_hold", "currency", "created_at", "paid_at")
    search_fields = ("worker__email", "stripe_transfer_id", "stripe_payout_id")
    date_hierarchy = "created_at"
    list_select_related = ("worker",)
    actions = ["retry", "hold", "release"]
    inlines = [PayoutEventInline]
    fields = (
        "worker",
        "amount",
        "status",
        "on_hold",
        "hold_reason",
        "waiting_reason",
        "failure_code",
        "failure_reason",
        "stripe_transfer_id",
        "stripe_payout_id",
        "stripe_transfer_reversal_id",
        "retry_of",
        "created_at",
        "updated_at",
        "paid_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Actions need the change permission; a payout's own page is view-only (its state
        changes only through the actions' services)."""
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, payout: Payout) -> str:
        return format_money(payout.amount_minor, payout.currency)

    @admin.display(description="failure / waiting / hold reason")
    def reason(self, payout: Payout) -> str:
        return payout.failure_reason or payout.hold_reason or payout.waiting_reason

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Adds the totals per status (and currency) of the payouts the filters select."""
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data:
            changelist = response.context_data.get("cl")
            if changelist is not None:
                response.context_data["payout_totals"] = payout_totals(changelist.queryset)
        return response

    def _apply(
        self,
        request: HttpRequest,
        payouts: QuerySet[Payout],
        verb: str,
        service: Any,
    ) -> None:
        done = 0
        for payout in payouts:
            try:
                service(payout=payout, actor=operator_actor(request.user))
            except ApplicationError as error:
                self.message_user(request, error.message, messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, f"{verb} {done} payout(s).", messages.SUCCESS)

    @admin.action(
        description="Retry (send pending again; pay failed ones anew)", permissions=["change"]
    )
    def retry(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        self._apply(request, queryset, "Retried", payout_retry)

    @admin.action(description="Hold (never send until released)", permissions=["change"])
    def hold(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        self._apply(request, queryset, "Held", payout_hold)

    @admin.action(description="Release hold", permissions=["change"])
    def release(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        self._apply(request, queryset, "Released", payout_release)


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("stripe_id", "type", "livemode", "received_at", "processed_at", "error")
    list_filter = ("type", "livemode")
    search_fields = ("stripe_id", "account")
    date_hierarchy = "received_at"


@admin.register(CheckoutSession)
class CheckoutSessionAdmin(ReadOnlyAdmin):
    list_display = ("id", "agent", "amount", "status", "stripe_session_id", "created_at")
    list_filter = ("status", "currency")
    search_fields = ("stripe_session_id", "stripe_payment_intent_id", "agent__name")
    list_select_related = ("agent",)

    @admin.display(description="amount", ordering="amount_minor")
    def amount(self, session: CheckoutSession) -> str:
        return format_money(session.amount_minor, session.currency)


@admin.register(ConnectedAccount)
class ConnectedAccountAdmin(ReadOnlyAdmin):
    list_display = (
        "worker",
        "stripe_account_id",
        "details_submitted",
        "payouts_enabled",
        "updated_at",
    )
    list_filter = ("payouts_enabled", "details_submitted")
    search_fields = ("worker__email", "stripe_account_id")


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    list_display = ("period_start", "period_end", "difference_count", "counts", "updated_at")
    date_hierarchy = "period_start"
