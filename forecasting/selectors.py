"""Reads for questions and forecasts."""

from django.db.models import Count, Q, QuerySet

from forecasting.models import Forecast, Outcome, Question, QuestionStatus
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
