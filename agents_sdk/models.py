"""Resource objects: small frozen dataclasses built from the API's JSON.

Each keeps the whole JSON object it came from in ``.raw``, so fields the server adds later
are readable (``bounty.raw["new_field"]``) and never break an older client. Missing fields
take neutral defaults for the same reason. Money is always an ``int`` in minor units.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents_sdk import _ed25519
from agents_sdk.errors import SignatureVerificationError

JSONObject = Mapping[str, Any]


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _int(value: Any, default: int = 0) -> int:
    return int(value) if value is not None else default


def _float_or_none(value: Any) -> float | None:
    return float(value) if value is not None else None


def _raw(data: JSONObject) -> dict[str, Any]:
    return dict(data)


@dataclass(frozen=True)
class Bounty:
    id: int
    status: str
    title: str
    instructions: str
    verify: str
    lat: float
    lon: float
    radius_m: int
    starts_at: datetime | None
    ends_at: datetime | None
    price: int
    fee: int
    currency: str
    quantity: int
    accepted: int
    open_slots: int
    claim_ttl_seconds: int
    require_gps: bool
    max_per_worker: int
    auto_approve_after_seconds: int
    blur_faces: bool
    metadata: dict[str, Any]
    test_mode: bool
    created_at: datetime | None
    closed_at: datetime | None
    distance_m: float | None = None
    # Who judges photos that pass the checks but need a judgment: "agent", "operator", "auto".
    review: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    OPEN = "open"

    @property
    def is_open(self) -> bool:
        return self.status == self.OPEN

    @classmethod
    def from_json(cls, data: JSONObject) -> Bounty:
        return cls(
            id=int(data["id"]),
            status=str(data.get("status", "")),
            title=str(data.get("title", "")),
            instructions=str(data.get("instructions", "")),
            verify=str(data.get("verify", "")),
            lat=float(data.get("lat", 0.0)),
            lon=float(data.get("lon", 0.0)),
            radius_m=_int(data.get("radius_m")),
            starts_at=_datetime(data.get("starts_at")),
            ends_at=_datetime(data.get("ends_at")),
            price=_int(data.get("price")),
            fee=_int(data.get("fee")),
            currency=str(data.get("currency", "")),
            quantity=_int(data.get("quantity")),
            accepted=_int(data.get("accepted")),
            open_slots=_int(data.get("open_slots")),
            claim_ttl_seconds=_int(data.get("claim_ttl_seconds")),
            require_gps=bool(data.get("require_gps", False)),
            max_per_worker=_int(data.get("max_per_worker")),
            auto_approve_after_seconds=_int(data.get("auto_approve_after_seconds")),
            blur_faces=bool(data.get("blur_faces", False)),
            metadata=dict(data.get("metadata") or {}),
            test_mode=bool(data.get("test_mode", False)),
            created_at=_datetime(data.get("created_at")),
            closed_at=_datetime(data.get("closed_at")),
            distance_m=_float_or_none(data.get("distance_m")),
            review=str(data.get("review") or ""),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Check:
    """One verification check of a submission: ``status`` is passed, failed or skipped."""

    name: str
    status: str
    score: float | None
    reason: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> Check:
        return cls(
            name=str(data.get("name", "")),
            status=str(data.get("status", "")),
            score=_float_or_none(data.get("score")),
            reason=str(data.get("reason") or ""),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    accuracy_m: float | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> Location:
        return cls(
            lat=float(data.get("lat", 0.0)),
            lon=float(data.get("lon", 0.0)),
            accuracy_m=_float_or_none(data.get("accuracy_m")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Submission:
    id: int
    bounty: int
    status: str
    note: str
    captured_at: datetime | None
    received_at: datetime | None
    decided_at: datetime | None
    location: Location | None
    checks: tuple[Check, ...]
    reasons: tuple[str, ...]
    photo_url: str | None
    receipt_url: str | None
    # In review (``needs_review``): who decides ("agent": you, or "operator"), and when your
    # silence accepts it (None for an appeal, which operators decide).
    review_by: str | None = None
    review_deadline: datetime | None = None
    # Metres from the bounty's spot: once accepted, or while it waits for your review.
    distance_m: float | None = None
    preview_url: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    ACCEPTED = "accepted"
    NEEDS_REVIEW = "needs_review"
    # Not decided yet: such a submission may still be accepted.
    PENDING = frozenset({"received", "verifying", NEEDS_REVIEW})

    @property
    def is_accepted(self) -> bool:
        return self.status == self.ACCEPTED

    @property
    def is_pending(self) -> bool:
        return self.status in self.PENDING

    @property
    def awaits_your_review(self) -> bool:
        """Waiting for you to ``accept`` or ``reject`` it (judge it by ``preview``)."""
        return self.status == self.NEEDS_REVIEW and self.review_by == "agent"

    @classmethod
    def from_json(cls, data: JSONObject) -> Submission:
        location = data.get("location")
        return cls(
            id=int(data["id"]),
            bounty=_int(data.get("bounty")),
            status=str(data.get("status", "")),
            note=str(data.get("note") or ""),
            captured_at=_datetime(data.get("captured_at")),
            received_at=_datetime(data.get("received_at")),
            decided_at=_datetime(data.get("decided_at")),
            location=Location.from_json(location) if isinstance(location, Mapping) else None,
            checks=tuple(Check.from_json(check) for check in data.get("checks") or ()),
            reasons=tuple(str(reason) for reason in data.get("reasons") or ()),
            photo_url=data.get("photo_url"),
            receipt_url=data.get("receipt_url"),
            review_by=data.get("review_by") or None,
            review_deadline=_datetime(data.get("review_deadline")),
            distance_m=_float_or_none(data.get("distance_m")),
            preview_url=data.get("preview_url") or None,
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Me:
    """The agent a key belongs to. ``review_mode``: who judges its photos that need a judgment,
    "agent" (you), "operator" (this key lacks ``submissions:review``) or "cooling" (operators
    until ``cooling_until``: too many of your rejections were overturned on appeal)."""

    agent_id: int
    agent_name: str
    status: str
    test_mode: bool
    currency: str
    key_prefix: str
    scopes: tuple[str, ...]
    review_mode: str
    cooling_until: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> Me:
        return cls(
            agent_id=_int(data.get("agent_id")),
            agent_name=str(data.get("agent_name", "")),
            status=str(data.get("status", "")),
            test_mode=bool(data.get("test_mode", False)),
            currency=str(data.get("currency", "")),
            key_prefix=str(data.get("key_prefix", "")),
            scopes=tuple(str(scope) for scope in data.get("scopes") or ()),
            review_mode=str(data.get("review_mode") or ""),
            cooling_until=_datetime(data.get("cooling_until")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Wallet:
    """The agent's balances, in minor units: ``balance`` = ``available`` + ``held``."""

    currency: str
    balance: int
    available: int
    held: int
    daily_cap: int
    used_today: int
    cap_left_today: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> Wallet:
        return cls(
            currency=str(data.get("currency", "")),
            balance=_int(data.get("balance")),
            available=_int(data.get("available")),
            held=_int(data.get("held")),
            daily_cap=_int(data.get("daily_cap")),
            used_today=_int(data.get("used_today")),
            cap_left_today=_int(data.get("cap_left_today")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class WalletEntry:
    """One line of the wallet's statement: ``amount`` is signed, in minor units."""

    id: int
    transaction_id: int
    kind: str
    reference: str
    memo: str
    amount: int
    currency: str
    balance_after: int
    created_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> WalletEntry:
        return cls(
            id=int(data["id"]),
            transaction_id=_int(data.get("transaction_id")),
            kind=str(data.get("kind", "")),
            reference=str(data.get("reference") or ""),
            memo=str(data.get("memo") or ""),
            amount=_int(data.get("amount")),
            currency=str(data.get("currency", "")),
            balance_after=_int(data.get("balance_after")),
            created_at=_datetime(data.get("created_at")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class PublicKey:
    """A server signing key from ``GET /keys/``; ``public_key`` holds the 32 raw bytes."""

    key_id: str
    algorithm: str
    public_key: bytes
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> PublicKey:
        return cls(
            key_id=str(data.get("key_id", "")),
            algorithm=str(data.get("algorithm", "")),
            public_key=base64.b64decode(str(data.get("public_key", ""))),
            raw=_raw(data),
        )


def canonical_json(value: Any) -> bytes:
    """The bytes the server signs: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Receipt:
    """The server's signed statement about a submission; ``verify()`` checks the signature.

    ``key_lookup`` (set by the client) maps a ``key_id`` to the server's raw public key.
    """

    receipt: dict[str, Any]
    signature: str
    key_id: str
    algorithm: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    key_lookup: Callable[[str], bytes] | None = field(default=None, repr=False, compare=False)

    ALGORITHM = "ed25519"

    @classmethod
    def from_json(
        cls, data: JSONObject, *, key_lookup: Callable[[str], bytes] | None = None
    ) -> Receipt:
        receipt = data.get("receipt")
        return cls(
            receipt=dict(receipt) if isinstance(receipt, Mapping) else {},
            signature=str(data.get("signature", "")),
            key_id=str(data.get("key_id", "")),
            algorithm=str(data.get("algorithm", "")),
            raw=_raw(data),
            key_lookup=key_lookup,
        )

    def verify(self, public_key: bytes | None = None) -> bool:
        """Return True if the signature is the server's, else raise SignatureVerificationError.

        The key is ``public_key`` when given, else fetched from ``/api/v1/keys/`` by
        ``key_id``. Raising (rather than returning False) means a forgotten check cannot
        pass silently.
        """
        if self.algorithm != self.ALGORITHM:
            raise SignatureVerificationError(f"Unsupported receipt algorithm {self.algorithm!r}.")
        try:
            signature = base64.b64decode(self.signature, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SignatureVerificationError("The receipt signature is not base64.") from exc
        if public_key is None:
            if self.key_lookup is None:
                raise SignatureVerificationError("No public key to verify the receipt with.")
            public_key = self.key_lookup(self.key_id)
        if not _ed25519.verify(public_key, canonical_json(self.receipt), signature):
            raise SignatureVerificationError(
                f"The receipt signature does not match key {self.key_id!r}."
            )
        return True


@dataclass(frozen=True)
class Question:
    """A binary question the agent asked; ``outcome`` is "yes"/"no" once resolved."""

    id: int
    status: str
    title: str
    resolution_criteria: str
    closes_at: datetime | None
    resolves_at: datetime | None
    outcome: str
    bounties: list[int]
    max_acquisition_spend: int
    acquisition_spent: int
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> Question:
        return cls(
            id=_int(data.get("id")),
            status=str(data.get("status", "")),
            title=str(data.get("title", "")),
            resolution_criteria=str(data.get("resolution_criteria", "")),
            closes_at=_datetime(data.get("closes_at")),
            resolves_at=_datetime(data.get("resolves_at")),
            outcome=str(data.get("outcome") or ""),
            bounties=[int(b) for b in data.get("bounties") or []],
            max_acquisition_spend=_int(data.get("max_acquisition_spend")),
            acquisition_spent=_int(data.get("acquisition_spent")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class Forecast:
    """P(yes) with its interval, from ``model_version``, on ``evidence_count`` items."""

    probability: float
    interval: tuple[float, float]
    model_version: str
    evidence_count: int
    computed_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: JSONObject) -> Forecast:
        interval = data.get("interval") or [0.0, 1.0]
        low, high = interval[0], interval[-1]
        return cls(
            probability=float(data.get("probability", 0.0)),
            interval=(float(low), float(high)),
            model_version=str(data.get("model_version", "")),
            evidence_count=_int(data.get("evidence_count")),
            computed_at=_datetime(data.get("computed_at")),
            raw=_raw(data),
        )


@dataclass(frozen=True)
class AcquisitionDecision:
    """What the market's acquisition loop decided for a question: ``action`` "posted" (an
    evidence bounty bought from your wallet: ``bounty``, ``cost``) or "skipped"; ``reason``
    starts with a stable code (``confident``, ``budget_exhausted``, ...)."""

    id: int
    action: str
    reason: str
    probability: float | None
    uncertainty: float | None
    value: int | None
    cost: int
    bounty: int | None
    model_version: str
    created_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0]

    @classmethod
    def from_json(cls, data: JSONObject) -> AcquisitionDecision:
        value, bounty = data.get("value"), data.get("bounty")
        return cls(
            id=_int(data.get("id")),
            action=str(data.get("action", "")),
            reason=str(data.get("reason", "")),
            probability=_float_or_none(data.get("probability")),
            uncertainty=_float_or_none(data.get("uncertainty")),
            value=None if value is None else _int(value),
            cost=_int(data.get("cost")),
            bounty=None if bounty is None else _int(bounty),
            model_version=str(data.get("model_version") or ""),
            created_at=_datetime(data.get("created_at")),
            raw=_raw(data),
        )
