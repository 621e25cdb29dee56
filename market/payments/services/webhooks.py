"""Stripe's webhooks: each event stored once, then handed to the handler for its type.

The view has verified the signature before anything here runs. Storing the event and applying it
share one database transaction: a temporary failure (the database, a lock timeout) rolls both
back and the view answers 5xx, so Stripe's retry finds no stored event and applies it then; a
permanent one (an event we cannot apply) is stored with its error, for an operator, and answered
200 so Stripe stops retrying. A second delivery of a stored event does nothing.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from market.core.errors import ApplicationError
from market.payments.models import StripeEvent
from market.payments.selectors import payout_for_stripe_object
from market.payments.services.checkout import checkout_session_complete, checkout_session_expire
from market.payments.services.connect import connected_account_sync
from market.payments.services.payouts import (
    payout_mark_failed,
    payout_mark_paid,
    payout_transfer_reversed,
)

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], dict[str, Any]], None]  # (the event's object, the event)


def _actor(event: dict[str, Any]) -> str:
    return f"stripe:{event['id']}"


def _on_checkout_paid(session: dict[str, Any], event: dict[str, Any]) -> None:
    checkout_session_complete(session=session)


def _on_checkout_closed(session: dict[str, Any], event: dict[str, Any]) -> None:
    checkout_session_expire(session=session)


def _on_account_updated(account: dict[str, Any], event: dict[str, Any]) -> None:
    connected_account_sync(account=account, as_of=datetime.fromtimestamp(event["created"], tz=UTC))


def _on_payout_paid(bank_payout: dict[str, Any], event: dict[str, Any]) -> None:
    payout = payout_for_stripe_object(bank_payout, id_field="stripe_payout_id")
    if payout is None:  # a payout the worker's account made without us: not our money
        logger.info("payouts: payout.paid for unknown %s ignored", bank_payout["id"])
        return
    payout_mark_paid(payout_id=payout.pk, stripe_payout_id=bank_payout["id"], actor=_actor(event))


def _on_payout_failed(bank_payout: dict[str, Any], event: dict[str, Any]) -> None:
    payout = payout_for_stripe_object(bank_payout, id_field="stripe_payout_id")
    if payout is None:
        logger.info("payouts: payout.failed for unknown %s ignored", bank_payout["id"])
        return
    payout_mark_failed(
        payout_id=payout.pk,
        code=str(bank_payout.get("failure_code") or "payout_failed"),
        reason=str(bank_payout.get("failure_message") or "Your bank did not accept the payout."),
        actor=_actor(event),
    )


def _on_transfer_reversed(stripe_transfer: dict[str, Any], event: dict[str, Any]) -> None:
    payout = payout_for_stripe_object(stripe_transfer, id_field="stripe_transfer_id")
    if payout is None:
        logger.info("payouts: transfer.reversed for unknown %s ignored", stripe_transfer["id"])
        return
    reversals = (stripe_transfer.get("reversals") or {}).get("data") or []
    payout_transfer_reversed(
        payout_id=payout.pk,
        reversal_id=str(reversals[0]["id"]) if reversals else "",
        fully_reversed=bool(stripe_transfer.get("reversed"))
        or stripe_transfer.get("amount_reversed") == stripe_transfer.get("amount"),
        actor=_actor(event),
    )


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _on_checkout_paid,
    "checkout.session.async_payment_succeeded": _on_checkout_paid,
    "checkout.session.expired": _on_checkout_closed,
    "checkout.session.async_payment_failed": _on_checkout_closed,
    "account.updated": _on_account_updated,
    "payout.paid": _on_payout_paid,
    "payout.failed": _on_payout_failed,
    "transfer.reversed": _on_transfer_reversed,
}


@transaction.atomic
def stripe_event_process(*, event: dict[str, Any]) -> StripeEvent | None:
    """Store and apply one verified Stripe event. Returns None for a duplicate (nothing done).

    Guarantees: each Stripe event id is applied at most once (a unique constraint, so two
    concurrent deliveries cannot both apply it); unknown types are stored and ignored; a handler
    that refuses the event (``ApplicationError``) has none of its writes kept and its reason
    stored on the event; any other exception propagates and nothing at all is written.
    """
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(
                stripe_id=event["id"],
                type=event["type"],
                livemode=bool(event.get("livemode")),
                account=str(event.get("account") or ""),
                payload=event,
            )
    except IntegrityError:
        logger.info("stripe: duplicate event %s ignored", event["id"])
        return None
    handler = HANDLERS.get(event["type"])
    if handler is not None:
        try:
            with transaction.atomic():
                handler(event["data"]["object"], event)
        except ApplicationError as error:
            logger.warning("stripe: event %s not applied: %s", event["id"], error.message)
            record.error = f"{error.code}: {error.message}"
    record.processed_at = timezone.now()
    record.save(update_fields=["error", "processed_at"])
    return record
