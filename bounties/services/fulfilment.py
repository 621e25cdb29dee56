"""Claims, submissions and verdicts: a bounty being fulfilled, slot by slot."""

import hashlib
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from bounties.disclosure import submission_event_data
from bounties.models import (
    CLAIM_TRANSITIONS,
    SUBMISSION_TRANSITIONS,
    Bounty,
    BountyStatus,
    Claim,
    ClaimStatus,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from bounties.services.bounties import (
    bounty_event_data,
    bounty_event_record,
    bounty_lock,
    claims_lapse_stale,
    open_slots,
)
from bounties.tasks import submission_deliver
from bounties.webhooks import webhook_event_emit
from market.accounts.models import User
from market.core.errors import ApplicationError, field_error
from market.core.states import transition_check
from market.ledger.services import escrow_refund, escrow_release

logger = logging.getLogger(__name__)


def claims_expire_due() -> int:
    """Lapse every claim that has ended: its hold and the upload grace after it (run by beat;
    reads that count slots also lapse them). A claim in its grace keeps its slot."""
    now = timezone.now()
    return Claim.objects.ended(now).update(status=ClaimStatus.EXPIRED, closed_at=now)


@transaction.atomic
def claim_create(*, bounty: Bounty, worker: User) -> Claim:
    """Hold one slot of an open bounty for the worker, for the bounty's claim_ttl.

    Never more claims than open slots, under any concurrency: the bounty row is locked while
    the slots are counted and the claim written.
    """
    bounty = bounty_lock(bounty.pk)
    now = timezone.now()
    if not bounty.is_open:
        raise ApplicationError("bounty_closed", f"This bounty is {bounty.status}", status=409)
    if now < bounty.starts_at:
        raise ApplicationError(
            "bounty_not_started", "This bounty's window has not started", status=409
        )
    if now >= bounty.ends_at:
        raise ApplicationError("bounty_ended", "This bounty's window has ended", status=409)
    if bounty.is_test != worker.is_test_worker:
        raise ApplicationError("not_found", "No such bounty", status=404)
    claims_lapse_stale(bounty, now)
    existing = Claim.objects.filter(bounty=bounty, worker=worker, status=ClaimStatus.ACTIVE).first()
    if existing is not None:
        return existing  # claiming twice is harmless: the same hold
    done_by_worker = (
        Submission.objects.filter(bounty=bounty, worker=worker)
        .exclude(status=SubmissionStatus.REJECTED)
        .count()
    )
    if done_by_worker >= bounty.max_per_worker:
        raise ApplicationError(
            "max_per_worker_reached",
            f"This bounty takes at most {bounty.max_per_worker} submission(s) per person",
            status=409,
        )
    if open_slots(bounty) <= 0:
        raise ApplicationError("no_open_slots", "Every slot of this bounty is taken", status=409)
    try:
        with transaction.atomic():
            return Claim.objects.create(
                bounty=bounty, worker=worker, expires_at=now + bounty.claim_ttl
            )
    except IntegrityError:  # a concurrent claim by the same worker won
        return Claim.objects.get(bounty=bounty, worker=worker, status=ClaimStatus.ACTIVE)


def _claim_transition(claim: Claim, new: ClaimStatus) -> Claim:
    transition_check(CLAIM_TRANSITIONS, old=claim.status, new=new, label=f"Claim #{claim.pk}")
    claim.status, claim.closed_at = new, timezone.now()
    claim.save(update_fields=["status", "closed_at"])
    return claim


@transaction.atomic
def claim_release(*, claim: Claim, worker: User) -> Claim:
    """The worker gives the slot back. Releasing twice changes nothing."""
    claim = Claim.objects.select_for_update().get(pk=claim.pk, worker=worker)
    if claim.status == ClaimStatus.RELEASED:
        return claim
    return _claim_transition(claim, ClaimStatus.RELEASED)


def submission_transition(
    submission: Submission, new: SubmissionStatus, *, actor: str, reason: str = ""
) -> Submission:
    transition_check(
        SUBMISSION_TRANSITIONS,
        old=submission.status,
        new=new,
        label=f"Submission #{submission.pk}",
    )
    old = submission.status
    submission.status = new
    fields = ["status"]
    if new in (SubmissionStatus.ACCEPTED, SubmissionStatus.REJECTED):
        submission.decided_at = timezone.now()
        fields.append("decided_at")
    submission.save(update_fields=fields)
    SubmissionEvent.objects.create(
        submission=submission, old_status=old, new_status=new, actor=actor, reason=reason[:1000]
    )
    return submission


@transaction.atomic
def submission_decide(
    *, submission: Submission, accept: bool, reasons: list[str], actor: str
) -> Submission:
    """Apply a verdict: accept (release the slot's escrow to the worker and the platform) or
    reject (with reasons; the slot reopens, or is refunded if the bounty has closed).

    Only the decision and the money happen under the bounty's lock, committed together: an
    acceptance enqueues the delivery (the derived photo, the receipt and the
    ``submission.accepted`` webhook: ``bounties.delivery``) to run after commit, so claims on
    the bounty never wait for it and a failed delivery never undoes the verdict.

    Idempotent: deciding a submission that already has this verdict changes nothing, and the
    ledger postings are keyed by submission, so a retried task never pays twice.
    """
    bounty = bounty_lock(submission.bounty_id)
    submission = Submission.objects.select_for_update().get(pk=submission.pk)
    target = SubmissionStatus.ACCEPTED if accept else SubmissionStatus.REJECTED
    if submission.status == target:
        return submission
    if not accept and not reasons:
        raise ApplicationError("reason_required", "A rejection needs at least one reason")
    if accept and bounty.accepted_count >= bounty.quantity:
        raise ApplicationError("bounty_full", "Every slot of this bounty is filled", status=409)
    submission.reasons = reasons
    submission.save(update_fields=["reasons"])
    submission_transition(submission, target, actor=actor, reason="; ".join(reasons))
    if accept:
        escrow_release(
            agent=bounty.agent,
            bounty_id=bounty.pk,
            worker=submission.worker,
            price_minor=bounty.price_minor,
            fee_minor=bounty.fee_minor,
            submission_id=submission.pk,
        )
        bounty.accepted_count += 1
        bounty.save(update_fields=["accepted_count", "updated_at"])
        submission_id = submission.pk
        # robust: the verdict has committed; a broker outage here is the sweep's to repair.
        transaction.on_commit(lambda: submission_deliver.delay(submission_id), robust=True)
        if bounty.is_open and bounty.accepted_count == bounty.quantity:
            old = bounty.status
            bounty.status, bounty.closed_at = BountyStatus.FULFILLED, timezone.now()
            bounty.save(update_fields=["status", "closed_at", "updated_at"])
            bounty_event_record(
                bounty, old, BountyStatus.FULFILLED, actor=actor, reason="all slots filled"
            )
            webhook_event_emit(
                agent=bounty.agent, event_type="bounty.fulfilled", data=bounty_event_data(bounty)
            )
    else:
        webhook_event_emit(
            agent=bounty.agent,
            event_type="submission.rejected",
            data=submission_event_data(submission),
        )
        if not bounty.is_open:
            escrow_refund(
                agent=bounty.agent,
                bounty_id=bounty.pk,
                amount_minor=bounty.slot_cost_minor,
                idempotency_key=f"refund:submission:{submission.pk}",
            )
    return submission


@dataclass(frozen=True)
class ReportedLocation:
    """Where the browser says the worker was, and how sure it is."""

    lat: float
    lon: float
    accuracy_m: float | None = None


@transaction.atomic
def submission_create(
    *,
    claim: Claim,
    worker: User,
    upload_id: uuid.UUID,
    photo: File,
    content_type: str,
    note: str = "",
    location: ReportedLocation | None = None,
) -> tuple[Submission, bool]:
    """Store a photo against the worker's claim: ``(submission, created)``.

    A retried upload (same worker and ``upload_id``) returns the first submission and stores
    nothing new, so an upload is never lost and never doubled. The claim becomes ``submitted``;
    the slot stays reserved until the verdict.
    """
    existing = Submission.objects.filter(worker=worker, upload_id=upload_id).first()
    if existing is not None:
        return existing, False
    bounty = bounty_lock(claim.bounty_id)
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    existing = Submission.objects.filter(worker=worker, upload_id=upload_id).first()
    if existing is not None:  # a concurrent retry committed first
        return existing, False
    if claim.worker_id != worker.pk:
        raise ApplicationError("not_found", "No such claim", status=404)
    if not claim.holds_at(timezone.now()):  # the hold, plus CLAIM_UPLOAD_GRACE
        raise ApplicationError(
            "claim_not_active",
            "This claim has lapsed or was released; claim the bounty again to upload.",
            status=409,
        )
    if location is not None and not (-90 <= location.lat <= 90 and -180 <= location.lon <= 180):
        raise field_error("location", "The reported location is not a valid coordinate.")
    photo_sha256, size_bytes = _photo_digest(photo)
    submission = Submission(
        bounty=bounty,
        claim=claim,
        worker=worker,
        upload_id=upload_id,
        photo_sha256=photo_sha256,
        content_type=content_type,
        size_bytes=size_bytes,
        note=note[:1000],
        reported_lat=location.lat if location else None,
        reported_lon=location.lon if location else None,
        reported_accuracy_m=location.accuracy_m if location else None,
    )
    submission.photo.save(str(upload_id), photo, save=False)
    submission.save()
    _claim_transition(claim, ClaimStatus.SUBMITTED)
    SubmissionEvent.objects.create(
        submission=submission, old_status="", new_status=SubmissionStatus.RECEIVED,
        actor=f"user:{worker.pk}", reason="uploaded",
    )  # fmt: skip
    logger.info("submission %s received for bounty %s", submission.pk, bounty.pk)
    transaction.on_commit(lambda: _enqueue_verification(submission.pk))
    return submission, True


def _photo_digest(photo: File) -> tuple[str, int]:
    """The photo's SHA-256 and size, refused over `MAX_UPLOAD_BYTES` (the one upload limit, which
    the verification pipeline is given too): counted while reading, not taken from the upload's
    declared size."""
    limit = settings.MAX_UPLOAD_BYTES
    too_large = ApplicationError(
        "photo_too_large",
        f"The photo is over the upload limit of {limit / 2**20:.1f} MB.",
        status=413,
        extra={"field": "photo", "max_bytes": limit},
    )
    if (photo.size or 0) > limit:
        raise too_large
    digest, size_bytes = hashlib.sha256(), 0
    for chunk in photo.chunks():
        size_bytes += len(chunk)
        if size_bytes > limit:
            raise too_large
        digest.update(chunk)
    photo.seek(0)
    return digest.hexdigest(), size_bytes


def _enqueue_verification(submission_id: int) -> None:
    from bounties.tasks import submission_check_fast

    submission_check_fast.delay(submission_id)
