"""One service per API resource, reached through the client: ``sl.bounties.create(...)``."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from agents_sdk import webhooks
from agents_sdk._http import HTTP
from agents_sdk.errors import SignatureVerificationError
from agents_sdk.models import (
    AcquisitionDecision,
    Bounty,
    Forecast,
    Me,
    PublicKey,
    Question,
    Receipt,
    Submission,
    Wallet,
    WalletEntry,
)

DateLike = datetime | str


def _coordinate(degrees: float) -> str:
    """Plain decimal notation: ``repr`` would give ``1e-05``, which the API refuses."""
    return f"{degrees:.7f}".rstrip("0").rstrip(".")


def _iso(value: DateLike) -> str:
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        raise ValueError("Datetimes must be timezone-aware (e.g. datetime.now(UTC)).")
    return value.isoformat()


class BountiesService:
    def __init__(
        self,
        http: HTTP,
        submissions: SubmissionsService,
        monotonic: Callable[[], float],
    ) -> None:
        self._http = http
        self._submissions = submissions
        self._monotonic = monotonic

    def create(
        self,
        *,
        title: str,
        instructions: str,
        verify: str,
        lat: float,
        lon: float,
        radius_m: int,
        ends_at: DateLike,
        price: int,
        starts_at: DateLike | None = None,
        currency: str = "usd",
        quantity: int = 1,
        claim_ttl_seconds: int | None = None,
        require_gps: bool | None = None,
        max_per_worker: int | None = None,
        auto_approve_after_seconds: int | None = None,
        metadata: Mapping[str, Any] | None = None,
        blur_faces: bool | None = None,
        review: str | None = None,
        idempotency_key: str | None = None,
    ) -> Bounty:
        """Post a bounty; ``price`` is per photo, in minor units (cents): ``quantity`` x
        (``price`` + the fee) is held from the wallet at once.

        ``review`` says who judges photos that pass the checks but need a judgment: "agent"
        (you: ``submissions.review_queue()``, then accept or reject), "operator", or "auto".
        Options left as None take the server's defaults (``starts_at``: now; ``review``:
        "agent" when the key has the ``submissions:review`` scope, else "operator"). Pass
        ``idempotency_key`` to make the call safe to repeat across process restarts (retries
        inside this call reuse a generated key either way).
        """
        body: dict[str, Any] = {
            "title": title,
            "instructions": instructions,
            "verify": verify,
            "lat": lat,
            "lon": lon,
            "radius_m": radius_m,
            "ends_at": _iso(ends_at),
            "price": price,
            "currency": currency,
            "quantity": quantity,
        }
        options: dict[str, Any] = {
            "starts_at": _iso(starts_at) if starts_at is not None else None,
            "claim_ttl_seconds": claim_ttl_seconds,
            "require_gps": require_gps,
            "max_per_worker": max_per_worker,
            "auto_approve_after_seconds": auto_approve_after_seconds,
            "metadata": dict(metadata) if metadata is not None else None,
            "blur_faces": blur_faces,
            "review": review,
        }
        body.update({name: value for name, value in options.items() if value is not None})
        data = self._http.post_json("bounties/", json=body, idempotency_key=idempotency_key)
        return Bounty.from_json(data)

    def get(self, bounty_id: int) -> Bounty:
        return Bounty.from_json(self._http.get_json(f"bounties/{int(bounty_id)}/"))

    def list(
        self,
        *,
        status: str | None = None,
        near: tuple[float, float] | None = None,
        within_m: int | None = None,
        page_size: int | None = None,
    ) -> Iterator[Bounty]:
        """Every matching bounty, fetching pages as the iterator is consumed.

        With ``near=(lat, lon)`` the bounties come nearest first and carry ``distance_m``.
        """
        params = {
            "status": status,
            "near": f"{_coordinate(near[0])},{_coordinate(near[1])}" if near else None,
            "within_m": within_m,
            "page_size": page_size,
        }
        for item in self._http.paginate("bounties/", params=params):
            yield Bounty.from_json(item)

    def cancel(self, bounty_id: int, *, idempotency_key: str | None = None) -> Bounty:
        """Cancel an open bounty; unfilled slots are refunded to the wallet."""
        data = self._http.post_json(
            f"bounties/{int(bounty_id)}/cancel/", json={}, idempotency_key=idempotency_key
        )
        return Bounty.from_json(data)

    def wait(
        self, bounty_id: int, *, timeout: float = 3600, poll_interval: float = 5
    ) -> Iterator[Submission]:
        """Yield each accepted submission of the bounty once, as it is accepted.

        Stops when the bounty is no longer open and no submission of it is still undecided
        (everything accepted has then been yielded), or after ``timeout`` seconds.
        """
        deadline = self._monotonic() + timeout
        seen: set[int] = set()
        while True:
            # The bounty first: submissions read after it cannot miss one accepted before.
            bounty = self.get(bounty_id)
            submissions = builtins.list(self._submissions.list(bounty=bounty_id))
            pending = False
            for submission in sorted(submissions, key=lambda s: s.id):
                pending = pending or submission.is_pending
                if submission.is_accepted and submission.id not in seen:
                    seen.add(submission.id)
                    yield submission
            if not bounty.is_open and not pending:
                return
            remaining = deadline - self._monotonic()
            if remaining <= 0:
                return
            self._http.sleep(min(poll_interval, remaining))


class SubmissionsService:
    def __init__(self, http: HTTP, keys: KeysService) -> None:
        self._http = http
        self._keys = keys

    def list(
        self,
        *,
        bounty: int | None = None,
        status: str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Submission]:
        """Every matching submission, newest first, fetching pages as consumed."""
        params = {"bounty": bounty, "status": status, "page_size": page_size}
        for item in self._http.paginate("submissions/", params=params):
            yield Submission.from_json(item)

    def get(self, submission_id: int) -> Submission:
        return Submission.from_json(self._http.get_json(f"submissions/{int(submission_id)}/"))

    def photo(self, submission_id: int) -> bytes:
        """The photo's bytes (JPEG)."""
        return self._http.request("GET", f"submissions/{int(submission_id)}/photo/").content

    def download(self, submission_id: int, path: str | Path) -> Path:
        """Write the photo to ``path`` and return it."""
        destination = Path(path)
        destination.write_bytes(self.photo(submission_id))
        return destination

    def receipt(self, submission_id: int) -> Receipt:
        """The signed receipt; ``.verify()`` checks it against the server's public key."""
        data = self._http.get_json(f"submissions/{int(submission_id)}/receipt/")
        return Receipt.from_json(data, key_lookup=self._keys.public_key)

    def review_queue(
        self, *, bounty: int | None = None, page_size: int | None = None
    ) -> Iterator[Submission]:
        """The submissions waiting for your review, the oldest first (the order their
        ``review_deadline``s fall in: silence until then accepts). Needs the
        ``submissions:review`` scope."""
        params = {"status": Submission.NEEDS_REVIEW, "bounty": bounty, "page_size": page_size}
        for item in self._http.paginate("submissions/", params=params):
            yield Submission.from_json(item)

    def preview(self, submission_id: int, *, wait: bool = True) -> bytes:
        """What to judge a submission by: a JPEG at most 512 px on its long side, faces
        blurred, marked, no metadata. It is made seconds after the submission enters review:
        ``wait`` retries meanwhile, ``wait=False`` raises ``NotReady`` at once."""
        path = f"submissions/{int(submission_id)}/preview/"
        return self._http.request("GET", path, retry_not_ready=wait).content

    def accept(self, submission_id: int, *, idempotency_key: str | None = None) -> Submission:
        """Accept a submission waiting for your review: the worker is paid from the escrow and
        the photo is released. Accepting again is a no-op; after a rejection, ``Conflict``
        (``already_decided``)."""
        data = self._http.post_json(
            f"submissions/{int(submission_id)}/accept/", json={}, idempotency_key=idempotency_key
        )
        return Submission.from_json(data)

    def reject(
        self, submission_id: int, *, reason: str, idempotency_key: str | None = None
    ) -> Submission:
        """Reject a submission waiting for your review, saying why in 5 to 500 characters: the
        worker reads it and may appeal to operators (an overturned rejection pays the worker
        and counts against your fair-use record). Rejecting again is a no-op; after an
        acceptance, ``Conflict`` (``already_decided``)."""
        data = self._http.post_json(
            f"submissions/{int(submission_id)}/reject/",
            json={"reason": reason},
            idempotency_key=idempotency_key,
        )
        return Submission.from_json(data)


