"""Periodic work for questions (scheduled by Celery beat)."""

import logging

from celery import shared_task

from forecasting.services import evidence_collect_all

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def collect_evidence() -> None:
    """Turn newly accepted submissions of question bounties into evidence (and re-forecast)."""
    collected = evidence_collect_all()
    if collected:
        logger.info("collected %s evidence items", collected)
