"""Publishing, cancelling and expiring bounties, with their escrow."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

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
    Submission,
)
from bounties.webhooks import webhook_event_emit
from market.accounts.models import Agent
from market.core.errors import ApplicationError, field_error
from market.ledger.services import escrow_hold, escrow_refund, platform_fee_minor

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


def _validate_spec(spec: BountySpec, *, agent: Agent, now: datetime) -> None:
    """The rules the API serializer also states; services hold them for every caller."""
    if not -90 <= spec.lat <= 90:
        raise field_error("lat", "Latitude must be between -90 and 90.")
    if not -180 <= spec.lon <= 180:
        raise field_error("lon", "Longitude must be between -180 and 180.")
    if not MIN_RADIUS_M <= spec.radius_m <= MAX_RADIUS_M:
        raise field_error(
            "radius_m", f"The radius must be {MIN_RADIUS_M} to {MAX_RADIUS_M} metres."
        )
    if spec.ends_at <= spec.starts_at:
        raise field_error("ends_at", "The window must end after it starts.")
    if spec.ends_at <= now:
        raise field_error("ends_at", "The window must end in the future.")
    if spec.price_minor <= 0:
        raise field_error("price", "The price must be a positive amount in minor units.")
    if not 1 <= spec.quantity <= MAX_QUANTITY:
        raise field_error("quantity", f"The quantity must be 1 to {MAX_QUANTITY}.")
    if spec.currency.lower() != agent.currency:
        raise field_error("currency", f"This agent's wallet is in {agent.currency}.")
    if spec.metadata is not None and len(json.dumps(spec.metadata).encode()) > MAX_METADATA_BYTES:
        raise field_error(
            "metadata", f"Metadata must be at most {MAX_METADATA_BYTES} bytes of JSON."
        )


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
    bounty_event_record(
        bounty, "", BountyStatus.OPEN, actor=f"agent:{agent.pk}", reason="published"
    )
    logger.info("bounty %s published by agent %s", bounty.pk, agent.pk)
    return bounty


def bounty_lock(bounty_id: int) -> Bounty:
    return Bounty.objects.select_for_update().select_related("agent").get(pk=bounty_id)


def claims_lapse_stale(bounty: Bounty, now: datetime) -> int:
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
