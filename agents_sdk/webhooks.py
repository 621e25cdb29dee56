"""Verify the webhooks Sightline sends to an agent.

Each delivery carries ``Sightline-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is the
HMAC-SHA256 of ``f"{t}.{body}"`` keyed with the endpoint's secret. Several ``v1=`` entries
may be present (while a secret is being rolled); one match is enough. The timestamp bounds
replays: a delivery older (or newer) than ``tolerance`` seconds is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from agents_sdk.errors import SignatureVerificationError

SIGNATURE_HEADER = "Sightline-Signature"

# The event types (an event's ``type``); ``data.object`` is the submission or the bounty.
SUBMISSION_ACCEPTED = "submission.accepted"
SUBMISSION_REJECTED = "submission.rejected"
# Waiting for your review until ``data.object.review_deadline``: preview, then accept or reject.
SUBMISSION_NEEDS_REVIEW = "submission.needs_review"
BOUNTY_FULFILLED = "bounty.fulfilled"
BOUNTY_EXPIRED = "bounty.expired"
EVENT_TYPES = (
    SUBMISSION_ACCEPTED,
    SUBMISSION_REJECTED,
    SUBMISSION_NEEDS_REVIEW,
    BOUNTY_FULFILLED,
    BOUNTY_EXPIRED,
)
DEFAULT_TOLERANCE_S = 300
SCHEME = "v1"


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def compute_signature(payload: bytes | str, secret: str, timestamp: int) -> str:
    """The hex ``v1`` signature of ``payload`` sent at ``timestamp``."""
    signed = f"{timestamp}.".encode() + _as_bytes(payload)
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A ``Sightline-Signature`` value, as the server builds it (handy in tests)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},{SCHEME}={compute_signature(payload, secret, timestamp)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                message = "The signature timestamp is not a number."
                raise SignatureVerificationError(message) from exc
        elif name == SCHEME:
            signatures.append(value)
    if timestamp is None:
        raise SignatureVerificationError("The signature header has no timestamp (t=).")
    if not signatures:
        raise SignatureVerificationError(f"The signature header has no {SCHEME}= signature.")
    return timestamp, signatures


def verify_signature(
    payload: bytes | str,
    header: str | None,
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise SignatureVerificationError unless ``header`` signs ``payload`` with ``secret``.

    ``payload`` must be the raw request body, byte for byte, not re-serialized JSON.
    """
    if not header:
        raise SignatureVerificationError(f"No {SIGNATURE_HEADER} header.")
    timestamp, signatures = _parse_header(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureVerificationError(
            f"The signature timestamp is outside the {tolerance:g} s tolerance."
        )
    expected = compute_signature(payload, secret, timestamp)
    # compare_digest against every candidate, without stopping early, in constant time each.
    matches = [
        hmac.compare_digest(expected.encode(), candidate.encode("utf-8", "replace"))
        for candidate in signatures
    ]
    if not any(matches):
        raise SignatureVerificationError("No signature matches the payload and secret.")


def construct_event(
    payload: bytes | str,
    header: str | None,
    secret: str,
    *,
    tolerance: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify the delivery, then return its parsed JSON event."""
    verify_signature(payload, header, secret, tolerance=tolerance, now=now)
    try:
        event = json.loads(_as_bytes(payload))
    except ValueError as exc:
        raise SignatureVerificationError("The signed payload is not JSON.") from exc
    if not isinstance(event, dict):
        raise SignatureVerificationError("The signed payload is not a JSON object.")
    return event
