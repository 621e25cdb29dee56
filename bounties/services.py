"""Every write to bounties, claims and submissions, atomic with its ledger postings.

Locking order: bounty row, then claim or submission rows, then (inside the ledger) ledger
accounts in id order. Every transition re-checks the state under the lock and writes an event.

Escrow invariant: a bounty's escrow always holds ``slot_cost`` for each slot that is open,
claimed or awaiting a verdict. Publishing holds ``quantity`` slots; an acceptance releases one
(price to the worker, fee to the platform); closing a bounty (cancel, expiry) refunds the slots
nobody is working on, and a verdict on a closed bounty refunds its slot if it was rejected.
"""

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.files import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from bounties.models import (
    AWAITING_VERDICT,
    BOUNTY_TRANSITIONS,
    CLAIM_TRANSITIONS,
    MAX_METADATA_BYTES,
    MAX_QUANTITY,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    SUBMISSION_TRANSITIONS,
    Bounty,
    BountyEvent,
    BountyStatus,
    Claim,
    ClaimStatus,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
)
from market.accounts.models import Agent, User
from market.core.errors import ApplicationError
from market.ledger.services import escrow_hold, escrow_refund, escrow_release, platform_fee_minor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BountySpec:
    """What an agent asks for; validated by ``bounty_create``."""

    title: str
    verify: str
    lat: float
    lon: float
    radius_m: int
    starts_at: datetime
    ends_at: datetime
    price_minor: int
    currency: str
    quantity: int
    instructions: str = ""
    claim_ttl: timedelta = timedelta(minutes=30)
    require_gps: bool = True
    max_per_worker: int = 1
    auto_approve_after: timedelta = timedelta(hours=24)
    blur_faces: bool = True
    metadata: dict[str, Any] | None = None


def _invalid(field: str, message: str) -> ApplicationError:
    return ApplicationError(
        "validation_error",
        f"The request has invalid fields: {field}.",
        extra={"errors": {field: [message]}},
    )


def _validate_spec(spec: BountySpec, *, agent: Agent, now: datetime) -> None:
    """The rules the API serializer also states; services hold them for every caller."""
    if not -90 <= spec.lat <= 90:
        raise _invalid("lat", "Latitude must be between -90 and 90.")
    if not -180 <= spec.lon <= 180:
        raise _invalid("lon", "Longitude must be between -180 and 180.")
    if not MIN_RADIUS_M <= spec.radius_m <= MAX_RADIUS_M:
        raise _invalid("radius_m", f"The radius must be {MIN_RADIUS_M} to {MAX_RADIUS_M} metres.")
    if spec.ends_at <= spec.starts_at:
        raise _invalid("ends_at", "The window must end after it starts.")
    if spec.ends_at <= now:
        raise _invalid("ends_at", "The window must end in the future.")
    if spec.price_minor <= 0:
        raise _invalid("price", "The price must be a positive amount in minor units.")
    if not 1 <= spec.quantity <= MAX_QUANTITY:
        raise _invalid("quantity", f"The quantity must be 1 to {MAX_QUANTITY}.")
    if spec.currency.lower() != agent.currency:
        raise _invalid("currency", f"This agent's wallet is in {agent.currency}.")
    if spec.metadata is not None and len(json.dumps(spec.metadata).encode()) > MAX_METADATA_BYTES:
        raise _invalid("metadata", f"Metadata must be at most {MAX_METADATA_BYTES} bytes of JSON.")


def _bounty_event(bounty: Bounty, old: str, new: str, *, actor: str, reason: str = "") -> None:
    BountyEvent.objects.create(
        bounty=bounty, old_status=old, new_status=new, actor=actor, reason=reason
    )


