"""Computing forecasts: the queue's work (``forecasting.tasks.forecast_question`` when a question
is asked or its evidence arrives, ``refresh_forecasts`` when the champion changes), never a
request's. This module loads the champion's model code (torch): only the training worker, which
runs those tasks, imports it."""

from forecasting.models import Forecast, Question, QuestionStatus
from forecasting.selectors import base_rate_forecast
from forecasting.serving import champion_prediction


def forecast_compute(*, question: Question) -> Forecast:
    """A fresh forecast, stored, from the champion model (on the question's text and the
    evidence captured before it closes). Until a model has been promoted, or if the champion
    cannot run, that is the base rate of resolved questions (the same whatever the evidence)."""
    served = champion_prediction(question)
    if served is None:
        forecast = base_rate_forecast(question)
        forecast.save()
        return forecast
    return Forecast.objects.create(
        question=question, probability=served.probability, interval_low=served.low,
        interval_high=served.high, model_version=served.model_version,
        evidence_count=served.evidence_count,
    )  # fmt: skip


def forecasts_refresh_open() -> int:
    """Re-forecast every open question (after a new champion is promoted or rolled back)."""
    count = 0
    for question in Question.objects.filter(status=QuestionStatus.OPEN).iterator():
        forecast_compute(question=question)
        count += 1
    return count
