"""Periodic upkeep for bounties (scheduled by Celery beat)."""

import logging

from celery import shared_task

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
