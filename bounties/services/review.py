"""Agents judging what they buy: who reviews a photo the checks could not settle, the agent's
accept and reject, the preview it judges by, and the fair-use rule.

A photo that passes the automated checks but needs a judgment (relevance unchecked or in its
review band, a new worker, safety in its band) goes, by the bounty's ``review`` option: to its
agent (``agent``), to operators (``operator``), or is accepted at once where nothing failed
(``auto``; operators otherwise). Hard failures are rejected by the checks before any of this,
and appeals always go to operators.

Fair use: an agent whose rejections operators overturn on appeal too often (more than
``REVIEW_OVERTURN_THRESHOLD`` of its rejections among its last ``REVIEW_FAIR_USE_WINDOW``
decisions, and at least ``REVIEW_OVERTURN_MIN_COUNT``) loses review for
``REVIEW_COOLING_DAYS``: its photos go to operators meanwhile. An overturned rejection pays the
worker as any acceptance does (``submission_decide``, from the escrow the appeal holds).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bounties import tasks
from bounties.disclosure import submission_event_data
from bounties.models import (
    AWAITING_AGENT,
    Bounty,
    Reviewer,
    ReviewMode,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from bounties.selectors import agent_review_stats
from bounties.services.bounties import bounty_lock
from bounties.services.fulfilment import submission_decide, submission_transition
from bounties.webhooks import webhook_event_emit
from market.accounts.models import Agent
from market.core.bounds import text_check
from market.core.errors import ApplicationError, field_error
from verification.image import load_image

logger = logging.getLogger(__name__)

MIN_REASON_LENGTH, MAX_REASON_LENGTH = 5, 500
ACCEPTED_BY_AGENT = "Accepted by the buyer."
ACCEPTED_AUTOMATICALLY = (
    "Every automated check passed: accepted without review, as the buyer asked."
)
# Faces are detected on this decode (the shorter side at least this long), then the preview is
# shrunk: the detector misses faces that are only a few pixels wide.
PREVIEW_DECODE_MIN_SIDE = 768
# A preview still missing this long after its submission entered review lost its task: the
# sweep enqueues it again.
PREVIEW_MISSING_AFTER = timedelta(minutes=2)
PREVIEW_SWEEP_BATCH = 100


def agent_reviews_now(agent: Agent, *, now: datetime) -> tuple[bool, str]:
    """Whether the agent may judge its photos now, and if not, why (a sentence for the event
    log and the operators). Refreshes the agent's cooling period first."""
    if not agent.is_active:
        return False, "The buyer's agent is suspended; operators review the photo."
    cooling_until = agent_review_cooling_refresh(agent=agent, now=now)
    if cooling_until is not None:
        return False, (
            f"The buyer's review is paused until {cooling_until:%Y-%m-%d %H:%M} UTC: too many of "
            "its rejections were overturned on appeal. Operators review the photo."
        )
    return True, ""


def agent_review_cooling_refresh(*, agent: Agent, now: datetime | None = None) -> datetime | None:
    """Store the end of the agent's cooling period if the fair-use rule now sets a later one
    (``agent_review_stats``), and return it while it lasts (None otherwise). A period once
    started runs its course."""
    now = now or timezone.now()
    cooling_until = agent_review_stats(agent, now=now)["cooling_until"]
    if cooling_until is not None and cooling_until != agent.review_cooling_until:
        updated = Agent.objects.filter(
            Q(review_cooling_until__isnull=True) | Q(review_cooling_until__lt=cooling_until),
            pk=agent.pk,
        ).update(review_cooling_until=cooling_until)
        if updated:
            logger.warning("agent %s loses review until %s (fair use)", agent.pk, cooling_until)
        agent.review_cooling_until = cooling_until
    return cooling_until


