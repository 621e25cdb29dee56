"""Periodic upkeep for bounties (scheduled by Celery beat), and verifying submissions.

The verification tasks import ``checking`` (the photo pipeline: numpy, the checks) in their
bodies: the web imports this module to enqueue them and never runs the pipeline itself.
"""

import logging
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from bounties.services import bounties_expire_due, claims_expire_due
from bounties.webhooks import webhook_deliveries_due, webhook_delivery_attempt
from market.core.idempotency import idempotency_records_purge

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def expire_due() -> None:
    """Lapse claims past their hold, then expire bounties past their window (with refunds)."""
    claims = claims_expire_due()
    bounties = bounties_expire_due()
    if claims or bounties:
        logger.info("lapsed %s claims, expired %s bounties", claims, bounties)


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> None:
    logger.info("purged %s idempotency keys", idempotency_records_purge())


@shared_task(ignore_result=True)
def webhook_deliver(delivery_id: int) -> None:
    """One attempt of one delivery; failed ones are retried by ``webhooks_send_due``."""
    webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhooks_send_due() -> None:
    """Beat: enqueue every delivery whose next attempt is due (first tries lost with a broker
    outage included)."""
    for delivery_id in webhook_deliveries_due():
        webhook_deliver.delay(delivery_id)


# Verification tasks: acknowledged only when done (a dead worker's job is redelivered), temporary
# database errors retried a bounded number of times (then the sweeper tries again later).
VERIFICATION_TASK: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 5,
    "retry_backoff_max": 120,
    "max_retries": 5,
}


@shared_task(**VERIFICATION_TASK)
def submission_verify(self: Any, submission_id: int) -> None:
    """Verify one submission (the ``verify`` queue, which GPU machines consume). Acknowledged
    only when done, requeued if the worker dies; temporary database errors retry a bounded
    number of times, after which the sweeper picks the submission up again."""
    from bounties.services import checking

    checking.submission_verify(submission_id=submission_id)


@shared_task(**VERIFICATION_TASK)
def submission_check_fast(self: Any, submission_id: int) -> None:
    """A new upload's fast checks (the ``default`` queue: CPU machines, so the worker hears
    back within seconds whatever the verify machines are doing), then the model stage on the
    ``verify`` queue if none of them failed."""
    from bounties.services import checking

    checking.submission_check_fast(submission_id=submission_id)


@shared_task(ignore_result=True)
def submissions_sweep() -> None:
    """Beat: re-enqueue submissions stuck without a verdict, and auto-approve those that waited
    for review longer than their bounty allows."""
    from bounties.services import checking

    for submission_id in checking.submissions_stuck():
        submission_verify.delay(submission_id)
    approved = checking.submissions_auto_approve_due()
    if approved:
        logger.info("auto-approved %s submissions", approved)
