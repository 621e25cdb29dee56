"""The double-entry ledger: accounts, immutable transactions and their entries.

Sign convention: an entry's ``amount_minor`` is added to its account's balance. Money moves from
one account to another as a pair of entries, ``-x`` on the source and ``+x`` on the destination,
so every transaction sums to zero per currency. Accounts that stand for the outside world
(Stripe clearing, test funding) go negative as money flows in; the accounts that hold users'
money are *protected* and never go below zero.

The database enforces the rules (see the migrations), so a write that bypasses
``market.ledger.services.post_transaction`` still cannot corrupt the books:
- an entry insert adds its amount to the account's ``balance_minor`` (trigger) and must state
  the resulting balance in ``balance_after_minor`` and the account's currency; a check
  constraint refuses a negative balance on a protected account, and a balance cannot be
  changed other than by an entry (PostgreSQL);
- entries and transactions cannot be updated or deleted (trigger);
- on PostgreSQL, a transaction whose entries do not sum to zero per currency is refused at
  commit (deferred constraint trigger).
"""

from django.db import models
from django.db.models import Q

from market.core.money import format_money


class AccountKind(models.TextChoices):
    AGENT_WALLET = "agent_wallet", "Agent wallet"
    BOUNTY_ESCROW = "bounty_escrow", "Bounty escrow"
    WORKER_EARNINGS = "worker_earnings", "Worker earnings"
    PLATFORM_REVENUE = "platform_revenue", "Platform revenue"
    STRIPE_CLEARING = "stripe_clearing", "Stripe clearing"
    PAYOUTS_IN_TRANSIT = "payouts_in_transit", "Payouts in transit"
    TEST_FUNDING = "test_funding", "Test funding"


# Accounts holding money that belongs to someone: never negative.
PROTECTED_KINDS = frozenset(
    {
        AccountKind.AGENT_WALLET,
        AccountKind.BOUNTY_ESCROW,
        AccountKind.WORKER_EARNINGS,
        AccountKind.PLATFORM_REVENUE,
        AccountKind.PAYOUTS_IN_TRANSIT,
    }
)


class LedgerAccount(models.Model):
    """One balance: a kind, a currency and who or what it belongs to (``owner``).

    ``owner`` is a reference string such as ``agent:12``, ``user:7``, ``bounty:3`` or
    ``platform``, so the ledger needs to import nothing of the apps that use it.
    """

    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    currency = models.CharField(max_length=3)
    owner = models.CharField(max_length=64)
    protected = models.BooleanField()
    balance_minor = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "currency", "owner"], name="ledger_account_unique"
            ),
            models.CheckConstraint(
                condition=Q(protected=False) | Q(balance_minor__gte=0),
                name="ledger_protected_balance_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(currency__regex=r"^[a-z]{3}$"), name="ledger_account_currency_iso"
            ),
        ]
        ordering = ("kind", "owner", "currency")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.owner} ({self.currency.upper()})"


class TransactionKind(models.TextChoices):
    WALLET_FUNDING = "wallet_funding", "Wallet funding (Stripe)"
    TEST_CREDIT = "test_credit", "Test credit (operator)"
    ESCROW_HOLD = "escrow_hold", "Escrow hold"
    ESCROW_RELEASE = "escrow_release", "Escrow release"
    ESCROW_REFUND = "escrow_refund", "Escrow refund"
    PAYOUT = "payout", "Payout"
    PAYOUT_SETTLED = "payout_settled", "Payout settled"
    PAYOUT_REVERSAL = "payout_reversal", "Payout reversal"
    REVERSAL = "reversal", "Reversal"


class Transaction(models.Model):
    """An immutable posting: what happened, why (``reference``), and its entries."""

    kind = models.CharField(max_length=32, choices=TransactionKind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    reference = models.CharField(
        max_length=200, db_index=True, help_text="What caused it: bounty:3, payout:9, evt_..."
    )
    memo = models.CharField(max_length=500, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} ({self.reference})"


class Entry(models.Model):
    """One side of a transaction. Never updated or deleted."""

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    balance_after_minor = models.BigIntegerField(
        help_text="The account's balance right after this entry (checked by the database)."
    )

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount_minor=0), name="ledger_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["account", "id"], name="ledger_entry_account_id")]

    def __str__(self) -> str:
        sign = "+" if self.amount_minor > 0 else ""
        return f"{sign}{format_money(self.amount_minor, self.currency)} on {self.account}"
