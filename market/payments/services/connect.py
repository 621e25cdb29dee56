"""Workers' Stripe Connect Express accounts: creation, onboarding links, status from Stripe."""

import logging
from datetime import datetime
from typing import Any

import stripe
from django.db import IntegrityError, transaction

from market.accounts.models import User
from market.core.errors import ApplicationError
from market.payments.models import ConnectedAccount, Payout, PayoutStatus
from market.payments.services.payouts import payout_enqueue_send
from market.payments.stripe_api import request_options, stripe_configured

logger = logging.getLogger(__name__)


def connected_account_get_or_create(*, worker: User) -> ConnectedAccount:
    """The worker's Express account, created at Stripe on first use with idempotency key
    ``connect-<user id>``, so a retried or concurrent first visit makes one account. Payouts to
    the bank are manual: we create each one, with our payout id in its metadata."""
    existing = ConnectedAccount.objects.filter(worker=worker).first()
    if existing is not None:
        return existing
    if not stripe_configured():
        raise ApplicationError(
            "stripe_not_configured", "Payouts are not available: Stripe is off.", status=503
        )
    try:
        account = stripe.Account.create(
            type="express",
            email=worker.email,
            capabilities={"transfers": {"requested": True}},
            settings={"payouts": {"schedule": {"interval": "manual"}}},
            metadata={"user_id": str(worker.pk)},
            **request_options(idempotency_key=f"connect-{worker.pk}"),
        )
    except stripe.StripeError as error:
        raise ApplicationError(
            "stripe_unavailable",
            "Stripe did not create your payout account; try again.",
            status=503,
        ) from error
    try:
        with transaction.atomic():
            return ConnectedAccount.objects.create(
                worker=worker,
                stripe_account_id=account.id,
                details_submitted=bool(account.details_submitted),
                payouts_enabled=bool(account.payouts_enabled),
            )
    except IntegrityError:  # a concurrent first visit saved it (the same account: same key)
        return ConnectedAccount.objects.get(worker=worker)


def connected_account_onboarding_link(*, worker: User, refresh_url: str, return_url: str) -> str:
    """A single-use Stripe-hosted onboarding (or update) link for the worker's account."""
    account = connected_account_get_or_create(worker=worker)
    try:
        # No key of ours: each visit needs a fresh link (links are single-use and expire).
        link = stripe.AccountLink.create(
            account=account.stripe_account_id,
            refresh_url=refresh_url,
            return_url=return_url,
            type="account_onboarding",
            **request_options(),
        )
    except stripe.StripeError as error:
        raise ApplicationError(
            "stripe_unavailable", "Stripe did not give an onboarding link; try again.", status=503
        ) from error
    return str(link.url)


@transaction.atomic
def connected_account_sync(*, account: dict[str, Any], as_of: datetime) -> ConnectedAccount | None:
    """Apply Stripe's ``account.updated``: the flags, unless a newer event was applied already
    (deliveries can come out of order). When payouts become possible, the worker's pending
    payouts are sent."""
    row = (
        ConnectedAccount.objects.select_for_update().filter(stripe_account_id=account["id"]).first()
    )
    if row is None:
        logger.info("connect: account.updated for unknown account %s", account["id"])
        return None
    if row.flags_as_of is not None and as_of < row.flags_as_of:
        logger.info("connect: stale account.updated for %s ignored", row.stripe_account_id)
        return row
    could_pay = row.payouts_enabled
    row.details_submitted = bool(account.get("details_submitted"))
    row.payouts_enabled = bool(account.get("payouts_enabled"))
    row.flags_as_of = as_of
    row.save(update_fields=["details_submitted", "payouts_enabled", "flags_as_of", "updated_at"])
    if row.payouts_enabled and not could_pay:
        for payout_id in Payout.objects.filter(
            worker_id=row.worker_id, status=PayoutStatus.PENDING, on_hold=False
        ).values_list("pk", flat=True):
            payout_enqueue_send(payout_id)
    return row
