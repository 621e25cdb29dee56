"""Active acquisition: buy evidence for open questions while it is worth more than it costs.

For each open question the loop reads the latest forecast and asks one question: is another
evidence bounty worth its price? It is when

    value_minor = uncertainty x stake_minor  >=  cost_minor = quantity x (price + platform fee)

where ``uncertainty`` is the chance that acting on the forecast is wrong, taken at its worst
across the forecast's interval: the largest ``min(q, 1 - q)`` for ``q`` in the interval (0 to
0.5). Acting on P(yes) = p with a stake S loses S x min(p, 1 - p) in expectation: that is what
knowing the answer would be worth (the value of perfect information), and the interval (the
model's own disagreement with itself: MC-dropout spread for a trained model, the Beta posterior
for the base rate) widens it where the model is unsure of its own p. So a forecast of 0.5
(however sure the model is of the 0.5) is worth buying evidence for, and 0.97 in a narrow band
is not. The loop stops when the forecast is confident (uncertainty at or under
``FORECAST_ACQUISITION_CONFIDENCE``), while one of its bounties is still open (its evidence is
not in yet), and before ``acquisition_spent_minor + cost_minor`` would pass
``max_acquisition_spend_minor``.

``acquisition_spent_minor`` counts what the loop committed when it posted (the full escrow of
each bounty), not what was later refunded for unfilled slots: a bound that only ever grows, so
the budget holds however the bounties end.

Every cycle leaves an ``AcquisitionDecision``: a posted bounty (labelled ``auto_posted`` with its
question in ``Bounty.metadata``) or the reason it did not post. Repeating the same skip for the
same reason is not written again, so the audit trail shows changes, not every beat.

Concurrency: ``acquire`` decides and posts in one transaction holding the question's row lock,
so two cycles for one question run one after the other and the second sees the first's bounty
and spend; the database's ``question_acquisition_within_budget`` CHECK is the last word.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bounties.models import Bounty, BountyStatus
from bounties.services import BountySpec, bounty_create
from forecasting.models import (
    AcquisitionDecision,
    Forecast,
    Question,
    QuestionBounty,
    QuestionStatus,
)
from forecasting.selectors import forecast_pending, latest_forecast
from forecasting.services import evidence_collect, question_attach_bounty
from market.core.errors import ApplicationError
from market.ledger.services import platform_fee_minor

logger = logging.getLogger(__name__)

Action = AcquisitionDecision.Action

# Why a cycle did not post: the first word of AcquisitionDecision.reason (stable, for tests,
# filters and agents reading the audit trail).
NOT_OPEN = "not_open"
NO_TEMPLATE = "no_template"
INVALID_TEMPLATE = "invalid_template"
NO_FORECAST = "no_forecast"
CONFIDENT = "confident"
WAITING = "waiting_for_evidence"
NOT_WORTH_IT = "value_below_cost"
OVER_BUDGET = "budget_exhausted"
POSTED = "posted"


@dataclass(frozen=True)
class Estimate:
    """What another evidence bounty is worth to a question's owner, from one forecast."""

    probability: float
    uncertainty: float
    value_minor: int
    model_version: str


def uncertainty(forecast: Forecast) -> float:
    """The worst chance of being wrong across the forecast's interval: 0 (certain) to 0.5
    (knows nothing, or the interval straddles even odds)."""
    low, high = forecast.interval_low, forecast.interval_high
    if low <= 0.5 <= high:
        return 0.5
    return high if high < 0.5 else 1 - low


def estimate_value(question: Question, forecast: Forecast) -> Estimate:
    """value_minor = uncertainty x stake_minor, rounded down to a whole minor unit."""
    spread = uncertainty(forecast)
    value = (Decimal(repr(spread)) * question.stake_minor).to_integral_value(ROUND_FLOOR)
    return Estimate(
        probability=forecast.probability,
        uncertainty=spread,
        value_minor=int(value),
        model_version=forecast.model_version,
    )


def is_confident(estimate: Estimate) -> bool:
    return estimate.uncertainty <= settings.FORECAST_ACQUISITION_CONFIDENCE


