"""Writes for questions: create, attach bounties, resolve or annul (once, finally), collect
evidence from accepted submissions, and compute forecasts."""

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from bounties.models import Bounty, Submission, SubmissionStatus
from bounties.selectors import haversine_m, worker_verdicts
from forecasting import baseline
from forecasting.dataset import usable_evidence
from forecasting.models import (
    EvidenceItem,
    Forecast,
    Outcome,
    Question,
    QuestionBounty,
    QuestionStatus,
)
from forecasting.selectors import resolved_counts
from forecasting.serving import champion_prediction
from market.accounts.models import Agent
from market.core.errors import ApplicationError, field_error
from verification.policy import reputation

logger = logging.getLogger(__name__)


@transaction.atomic
def question_create(
    *,
    agent: Agent,
    title: str,
    resolution_criteria: str,
    closes_at: datetime,
    resolves_at: datetime,
    lat: float | None = None,
    lon: float | None = None,
    evidence_template: dict[str, Any] | None = None,
    stake_minor: int = 0,
    max_acquisition_spend_minor: int = 0,
) -> Question:
    """A new open question. Evidence captured after ``closes_at`` never counts."""
    if closes_at <= timezone.now():
        raise field_error("closes_at", "The question must close in the future.")
    if resolves_at < closes_at:
        raise field_error("resolves_at", "A question resolves at or after it closes.")
    if (lat is None) != (lon is None):
        raise field_error("lat", "Give both lat and lon, or neither.")
    if stake_minor < 0 or max_acquisition_spend_minor < 0:
        raise field_error("max_acquisition_spend", "Amounts cannot be negative.")
    if evidence_template:
        _check_template(agent, title, closes_at, lat, lon, evidence_template)
    question = Question.objects.create(
        agent=agent, title=title, resolution_criteria=resolution_criteria, closes_at=closes_at,
        resolves_at=resolves_at, lat=lat, lon=lon, evidence_template=evidence_template or {},
        stake_minor=stake_minor, max_acquisition_spend_minor=max_acquisition_spend_minor,
    )  # fmt: skip
    forecast_compute(question=question)
    return question


@transaction.atomic
def question_attach_bounty(
    *, question: Question, bounty: Bounty, auto_posted: bool = False
) -> QuestionBounty:
    """Gather evidence for ``question`` from ``bounty`` (the same agent's). Attaching twice is
    harmless; a bounty serves one question."""
    if bounty.agent_id != question.agent_id:
        raise ApplicationError("not_found", "No such bounty", status=404)
    existing = QuestionBounty.objects.filter(bounty=bounty).first()
    if existing is not None:
        if existing.question_id != question.pk:
            raise ApplicationError(
                "bounty_taken", "This bounty gathers evidence for another question", status=409
            )
        return existing
    return QuestionBounty.objects.create(question=question, bounty=bounty, auto_posted=auto_posted)


def _check_template(
    agent: Agent,
    title: str,
    closes_at: datetime,
    lat: float | None,
    lon: float | None,
    template: dict[str, Any],
) -> None:
    """Refuse now, next to the field, a template the acquisition loop could never post."""
    from forecasting.acquisition import template_spec  # acquisition builds on these services

    draft = Question(
        agent=agent, title=title, closes_at=closes_at, lat=lat, lon=lon, evidence_template=template
    )
    try:
        template_spec(draft, now=timezone.now())
    except ApplicationError as error:
        raise field_error("evidence_template", f"Not a bounty: {error.message}") from error


def _lock(question: Question) -> Question:

    return Question.objects.select_for_update().get(pk=question.pk)