@transaction.atomic
def bounty_create(*, agent: Agent, spec: BountySpec) -> Bounty:
    """Publish a bounty and hold its full cost (quantity x (price + fee)) in escrow.

    All or nothing: if the wallet or the daily cap cannot cover it, the ledger raises 402
    (``insufficient_funds`` / ``spending_cap_exceeded``) and no bounty exists.
    """
    if not agent.is_active:
        raise ApplicationError("agent_suspended", "This agent is suspended", status=403)
    now = timezone.now()
    _validate_spec(spec, agent=agent, now=now)
    bounty = Bounty.objects.create(
        agent=agent,
        title=spec.title,
        instructions=spec.instructions,
        verify=spec.verify,
        lat=spec.lat,
        lon=spec.lon,
        radius_m=spec.radius_m,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        price_minor=spec.price_minor,
        fee_minor=platform_fee_minor(spec.price_minor),
        currency=agent.currency,
        quantity=spec.quantity,
        claim_ttl=spec.claim_ttl,
        require_gps=spec.require_gps,
        max_per_worker=spec.max_per_worker,
        auto_approve_after=spec.auto_approve_after,
        blur_faces=spec.blur_faces,
        metadata=spec.metadata or {},
        is_test=agent.is_test,
    )
    escrow_hold(
        agent=agent,
        bounty_id=bounty.pk,
        amount_minor=bounty.quantity * bounty.slot_cost_minor,
        idempotency_key=f"hold:bounty:{bounty.pk}",
    )
    _bounty_event(bounty, "", BountyStatus.OPEN, actor=f"agent:{agent.pk}", reason="published")
    logger.info("bounty %s published by agent %s", bounty.pk, agent.pk)
    return bounty


def _lock_bounty(bounty_id: int) -> Bounty:
    return Bounty.objects.select_for_update().select_related("agent").get(pk=bounty_id)


def _expire_stale_claims(bounty: Bounty, now: datetime) -> int:
    """Claims past their hold lapse (checked on every read that counts slots)."""
    return Claim.objects.filter(
        bounty=bounty, status=ClaimStatus.ACTIVE, expires_at__lte=now
    ).update(status=ClaimStatus.EXPIRED, closed_at=now)


def reserved_slots(bounty: Bounty) -> int:
    """Slots someone is working on: active claims and submissions awaiting a verdict."""
    active_claims = Claim.objects.filter(bounty=bounty, status=ClaimStatus.ACTIVE).count()
    awaiting = Submission.objects.filter(bounty=bounty, status__in=AWAITING_VERDICT).count()
    return active_claims + awaiting


def open_slots(bounty: Bounty) -> int:
    """quantity - accepted - active claims - submissions awaiting a verdict (never negative)."""
    if not bounty.is_open:
        return 0
    return max(0, bounty.quantity - bounty.accepted_count - reserved_slots(bounty))


def _close(bounty: Bounty, new_status: BountyStatus, *, actor: str, reason: str) -> Bounty:
    """Close an open (locked) bounty: void active claims, refund every slot not awaiting a
    verdict. Submissions awaiting a verdict keep their money in escrow until decided."""
    if new_status not in BOUNTY_TRANSITIONS[bounty.status]:
        raise ApplicationError(
            "invalid_transition", f"A {bounty.status} bounty cannot become {new_status}", status=409
        )
    now = timezone.now()
    Claim.objects.filter(bounty=bounty, status=ClaimStatus.ACTIVE).update(
        status=ClaimStatus.RELEASED
        if new_status == BountyStatus.CANCELLED
        else ClaimStatus.EXPIRED,
        closed_at=now,
    )
    awaiting = Submission.objects.filter(bounty=bounty, status__in=AWAITING_VERDICT).count()
    unfilled = bounty.quantity - bounty.accepted_count - awaiting
    if unfilled > 0:
        escrow_refund(
            agent=bounty.agent,
            bounty_id=bounty.pk,
            amount_minor=unfilled * bounty.slot_cost_minor,
            idempotency_key=f"refund:bounty:{bounty.pk}:{new_status}",
        )
    old = bounty.status
    bounty.status, bounty.closed_at = new_status, now
    bounty.save(update_fields=["status", "closed_at", "updated_at"])
    _bounty_event(bounty, old, new_status, actor=actor, reason=reason)
    return bounty


@transaction.atomic
def bounty_cancel(*, bounty: Bounty, actor: str) -> Bounty:
    """Cancel an open bounty and refund its unfilled slots. Cancelling again changes nothing;
    a bounty that already closed otherwise cannot be cancelled (409)."""
    bounty = _lock_bounty(bounty.pk)
    if bounty.status == BountyStatus.CANCELLED:
        return bounty
    return _close(bounty, BountyStatus.CANCELLED, actor=actor, reason="cancelled by its agent")


