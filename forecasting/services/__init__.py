"""Every write of the forecasting app: questions and their evidence (``questions``), and the
training loop that makes, judges and promotes forecasters (``training``)."""

from forecasting.services.questions import (
    evidence_collect,
    evidence_collect_all,
    forecast_compute,
    forecasts_refresh_open,
    question_annul,
    question_attach_bounty,
    question_create,
    question_resolve,
)

__all__ = [
    "evidence_collect",
    "evidence_collect_all",
    "forecast_compute",
    "forecasts_refresh_open",
    "question_annul",
    "question_attach_bounty",
    "question_create",
    "question_resolve",
]