@transaction.atomic
def question_resolve(*, question: Question, outcome: Outcome, source: str, actor: str) -> Question:
    """Resolve yes or no, with a source. Idempotent (the same resolution again changes nothing)
    and final (another outcome, or resolving an annulled question, answers 409)."""
    question = _lock(question)
    if question.status == QuestionStatus.RESOLVED and question.outcome == outcome:
        return question
    if question.status != QuestionStatus.OPEN:
        raise ApplicationError(
            "already_resolved", f"This question is {question.status} and final", status=409
        )
    if question.closes_at > timezone.now():
        raise ApplicationError(
            "question_not_closed", "A question can be resolved once it has closed", status=409
        )
    if not source.strip():
        raise field_error("source", "Say where the answer comes from.")
    question.status, question.outcome = QuestionStatus.RESOLVED, outcome
    question.resolution_source, question.resolved_by = source.strip(), actor
    question.resolved_at = timezone.now()
    question.save()
    logger.info("question %s resolved %s by %s", question.pk, outcome, actor)
    return question


@transaction.atomic
def question_annul(*, question: Question, reason: str, actor: str) -> Question:
    """Annul an open question (it will never resolve). Annulling twice changes nothing."""
    question = _lock(question)
    if question.status == QuestionStatus.ANNULLED:
        return question
    if question.status != QuestionStatus.OPEN:
        raise ApplicationError("already_resolved", "This question is resolved", status=409)
    question.status, question.resolution_source = QuestionStatus.ANNULLED, reason
    question.resolved_by, question.resolved_at = actor, timezone.now()
    question.save()
    return question


def _reputation(worker_id: int) -> float | None:
    return reputation(worker_verdicts(worker_id), timezone.now())


def evidence_collect(*, question: Question) -> list[EvidenceItem]:
    """Turn the accepted submissions of the question's bounties into evidence items, once each.
    Photos captured after the question closed (or with no capture time) are left out: they
    must not leak the answer into the forecast or the training data."""
    created = []
    accepted = Submission.objects.filter(
        bounty__in=QuestionBounty.objects.filter(question=question).values("bounty"),
        status=SubmissionStatus.ACCEPTED,
        captured_at__isnull=False,
        captured_at__lte=question.closes_at,
    ).exclude(pk__in=question.evidence.values("submission"))
    for submission in accepted.select_related("bounty"):
        gps = (submission.facts or {}).get("gps")
        distance = None
        if gps and question.lat is not None and question.lon is not None:
            distance = haversine_m(question.lat, question.lon, gps["lat"], gps["lon"])
        try:
            with transaction.atomic():
                created.append(
                    EvidenceItem.objects.create(
                        question=question,
                        submission=submission,
                        embedding=submission.embedding,
                        verify_text=submission.bounty.verify,
                        captured_at=submission.captured_at,
                        distance_m=distance,
                        worker_reputation=_reputation(submission.worker_id),
                        embedding_model=(submission.facts or {}).get("embedding_model") or "",
                    )
                )
        except IntegrityError:  # collected concurrently
            continue
    if created:
        forecast_compute(question=question)
    return created


def forecast_compute(*, question: Question) -> Forecast:
    """A fresh forecast from the champion model (on the question's text and the evidence
    captured before it closes). Until a model has been promoted, or if the champion cannot
    run, that is the base rate of resolved questions (the same whatever the evidence)."""
    served = champion_prediction(question)
    if served is not None:
        return Forecast.objects.create(
            question=question, probability=served.probability, interval_low=served.low,
            interval_high=served.high, model_version=served.model_version,
            evidence_count=served.evidence_count,
        )  # fmt: skip
    yes, no = resolved_counts()
    prediction = baseline.base_rate(yes, no)
    return Forecast.objects.create(
        question=question,
        probability=prediction.probability,
        interval_low=prediction.low,
        interval_high=prediction.high,
        model_version=baseline.MODEL_VERSION,
        evidence_count=usable_evidence(question).count(),
    )


def forecasts_refresh_open() -> int:
    """Re-forecast every open question (after a new champion is promoted or rolled back)."""
    count = 0
    for question in Question.objects.filter(status=QuestionStatus.OPEN).iterator():
        forecast_compute(question=question)
        count += 1
    return count


def evidence_collect_all() -> int:
    """Beat: collect evidence for every open question with attached bounties."""
    total = 0
    for question in Question.objects.filter(
        status=QuestionStatus.OPEN, links__isnull=False
    ).distinct():
        total += len(evidence_collect(question=question))
    return total
