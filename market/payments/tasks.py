"""Payments' Celery tasks: take ids, call one service. Enqueued only after commit."""

import logging
from datetime import datetime, timedelta
from typing import Any

import stripe
from celery import shared_task
from django.utils import timezone

from market.payments import services
from market.payments.stripe_api import is_temporary, stripe_configured

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


def _backoff_seconds(retries: int) -> int:
    return min(60 * 2**retries, 3600)  # 1, 2, 4, 8, 16 minutes


def _retry_temporary(task: Any, error: stripe.StripeError) -> None:
    """Retry a temporary Stripe error (bounded); re-raise anything else."""
    if not is_temporary(error):
        raise error
    raise task.retry(exc=error, countdown=_backoff_seconds(task.request.retries))


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def payout_send(self: Any, payout_id: int) -> None:
    """Send one payout (see ``services.payout_send``: safe to run twice). After the last retry the
    payout stays pending with the reason shown, and the next sweep sends it again."""
    try:
        services.payout_send(payout_id=payout_id)
    except stripe.StripeError as error:
        if is_temporary(error) and self.request.retries >= self.max_retries:
            logger.warning("payouts: #%s still failing after retries: %s", payout_id, error)
            services.payout_note_waiting(payout_id=payout_id)
            return
        _retry_temporary(self, error)


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def payout_transfer_reverse(self: Any, payout_id: int) -> None:
    """Bring a failed payout's transfer back to the platform."""
    try:
        services.payout_transfer_reverse(payout_id=payout_id)
    except stripe.StripeError as error:
        _retry_temporary(self, error)


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def payout_failure_notify(self: Any, payout_id: int) -> None:
    """Email the worker why their payout failed."""
    try:
        services.payout_failure_notify(payout_id=payout_id)
    except OSError as error:  # the mail server: temporary
        raise self.retry(exc=error, countdown=_backoff_seconds(self.request.retries)) from error


@shared_task(bind=True, ignore_result=True)
def payouts_sweep(self: Any) -> None:
    """Beat (PAYOUT_SWEEP_SECONDS): pay out every worker's earnings that reach the minimum."""
    created = services.payouts_sweep()
    logger.info("payouts: sweep created %s payouts", len(created))


@shared_task(bind=True, ignore_result=True, max_retries=MAX_RETRIES)
def reconcile_stripe(self: Any, day: str | None = None) -> None:
    """Beat (daily): reconcile one UTC day, yesterday unless ``day`` (YYYY-MM-DD) is given."""
    if not stripe_configured():
        logger.info("reconciliation: Stripe is off; nothing to reconcile")
        return
    if day is None:
        start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
        start -= timedelta(days=1)
    else:
        start = datetime.fromisoformat(day).replace(tzinfo=timezone.get_current_timezone())
    try:
        services.reconcile_stripe(period_start=start, period_end=start + timedelta(days=1))
    except stripe.StripeError as error:
        _retry_temporary(self, error)