@transaction.atomic
def bounty_expire(*, bounty_id: int) -> Bounty:
    """Expire an open bounty whose window has ended, once no claim is still running."""
    bounty = _lock_bounty(bounty_id)
    now = timezone.now()
    if not bounty.is_open or bounty.ends_at > now:
        return bounty
    _expire_stale_claims(bounty, now)
    if Claim.objects.filter(bounty=bounty, status=ClaimStatus.ACTIVE).exists():
        return bounty  # a worker is still on the spot; their hold ends soon
    return _close(bounty, BountyStatus.EXPIRED, actor="system", reason="the window ended")


def bounties_expire_due() -> int:
    """Expire every open bounty past its window (run by beat). Returns how many expired."""
    due = Bounty.objects.filter(status=BountyStatus.OPEN, ends_at__lte=timezone.now())
    expired = 0
    for bounty_id in due.values_list("pk", flat=True).iterator():
        if bounty_expire(bounty_id=bounty_id).status == BountyStatus.EXPIRED:
            expired += 1
    return expired


def claims_expire_due() -> int:
    """Lapse every claim past its hold (run by beat; reads also lapse them)."""
    now = timezone.now()
    return Claim.objects.filter(status=ClaimStatus.ACTIVE, expires_at__lte=now).update(
        status=ClaimStatus.EXPIRED, closed_at=now
    )


@transaction.atomic
def claim_create(*, bounty: Bounty, worker: User) -> Claim:
    """Hold one slot of an open bounty for the worker, for the bounty's claim_ttl.

    Never more claims than open slots, under any concurrency: the bounty row is locked while
    the slots are counted and the claim written.
    """
    bounty = _lock_bounty(bounty.pk)
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
    _expire_stale_claims(bounty, now)
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
    if new not in CLAIM_TRANSITIONS[claim.status]:
        raise ApplicationError(
            "invalid_transition", f"A {claim.status} claim cannot become {new}", status=409
        )
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


def _submission_transition(
    submission: Submission, new: SubmissionStatus, *, actor: str, reason: str = ""
) -> Submission:
    if new not in SUBMISSION_TRANSITIONS[submission.status]:
        raise ApplicationError(
            "invalid_transition",
            f"A {submission.status} submission cannot become {new}",
            status=409,
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

    Idempotent: deciding a submission that already has this verdict changes nothing, and the
    ledger postings are keyed by submission, so a retried task never pays twice.
    """
    bounty = _lock_bounty(submission.bounty_id)
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
    _submission_transition(submission, target, actor=actor, reason="; ".join(reasons))
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
        if bounty.is_open and bounty.accepted_count == bounty.quantity:
            old = bounty.status
            bounty.status, bounty.closed_at = BountyStatus.FULFILLED, timezone.now()
            bounty.save(update_fields=["status", "closed_at", "updated_at"])
            _bounty_event(
                bounty, old, BountyStatus.FULFILLED, actor=actor, reason="all slots filled"
            )
    elif not bounty.is_open:
        escrow_refund(
            agent=bounty.agent,
            bounty_id=bounty.pk,
            amount_minor=bounty.slot_cost_minor,
            idempotency_key=f"refund:submission:{submission.pk}",
        )
    return submission


CLAIM_UPLOAD_GRACE = timedelta(minutes=2)  # an upload started before the hold ended still counts


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
    bounty = _lock_bounty(claim.bounty_id)
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    existing = Submission.objects.filter(worker=worker, upload_id=upload_id).first()
    if existing is not None:  # a concurrent retry committed first
        return existing, False
    if claim.worker_id != worker.pk:
        raise ApplicationError("not_found", "No such claim", status=404)
    now = timezone.now()
    if claim.status != ClaimStatus.ACTIVE or claim.expires_at + CLAIM_UPLOAD_GRACE < now:
        raise ApplicationError(
            "claim_not_active",
            "This claim has lapsed or was released; claim the bounty again to upload.",
            status=409,
        )
    if location is not None and not (-90 <= location.lat <= 90 and -180 <= location.lon <= 180):
        raise _invalid("location", "The reported location is not a valid coordinate.")
    digest = hashlib.sha256()
    for chunk in photo.chunks():
        digest.update(chunk)
    photo.seek(0)
    submission = Submission(
        bounty=bounty,
        claim=claim,
        worker=worker,
        upload_id=upload_id,
        photo_sha256=digest.hexdigest(),
        content_type=content_type,
        size_bytes=photo.size or 0,
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
    return submission, True
