"""Periodic work for questions (scheduled by Celery beat)."""

import logging

from celery import shared_task

from forecasting.acquisition import acquire_all
from forecasting.services import evidence_collect_all

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def collect_evidence() -> None:
    """Turn newly accepted submissions of question bounties into evidence (and re-forecast)."""
    collected = evidence_collect_all()
    if collected:
        logger.info("collected %s evidence items", collected)


@shared_task(ignore_result=True)
def acquire_evidence() -> None:
    """Post evidence bounties for uncertain open questions, within each owner's budget."""
    decisions = acquire_all()
    posted = sum(1 for decision in decisions if decision.bounty_id is not None)
    if posted:
        logger.info("acquisition posted %s evidence bounties", posted)