def template_spec(question: Question, *, now: datetime) -> BountySpec:
    """The bounty a question's ``evidence_template`` describes, in the API's field names
    (``title``, ``verify``, ``price``, ``quantity``, ``radius_m``, ``lat``/``lon``, ...).

    The window runs from now to ``closes_at`` (or ``window_seconds`` from now, if sooner):
    evidence captured after the question closes would not count. ``lat``/``lon`` default to the
    question's. Raises ``ApplicationError`` (``invalid_template``) for a template that cannot
    be a bounty; ``bounty_create`` checks the rest of the rules."""
    template: dict[str, Any] = question.evidence_template or {}
    try:
        lat = template.get("lat", question.lat)
        lon = template.get("lon", question.lon)
        if lat is None or lon is None:
            raise ValueError("no location: give lat and lon in the template or the question")
        ends_at = question.closes_at
        if template.get("window_seconds") is not None:
            ends_at = min(ends_at, now + timedelta(seconds=int(template["window_seconds"])))
        metadata = template.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ValueError("metadata must be a JSON object")
        verify = template["verify"]
        if not isinstance(verify, str) or not verify.strip():
            raise ValueError("verify must say what the photo must show")
        return BountySpec(
            title=str(template.get("title") or f"Evidence: {question.title}")[:200],
            instructions=str(template.get("instructions", "")),
            verify=verify,
            lat=float(lat),
            lon=float(lon),
            radius_m=int(template.get("radius_m", 200)),
            starts_at=now,
            ends_at=ends_at,
            price_minor=int(template["price"]),
            currency=str(template.get("currency", question.agent.currency)),
            quantity=int(template.get("quantity", 1)),
            claim_ttl=timedelta(seconds=int(template.get("claim_ttl_seconds", 1_800))),
            require_gps=bool(template.get("require_gps", True)),
            max_per_worker=int(template.get("max_per_worker", 1)),
            auto_approve_after=timedelta(
                seconds=int(template.get("auto_approve_after_seconds", 86_400))
            ),
            blur_faces=bool(template.get("blur_faces", True)),
            metadata={**metadata, "auto_posted": True, "question_id": question.pk},
        )
    except KeyError as error:
        raise ApplicationError(INVALID_TEMPLATE, f"missing {error.args[0]}") from error
    except (TypeError, ValueError) as error:
        raise ApplicationError(INVALID_TEMPLATE, str(error)) from error


def bounty_cost_minor(spec: BountySpec) -> int:
    """What posting ``spec`` holds in escrow: quantity x (price + platform fee)."""
    return spec.quantity * (spec.price_minor + platform_fee_minor(spec.price_minor))


def _open_auto_bounty(question: Question) -> int | None:
    return (
        QuestionBounty.objects.filter(
            question=question, auto_posted=True, bounty__status=BountyStatus.OPEN
        )
        .values_list("bounty_id", flat=True)
        .first()
    )


def _skip(
    question: Question, reason: str, estimate: Estimate | None = None, *, cost_minor: int = 0
) -> AcquisitionDecision:
    """Record why nothing was posted, unless the last decision said exactly that already."""
    reason = reason[:300]
    last = question.acquisition_decisions.order_by("-created_at", "-id").first()
    if last is not None and last.action == Action.SKIPPED and last.reason == reason:
        return last
    return AcquisitionDecision.objects.create(
        question=question,
        action=Action.SKIPPED,
        reason=reason,
        probability=estimate.probability if estimate else None,
        uncertainty=estimate.uncertainty if estimate else None,
        value_minor=estimate.value_minor if estimate else None,
        cost_minor=cost_minor,
        model_version=estimate.model_version if estimate else "",
    )


