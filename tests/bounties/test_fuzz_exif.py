"""Photos with arbitrary EXIF through upload, verification and decision, on PostgreSQL with the
tasks run in-process: no exception escapes, every submission ends accepted, rejected or with a
person within the attempt limit, and the books balance after every example.

`FUZZ_EXAMPLES` sets the number of photos (`make fuzz`); CI runs the default.
"""

import itertools
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bounties.models import Submission, SubmissionStatus
from bounties.services import (
    ReportedLocation,
    bounty_cancel,
    claim_create,
    submission_create,
    submission_decide,
)
from market.ledger.services import escrow_account
from tests.bounties.helpers import funded_bounty
from tests.bounties.photos import DSCN0010_GPS
from tests.conftest import Actor
from tests.factories import AgentFactory, UserFactory
from tests.fuzz import count_case, fuzz_examples
from tests.ledger.helpers import assert_books_are_right
from tests.verification.hostile_exif import hostile_exif_blocks, jpeg_with_exif
from verification.image import EARLIEST_PLAUSIBLE_CAPTURE, LATEST_PLAUSIBLE_AFTER_UPLOAD

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.fuzz,
    # Pillow warns about what it skips in a damaged EXIF block: expected here.
    pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning"),
    pytest.mark.filterwarnings("ignore:Possibly corrupt EXIF:UserWarning"),
    pytest.mark.filterwarnings("ignore:Metadata Warning:UserWarning"),
    pytest.mark.filterwarnings("ignore:Tag data larger than file:UserWarning"),
]

DECIDED_OR_WITH_A_PERSON = {
    SubmissionStatus.ACCEPTED,
    SubmissionStatus.REJECTED,
    SubmissionStatus.NEEDS_REVIEW,
}
# Each photo's pixels its own (hypothesis repeats small integers): the duplicate check is not
# what is under test here.
PATTERNS = itertools.count(1)
reported_locations = st.one_of(
    st.none(),
    st.builds(
        ReportedLocation,
        lat=st.floats(DSCN0010_GPS[0] - 0.005, DSCN0010_GPS[0] + 0.005),
        lon=st.floats(DSCN0010_GPS[1] - 0.005, DSCN0010_GPS[1] + 0.005),
        accuracy_m=st.one_of(st.none(), st.floats(0, 5_000)),
    ),
)


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@hypothesis_settings(
    max_examples=fuzz_examples(100),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    block=hostile_exif_blocks(near=DSCN0010_GPS),
    reported=reported_locations,
    person=st.sampled_from(["accepts", "rejects", "cancels the bounty, then rejects"]),
)
def test_any_exif_is_decided_within_the_attempt_limit_and_the_books_balance(
    owner: Actor,
    django_capture_on_commit_callbacks: Any,
    block: bytes,
    reported: ReportedLocation | None,
    person: str,
) -> None:
    count_case("exif upload")
    # A fresh agent per example: examples share the fixture's, and its daily spending cap.
    agent = AgentFactory(owner=owner.user)
    lat, lon = DSCN0010_GPS
    # The window opened half an hour ago: a truthful photo's capture time (up to 20 minutes
    # old) falls inside it.
    starts_at = timezone.now() - timedelta(minutes=30)
    bounty = funded_bounty(agent, lat=lat, lon=lon, radius_m=500, quantity=1, starts_at=starts_at)
    worker = UserFactory()
    photo = SimpleUploadedFile("p.jpg", jpeg_with_exif(block, pattern=next(PATTERNS)))
    with django_capture_on_commit_callbacks(execute=True):  # the fast stage, then the model's
        submission, _ = submission_create(
            claim=claim_create(bounty=bounty, worker=worker), worker=worker,
            upload_id=uuid.uuid4(), content_type="image/jpeg", location=reported,
            photo=photo,
        )  # fmt: skip

    submission.refresh_from_db()  # readable: every stored value is one the driver can load
    event(f"verification: {submission.status}")
    for check in submission.checks:
        event(f"{check['name']}: {check['status']}")
    assert submission.status in DECIDED_OR_WITH_A_PERSON, (submission.status, submission.checks)
    assert submission.verify_attempts <= settings.VERIFY_MAX_ATTEMPTS
    assert submission.verify_error == ""
    assert submission.reasons and all(check["reason"] for check in submission.checks)
    if submission.captured_at is not None:
        latest = submission.received_at + LATEST_PLAUSIBLE_AFTER_UPLOAD
        assert EARLIEST_PLAUSIBLE_CAPTURE <= submission.captured_at <= latest

    cancels = person.startswith("cancels")
    if cancels:  # the slot's escrow is refunded once the submission is decided
        bounty_cancel(bounty=bounty, actor="agent")
    if submission.status == SubmissionStatus.NEEDS_REVIEW:
        accept = person == "accepts"
        submission_decide(
            submission=submission, accept=accept, reasons=["Checked by a person."],
            actor="reviewer",
        )  # fmt: skip
        assert Submission.objects.get(pk=submission.pk).status == (
            SubmissionStatus.ACCEPTED if accept else SubmissionStatus.REJECTED
        )
    if cancels:
        assert escrow_account(agent=agent, bounty_id=bounty.pk).balance_minor == 0
    assert_books_are_right()
