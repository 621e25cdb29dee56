"""A worker's EXIF must never freeze money: a forged capture time is ignored with a reason, no
stored value makes a row unreadable, every run counts before it can fail, and the rows stored
out of range before this was fixed are repaired so the sweeper decides them."""

import uuid
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DataError, connection, transaction
from django.test import Client
from django.utils import timezone

from bounties import tasks
from bounties.models import Submission, SubmissionStatus
from bounties.services import bounty_cancel, checking, claim_create, submission_create
from market.ledger.services import escrow_account
from tests.bounties.helpers import funded_bounty
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right
from tests.verification.hostile_exif import (
    DATETIME_ORIGINAL,
    OFFSET_TIME_ORIGINAL,
    exif_block,
    jpeg_with_exif,
    text,
)

pytestmark = pytest.mark.django_db

YEAR_9999_IN_KIRIBATI = jpeg_with_exif(
    exif_block(
        exif=[text(DATETIME_ORIGINAL, "9999:12:31 23:59:59"), text(OFFSET_TIME_ORIGINAL, "-14:00")]
    )
)
# What the unbounded pipeline stored for that photo: 9999-12-31 23:59:59 at -14:00, in UTC.
YEAR_10000 = "10000-01-01 13:59:59+00"
repair_capture_times = import_module(
    "bounties.migrations.0009_repair_capture_times"
).repair_capture_times


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def upload(bounty: Any, data: bytes, capture: Any, *, execute: bool = True) -> Submission:
    worker = UserFactory()
    with capture(execute=execute):
        submission, _ = submission_create(
            claim=claim_create(bounty=bounty, worker=worker), worker=worker,
            upload_id=uuid.uuid4(), content_type="image/jpeg",
            photo=SimpleUploadedFile("p.jpg", data, "image/jpeg"),
        )  # fmt: skip
    return submission


def store_raw(submission: Submission, **columns: Any) -> None:
    """Write columns in SQL, as the unbounded code did (the ORM cannot read these values)."""
    assignments = ", ".join(f"{column} = %s" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE bounties_submission SET {assignments} WHERE id = %s",  # noqa: S608
            [*columns.values(), submission.pk],
        )


def stuck_past_year_9999(submission: Submission) -> None:
    """The row as the unbounded code left it: verifying, one attempt, a year-10000 capture
    time, waiting longer than the sweeper's threshold."""
    store_raw(
        submission,
        status=SubmissionStatus.VERIFYING.value,
        verify_attempts=1,
        captured_at=YEAR_10000,
        received_at=timezone.now() - checking.STUCK_AFTER - timedelta(minutes=1),
    )


def unreadable(submission: Submission) -> bool:
    try:
        with transaction.atomic():
            Submission.objects.get(pk=submission.pk)
    except DataError:
        return True
    return False


def run_repair() -> None:
    with connection.schema_editor() as editor:
        repair_capture_times(django_apps, editor)


def test_a_photo_dated_year_9999_at_minus_14_is_decided_and_its_row_stays_readable(
    owner: Actor, django_capture_on_commit_callbacks: Any, client: Client
) -> None:
    bounty = funded_bounty(owner.agent, quantity=2, require_gps=False)
    submission = upload(bounty, YEAR_9999_IN_KIRIBATI, django_capture_on_commit_callbacks)

    submission.refresh_from_db()  # the unbounded code stored year 10000: this read failed
    assert submission.captured_at is None
    assert submission.facts["captured_at"] is None
    assert submission.status == SubmissionStatus.REJECTED
    time_check = next(check for check in submission.checks if check["name"] == "time")
    assert time_check["status"] == "failed"
    assert "9999:12:31 23:59:59 -14:00" in time_check["reason"]
    assert any("cannot be right" in reason for reason in submission.reasons)

    api = owner.client()
    assert api.get("/api/v1/submissions/").status_code == 200
    assert api.get(f"/api/v1/submissions/{submission.pk}/").status_code == 200
    client.force_login(submission.worker)
    assert client.get("/submissions/").status_code == 200
    assert_books_are_right()


