"""The services: bounties, submissions, receipts, wallet; resource objects from JSON."""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agents_sdk import Bounty, SignatureVerificationError, Submission
from agents_sdk.models import canonical_json
from tests.sdk.fakes import FakeAPI, bounty_json, page, submission_json

STARTS = datetime(2026, 5, 1, 17, 0, tzinfo=UTC)


def test_create_sends_the_bounty_and_omits_unset_options() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", httpx.Response(201, json=bounty_json(5)))

    bounty = fake.client().bounties.create(
        title="Queue",
        instructions="Photograph the queue.",
        verify="A queue",
        lat=51.5,
        lon=-0.12,
        radius_m=150,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(hours=1),
        price=400,
        quantity=5,
        require_gps=False,
        metadata={"order": 17},
    )

    assert bounty.id == 5
    assert json.loads(fake.requests[0].content) == {
        "title": "Queue",
        "instructions": "Photograph the queue.",
        "verify": "A queue",
        "lat": 51.5,
        "lon": -0.12,
        "radius_m": 150,
        "starts_at": "2026-05-01T17:00:00+00:00",
        "ends_at": "2026-05-01T18:00:00+00:00",
        "price": 400,
        "currency": "usd",
        "quantity": 5,
        "require_gps": False,
        "metadata": {"order": 17},
    }


def test_create_leaves_starts_at_to_the_server_when_unset() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", httpx.Response(201, json=bounty_json(5)))

    fake.client().bounties.create(
        title="t", instructions="i", verify="v", lat=0, lon=0, radius_m=10,
        ends_at="2026-05-01T18:00:00Z", price=1,
    )  # fmt: skip

    assert "starts_at" not in json.loads(fake.requests[0].content)


def test_create_refuses_naive_datetimes_before_sending() -> None:
    fake = FakeAPI()

    with pytest.raises(ValueError, match="timezone-aware"):
        fake.client().bounties.create(
            title="t",
            instructions="i",
            verify="v",
            lat=0,
            lon=0,
            radius_m=10,
            starts_at=datetime(2026, 5, 1, 17),
            ends_at="2026-05-01T18:00:00Z",
            price=1,
        )
    assert fake.requests == []


def test_a_bounty_keeps_unknown_fields_in_raw() -> None:
    bounty = Bounty.from_json(bounty_json(1, distance_m=12.5, surge_multiplier=2))

    assert bounty.distance_m == 12.5
    assert bounty.starts_at == STARTS
    assert bounty.price == 400
    assert bounty.is_open
    assert bounty.raw["surge_multiplier"] == 2


def test_a_submission_parses_its_location_and_checks() -> None:
    submission = Submission.from_json(
        submission_json(4, location=None, extra="x", reasons=["too dark"])
    )

    assert submission.location is None
    assert submission.checks[0].name == "fresh"
    assert submission.checks[0].status == "passed"
    assert submission.reasons == ("too dark",)
    assert submission.is_accepted
    assert submission.raw["extra"] == "x"


def test_cancel_posts_with_an_idempotency_key_and_returns_the_bounty() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/5/cancel/", bounty_json(5, status="cancelled"))

    bounty = fake.client().bounties.cancel(5)

    assert bounty.status == "cancelled"
    assert fake.requests[0].headers["Idempotency-Key"]


def test_submissions_list_filters_by_bounty_and_status() -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/", page([submission_json(2), submission_json(1)]))

    found = list(fake.client().submissions.list(bounty=5, status="accepted"))

    assert [submission.id for submission in found] == [2, 1]
    assert fake.requests[0].url.params == httpx.QueryParams(bounty="5", status="accepted")


def test_wait_yields_each_accepted_submission_once_and_stops_when_the_bounty_closes() -> None:
    fake = FakeAPI()
    fake.on(
        "GET",
        "bounties/1/",
        bounty_json(1),
        bounty_json(1),
        bounty_json(1, status="fulfilled"),
    )
    fake.on(
        "GET",
        "submissions/",
        page([submission_json(1, status="verifying")]),
        page([submission_json(2, status="received"), submission_json(1)]),
        page([submission_json(2), submission_json(1)]),
    )

    seen = [s.id for s in fake.client().bounties.wait(1, timeout=600, poll_interval=5)]

    assert seen == [1, 2]
    assert fake.sleeps == [5, 5]
    assert fake.requests[1].url.params["bounty"] == "1"


def test_wait_keeps_polling_while_a_closed_bounty_has_undecided_submissions() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/1/", bounty_json(1, status="expired"))
    fake.on(
        "GET",
        "submissions/",
        page([submission_json(3, status="needs_review")]),
        page([submission_json(3)]),
    )

    assert [s.id for s in fake.client().bounties.wait(1, poll_interval=10)] == [3]
    assert fake.sleeps == [10]


def test_wait_stops_at_the_timeout() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/1/", bounty_json(1))
    fake.on("GET", "submissions/", page([submission_json(1)]))

    seen = [s.id for s in fake.client().bounties.wait(1, timeout=12, poll_interval=5)]

    assert seen == [1]
    assert fake.sleeps == [5, 5, 2]


