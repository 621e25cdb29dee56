"""Daily reconciliation: Stripe's balance transactions for a period against our books.

Two pairs are compared item by item: Stripe charges against the ledger's funding credits
(matched on the payment intent the Checkout session recorded), and Stripe transfers (and their
reversals) against our payouts (matched on the transfer id we recorded). Items near the period's
edges are matched against the neighbouring hour too, so a charge at 23:59 whose webhook arrived
at 00:01 is not reported twice.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import stripe
from django.db import transaction

from market.core.money import format_money
from market.ledger.models import Transaction, TransactionKind
from market.payments.models import (
    CheckoutSession,
    Payout,
    PayoutEvent,
    PayoutStatus,
    ReconciliationReport,
)
from market.payments.stripe_api import request_options

logger = logging.getLogger(__name__)

EDGE_SLACK = timedelta(hours=1)
CHARGE_TYPES = frozenset({"charge", "payment"})


@dataclass(frozen=True)
class Item:
    """One money movement on either side, in minor units (positive: money in)."""

    key: str  # what the two sides share: a payment intent id, a transfer id
    stripe_id: str
    amount_minor: int
    currency: str
    at: datetime


def _source_field(source: Any, field: str) -> str:
    """A field of an expanded source, or the source id itself when it was not expanded."""
    if isinstance(source, str):
        return source if field == "id" else ""
    value = source.get(field) if source is not None else None
    if value is not None and not isinstance(value, str):
        value = value.get("id")
    return str(value or "")


def _stripe_items(start: datetime, end: datetime) -> dict[str, list[Item]]:
    """Stripe's balance transactions in [start, end), by kind."""
    items: dict[str, list[Item]] = defaultdict(list)
    listing = stripe.BalanceTransaction.list(
        created={"gte": int(start.timestamp()), "lt": int(end.timestamp())},
        limit=100,
        expand=["data.source"],
        **request_options(),
    )
    for balance_txn in listing.auto_paging_iter():
        raw = balance_txn.to_dict()
        kind = str(raw["type"])
        source = raw.get("source")
        if kind in CHARGE_TYPES:
            key = _source_field(source, "payment_intent") or _source_field(source, "id")
            kind = "charge"
        else:
            key = _source_field(source, "id")
        items[kind].append(
            Item(
                key=key,
                stripe_id=str(raw["id"]),
                amount_minor=int(raw["amount"]),
                currency=str(raw["currency"]),
                at=datetime.fromtimestamp(raw["created"], tz=start.tzinfo),
            )
        )
    return items


def _ledger_funding(start: datetime, end: datetime) -> list[Item]:
    """Wallet funding credits posted in [start, end), keyed by payment intent."""
    txns = Transaction.objects.filter(
        kind=TransactionKind.WALLET_FUNDING, created_at__gte=start, created_at__lt=end
    ).prefetch_related("entries")
    checkout_ids = {
        int(txn.reference.split(":")[1]): txn
        for txn in txns
        if txn.reference.startswith("checkout:")
    }
    sessions = CheckoutSession.objects.in_bulk(list(checkout_ids))
    items = []
    for checkout_id, txn in checkout_ids.items():
        session = sessions.get(checkout_id)
        credit = max(entry.amount_minor for entry in txn.entries.all())
        currency = next(iter(txn.entries.all())).currency
        items.append(
            Item(
                key=(session.stripe_payment_intent_id if session else "") or txn.idempotency_key,
                stripe_id=(session.stripe_session_id or "") if session else txn.idempotency_key,
                amount_minor=credit,
                currency=currency,
                at=txn.created_at,
            )
        )
    return items


def _ledger_transfers(start: datetime, end: datetime) -> list[Item]:
    """Payouts whose Stripe transfer was made in [start, end), keyed by transfer id (negative:
    money out of our Stripe balance)."""
    sent = PayoutEvent.objects.filter(
        new=PayoutStatus.IN_TRANSIT, old=PayoutStatus.PENDING, at__gte=start, at__lt=end
    ).select_related("payout")
    return [
        Item(
            key=event.payout.stripe_transfer_id or "",
            stripe_id=event.payout.stripe_transfer_id or "",
            amount_minor=-event.payout.amount_minor,
            currency=event.payout.currency,
            at=event.at,
        )
        for event in sent
    ]