class MeService:
    def __init__(self, http: HTTP) -> None:
        self._http = http

    def get(self) -> Me:
        """The agent this key belongs to, its scopes and its ``review_mode``."""
        return Me.from_json(self._http.get_json("me/"))


class KeysService:
    """The server's receipt-signing keys, fetched once and cached by ``key_id``."""

    def __init__(self, http: HTTP) -> None:
        self._http = http
        self._cache: dict[str, PublicKey] = {}

    def list(self) -> builtins.list[PublicKey]:
        keys = [PublicKey.from_json(item) for item in self._http.get_json("keys/").get("keys", [])]
        self._cache = {key.key_id: key for key in keys}
        return keys

    def public_key(self, key_id: str) -> bytes:
        """The raw Ed25519 key ``key_id``; refetches once for a key not seen yet (a rotation)."""
        if key_id not in self._cache:
            self.list()
        key = self._cache.get(key_id)
        if key is None:
            raise SignatureVerificationError(f"The server has no signing key {key_id!r}.")
        if key.algorithm != Receipt.ALGORITHM:
            raise SignatureVerificationError(f"Key {key_id!r} is not an Ed25519 key.")
        return key.public_key


class WalletService:
    def __init__(self, http: HTTP) -> None:
        self._http = http

    def get(self) -> Wallet:
        return Wallet.from_json(self._http.get_json("wallet/"))

    def transactions(self, *, page_size: int | None = None) -> Iterator[WalletEntry]:
        """The statement, newest first, with the balance after each movement."""
        for item in self._http.paginate("wallet/transactions/", params={"page_size": page_size}):
            yield WalletEntry.from_json(item)


