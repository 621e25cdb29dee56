"""Stripe's side of the money: webhook events, Checkout funding, Connect accounts, payouts,
reconciliation reports.

Money moves only through ``market.ledger``; these rows record what Stripe was asked and told.
States are ``TextChoices`` with their allowed transitions in one mapping beside the model;
``market.payments.services`` applies them under a row lock and writes an event per transition.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

CURRENCY_ISO = Q(currency__regex=r"^[a-z]{3}$")


class StripeEvent(models.Model):
    """One webhook delivery from Stripe, stored once per Stripe event id (deduplication)."""

    stripe_id = models.CharField("Stripe event id", max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    livemode = models.BooleanField()
    account = models.CharField(
        max_length=255, blank=True, help_text="The connected account, for Connect events."
    )
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why a permanent failure was not applied.")

    class Meta:
        ordering = ("-received_at", "-id")

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


class CheckoutStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    EXPIRED = "expired", "Expired"


CHECKOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    CheckoutStatus.OPEN: frozenset({CheckoutStatus.COMPLETED, CheckoutStatus.EXPIRED}),
    CheckoutStatus.COMPLETED: frozenset(),
    CheckoutStatus.EXPIRED: frozenset(),
}


class CheckoutSession(models.Model):
    """A requester adding funds to an agent's wallet through Stripe Checkout."""

    agent = models.ForeignKey(
        "accounts.Agent", on_delete=models.PROTECT, related_name="checkout_sessions"
    )
    stripe_session_id = models.CharField(
        max_length=255, unique=True, null=True, blank=True, help_text="Set once Stripe has it."
    )
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="checkout_amount_positive"
            ),
            models.CheckConstraint(condition=CURRENCY_ISO, name="checkout_currency_iso"),
            models.CheckConstraint(
                condition=~Q(status=CheckoutStatus.COMPLETED) | Q(completed_at__isnull=False),
                name="checkout_completed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Checkout #{self.pk} for {self.agent_id} ({self.status})"


class ConnectedAccount(models.Model):
    """A worker's Stripe Connect Express account, where their payouts go."""

    worker = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="connected_account"
    )
    stripe_account_id = models.CharField(max_length=255, unique=True)
    details_submitted = models.BooleanField(default=False)
    payouts_enabled = models.BooleanField(default=False)
    flags_as_of = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Stripe's time for the flags above: older account.updated events are ignored.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stripe_account_id} ({self.worker_id})"


class PayoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


# A paid payout can still fail: banks return money days later, and Stripe then sends
# payout.failed. A failed payout is final; its money is back in the worker's earnings.
PAYOUT_TRANSITIONS: dict[str, frozenset[str]] = {
    PayoutStatus.PENDING: frozenset({PayoutStatus.IN_TRANSIT, PayoutStatus.FAILED}),
    PayoutStatus.IN_TRANSIT: frozenset({PayoutStatus.PAID, PayoutStatus.FAILED}),
    PayoutStatus.PAID: frozenset({PayoutStatus.FAILED}),
    PayoutStatus.FAILED: frozenset(),
}


class Payout(models.Model):
    """Money leaving a worker's earnings for their bank: a Stripe transfer to their connected
    account, then a payout from it to their bank, both carrying ``payout_id`` in metadata."""

    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts"
    )
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(
        max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.PENDING
    )
    on_hold = models.BooleanField(default=False, help_text="Held by an operator: never sent.")
    hold_reason = models.CharField(max_length=500, blank=True)
    waiting_reason = models.CharField(
        max_length=200, blank=True, help_text="Why a pending payout has not been sent yet."
    )
    stripe_transfer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_payout_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    stripe_transfer_reversal_id = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    retry_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="retries"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=CURRENCY_ISO, name="payout_currency_iso"),
            models.CheckConstraint(
                condition=Q(on_hold=False) | Q(status=PayoutStatus.PENDING),
                name="payout_hold_only_pending",
            ),
            models.CheckConstraint(
                condition=~Q(status=PayoutStatus.PAID) | Q(paid_at__isnull=False),
                name="payout_paid_has_time",
            ),
            models.CheckConstraint(
                condition=Q(status=PayoutStatus.PENDING)
                | Q(stripe_transfer_id__isnull=False)
                | Q(status=PayoutStatus.FAILED),
                name="payout_sent_has_transfer",
            ),
            # One waiting payout per worker and currency: the sweep never piles them up.
            models.UniqueConstraint(
                fields=["worker", "currency"],
                condition=Q(status=PayoutStatus.PENDING),
                name="payout_one_pending_per_worker",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout #{self.pk} to {self.worker_id} ({self.status})"

    @property
    def ledger_reference(self) -> str:
        return f"payout:{self.pk}"


class PayoutEvent(models.Model):
    """The history of a payout: one row per transition, hold, release or retry."""

    payout = models.ForeignKey(Payout, on_delete=models.PROTECT, related_name="events")
    old = models.CharField(max_length=16, blank=True)
    new = models.CharField(max_length=16)
    actor = models.CharField(
        max_length=200, help_text="operator:<email>, worker:<email>, stripe:<event id>, task"
    )
    reason = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("at", "id")

    def __str__(self) -> str:
        return f"{self.payout_id}: {self.old or '-'} -> {self.new} by {self.actor}"


class ReconciliationReport(models.Model):
    """Stripe's balance transactions for a period compared with our ledger."""

    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    counts = models.JSONField(default=dict, help_text="Items on each side, by kind.")
    totals = models.JSONField(default=dict, help_text="Minor units by kind and currency.")
    differences = models.JSONField(default=list, help_text="Each difference and why it is one.")
    difference_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-period_start",)
        constraints = [
            models.UniqueConstraint(
                fields=["period_start", "period_end"], name="reconciliation_one_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gt=models.F("period_start")),
                name="reconciliation_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"Reconciliation {self.period_start:%Y-%m-%d} ({self.difference_count} differences)"
