"""Reads for questions and forecasts."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from forecasting.models import (
    EvidenceItem,
    Forecast,
    ModelVersion,
    ModelVersionStatus,
    Outcome,
    Question,
    QuestionStatus,
)
from market.accounts.models import Agent


def questions_for_agent(agent: Agent, *, status: str | None = None) -> QuerySet[Question]:
    queryset = Question.objects.filter(agent=agent)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def resolved_counts() -> tuple[int, int]:
    """How many questions resolved yes and no (for the base rate)."""
    counts = Question.objects.filter(status=QuestionStatus.RESOLVED).aggregate(
        yes=Count("id", filter=Q(outcome=Outcome.YES)), no=Count("id", filter=Q(outcome=Outcome.NO))
    )
    return counts["yes"], counts["no"]


def latest_forecast(question: Question) -> Forecast | None:
    return question.forecasts.order_by("-computed_at", "-id").first()


def usable_evidence(question: Question) -> QuerySet[EvidenceItem]:
    """The question's evidence that may be read: captured no later than its close."""
    return question.evidence.filter(
        captured_at__isnull=False, captured_at__lte=question.closes_at
    ).order_by("-captured_at", "-id")


def base_rate_forecast(question: Question) -> Forecast:
    """The base rate of resolved questions as a forecast for ``question``, not saved: what is
    served until a model has been promoted, and while the first forecast is computed."""
    # Imported here: scipy.stats costs a web process ~50 MB and ~1 s at start, and it serves
    # the base rate only for a question whose first forecast is still on the queue.
    from forecasting import baseline

    prediction = baseline.base_rate(*resolved_counts())
    return Forecast(
        question=question,
        probability=prediction.probability,
        interval_low=prediction.low,
        interval_high=prediction.high,
        model_version=baseline.MODEL_VERSION,
        evidence_count=usable_evidence(question).count(),
        computed_at=timezone.now(),
    )


def forecast_pending(question: Question, forecast: Forecast | None) -> bool:
    """Whether the queue owes ``question`` a fresher forecast than ``forecast`` (its latest):
    none is stored yet, evidence arrived after it, or a champion was promoted after it. Only
    open questions are re-forecast; a resolved or annulled one has nothing pending."""
    if question.status != QuestionStatus.OPEN:
        return False
    if forecast is None:
        return True
    return (
        question.evidence.filter(created_at__gt=forecast.computed_at).exists()
        or ModelVersion.objects.filter(
            status=ModelVersionStatus.CHAMPION, promoted_at__gt=forecast.computed_at
        ).exists()
    )


@dataclass(frozen=True)
class CurrentForecast:
    forecast: Forecast  # the latest stored one, or the base rate (not saved) before the first
    pending: bool  # a fresher forecast is being computed on the queue


def forecast_current(question: Question) -> CurrentForecast:
    """What an agent is told now: the latest stored forecast, or the base rate while the first
    is computed; never computed with a model here (that is the queue's work)."""
    forecast = latest_forecast(question)
    pending = forecast_pending(question, forecast)
    return CurrentForecast(forecast or base_rate_forecast(question), pending)