class WebhooksService:
    def __init__(self, tolerance: float = webhooks.DEFAULT_TOLERANCE_S) -> None:
        self._tolerance = tolerance

    def verify(
        self,
        payload: bytes | str,
        signature_header: str | None,
        secret: str,
        *,
        tolerance: float | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Return the parsed event, or raise SignatureVerificationError."""
        return webhooks.construct_event(
            payload,
            signature_header,
            secret,
            tolerance=self._tolerance if tolerance is None else tolerance,
            now=now,
        )


class QuestionsService:
    def __init__(self, http: HTTP) -> None:
        self._http = http

    def create(
        self,
        *,
        title: str,
        resolution_criteria: str,
        closes_at: DateLike,
        resolves_at: DateLike,
        lat: float | None = None,
        lon: float | None = None,
        evidence_template: Mapping[str, Any] | None = None,
        stake: int | None = None,
        max_acquisition_spend: int | None = None,
        idempotency_key: str | None = None,
    ) -> Question:
        """Ask a binary question; evidence captured after ``closes_at`` never counts."""
        body: dict[str, Any] = {
            "title": title,
            "resolution_criteria": resolution_criteria,
            "closes_at": _iso(closes_at),
            "resolves_at": _iso(resolves_at),
        }
        optional = {
            "lat": lat, "lon": lon, "evidence_template": evidence_template, "stake": stake,
            "max_acquisition_spend": max_acquisition_spend,
        }  # fmt: skip
        body.update({name: value for name, value in optional.items() if value is not None})
        return Question.from_json(
            self._http.post_json("questions/", json=body, idempotency_key=idempotency_key)
        )

    def get(self, question_id: int) -> Question:
        return Question.from_json(self._http.get_json(f"questions/{int(question_id)}/"))

    def list(self, *, status: str | None = None) -> Iterator[Question]:
        for item in self._http.paginate("questions/", params={"status": status}):
            yield Question.from_json(item)

    def attach(
        self, question_id: int, bounty_id: int, *, idempotency_key: str | None = None
    ) -> Question:
        """Gather evidence for the question from one of your bounties."""
        data = self._http.post_json(
            f"questions/{int(question_id)}/bounties/",
            json={"bounty": int(bounty_id)},
            idempotency_key=idempotency_key,
        )
        return Question.from_json(data)

    def resolve(
        self, question_id: int, *, outcome: str, source: str, idempotency_key: str | None = None
    ) -> Question:
        """Resolve "yes" or "no" with a source, or annul with ``outcome="annul"``. Final."""
        data = self._http.post_json(
            f"questions/{int(question_id)}/resolve/",
            json={"outcome": outcome, "source": source},
            idempotency_key=idempotency_key,
        )
        return Question.from_json(data)

    def forecast(self, question_id: int) -> Forecast:
        return Forecast.from_json(self._http.get_json(f"questions/{int(question_id)}/forecast"))

    def acquisitions(self, question_id: int) -> Iterator[AcquisitionDecision]:
        """The evidence bounties the market bought for the question from your wallet (within
        its ``max_acquisition_spend``), and why it bought or did not, newest first."""
        for item in self._http.paginate(f"questions/{int(question_id)}/acquisitions"):
            yield AcquisitionDecision.from_json(item)
