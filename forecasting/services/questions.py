"""Writes for questions: create, attach bounties, resolve or annul (once, finally), collect
evidence from accepted submissions. A new question and new evidence enqueue a forecast
(``forecasting.tasks.forecast_question``): forecasts are computed on the queue, never here."""

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bounties.models import (
    MAX_QUANTITY,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    Bounty,
    Submission,
    SubmissionStatus,
)
from bounties.selectors import haversine_m, worker_verdicts
from bounties.services.bounties import (
    MAX_AUTO_APPROVE_AFTER,
    MAX_CLAIM_TTL,
    MAX_PER_WORKER,
    MAX_PRICE_MINOR,
    MIN_AUTO_APPROVE_AFTER,
    MIN_CLAIM_TTL,
    TEXT_MAX_LENGTHS,
    metadata_check,
)
from forecasting import tasks
from forecasting.models import (
    EvidenceItem,
    Outcome,
    Question,
    QuestionBounty,
    QuestionStatus,
)
from market.accounts.models import Agent
from market.core.bounds import text_check
from market.core.errors import ApplicationError, field_error
from verification.policy import reputation

logger = logging.getLogger(__name__)

# A question closes and resolves within this of its asking: far enough for any real question,
# near enough that every date computed from it is one the database and Python can hold.
QUESTION_MAX_HORIZON = timedelta(days=5 * 365)


@dataclass(frozen=True)
class TemplateNumber:
    """The range of one number in an ``evidence_template`` (a bounty field's own range)."""

    minimum: float
    maximum: float
    integer: bool = True


def template_numbers() -> dict[str, TemplateNumber]:
    """Every number an ``evidence_template`` may carry, with the bounty's bounds for it."""
    return {
        "lat": TemplateNumber(-90, 90, integer=False),
        "lon": TemplateNumber(-180, 180, integer=False),
        "radius_m": TemplateNumber(MIN_RADIUS_M, MAX_RADIUS_M),
        "price": TemplateNumber(1, MAX_PRICE_MINOR),
        "quantity": TemplateNumber(1, MAX_QUANTITY),
        "max_per_worker": TemplateNumber(1, MAX_PER_WORKER),
        "window_seconds": TemplateNumber(60, settings.BOUNTY_MAX_HORIZON.total_seconds()),
        "claim_ttl_seconds": TemplateNumber(
            MIN_CLAIM_TTL.total_seconds(), MAX_CLAIM_TTL.total_seconds()
        ),
        "auto_approve_after_seconds": TemplateNumber(
            MIN_AUTO_APPROVE_AFTER.total_seconds(), MAX_AUTO_APPROVE_AFTER.total_seconds()
        ),
    }


TEMPLATE_TEXTS: dict[str, int] = {**TEXT_MAX_LENGTHS, "currency": 3}
TEMPLATE_FLAGS = ("require_gps", "blur_faces")


def evidence_template_check(template: Any) -> dict[str, Any]:
    """``template`` if every key is one a bounty has and every value is within that field's
    bounds (numbers finite and in range, text storable, metadata a bounded object); otherwise
    ``ApplicationError`` naming ``evidence_template``. What cannot be checked alone (a
    location from the question, a window from ``closes_at``) ``_check_template`` tries."""
    field = "evidence_template"
    if not isinstance(template, dict):
        raise field_error(field, "The template must be a JSON object.")
    numbers = template_numbers()
    for key, value in template.items():
        path = f"{field}.{key}"
        if key in numbers:
            bound = numbers[key]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or not bound.minimum <= value <= bound.maximum
                or (bound.integer and value != int(value))
            ):
                kind = "a whole number" if bound.integer else "a number"
                raise field_error(
                    field, f"{key} must be {kind} from {bound.minimum:g} to {bound.maximum:g}."
                )
        elif key in TEMPLATE_TEXTS:
            if not isinstance(value, str):
                raise field_error(field, f"{key} must be text.")
            text_check(value, field=path, max_length=TEMPLATE_TEXTS[key])
        elif key in TEMPLATE_FLAGS:
            if not isinstance(value, bool):
                raise field_error(field, f"{key} must be true or false.")
        elif key == "metadata":
            if not isinstance(value, dict):
                raise field_error(field, "metadata must be a JSON object.")
            metadata_check(value, field=path)
        else:
            raise field_error(field, f"Unknown key {str(key)[:50]!r}.")
    return template


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
    now = timezone.now()
    text_check(title, field="title", max_length=Question._meta.get_field("title").max_length)
    text_check(
        resolution_criteria,
        field="resolution_criteria",
        max_length=Question._meta.get_field("resolution_criteria").max_length,
    )
    if closes_at <= now:
        raise field_error("closes_at", "The question must close in the future.")
    if resolves_at < closes_at:
        raise field_error("resolves_at", "A question resolves at or after it closes.")
    if resolves_at > now + QUESTION_MAX_HORIZON:
        raise field_error(
            "resolves_at", f"A question resolves within {QUESTION_MAX_HORIZON.days} days."
        )
    if (lat is None) != (lon is None):
        raise field_error("lat", "Give both lat and lon, or neither.")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= (lon or 0) <= 180):
        raise field_error("lat", "Latitude must be -90..90 and longitude -180..180.")
    if stake_minor < 0 or max_acquisition_spend_minor < 0:
        raise field_error("max_acquisition_spend", "Amounts cannot be negative.")
    if evidence_template:
        evidence_template_check(evidence_template)
        _check_template(agent, title, closes_at, lat, lon, evidence_template)
    question = Question.objects.create(
        agent=agent, title=title, resolution_criteria=resolution_criteria, closes_at=closes_at,
        resolves_at=resolves_at, lat=lat, lon=lon, evidence_template=evidence_template or {},
        stake_minor=stake_minor, max_acquisition_spend_minor=max_acquisition_spend_minor,
    )  # fmt: skip
    _forecast_after_commit(question)
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
        _forecast_after_commit(question)
    return created


def _forecast_after_commit(question: Question) -> None:
    """The question's forecast is computed on the queue (where the model loads) once this
    transaction commits; until it is stored, the API serves the base rate marked pending."""
    question_id = question.pk
    transaction.on_commit(lambda: tasks.forecast_question.delay(question_id))


def evidence_collect_all() -> int:
    """Beat: collect evidence for every open question with attached bounties."""
    total = 0
    for question in Question.objects.filter(
        status=QuestionStatus.OPEN, links__isnull=False
    ).distinct():
        total += len(evidence_collect(question=question))
    return total
