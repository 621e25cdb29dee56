"""Reads for the operators' dashboard and admin, and the workers' payout page."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from market.accounts.models import User
from market.core.money import format_money
from market.ledger.models import AccountKind, LedgerAccount
from market.payments.models import ConnectedAccount, Payout, PayoutStatus

ATTENTION_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Total:
    label: str
    currency: str
    count: int
    amount_minor: int

    @property
    def amount(self) -> str:
        return format_money(self.amount_minor, self.currency)


def payout_totals(payouts: QuerySet[Payout]) -> list[Total]:
    """Count and sum of ``payouts`` per status and currency, in the order of the states."""
    rows = (
        payouts.order_by()
        .values("status", "currency")
        .annotate(count=Count("id"), total=Sum("amount_minor"))
    )
    labels = dict(PayoutStatus.choices)
    order = list(labels)
    return [
        Total(
            label=labels[row["status"]],
            currency=row["currency"],
            count=row["count"],
            amount_minor=row["total"] or 0,
        )
        for row in sorted(rows, key=lambda row: (order.index(row["status"]), row["currency"]))
    ]


def payout_volume_by_day(*, days: int = 30) -> dict[str, list[tuple[date, int]]]:
    """Paid-out minor units per UTC day for the last ``days`` days, per currency (every day
    listed, zero when nothing was paid)."""
    today = timezone.now().date()
    first = today - timedelta(days=days - 1)
    rows = (
        Payout.objects.filter(status=PayoutStatus.PAID, paid_at__date__gte=first)
        .annotate(day=TruncDate("paid_at"))
        .values("day", "currency")
        .annotate(total=Sum("amount_minor"))
    )
    by_currency: dict[str, dict[date, int]] = defaultdict(dict)
    for row in rows:
        by_currency[row["currency"]][row["day"]] = row["total"]
    span = [first + timedelta(days=offset) for offset in range(days)]
    return {
        currency: [(day, totals.get(day, 0)) for day in span]
        for currency, totals in sorted(by_currency.items())
    }


def _balances(kind: AccountKind) -> list[Total]:
    rows = (
        LedgerAccount.objects.filter(kind=kind)
        .values("currency")
        .annotate(total=Sum("balance_minor"), count=Count("id"))
        .order_by("currency")
    )
    return [
        Total(
            label=kind.label,
            currency=row["currency"],
            count=row["count"],
            amount_minor=row["total"] or 0,
        )
        for row in rows
    ]


def escrow_outstanding() -> list[Total]:
    """Money held in bounties' escrow, per currency."""
    return _balances(AccountKind.BOUNTY_ESCROW)


def platform_revenue() -> list[Total]:
    """The platform's fees earned, per currency."""
    return _balances(AccountKind.PLATFORM_REVENUE)


def payouts_needing_attention() -> QuerySet[Payout]:
    """Held payouts, pending ones waiting for something, and recent failures."""
    return (
        Payout.objects.filter(
            Q(on_hold=True)
            | Q(status=PayoutStatus.PENDING) & ~Q(waiting_reason="")
            | Q(status=PayoutStatus.FAILED, updated_at__gte=timezone.now() - ATTENTION_WINDOW)
        )
        .select_related("worker")
        .order_by("-updated_at")
    )


def connected_account_of(worker: User) -> ConnectedAccount | None:
    return ConnectedAccount.objects.filter(worker=worker).first()


def payout_for_stripe_object(obj: dict[str, Any], *, id_field: str) -> Payout | None:
    """Our payout for a Stripe transfer or payout: by the ``payout_id`` we put in its metadata,
    else by the Stripe id we recorded."""
    payout_id = (obj.get("metadata") or {}).get("payout_id")
    if payout_id and str(payout_id).isdigit():
        found = Payout.objects.filter(pk=int(payout_id)).first()
        if found is not None:
            return found
    stripe_id = obj.get("id")
    if not stripe_id:
        return None
    return Payout.objects.filter(**{id_field: stripe_id}).first()