def test_download_writes_the_photo_bytes(tmp_path: Path) -> None:
    fake = FakeAPI()
    jpeg = b"\xff\xd8\xff\xe0fake-jpeg\xff\xd9"
    fake.on(
        "GET",
        "submissions/4/photo/",
        httpx.Response(200, content=jpeg, headers={"Content-Type": "image/jpeg"}),
    )

    path = fake.client().submissions.download(4, tmp_path / "out.jpg")

    assert path.read_bytes() == jpeg


class Signer:
    """The server's side of receipts: an Ed25519 key that signs canonical JSON."""

    def __init__(self, key_id: str = "k1") -> None:
        self.key_id = key_id
        self.private_key = Ed25519PrivateKey.generate()

    def public_key_b64(self) -> str:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        signature = self.private_key.sign(canonical_json(receipt))
        return {
            "receipt": receipt,
            "signature": base64.b64encode(signature).decode(),
            "key_id": self.key_id,
            "algorithm": "ed25519",
        }

    def keys(self) -> dict[str, Any]:
        return {
            "keys": [
                {"key_id": self.key_id, "algorithm": "ed25519", "public_key": self.public_key_b64()}
            ]
        }


RECEIPT = {
    "submission": 4,
    "bounty": 1,
    "amount": 400,
    "currency": "usd",
    "photo_sha256": "ab" * 32,
    "note": "Café façade, 5 € — ünïcode",
}


def test_a_receipt_verifies_with_the_servers_published_key() -> None:
    signer = Signer()
    fake = FakeAPI()
    fake.on("GET", "submissions/4/receipt/", signer.receipt(RECEIPT))
    fake.on("GET", "keys/", signer.keys())
    client = fake.client()

    receipt = client.submissions.receipt(4)

    assert receipt.verify() is True
    assert client.submissions.receipt(4).verify() is True
    assert len(fake.sent("GET", "keys/")) == 1  # the key is cached
    assert receipt.receipt["amount"] == 400


def test_a_tampered_receipt_fails_verification() -> None:
    signer = Signer()
    signed = signer.receipt(RECEIPT)
    signed["receipt"] = {**RECEIPT, "amount": 40000}
    fake = FakeAPI()
    fake.on("GET", "submissions/4/receipt/", signed)
    fake.on("GET", "keys/", signer.keys())

    with pytest.raises(SignatureVerificationError, match="does not match"):
        fake.client().submissions.receipt(4).verify()


def test_a_receipt_signed_by_another_key_fails_verification() -> None:
    impostor = Signer(key_id="k1")
    fake = FakeAPI()
    fake.on("GET", "submissions/4/receipt/", impostor.receipt(RECEIPT))
    fake.on("GET", "keys/", Signer(key_id="k1").keys())

    with pytest.raises(SignatureVerificationError):
        fake.client().submissions.receipt(4).verify()


def test_a_receipt_with_an_unknown_key_refetches_the_keys_then_fails() -> None:
    signer = Signer(key_id="k2")
    fake = FakeAPI()
    fake.on("GET", "submissions/4/receipt/", signer.receipt(RECEIPT))
    fake.on("GET", "keys/", Signer(key_id="k1").keys())
    client = fake.client()
    client.keys.list()

    with pytest.raises(SignatureVerificationError, match="no signing key 'k2'"):
        client.submissions.receipt(4).verify()
    assert len(fake.sent("GET", "keys/")) == 2


def test_a_receipt_verifies_with_a_given_public_key_offline() -> None:
    signer = Signer()
    fake = FakeAPI()
    fake.on("GET", "submissions/4/receipt/", signer.receipt(RECEIPT))

    receipt = fake.client().submissions.receipt(4)

    assert receipt.verify(base64.b64decode(signer.public_key_b64()))
    assert fake.sent("GET", "keys/") == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("algorithm", "rsa", "Unsupported"), ("signature", "not base64!", "not base64")],
)
def test_a_malformed_receipt_fails_verification(field: str, value: str, message: str) -> None:
    signer = Signer()
    fake = FakeAPI()
    fake.on("GET", "submissions/4/receipt/", {**signer.receipt(RECEIPT), field: value})
    fake.on("GET", "keys/", signer.keys())

    with pytest.raises(SignatureVerificationError, match=message):
        fake.client().submissions.receipt(4).verify()


def test_wallet_and_its_statement() -> None:
    fake = FakeAPI()
    fake.on(
        "GET",
        "wallet/",
        {
            "currency": "usd",
            "balance": 10000,
            "available": 8000,
            "held": 2000,
            "daily_cap": 50000,
            "used_today": 2000,
            "cap_left_today": 48000,
        },
    )
    entry = {
        "id": 3,
        "transaction_id": 2,
        "kind": "escrow_hold",
        "reference": "bounty-1",
        "memo": "",
        "amount": -2000,
        "currency": "usd",
        "balance_after": 8000,
        "created_at": "2026-05-01T16:00:00Z",
    }
    fake.on("GET", "wallet/transactions/", page([entry]))
    client = fake.client()

    wallet = client.wallet.get()
    (statement_line,) = client.wallet.transactions()

    assert (wallet.available, wallet.held, wallet.cap_left_today) == (8000, 2000, 48000)
    assert statement_line.amount == -2000
    assert statement_line.kind == "escrow_hold"
