"""Periodic upkeep for bounties (scheduled by Celery beat)."""

import logging

from celery import shared_task

from bounties.services import bounties_expire_due, claims_expire_due
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
