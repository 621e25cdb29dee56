"""Verifying a submission: hand the photo and the bounty's spec to ``verification`` and apply the
verdict it reaches.

Two stages, so a worker hears back within seconds: the fast checks (integrity, location, time,
duplicates; `submission_check_fast`, on the default queue for a new upload) are stored as soon
as they finish, and a failure among them rejects at once; the model checks (relevance, safety,
provenance; `submission_verify`, on the verify queue) follow. Running the same submission
again (a redelivered task after a crash) is harmless: verdicts and postings are idempotent,
and the duplicate index ignores the submission's own fingerprint.
"""

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bounties.models import Bounty, Submission, SubmissionStatus
from bounties.selectors import worker_verdicts
from bounties.services.bounties import bounty_lock
from bounties.services.fulfilment import submission_decide, submission_transition
from bounties.services.review import submission_review_hand_over, submission_review_route
from market.core.errors import ApplicationError
from verification.checks import CheckName, CheckResult, Status
from verification.checks.relevance import Scorer
from verification.fingerprints import DatabaseDuplicateIndex
from verification.image import GeoPoint, capture_time_plausible
from verification.pipeline import PipelineResult, run_all_checks, run_fast_checks
from verification.policy import Decision, Thresholds, Verdict, decide, reputation
from verification.target import Target

if TYPE_CHECKING:
    from verification.safety_model import QuietClassifier

logger = logging.getLogger(__name__)

STUCK_AFTER = timedelta(minutes=10)
# Only a photo that went through these checks, none failed, may be accepted without a person.
CHECKS_BEFORE_AUTO_APPROVAL = frozenset(
    {
        CheckName.INTEGRITY,
        CheckName.LOCATION,
        CheckName.TIME,
        CheckName.DUPLICATES,
        CheckName.SAFETY,
        CheckName.PROVENANCE,
    }
)


def _target(bounty: Bounty) -> Target:
    return Target(
        lat=bounty.lat,
        lon=bounty.lon,
        radius_m=bounty.radius_m,
        starts_at=bounty.starts_at,
        ends_at=bounty.ends_at,
        require_gps=bounty.require_gps,
        verify_text=bounty.verify,
    )


def _reported(submission: Submission) -> GeoPoint | None:
    if submission.reported_lat is None or submission.reported_lon is None:
        return None
    return GeoPoint(lat=submission.reported_lat, lon=submission.reported_lon)


def _scorer() -> Scorer | None:
    """The relevance model: the vision server's when VISION_SERVER is set (this process only
    preprocesses), else loaded once per worker process; None without VISION_MODEL_DIR."""
    if not settings.VISION_MODEL_DIR:
        return None
    # Imported here, in the verify worker that runs the model stage: the web imports this
    # module for the fast stage and must not carry torch and transformers (~400 MB).
    if settings.VISION_SERVER:
        from verification.serving import get_remote_scorer, server_key

        return get_remote_scorer(
            settings.VISION_SERVER, server_key(settings.SECRET_KEY), settings.VISION_MODEL_DIR
        )
    from verification.model import get_scorer  # torch: see above

    return get_scorer(
        settings.VISION_MODEL_DIR,
        max_batch_size=settings.VISION_MAX_BATCH,
        max_wait_s=settings.VISION_MAX_WAIT_MS / 1000,
    )


def _safety_classifier() -> "QuietClassifier":
    """Open-NSFW's process-wide session (shared with every thread of a threads-pool worker)."""
    # ONNX Runtime loads here, in the verify worker, not in the web (as `_scorer`).
    from verification.safety_model import get_classifier

    return get_classifier(settings.VERIFY_SAFETY_THREADS)


def _thresholds() -> Thresholds:
    return Thresholds(accept_without_relevance=settings.VERIFY_ACCEPT_WITHOUT_RELEVANCE)


def worker_standing(submission: Submission) -> tuple[float | None, int]:
    """The worker's recency-weighted acceptance rate and how many verdicts it rests on."""
    verdicts = worker_verdicts(submission.worker_id, exclude_submission_id=submission.pk)
    return reputation(verdicts, timezone.now()), len(verdicts)


def _store(submission: Submission, result: PipelineResult) -> None:
    """Write the checks and facts. Only a plausible capture time is stored: the pipeline gives
    no other, and a time the database or its driver cannot hold (year 10000 once a -14:00
    offset is applied) would make the row unreadable, and the submission undecidable."""
    facts = result.facts.to_dict() if result.facts else {}
    # The embedding is kept apart (large, and not for the worker's page); its model stays.
    embedding = facts.pop("embedding", None)
    captured_at = result.facts.captured_at if result.facts else None
    if captured_at is not None and not capture_time_plausible(
        captured_at, uploaded_at=submission.received_at
    ):
        captured_at = facts["captured_at"] = None
    Submission.objects.filter(pk=submission.pk).update(
        checks=[_public(check) for check in result.results],
        facts=facts,
        embedding=embedding,
        captured_at=captured_at,
    )


