"""Build bounties and submissions through the real services (so escrow is really held)."""

import io
import uuid
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.utils import timezone
from PIL import Image

from bounties.models import Bounty, Claim, Submission, SubmissionStatus
from bounties.services import (
    BountySpec,
    ReportedLocation,
    bounty_create,
    claim_create,
    submission_create,
    submission_decide,
)
from market.accounts.models import Agent, User
from market.ledger.models import Transaction, TransactionKind
from market.ledger.services import wallet_credit_test_funds
from tests.bounties.photos import DSCN0010_GPS
from tests.conftest import wait_for
from tests.factories import UserFactory

LONDON = (51.5072, -0.1276)
BOUNTIES = "/api/v1/bounties/"


def spec(**overrides: Any) -> BountySpec:
    now = timezone.now()
    fields: dict[str, Any] = {
        "title": "Queue outside the bakery",
        "verify": "a queue of people outside a bakery",
        "lat": LONDON[0],
        "lon": LONDON[1],
        "radius_m": 150,
        "starts_at": now - timedelta(minutes=1),
        "ends_at": now + timedelta(hours=1),
        "price_minor": 400,
        "currency": "usd",
        "quantity": 5,
    }
    fields.update(overrides)
    return BountySpec(**fields)


def funded_bounty(agent: Agent, *, funds: int = 100_000, **overrides: Any) -> Bounty:
    wallet_credit_test_funds(agent=agent, amount_minor=funds, idempotency_key=uuid.uuid4().hex)
    return bounty_create(agent=agent, spec=spec(**overrides))


def jpeg_bytes(color: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, "JPEG")
    return buffer.getvalue()


def submit(bounty: Bounty, worker: User, *, claim: Claim | None = None) -> Submission:
    claim = claim or claim_create(bounty=bounty, worker=worker)
    submission, _ = submission_create(
        claim=claim,
        worker=worker,
        upload_id=uuid.uuid4(),
        photo=SimpleUploadedFile("photo.jpg", jpeg_bytes(), "image/jpeg"),
        content_type="image/jpeg",
    )
    return submission


def accept(submission: Submission, *, actor: str = "test") -> Submission:
    """Accept through the service and run what it leaves for after commit (the delivery task,
    eager in tests), as production does once the verdict commits; the test's own transaction
    never commits, so Django would otherwise drop those callbacks."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        submission_decide(submission=submission, accept=True, reasons=[], actor=actor)
    submission.refresh_from_db()
    return submission


def body(**overrides: Any) -> dict[str, Any]:
    """A bounty as an agent posts it to ``BOUNTIES``."""
    now = timezone.now()
    data: dict[str, Any] = {
        "title": "Queue outside the bakery",
        "instructions": "Stand across the street.",
        "verify": "a queue of people outside a bakery",
        "lat": LONDON[0],
        "lon": LONDON[1],
        "radius_m": 150,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
        "price": 400,
        "currency": "usd",
        "quantity": 5,
        "metadata": {"store": 17},
    }
    data.update(overrides)
    return data


def upload(bounty: Bounty, data: bytes) -> Submission:
    """``data`` submitted by a new worker reporting DSCN0010's position."""
    worker = UserFactory()
    submission, _ = submission_create(
        claim=claim_create(bounty=bounty, worker=worker), worker=worker, upload_id=uuid.uuid4(),
        content_type="image/jpeg", photo=SimpleUploadedFile("p.jpg", data, "image/jpeg"),
        location=ReportedLocation(lat=DSCN0010_GPS[0], lon=DSCN0010_GPS[1], accuracy_m=15),
    )  # fmt: skip
    return submission


def assert_accepted_once(submission: Submission) -> None:
    """Wait for the verdict: accepted, with one acceptance event and one escrow release."""
    wait_for(
        lambda: Submission.objects.get(pk=submission.pk).status == SubmissionStatus.ACCEPTED,
        timeout=120,
    )
    submission.refresh_from_db()
    assert (
        Transaction.objects.filter(
            kind=TransactionKind.ESCROW_RELEASE, reference=f"submission:{submission.pk}"
        ).count()
        == 1
    )
    assert submission.events.filter(new_status=SubmissionStatus.ACCEPTED).count() == 1
    duplicates = next(check for check in submission.checks if check["name"] == "duplicates")
    assert duplicates["status"] == "passed"  # its own interrupted run is not a copy of it
