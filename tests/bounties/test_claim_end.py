"""When a claim ends: its hold plus CLAIM_UPLOAD_GRACE, one rule for the beat task, the slot
counts (service, list, search SQL), the upload service and the worker's pages."""

import os
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bounties.models import CLAIM_UPLOAD_GRACE, Bounty, Claim, ClaimStatus, Submission
from bounties.selectors import bounty_rows_near, with_open_slots
from bounties.services import bounty_cancel, claim_create, claims_expire_due
from market.accounts.models import User
from market.core.errors import ApplicationError
from tests.bounties.helpers import funded_bounty, jpeg_bytes, submit
from tests.conftest import Actor
from tests.factories import UserFactory
from web.selectors import claim_active

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = int(CLAIM_UPLOAD_GRACE.total_seconds())


def hold_ended(bounty: Bounty, worker: User, ago: timedelta) -> Claim:
    """The worker's claim, its hold (``expires_at``) ended ``ago`` (negative: still running)."""
    claim = claim_create(bounty=bounty, worker=worker)
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - ago)
    claim.refresh_from_db()
    return claim


def test_an_upload_under_way_when_the_hold_ends_counts_after_the_beat_ran(owner: Actor) -> None:
    bounty, worker = funded_bounty(owner.agent, quantity=1), UserFactory()
    claim = hold_ended(bounty, worker, timedelta(minutes=1))

    assert claims_expire_due() == 0  # the beat task runs: the claim is in its grace

    submission = submit(bounty, worker, claim=claim)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.SUBMITTED and submission.claim_id == claim.pk


def test_the_web_upload_in_the_grace_counts(owner: Actor, settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path
    bounty, worker = funded_bounty(owner.agent, quantity=1), UserFactory()
    hold_ended(bounty, worker, timedelta(minutes=1))
    claims_expire_due()
    client = Client()
    client.force_login(worker)

    response = client.post(
        f"/bounties/{bounty.pk}/upload/",
        {"photo": SimpleUploadedFile("p.jpg", jpeg_bytes(), "image/jpeg"),
         "upload_id": str(uuid.uuid4())},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:500]
    assert Submission.objects.filter(bounty=bounty, worker=worker).count() == 1


def test_a_claim_in_its_grace_keeps_its_slot(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=1)
    hold_ended(bounty, UserFactory(), timedelta(minutes=1))

    with pytest.raises(ApplicationError) as refused:
        claim_create(bounty=bounty, worker=UserFactory())

    assert refused.value.code == "no_open_slots"
    [listed] = with_open_slots([bounty])
    assert listed.open_slots == 0  # type: ignore[attr-defined]
    api = owner.client().get(f"/api/v1/bounties/{bounty.pk}/").json()
    assert api["open_slots"] == 0


def test_a_claim_past_its_grace_lapses_and_refuses_the_upload(owner: Actor) -> None:
    bounty, worker = funded_bounty(owner.agent, quantity=1), UserFactory()
    claim = hold_ended(bounty, worker, CLAIM_UPLOAD_GRACE + timedelta(seconds=1))

    assert claims_expire_due() == 1

    claim.refresh_from_db()
    assert claim.status == ClaimStatus.EXPIRED
    with pytest.raises(ApplicationError) as refused:
        submit(bounty, worker, claim=claim)
    assert refused.value.code == "claim_not_active"
    assert claim_create(bounty=bounty, worker=UserFactory()).status == ClaimStatus.ACTIVE


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ended_s=st.integers(min_value=-3 * GRACE_S, max_value=3 * GRACE_S))
def test_every_path_agrees_on_when_a_claim_ends(owner: Actor, ended_s: int) -> None:
    """The copies cannot drift: the model's rule, the queryset, the worker's page, both slot
    counts, the beat task and the upload service give one answer for any moment."""
    assume(abs(ended_s - GRACE_S) >= 5)  # clear of the boundary: each path reads its own now
    holds = ended_s < GRACE_S
    bounty, worker = funded_bounty(owner.agent, quantity=2), UserFactory()
    claim = hold_ended(bounty, worker, timedelta(seconds=ended_s))
    now = timezone.now()

    assert claim.holds_at(now) is holds
    assert Claim.objects.holding(now).filter(pk=claim.pk).exists() is holds
    assert (claim_active(bounty, worker) == claim) is holds
    [listed] = with_open_slots([bounty])
    assert listed.open_slots == 2 - holds  # type: ignore[attr-defined]
    rows = bounty_rows_near(lat=bounty.lat, lon=bounty.lon, within_m=10, agent=owner.agent)
    assert [row["open_slots"] for row in rows if row["id"] == bounty.pk] == [2 - holds]
    assert claims_expire_due() == (0 if holds else 1)
    try:
        submit(bounty, worker, claim=claim)
    except ApplicationError as refused:
        assert not holds and refused.code == "claim_not_active"
    else:
        assert holds
    bounty_cancel(bounty=bounty, actor="test")  # out of the next example's search


# A claim's end compared anywhere but through `claim_holds_after` is a second definition.
_CLAIM_END_COMPARISON = re.compile(r"expires_at(__(gt|gte|lt|lte)\b|\s*[<>+-])")


def test_no_code_compares_a_claims_end_but_through_the_one_rule() -> None:
    copies = []
    for package in ("bounties", "web", "market", "forecasting"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path == ROOT / "bounties/models/market.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if _CLAIM_END_COMPARISON.search(line) and "claims_hold_after" not in line:
                    copies.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert copies == []
