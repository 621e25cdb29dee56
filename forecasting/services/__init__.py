"""Every write of the forecasting app: questions and their evidence (``questions``), which model
serves (``versions``), forecasts (``forecasts``) and the training loop that makes, judges and
promotes forecasters (``training``).

Only the light services are exported here, for the web: ``forecasts`` and ``training`` load the
model code (torch) and are imported by the tasks that run them, in the training worker.
"""

from forecasting.services.questions import (
    evidence_collect,
    evidence_collect_all,
    question_annul,
    question_attach_bounty,
    question_create,
    question_resolve,
)
from forecasting.services.versions import model_version_promote

__all__ = [
    "evidence_collect",
    "evidence_collect_all",
    "model_version_promote",
    "question_annul",
    "question_attach_bounty",
    "question_create",
    "question_resolve",
]
