"""Publishing, cancelling and expiring bounties, with their escrow."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bounties.models import (
    AWAITING_VERDICT,
    BOUNTY_TRANSITIONS,
    MAX_METADATA_BYTES,
    MAX_QUANTITY,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    Bounty,
    BountyEvent,
    BountyStatus,
    Claim,
    ClaimStatus,
    ReviewMode,
    Submission,
    slots_left,
)
from bounties.selectors import open_slots_by_bounty
from bounties.webhooks import webhook_event_emit
from market.accounts.models import Agent
from market.core.bounds import json_check, text_check
from market.core.errors import ApplicationError, field_error
from market.core.states import transition_check
from market.ledger.services import escrow_hold, escrow_refund, platform_fee_minor

logger = logging.getLogger(__name__)

# The bounds of a bounty's options, here for every caller; the API states them in its schema.
MAX_PRICE_MINOR = 1_000_000
MIN_CLAIM_TTL, MAX_CLAIM_TTL = timedelta(minutes=1), timedelta(days=1)
MIN_AUTO_APPROVE_AFTER, MAX_AUTO_APPROVE_AFTER = timedelta(minutes=5), timedelta(days=30)
MAX_PER_WORKER = 100
# Metadata is the agent's own JSON object, echoed back in the API and in webhooks.
METADATA_MAX_DEPTH = 8
METADATA_MAX_ITEMS = 256
METADATA_MAX_STRING = 1_000
METADATA_MAX_NUMBER = 10**15
TEXT_MAX_LENGTHS = {
    name: getattr(Bounty._meta.get_field(name), "max_length", None) or 0
    for name in ("title", "instructions", "verify")
}


def metadata_check(metadata: Any, *, field: str = "metadata") -> dict[str, Any]:
    """A bounty's metadata, if it is a JSON object within the bounds above and
    ``MAX_METADATA_BYTES``; otherwise ``ApplicationError`` naming ``field``."""
    if not isinstance(metadata, dict):
        raise field_error(field, "Metadata must be a JSON object.")
    return json_check(
        metadata,
        field=field,
        max_depth=METADATA_MAX_DEPTH,
        max_items=METADATA_MAX_ITEMS,
        max_string=METADATA_MAX_STRING,
        max_number=METADATA_MAX_NUMBER,
        max_bytes=MAX_METADATA_BYTES,
    )


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
    review: str = ReviewMode.OPERATOR  # the API defaults to the agent with submissions:review


def bounty_spec_validate(spec: BountySpec, *, agent: Agent, now: datetime) -> None:
    """The rules the API serializer also states; services hold them for every caller. Raises
    ``ApplicationError`` naming the field (``validation_error``, or ``invalid_text`` and the
    other codes of ``market.core.bounds``)."""
    for name, max_length in TEXT_MAX_LENGTHS.items():
        text_check(getattr(spec, name), field=name, max_length=max_length)
    if not -90 <= spec.lat <= 90:
        raise field_error("lat", "Latitude must be between -90 and 90.")
    if not -180 <= spec.lon <= 180:
        raise field_error("lon", "Longitude must be between -180 and 180.")
    if not MIN_RADIUS_M <= spec.radius_m <= MAX_RADIUS_M:
        raise field_error(
            "radius_m", f"The radius must be {MIN_RADIUS_M} to {MAX_RADIUS_M} metres."
        )
    if spec.starts_at < now - settings.BOUNTY_MAX_START_AGE:
        raise field_error(
            "starts_at", f"The window may start at most {settings.BOUNTY_MAX_START_AGE} ago."
        )
    if spec.ends_at > now + settings.BOUNTY_MAX_HORIZON:
        raise field_error(
            "ends_at", f"The window may end at most {settings.BOUNTY_MAX_HORIZON.days} days ahead."
        )
    if spec.ends_at <= spec.starts_at:
        raise field_error("ends_at", "The window must end after it starts.")
    if spec.ends_at <= now:
        raise field_error("ends_at", "The window must end in the future.")
    if not 0 < spec.price_minor <= MAX_PRICE_MINOR:
        raise field_error("price", f"The price must be 1 to {MAX_PRICE_MINOR} minor units.")
    if not MIN_CLAIM_TTL <= spec.claim_ttl <= MAX_CLAIM_TTL:
        raise field_error("claim_ttl_seconds", "A claim holds 1 minute to 1 day.")
    if not MIN_AUTO_APPROVE_AFTER <= spec.auto_approve_after <= MAX_AUTO_APPROVE_AFTER:
        raise field_error("auto_approve_after_seconds", "Auto-approval waits 5 minutes to 30 days.")
    if not 1 <= spec.max_per_worker <= MAX_PER_WORKER:
        raise field_error("max_per_worker", f"A worker may take 1 to {MAX_PER_WORKER} slots.")
    if not 1 <= spec.quantity <= MAX_QUANTITY:
        raise field_error("quantity", f"The quantity must be 1 to {MAX_QUANTITY}.")
    if spec.currency.lower() != agent.currency:
        raise field_error("currency", f"This agent's wallet is in {agent.currency}.")
    if spec.metadata is not None:
        metadata_check(spec.metadata)
    if spec.review not in ReviewMode.values:
        raise field_error("review", f"Review is one of {', '.join(ReviewMode.values)}.")


def bounty_event_data(bounty: Bounty) -> dict[str, Any]:
    """What a bounty event carries; the agent fetches the rest from the API."""
    return {
        "id": bounty.pk,
        "object": "bounty",
        "status": bounty.status,
        "quantity": bounty.quantity,
        "accepted": bounty.accepted_count,
        "closed_at": bounty.closed_at,
        "metadata": bounty.metadata,
    }


def bounty_event_record(
    bounty: Bounty, old: str, new: str, *, actor: str, reason: str = ""
) -> None:
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
    bounty_spec_validate(spec, agent=agent, now=now)
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
        review=spec.review,
        metadata=spec.metadata or {},
        is_test=agent.is_test,
    )
    escrow_hold(
        agent=agent,
        bounty_id=bounty.pk,
        amount_minor=bounty.quantity * bounty.slot_cost_minor,
        idempotency_key=f"hold:bounty:{bounty.pk}",
    )
    bounty_event_record(
        bounty, "", BountyStatus.OPEN, actor=f"agent:{agent.pk}", reason="published"
    )
    logger.info("bounty %s published by agent %s", bounty.pk, agent.pk)
    return bounty


def bounty_lock(bounty_id: int) -> Bounty:
    return Bounty.objects.select_for_update().select_related("agent").get(pk=bounty_id)


def claims_lapse_stale(bounty: Bounty, now: datetime) -> int:
    """Claims that have ended (hold and upload grace) lapse (checked on every read that counts
    slots)."""
    return (
        Claim.objects.ended(now)
        .filter(bounty=bounty)
        .update(status=ClaimStatus.EXPIRED, closed_at=now)
    )


def open_slots(bounty: Bounty) -> int:
    """The bounty's open slots now (``bounties.selectors.open_slots_by_bounty``)."""
    return open_slots_by_bounty([bounty])[bounty.pk]


