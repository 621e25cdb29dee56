"""Queued and periodic work for questions (periodic runs are scheduled by Celery beat).

Services import this module to enqueue (through ``transaction.on_commit``); each task imports the
service it calls in its own body. So this module stays light for the web processes that
enqueue, and the model code (torch, the text encoder) loads only in the training worker, which
runs the forecasting and training tasks (``CELERY_TASK_ROUTES``).
"""

import logging

from celery import shared_task
from django.conf import settings

from forecasting.models import Question

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def collect_evidence() -> None:
    """Turn newly accepted submissions of question bounties into evidence (each question with
    new evidence is then re-forecast on the queue)."""
    from forecasting.services import evidence_collect_all

    collected = evidence_collect_all()
    if collected:
        logger.info("collected %s evidence items", collected)


@shared_task(ignore_result=True)
def acquire_evidence() -> None:
    """Post evidence bounties for uncertain open questions, within each owner's budget."""
    from forecasting.acquisition import acquire_all

    decisions = acquire_all()
    posted = sum(1 for decision in decisions if decision.bounty_id is not None)
    if posted:
        logger.info("acquisition posted %s evidence bounties", posted)


@shared_task(ignore_result=True)
def forecast_question(question_id: int) -> None:
    """A fresh forecast for one question, stored (on the training queue: the champion's model
    loads there): when the question is asked, and when its evidence arrives."""
    from forecasting.services.forecasts import forecast_compute

    question = Question.objects.filter(pk=question_id).first()
    if question is not None:
        forecast_compute(question=question)


# Longer than other tasks: the search has its own budget; evaluation and the baseline follow it.
_TRAIN_SOFT_LIMIT = 2 * settings.FORECAST_SEARCH_BUDGET_SECONDS + 300


# Acknowledged on receipt (not late, unlike other tasks): a cycle lost to a crash simply runs
# at the next beat, and a long one must not be redelivered while it still runs.
@shared_task(
    ignore_result=True, acks_late=False, soft_time_limit=_TRAIN_SOFT_LIMIT,
    time_limit=_TRAIN_SOFT_LIMIT + 60,
)  # fmt: skip
def train_forecaster() -> None:
    """Beat: one turn of the closed loop (train, judge, maybe promote)."""
    from forecasting.services.training import training_cycle

    result = training_cycle()
    logger.info("training cycle: %s", result.reason)


@shared_task(ignore_result=True, acks_late=False, soft_time_limit=3_600, time_limit=3_660)
def refresh_forecasts() -> None:
    """Re-forecast every open question with the (new) champion (on the training queue: model
    work, and as long as there are open questions)."""
    from forecasting.services.forecasts import forecasts_refresh_open

    logger.info("re-forecast %s open questions", forecasts_refresh_open())