@transaction.atomic
def acquire(question: Question) -> AcquisitionDecision:
    """One acquisition decision for ``question``, made and carried out under its row lock:
    post one evidence bounty from the owner's wallet, or record why not. Never raises for a
    business reason (insufficient funds, the daily cap, a bad template): those are skips."""
    question = Question.objects.select_for_update().select_related("agent").get(pk=question.pk)
    now = timezone.now()
    if question.status != QuestionStatus.OPEN or question.closes_at <= now:
        return _skip(question, f"{NOT_OPEN}: the question is {question.status}, closing "
                               f"{question.closes_at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
    if not question.evidence_template:
        return _skip(question, f"{NO_TEMPLATE}: the question has no evidence template")
    forecast = latest_forecast(question)
    if forecast is None:
        return _skip(question, f"{NO_FORECAST}: no forecast yet")
    if forecast_pending(question, forecast):  # judged on its new evidence, not without it
        return _skip(question, f"{NO_FORECAST}: a fresher forecast is being computed")
    estimate = estimate_value(question, forecast)
    if is_confident(estimate):
        return _skip(
            question,
            f"{CONFIDENT}: P(yes) {estimate.probability:.3f}, chance of being wrong at most "
            f"{estimate.uncertainty:.3f} (stop at {settings.FORECAST_ACQUISITION_CONFIDENCE:.3f})",
            estimate,
        )
    try:
        spec = template_spec(question, now=now)
    except ApplicationError as error:
        return _skip(question, f"{INVALID_TEMPLATE}: {error.message}", estimate)
    cost = bounty_cost_minor(spec)
    waiting_on = _open_auto_bounty(question)
    if waiting_on is not None:
        return _skip(
            question, f"{WAITING}: bounty #{waiting_on} is still open", estimate, cost_minor=cost
        )
    if estimate.value_minor < cost:
        return _skip(
            question,
            f"{NOT_WORTH_IT}: more evidence is worth {estimate.value_minor}, a bounty costs {cost}",
            estimate,
            cost_minor=cost,
        )
    if question.acquisition_spent_minor + cost > question.max_acquisition_spend_minor:
        return _skip(
            question,
            f"{OVER_BUDGET}: spent {question.acquisition_spent_minor} of "
            f"{question.max_acquisition_spend_minor}, a bounty costs {cost}",
            estimate,
            cost_minor=cost,
        )
    try:
        bounty = bounty_create(agent=question.agent, spec=spec)  # a savepoint: all or nothing
    except ApplicationError as error:  # insufficient_funds, spending_cap_exceeded, validation
        detail = "; ".join(
            f"{field}: {' '.join(messages)}"
            for field, messages in error.extra.get("errors", {}).items()
        )
        return _skip(
            question, f"{error.code}: {detail or error.message}", estimate, cost_minor=cost
        )
    return _posted(question, bounty, estimate, cost)


def _posted(
    question: Question, bounty: Bounty, estimate: Estimate, cost: int
) -> AcquisitionDecision:
    question_attach_bounty(question=question, bounty=bounty, auto_posted=True)
    # Under the row lock; the CHECK constraint refuses any spend past the budget regardless.
    Question.objects.filter(pk=question.pk).update(
        acquisition_spent_minor=F("acquisition_spent_minor") + cost
    )
    logger.info(
        "acquisition: question %s posted bounty %s for %s (worth %s)",
        question.pk, bounty.pk, cost, estimate.value_minor,
    )  # fmt: skip
    return AcquisitionDecision.objects.create(
        question=question,
        action=Action.POSTED,
        reason=(
            f"{POSTED}: more evidence is worth {estimate.value_minor} "
            f"(chance of being wrong {estimate.uncertainty:.3f} x stake {question.stake_minor}), "
            f"the bounty costs {cost}"
        ),
        probability=estimate.probability,
        uncertainty=estimate.uncertainty,
        value_minor=estimate.value_minor,
        cost_minor=cost,
        bounty=bounty,
        model_version=estimate.model_version,
    )


def questions_to_acquire_for() -> "list[Question]":
    """Open questions, not yet closed, with an evidence template and budget left."""
    return list(
        Question.objects.filter(
            status=QuestionStatus.OPEN,
            closes_at__gt=timezone.now(),
            acquisition_spent_minor__lt=F("max_acquisition_spend_minor"),
        )
        .exclude(evidence_template={})
        .order_by("id")
    )


def acquire_all() -> list[AcquisitionDecision]:
    """One cycle over every question worth considering (beat and ``acquire_evidence``). Each
    question first collects its new evidence (new evidence enqueues a forecast: until it is
    stored the question is skipped, judged at the next cycle), then decides in its own
    transaction; one question's failure does not stop the others."""
    decisions = []
    for question in questions_to_acquire_for():
        try:
            evidence_collect(question=question)
            decisions.append(acquire(question))
        except Exception:  # logged with its traceback; the next cycle tries again
            logger.exception("acquisition failed for question %s", question.pk)
    return decisions