def _close(bounty: Bounty, new_status: BountyStatus, *, actor: str, reason: str) -> Bounty:
    """Close an open (locked) bounty: void active claims, refund every slot not awaiting a
    verdict. Submissions awaiting a verdict keep their money in escrow until decided."""
    transition_check(
        BOUNTY_TRANSITIONS, old=bounty.status, new=new_status, label=f"Bounty #{bounty.pk}"
    )
    now = timezone.now()
    Claim.objects.filter(bounty=bounty, status=ClaimStatus.ACTIVE).update(
        status=ClaimStatus.RELEASED
        if new_status == BountyStatus.CANCELLED
        else ClaimStatus.EXPIRED,
        closed_at=now,
    )
    awaiting = Submission.objects.filter(bounty=bounty, status__in=AWAITING_VERDICT).count()
    # the claims are void: every slot not awaiting a verdict is refunded
    unfilled = slots_left(
        quantity=bounty.quantity, accepted_count=bounty.accepted_count, reserved=awaiting
    )
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
    bounty_event_record(bounty, old, new_status, actor=actor, reason=reason)
    if new_status == BountyStatus.EXPIRED:
        webhook_event_emit(
            agent=bounty.agent, event_type="bounty.expired", data=bounty_event_data(bounty)
        )
    return bounty


@transaction.atomic
def bounty_cancel(*, bounty: Bounty, actor: str) -> Bounty:
    """Cancel an open bounty and refund its unfilled slots. Cancelling again changes nothing;
    a bounty that already closed otherwise cannot be cancelled (409)."""
    bounty = bounty_lock(bounty.pk)
    if bounty.status == BountyStatus.CANCELLED:
        return bounty
    return _close(bounty, BountyStatus.CANCELLED, actor=actor, reason="cancelled by its agent")


@transaction.atomic
def bounty_expire(*, bounty_id: int) -> Bounty:
    """Expire an open bounty whose window has ended, once no claim is still running."""
    bounty = bounty_lock(bounty_id)
    now = timezone.now()
    if not bounty.is_open or bounty.ends_at > now:
        return bounty
    claims_lapse_stale(bounty, now)
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