def agents_review_cooling_refresh(*, now: datetime | None = None) -> int:
    """Refresh the cooling period of every agent with a rejection overturned recently (the
    sweep: an operator's overturn is made in the admin, and ``GET /me`` reads the stored
    period). Returns how many agents are cooling."""
    now = now or timezone.now()
    since = now - timedelta(days=settings.REVIEW_COOLING_DAYS)
    agent_ids = (
        Submission.objects.filter(
            agent_verdict=SubmissionStatus.REJECTED,
            status=SubmissionStatus.ACCEPTED,
            decided_at__gte=since,
        )
        .values_list("bounty__agent_id", flat=True)
        .distinct()
    )
    cooling = 0
    for agent in Agent.objects.filter(pk__in=list(agent_ids)):
        if agent_review_cooling_refresh(agent=agent, now=now) is not None:
            cooling += 1
    return cooling


def submission_review_route(
    *, submission: Submission, reasons: list[str], checks_clean: bool
) -> Submission:
    """Send a submission in ``verifying`` whose checks need a judgment to whoever judges it
    (see the module's docstring), under the caller's lock on it. ``checks_clean``: every check
    ran and none failed (``checking.checks_clean``).

    Waiting for the agent: ``review_by`` is ``agent`` from now (its deadline counts from
    here), the ``submission.needs_review`` webhook is queued, and the preview is made by a
    task after commit."""
    bounty: Bounty = submission.bounty
    now = timezone.now()
    if bounty.review == ReviewMode.AUTO and checks_clean:
        return submission_decide(
            submission=submission,
            accept=True,
            reasons=[ACCEPTED_AUTOMATICALLY],
            actor="verification",
        )
    reviewer, why = Reviewer.OPERATOR, ""
    if bounty.review == ReviewMode.AGENT:
        agent_may, why = agent_reviews_now(bounty.agent, now=now)
        if agent_may:
            reviewer = Reviewer.AGENT
    submission.reasons = reasons
    submission.review_by, submission.review_started_at = reviewer, now
    submission.save(update_fields=["reasons", "review_by", "review_started_at"])
    submission_transition(
        submission,
        SubmissionStatus.NEEDS_REVIEW,
        actor="verification",
        reason="; ".join([*reasons, why or f"Waiting for the {reviewer} to review it."]),
    )
    if reviewer == Reviewer.AGENT:
        webhook_event_emit(
            agent=bounty.agent,
            event_type="submission.needs_review",
            data=submission_event_data(submission)
            | {"review_deadline": submission.review_deadline},
        )
        submission_id = submission.pk
        transaction.on_commit(lambda: tasks.submission_preview.delay(submission_id))
    return submission


def review_reason_check(reason: str) -> str:
    """A rejection's reason, stripped, if it is 5 to 500 characters of storable text (the
    worker reads it); otherwise ``ApplicationError`` naming ``reason``."""
    reason = text_check(reason.strip(), field="reason", max_length=MAX_REASON_LENGTH)
    if len(reason) < MIN_REASON_LENGTH:
        raise field_error(
            "reason",
            f"Say why in {MIN_REASON_LENGTH} to {MAX_REASON_LENGTH} characters: the worker "
            "reads it.",
        )
    return reason


