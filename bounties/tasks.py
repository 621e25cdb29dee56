"""Periodic upkeep for bounties (scheduled by Celery beat), verifying submissions, and
delivering accepted ones.

Services import this module at module level and enqueue through ``transaction.on_commit``;
each task imports the service it calls inside its body (HackSoft's direction: no cycle). So the
web, which imports this module to enqueue, never loads the photo pipeline (numpy, the checks)
or the delivery copy (OpenCV).
"""

import logging
from typing import Any

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def expire_due() -> None:
    """Lapse claims past their hold, then expire bounties past their window (with refunds)."""
    from bounties.services import bounties_expire_due, claims_expire_due

    claims = claims_expire_due()
    bounties = bounties_expire_due()
    if claims or bounties:
        logger.info("lapsed %s claims, expired %s bounties", claims, bounties)


@shared_task(ignore_result=True)
def purge_idempotency_keys() -> None:
    from market.core.idempotency import idempotency_records_purge

    logger.info("purged %s idempotency keys", idempotency_records_purge())


@shared_task(ignore_result=True)
def webhook_deliver(delivery_id: int) -> None:
    """One attempt of one delivery; failed ones are retried by ``webhooks_send_due``."""
    from bounties.webhooks import webhook_delivery_attempt

    webhook_delivery_attempt(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhooks_send_due() -> None:
    """Beat: enqueue every delivery whose next attempt is due (first tries lost with a broker
    outage included)."""
    from bounties.webhooks import webhook_deliveries_due

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
    from bounties.services import review

    for submission_id in review.submissions_preview_missing():
        submission_preview.delay(submission_id)
    review.agents_review_cooling_refresh()


@shared_task(**VERIFICATION_TASK)
def submission_preview(self: Any, submission_id: int) -> None:
    """Make the preview of a submission waiting for its agent's review (a worker: it loads
    OpenCV); the sweep enqueues again one still missing."""
    from bounties.services import review

    review.submission_preview_make(submission_id=submission_id)


# Delivery: storage errors (and temporary database ones) retried with backoff, a bounded number
# of times: under 3 minutes in all, well inside `DELIVERY_STUCK_AFTER`, after which the sweep
# enqueues the submission again. Never anything that could undo the verdict.
# (The storage errors are `bounties.delivery.StorageUnavailable`, known only in the body.)
DELIVERY_RETRY_BACKOFF_S = 5
DELIVERY_RETRY_BACKOFF_MAX_S = 120


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def submission_deliver(self: Any, submission_id: int) -> None:
    """Release an accepted submission's data (``bounties.delivery.delivery_release``): the
    derived photo, the signed receipt, the ``submission.accepted`` webhook. Enqueued after the
    verdict commits; safe to run again at any point."""
    from bounties.delivery import StorageUnavailable, delivery_release

    try:
        delivery_release(submission_id=submission_id)
    except (StorageUnavailable, OperationalError, InterfaceError) as exc:
        logger.warning("submission %s: delivery failed, will retry: %s", submission_id, exc)
        countdown = get_exponential_backoff_interval(
            factor=DELIVERY_RETRY_BACKOFF_S,
            retries=self.request.retries,
            maximum=DELIVERY_RETRY_BACKOFF_MAX_S,
            full_jitter=True,
        )
        raise self.retry(exc=exc, countdown=countdown) from exc


@shared_task(ignore_result=True)
def deliveries_sweep() -> None:
    """Beat: enqueue again the deliveries that never finished (a broker outage at the verdict's
    commit, retries exhausted by a long storage outage)."""
    from bounties.delivery import deliveries_unfinished

    unfinished = deliveries_unfinished()
    for submission_id in unfinished:
        submission_deliver.delay(submission_id)
    if unfinished:
        logger.warning("re-enqueued the delivery of %s accepted submissions", len(unfinished))