def test_a_run_counts_its_attempt_before_anything_that_can_fail(
    owner: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    """Even a row that cannot be read: the run fails, and the attempt is still counted, so the
    bound on attempts holds whatever breaks."""
    bounty = funded_bounty(owner.agent, quantity=1, require_gps=False)
    submission = upload(bounty, YEAR_9999_IN_KIRIBATI, django_capture_on_commit_callbacks,
                        execute=False)  # fmt: skip
    stuck_past_year_9999(submission)
    assert unreadable(submission)

    with pytest.raises(DataError, match="after year 10K"):
        checking.submission_verify(submission_id=submission.pk)
    attempts = Submission.objects.filter(pk=submission.pk).values_list("verify_attempts", flat=True)
    assert attempts.get() == 2


def test_an_error_deciding_after_the_fast_checks_is_recorded_on_the_submission(
    owner: Actor, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    bounty = funded_bounty(owner.agent, quantity=1, require_gps=False)
    submission = upload(bounty, YEAR_9999_IN_KIRIBATI, django_capture_on_commit_callbacks,
                        execute=False)  # fmt: skip

    def broken_decide(**kwargs: Any) -> None:
        raise RuntimeError("the ledger is down")

    monkeypatch.setattr(checking, "submission_decide", broken_decide)
    with pytest.raises(RuntimeError):
        checking.submission_check_fast(submission_id=submission.pk)
    submission.refresh_from_db()
    assert submission.verify_attempts == 1
    assert submission.verify_error == "RuntimeError: the ledger is down"


def test_the_repair_unsticks_a_submission_stored_past_year_9999_and_its_escrow_is_refunded(
    owner: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    bounty = funded_bounty(owner.agent, quantity=1, require_gps=False)
    submission = upload(bounty, YEAR_9999_IN_KIRIBATI, django_capture_on_commit_callbacks,
                        execute=False)  # fmt: skip
    bounty_cancel(bounty=bounty, actor="agent")
    slot_cost = bounty.slot_cost_minor
    assert escrow_account(agent=owner.agent, bounty_id=bounty.pk).balance_minor == slot_cost
    stuck_past_year_9999(submission)
    assert unreadable(submission)

    run_repair()

    submission.refresh_from_db()
    assert submission.captured_at is None
    assert submission.status == SubmissionStatus.VERIFYING
    tasks.submissions_sweep()  # the beat's sweep: verifies it again (eagerly here)
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.REJECTED
    assert any("cannot be right" in reason for reason in submission.reasons)
    assert escrow_account(agent=owner.agent, bounty_id=bounty.pk).balance_minor == 0
    assert_books_are_right()


@pytest.mark.parametrize(
    ("stored", "repaired"),
    [
        ("0001-01-01 00:00:00+00", True),
        ("1999-12-31 23:59:59+00", True),
        ("2000-01-01 00:00:00+00", False),
        ("received_at", False),
        ("received_at + interval '1 day'", False),
        ("received_at + interval '1 day 1 second'", True),
    ],
)
def test_the_repair_clears_exactly_the_times_outside_the_plausible_range(
    owner: Actor, django_capture_on_commit_callbacks: Any, stored: str, repaired: bool
) -> None:
    bounty = funded_bounty(owner.agent, quantity=1, require_gps=False)
    submission = upload(bounty, YEAR_9999_IN_KIRIBATI, django_capture_on_commit_callbacks,
                        execute=False)  # fmt: skip
    value = stored if stored.startswith("received_at") else f"'{stored}'::timestamptz"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE bounties_submission SET captured_at = {value} WHERE id = %s",  # noqa: S608
            [submission.pk],
        )

    run_repair()

    submission.refresh_from_db()
    assert (submission.captured_at is None) == repaired