def _public(check: CheckResult) -> dict[str, Any]:
    score = check.score
    return {
        "name": check.name,
        "status": str(check.status),
        # JSON has no NaN or infinity (PostgreSQL refuses the row): such a score means nothing.
        "score": score if score is None or math.isfinite(score) else None,
        "reason": check.reason,
    }


def submission_verify(*, submission_id: int) -> Submission:
    """Run the checks on a submission and apply the verdict. Safe to run again at any point.

    Every run counts as an attempt; past `VERIFY_MAX_ATTEMPTS` (a photo that crashes the
    pipeline every time, a model that never answers) the submission goes to a person with the
    last error instead of being retried forever. An error in a run is recorded on the
    submission and raised (the task fails; the sweeper tries again later)."""
    submission = _start_attempt(submission_id)
    if submission.status != SubmissionStatus.VERIFYING:
        return submission  # decided, waiting for a person, or out of attempts
    with _recording_errors(submission):
        return _verify(submission)


def submission_check_fast(*, submission_id: int) -> Submission:
    """The first stage alone (the ``default`` queue, so a worker hears back within seconds
    even while the verify machines are busy or down): the fast checks, stored; a failure
    among them rejects at once. A submission still ``verifying`` afterwards needs the model
    stage (`submission_verify`, which runs the cheap fast checks again: harmless). Counts as
    an attempt like any run."""
    submission = _start_attempt(submission_id)
    if submission.status != SubmissionStatus.VERIFYING:
        return submission
    with _recording_errors(submission):
        _, verdict, _ = _fast_stage(submission, _inputs(submission))
        if verdict.decision == Decision.REJECTED:
            return _decided(submission, verdict)
    transaction.on_commit(lambda: _enqueue_model_stage(submission.pk))
    return submission


def _enqueue_model_stage(submission_id: int) -> None:
    from bounties.tasks import submission_verify

    submission_verify.delay(submission_id)


def _fast_stage(
    submission: Submission, common: dict[str, Any]
) -> tuple[PipelineResult, Verdict, tuple[float | None, int]]:
    """The fast checks, stored at once (the worker sees them within seconds), and the verdict
    they reach alone, with the worker's standing it was reached with."""
    fast = run_fast_checks(**common)
    _store(submission, fast)
    standing = worker_standing(submission)
    verdict = decide(fast.results, reputation=standing[0], history_count=standing[1])
    return fast, verdict, standing


@contextmanager
def _recording_errors(submission: Submission) -> Iterator[None]:
    """An error that stops a run is recorded on the submission, then raised."""
    try:
        yield
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        # The message may quote the file's own bytes: no NUL or lone surrogate may reach the row.
        error = error.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
        Submission.objects.filter(pk=submission.pk).update(verify_error=error[:500])
        raise


_UNDECIDED = (SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING)


def _start_attempt(submission_id: int) -> Submission:
    """Count a run, then route it: on, or to a person past `VERIFY_MAX_ATTEMPTS`.

    The count comes first, in a transaction of its own (committed when, as in a task, none is
    open around it), before anything that could fail, reading the whole row included: a run
    that fails every time still reaches the bound."""
    with transaction.atomic():
        Submission.objects.filter(pk=submission_id, status__in=_UNDECIDED).update(
            verify_attempts=F("verify_attempts") + 1
        )
    return _route_attempt(submission_id)


@transaction.atomic
def _route_attempt(submission_id: int) -> Submission:
    submission = (
        Submission.objects.select_for_update().select_related("bounty").get(pk=submission_id)
    )
    if submission.status not in _UNDECIDED:
        return submission
    if submission.verify_attempts > settings.VERIFY_MAX_ATTEMPTS:
        # The worker and the agent read the reason; the error itself is for operators (the
        # review page and the event log show it).
        error = submission.verify_error or "no error was recorded (the worker was lost)"
        reason = "Automatic verification could not finish; a person will check the photo."
        submission.reasons = [reason]
        submission.save(update_fields=["reasons"])
        logger.error(
            "submission %s: verification failed %s times, last: %s",
            submission.pk, settings.VERIFY_MAX_ATTEMPTS, error,
        )  # fmt: skip
        return submission_transition(
            submission,
            SubmissionStatus.NEEDS_REVIEW,
            actor="verification",
            reason=f"{settings.VERIFY_MAX_ATTEMPTS} runs failed; last error: {error}",
        )

    if submission.status == SubmissionStatus.RECEIVED:
        submission_transition(submission, SubmissionStatus.VERIFYING, actor="verification")
    return submission


def _inputs(submission: Submission) -> dict[str, Any]:
    with submission.photo.open("rb") as photo:
        data = photo.read()
    return {
        "target": _target(submission.bounty),
        "received_at": submission.received_at,
        "data": data,
        "reported": _reported(submission),
        "reported_accuracy_m": submission.reported_accuracy_m,
        "index": DatabaseDuplicateIndex(),
        "reference": f"submission:{submission.pk}",
    }


