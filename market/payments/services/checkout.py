"""Funding: requesters add money to an agent's wallet through Stripe Checkout.

The wallet is credited only when Stripe's signed ``checkout.session.completed`` (or
``checkout.session.async_payment_succeeded``) webhook says the session is paid, never on the
redirect back to our site, and once per session however often Stripe delivers the event.
"""

import logging
from typing import Any

import stripe
from django.db import transaction
from django.utils import timezone

from market.accounts.models import Agent
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.core.states import transition_check
from market.ledger.models import AccountKind, TransactionKind
from market.ledger.services import platform_account, transfer, wallet_account
from market.payments.models import (
    CHECKOUT_TRANSITIONS,
    CheckoutSession,
    CheckoutStatus,
)
from market.payments.stripe_api import request_options, stripe_configured

logger = logging.getLogger(__name__)

CHECKOUT_MINIMUM_MINOR = 100  # Stripe's own floor is about 0.50 in most currencies
CHECKOUT_MAXIMUM_MINOR = 1_000_000


def checkout_session_create(
    *, agent: Agent, amount_minor: int, success_url: str, cancel_url: str
) -> str:
    """Start a Checkout payment of ``amount_minor`` in the agent's currency and return the URL to
    send the requester to. Our row is written first, so Stripe's session carries its id
    (``client_reference_id``, metadata) and the call's idempotency key is ``checkout-<row id>``.
    Nothing is credited here. Refuses (503) when Stripe is off or does not answer."""
    if not stripe_configured():
        raise ApplicationError(
            "stripe_not_configured", "Adding funds is not available: Stripe is off.", status=503
        )
    if (
        isinstance(amount_minor, bool)
        or not isinstance(amount_minor, int)
        or not CHECKOUT_MINIMUM_MINOR <= amount_minor <= CHECKOUT_MAXIMUM_MINOR
    ):
        raise ApplicationError(
            "invalid_amount",
            f"Add between {format_money(CHECKOUT_MINIMUM_MINOR, agent.currency)} and "
            f"{format_money(CHECKOUT_MAXIMUM_MINOR, agent.currency)}.",
            extra={"field": "amount"},
        )
    row = CheckoutSession.objects.create(
        agent=agent, amount_minor=amount_minor, currency=agent.currency
    )
    metadata = {"checkout_session_id": str(row.pk), "agent_id": str(agent.pk)}
    try:
        session = stripe.checkout.Session.create(
            mode="payment",
            line_items=[
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": agent.currency,
                        "unit_amount": amount_minor,
                        "product_data": {"name": f"Sightline funds for {agent.name}"},
                    },
                }
            ],
            client_reference_id=str(row.pk),
            metadata=metadata,
            payment_intent_data={"metadata": metadata},
            success_url=success_url,
            cancel_url=cancel_url,
            **request_options(idempotency_key=f"checkout-{row.pk}"),
        )
    except stripe.StripeError as error:
        logger.warning("checkout: Stripe refused session for checkout #%s: %s", row.pk, error)
        CheckoutSession.objects.filter(pk=row.pk, status=CheckoutStatus.OPEN).update(
            status=CheckoutStatus.EXPIRED, updated_at=timezone.now()
        )
        raise ApplicationError(
            "stripe_unavailable", "Stripe did not start the payment; try again.", status=503
        ) from error
    row.stripe_session_id = session.id
    row.save(update_fields=["stripe_session_id", "updated_at"])
    if not session.url:
        raise ApplicationError("stripe_unavailable", "Stripe gave no payment page.", status=503)
    return session.url


def _locked_row(session: dict[str, Any]) -> CheckoutSession:
    """Our row for a Stripe session: by its id, else by our id in ``client_reference_id`` (the
    answer to our create call may have been lost before we saved the id)."""
    rows = CheckoutSession.objects.select_for_update(of=("self",)).select_related("agent")
    row = rows.filter(stripe_session_id=session["id"]).first()
    reference = str(session.get("client_reference_id") or "")
    if row is None and reference.isdigit():
        row = rows.filter(pk=int(reference), stripe_session_id__isnull=True).first()
    if row is None:
        raise ApplicationError(
            "unknown_checkout", f"Checkout session {session['id']} is not one of ours"
        )
    return row


def _move(row: CheckoutSession, new: CheckoutStatus, *, fields: tuple[str, ...] = ()) -> None:
    transition_check(CHECKOUT_TRANSITIONS, old=row.status, new=new, label=f"Checkout #{row.pk}")
    row.status = new
    row.save(update_fields=["status", "updated_at", *fields])


@transaction.atomic
def checkout_session_complete(*, session: dict[str, Any]) -> CheckoutSession:
    """Credit the agent's wallet for a paid Checkout session: Stripe clearing -> wallet
    (``WALLET_FUNDING``, ledger key ``checkout:<session id>``), in the same transaction as the
    session's move to completed. Once per session; an unpaid session (a delayed payment method)
    waits for ``async_payment_succeeded``. A paid amount or currency that is not what we asked
    for is refused for an operator to look at."""
    row = _locked_row(session)
    if row.status == CheckoutStatus.COMPLETED:
        return row
    if session.get("payment_status") != "paid":
        logger.info("checkout: #%s completed but not paid yet", row.pk)
        return row
    paid_minor = session.get("amount_total")
    paid_currency = str(session.get("currency") or "").lower()
    if paid_minor != row.amount_minor or paid_currency != row.currency:
        paid = (
            format_money(paid_minor, paid_currency) if isinstance(paid_minor, int) else paid_minor
        )
        raise ApplicationError(
            "checkout_amount_mismatch",
            f"Checkout #{row.pk} asked for {format_money(row.amount_minor, row.currency)}, "
            f"Stripe says {paid}",
        )
    row.stripe_session_id = session["id"]
    row.stripe_payment_intent_id = str(session.get("payment_intent") or "")
    row.completed_at = timezone.now()
    _move(
        row,
        CheckoutStatus.COMPLETED,
        fields=("stripe_session_id", "stripe_payment_intent_id", "completed_at"),
    )
    transfer(
        kind=TransactionKind.WALLET_FUNDING,
        idempotency_key=f"checkout:{session['id']}",
        reference=f"checkout:{row.pk}",
        source=platform_account(kind=AccountKind.STRIPE_CLEARING, currency=row.currency),
        destination=wallet_account(row.agent),
        amount_minor=row.amount_minor,
        memo=f"Stripe Checkout {session['id']}",
    )
    return row


@transaction.atomic
def checkout_session_expire(*, session: dict[str, Any]) -> CheckoutSession:
    """The requester never paid: the session is closed. A completed one stays completed."""
    row = _locked_row(session)
    if row.status == CheckoutStatus.OPEN:
        row.stripe_session_id = session["id"]
        _move(row, CheckoutStatus.EXPIRED, fields=("stripe_session_id",))
    return row
