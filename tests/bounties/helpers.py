"""Build bounties and submissions through the real services (so escrow is really held)."""

import io
import uuid
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from bounties.models import Bounty, Claim, Submission
from bounties.services import BountySpec, bounty_create, claim_create, submission_create
from market.accounts.models import Agent, User
from market.ledger.services import wallet_credit_test_funds

LONDON = (51.5072, -0.1276)


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