def _verify(submission: Submission) -> Submission:
    common = _inputs(submission)
    fast, verdict, (standing, history) = _fast_stage(submission, common)
    if verdict.decision != Decision.REJECTED:
        full = run_all_checks(
            **common,
            record=False,
            scorer=_scorer(),
            safety_classifier=_safety_classifier(),
            fast=fast,  # reuse the decoded image and the fast results
        )
        _store(submission, full)
        verdict = decide(
            full.results, reputation=standing, history_count=history, thresholds=_thresholds()
        )
    return _decided(submission, verdict)


def _decided(submission: Submission, verdict: Verdict) -> Submission:
    logger.info("submission %s: %s (%s)", submission.pk, verdict.decision, verdict.reasons)
    return _apply(submission, verdict.decision, verdict.reasons)


@transaction.atomic
def _apply(submission: Submission, decision: Decision, reasons: list[str]) -> Submission:
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    if submission.status != SubmissionStatus.VERIFYING:
        return submission  # a concurrent run already decided
    if decision == Decision.NEEDS_REVIEW:
        # To the bounty's agent, operators, or accepted outright (the bounty's `review`).
        return submission_review_route(
            submission=submission, reasons=reasons, checks_clean=checks_clean(submission.checks)
        )
    return submission_decide(
        submission=submission,
        accept=decision == Decision.ACCEPTED,
        reasons=reasons,
        actor="verification",
    )


def submissions_stuck() -> list[int]:
    """Submissions without a verdict for too long: the task was lost (broker down at commit,
    retries exhausted). The sweeper enqueues them again."""
    cutoff = timezone.now() - STUCK_AFTER
    return list(
        Submission.objects.filter(
            status__in=[SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING],
            received_at__lt=cutoff,
        ).values_list("pk", flat=True)[:500]
    )


def submissions_auto_approve_due() -> int:
    """Accept the submissions that waited for a person, or for their bounty's agent, longer
    than their bounty allows (``auto_approve_after``, from ``review_waiting_since``) when every
    check ran and none failed: an agent's silence until then means accept. Returns how many were
    accepted. One waiting for its agent that cannot be accepted so goes to operators.

    Never an appeal (its worker asked a person to overturn a rejection, so only a person may)
    and never a photo a check failed, relevance and safety included: those wait for a person
    however long it takes, and the appeals past their deadline are logged for the operators.
    Each candidate is judged again under its locks, so one decided or appealed meanwhile is
    left alone."""
    now = timezone.now()
    waiting = Submission.objects.filter(status=SubmissionStatus.NEEDS_REVIEW).select_related(
        "bounty"
    )
    due = [s.pk for s in waiting if s.review_waiting_since + s.bounty.auto_approve_after <= now]
    approved = 0
    for submission_id in due:
        try:
            if _auto_approve(submission_id, now):
                approved += 1
        except ApplicationError as error:  # a full bounty: a person settles it
            logger.warning("submission %s not auto-approved: %s", submission_id, error.message)
    overdue_appeals = waiting.filter(pk__in=due, appealed_at__isnull=False).count()
    if overdue_appeals:
        logger.warning("%s appeal(s) waited past their deadline for a person", overdue_appeals)
    return approved


def checks_clean(stored_checks: Any) -> bool:
    """Whether every check a photo needs before it is accepted without a person ran, and none
    failed (relevance and safety included)."""
    checks = [check for check in stored_checks or [] if isinstance(check, dict)]
    if any(check.get("status") == Status.FAILED for check in checks):
        return False
    # Verification that never finished (out of attempts) leaves checks missing: a person looks.
    return {check.get("name") for check in checks} >= CHECKS_BEFORE_AUTO_APPROVAL


def auto_approvable(submission: Submission, now: datetime) -> bool:
    """Whether the sweep may accept this submission without a person (see
    `submissions_auto_approve_due`)."""
    if submission.status != SubmissionStatus.NEEDS_REVIEW or submission.appealed_at is not None:
        return False
    if submission.review_waiting_since + submission.bounty.auto_approve_after > now:
        return False
    return checks_clean(submission.checks)


@transaction.atomic
def _auto_approve(submission_id: int, now: datetime) -> bool:
    bounty_id = Submission.objects.values_list("bounty_id", flat=True).get(pk=submission_id)
    bounty_lock(bounty_id)  # bounty, then submission: the order every bounty service uses
    submission = (
        Submission.objects.select_for_update().select_related("bounty").get(pk=submission_id)
    )
    if not auto_approvable(submission, now):
        deadline = submission.review_deadline
        if submission.awaits_agent and deadline is not None and deadline <= now:
            # A check failed (safety in its band): silence cannot accept it, so a person will.
            submission_review_hand_over(
                submission=submission,
                reason="The buyer did not review it in time; a check failed, so operators decide.",
            )
        return False
    submission_decide(
        submission=submission,
        accept=True,
        reasons=[
            "The buyer did not review it in time: accepted automatically."
            if submission.awaits_agent
            else "No verdict in time: accepted automatically."
        ],
        actor="auto-approve",
    )
    return True