def _compare(
    *,
    stripe_side: list[Item],
    ours: list[Item],
    period: tuple[datetime, datetime],
    names: tuple[str, str],
) -> list[dict[str, Any]]:
    """Every item on one side with no equal item on the other, inside the period."""
    start, end = period
    stripe_name, our_name = names
    by_key_stripe = {item.key: item for item in stripe_side}
    by_key_ours = {item.key: item for item in ours}
    differences: list[dict[str, Any]] = []
    for item in stripe_side:
        if not start <= item.at < end:
            continue
        match = by_key_ours.get(item.key)
        amount = format_money(item.amount_minor, item.currency)
        if match is None:
            reason = f"Stripe {stripe_name} {item.stripe_id} ({amount}) has no {our_name} here"
        elif (match.amount_minor, match.currency) != (item.amount_minor, item.currency):
            reason = (
                f"Stripe {stripe_name} {item.stripe_id} is {amount}, the {our_name} is "
                f"{format_money(match.amount_minor, match.currency)}"
            )
        else:
            continue
        differences.append(_difference(item, side="stripe", reason=reason))
    for item in ours:
        if start <= item.at < end and item.key not in by_key_stripe:
            amount = format_money(item.amount_minor, item.currency)
            reason = f"the {our_name} {item.stripe_id} ({amount}) has no Stripe {stripe_name}"
            differences.append(_difference(item, side="ledger", reason=reason))
    return differences


def _difference(item: Item, *, side: str, reason: str) -> dict[str, Any]:
    return {
        "side": side,
        "id": item.stripe_id,
        "amount_minor": item.amount_minor,
        "currency": item.currency,
        "at": item.at.isoformat(),
        "reason": reason,
    }


def _totals(items: list[Item], period: tuple[datetime, datetime]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for item in items:
        if period[0] <= item.at < period[1]:
            totals[item.currency] += item.amount_minor
    return dict(totals)


def _count(items: list[Item], period: tuple[datetime, datetime]) -> int:
    return sum(1 for item in items if period[0] <= item.at < period[1])


def reconcile_stripe(*, period_start: datetime, period_end: datetime) -> ReconciliationReport:
    """Compare Stripe's balance transactions in [period_start, period_end) with the ledger and
    store the report (replacing an earlier one for the same period). Stripe's listing is read
    with auto-paging; a Stripe error propagates and stores nothing."""
    period = (period_start, period_end)
    stripe_items = _stripe_items(period_start - EDGE_SLACK, period_end + EDGE_SLACK)
    funding = _ledger_funding(period_start - EDGE_SLACK, period_end + EDGE_SLACK)
    transfers = _ledger_transfers(period_start - EDGE_SLACK, period_end + EDGE_SLACK)
    reversals = list(
        Payout.objects.exclude(stripe_transfer_reversal_id="").values_list(
            "stripe_transfer_reversal_id", flat=True
        )
    )
    differences = _compare(
        stripe_side=stripe_items["charge"],
        ours=funding,
        period=period,
        names=("charge", "funding credit"),
    ) + _compare(
        stripe_side=stripe_items["transfer"],
        ours=transfers,
        period=period,
        names=("transfer", "payout"),
    )
    known_reversals = set(reversals)
    for item in stripe_items["transfer_refund"]:
        if period_start <= item.at < period_end and item.key not in known_reversals:
            differences.append(
                _difference(
                    item,
                    side="stripe",
                    reason=f"Stripe transfer reversal {item.key} is not on any payout",
                )
            )
    for item in stripe_items["refund"]:
        if period_start <= item.at < period_end:
            differences.append(
                _difference(
                    item,
                    side="stripe",
                    reason=f"Stripe refund {item.key} has no ledger entry: refunds are manual",
                )
            )
    counts = {
        "stripe_charges": _count(stripe_items["charge"], period),
        "ledger_funding": _count(funding, period),
        "stripe_transfers": _count(stripe_items["transfer"], period),
        "ledger_payouts": _count(transfers, period),
        "stripe_other": sum(
            _count(found, period)
            for kind, found in stripe_items.items()
            if kind not in ("charge", "transfer")
        ),
    }
    totals = {
        "stripe_charges": _totals(stripe_items["charge"], period),
        "ledger_funding": _totals(funding, period),
        "stripe_transfers": _totals(stripe_items["transfer"], period),
        "ledger_payouts": _totals(transfers, period),
    }
    with transaction.atomic():
        report, _ = ReconciliationReport.objects.update_or_create(
            period_start=period_start,
            period_end=period_end,
            defaults={
                "counts": counts,
                "totals": totals,
                "differences": differences,
                "difference_count": len(differences),
            },
        )
    if differences:
        logger.warning("reconciliation: %s differences for %s", len(differences), period_start)
    return report