@transaction.atomic
def submission_review_decide(
    *, submission: Submission, agent: Agent, accept: bool, reason: str = ""
) -> Submission:
    """The bounty's agent accepts or rejects a submission waiting for it (``awaits_agent``);
    a rejection needs a reason (``review_reason_check``), which the worker reads.

    Through ``submission_decide`` (the escrow, the slot, the webhook) as ``agent:<id>``, under
    the bounty's lock, then the submission's. Deciding again the same way changes nothing (also
    after the deadline accepted it, or operators overturned a rejection); the other way is 409
    ``already_decided``. Another agent's submission is 404; one not waiting for this agent
    (still being verified, with operators, appealed) is 409 ``not_awaiting_review``."""
    if not accept:
        reason = review_reason_check(reason)
    bounty_lock(submission.bounty_id)
    locked = Submission.objects.select_for_update().select_related("bounty").get(pk=submission.pk)
    if locked.bounty.agent_id != agent.pk:
        raise ApplicationError("not_found", "No such submission", status=404)
    target = SubmissionStatus.ACCEPTED if accept else SubmissionStatus.REJECTED
    decided = locked.agent_verdict or (
        locked.status if locked.status in (SubmissionStatus.ACCEPTED, SubmissionStatus.REJECTED)
        else ""
    )  # fmt: skip
    if decided == target:
        return locked
    if decided:
        raise ApplicationError(
            "already_decided",
            f"This submission was already {decided}; a decision cannot be changed.",
            status=409,
            extra={"submission_status": locked.status},
        )
    if not locked.awaits_agent:
        raise ApplicationError(
            "not_awaiting_review",
            f"This submission is {locked.status} and not waiting for your review.",
            status=409,
            extra={"submission_status": locked.status},
        )
    locked = submission_decide(
        submission=locked,
        accept=accept,
        reasons=[reason] if reason else [ACCEPTED_BY_AGENT],
        actor=f"agent:{agent.pk}",
    )
    locked.agent_verdict, locked.agent_decided_at = target, timezone.now()
    locked.save(update_fields=["agent_verdict", "agent_decided_at"])
    logger.info("submission %s %s by agent %s", locked.pk, target, agent.pk)
    return locked


@transaction.atomic
def submission_operator_decide(
    *, submission: Submission, accept: bool, reasons: list[str], actor: str
) -> Submission:
    """An operator's verdict (the review queue, appeals): ``submission_decide``, then the fair-use
    rule judged at once, since accepting a photo its agent rejected overturns that rejection
    (the agent's cooling period, read by routing and ``GET /me``, starts with the same commit)."""
    decided = submission_decide(submission=submission, accept=accept, reasons=reasons, actor=actor)
    agent_review_cooling_refresh(agent=decided.bounty.agent)
    return decided


def submission_review_hand_over(*, submission: Submission, reason: str) -> Submission:
    """Give a submission waiting for its agent to operators (the agent's deadline passed on a
    photo that cannot be accepted without a person), under the caller's locks. Recorded as an
    event; the status stays ``needs_review``."""
    if not submission.awaits_agent:
        return submission
    submission.review_by = Reviewer.OPERATOR
    submission.save(update_fields=["review_by"])
    SubmissionEvent.objects.create(
        submission=submission,
        old_status=submission.status,
        new_status=submission.status,
        actor="auto-approve",
        reason=reason,
    )
    return submission


def submission_preview_make(*, submission_id: int) -> bool:
    """Make and store the preview of a submission routed to its agent, once (a retried or
    concurrent run stores nothing twice). Returns whether this run stored it."""
    submission = Submission.objects.filter(pk=submission_id).first()
    if submission is None or submission.preview or submission.review_by != Reviewer.AGENT:
        return False
    # OpenCV (face blurring) loads here, in the worker that makes previews: never in the web.
    from verification.preview import preview_jpeg

    with submission.photo.open("rb") as original:
        loaded = load_image(original.read(), min_side=PREVIEW_DECODE_MIN_SIDE)
    data = preview_jpeg(loaded.image)
    storage = submission.preview.storage
    name = storage.save(
        f"submissions/previews/{submission.bounty_id}/{submission.upload_id}.jpg",
        ContentFile(data),
    )
    stored = Submission.objects.filter(pk=submission_id, preview="").update(preview=name)
    if not stored:  # a concurrent run stored its own first
        storage.delete(name)
    return bool(stored)


def submissions_preview_missing(*, now: datetime | None = None) -> list[int]:
    """Submissions waiting for their agent without a preview well after entering review (the
    task was lost): the sweep enqueues them again."""
    cutoff = (now or timezone.now()) - PREVIEW_MISSING_AFTER
    return list(
        Submission.objects.filter(AWAITING_AGENT, preview="", review_started_at__lt=cutoff)
        .order_by("review_started_at")
        .values_list("pk", flat=True)[:PREVIEW_SWEEP_BATCH]
    )
