"""Submissions through the verification pipeline (tasks in-process), with real photos."""

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from bounties.services import ReportedLocation, checking, claim_create, submission_create
from market.ledger.models import Transaction, TransactionKind
from tests.bounties.helpers import funded_bounty
from tests.bounties.photos import DSCN0010_GPS, photo_bytes, with_capture_time
from tests.conftest import Actor
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bounty(owner: Actor):
    lat, lon = DSCN0010_GPS
    return funded_bounty(owner.agent, lat=lat, lon=lon, radius_m=100, quantity=3)


def upload(bounty, data: bytes, capture: Any, worker=None) -> Submission:
    worker = worker or UserFactory()
    with capture(execute=True):
        submission, _ = submission_create(
            claim=claim_create(bounty=bounty, worker=worker), worker=worker,
            upload_id=uuid.uuid4(), content_type="image/jpeg",
            photo=SimpleUploadedFile("p.jpg", data, "image/jpeg"),
            location=ReportedLocation(lat=DSCN0010_GPS[0], lon=DSCN0010_GPS[1], accuracy_m=20),
        )  # fmt: skip
    submission.refresh_from_db()
    return submission


def fresh() -> bytes:
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=2)
    return with_capture_time("DSCN0010.jpg", local)


def checks(submission: Submission) -> dict[str, str]:
    return {check["name"]: check["status"] for check in submission.checks}


def test_a_fresh_photo_inside_the_radius_passes_the_fast_checks(
    bounty, django_capture_on_commit_callbacks: Any
) -> None:
    submission = upload(bounty, fresh(), django_capture_on_commit_callbacks)
    assert checks(submission)["location"] == "passed"
    assert checks(submission)["time"] == "passed"
    assert checks(submission)["integrity"] == "passed"
    assert checks(submission)["duplicates"] == "passed"
    assert checks(submission)["relevance"] == "skipped"  # no model configured here
    # No relevance model and a new worker: a person decides.
    assert submission.status == SubmissionStatus.NEEDS_REVIEW
    assert submission.facts["gps"]["lat"] == pytest.approx(DSCN0010_GPS[0], abs=1e-4)
    assert submission.captured_at is not None


def test_an_old_photo_is_rejected_with_the_reason(
    bounty, django_capture_on_commit_callbacks: Any
) -> None:
    submission = upload(bounty, photo_bytes("DSCN0010.jpg"), django_capture_on_commit_callbacks)
    assert submission.status == SubmissionStatus.REJECTED
    assert checks(submission)["time"] == "failed"
    assert any("2008" in reason or "window" in reason for reason in submission.reasons)


def test_a_photo_from_elsewhere_is_rejected_and_the_slot_reopens(
    owner: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    far = funded_bounty(owner.agent, lat=51.5072, lon=-0.1276, radius_m=100, quantity=1)
    submission = upload(far, fresh(), django_capture_on_commit_callbacks)
    assert submission.status == SubmissionStatus.REJECTED
    assert checks(submission)["location"] == "failed"
    assert claim_create(bounty=far, worker=UserFactory())  # the slot is open again


def test_a_damaged_file_is_rejected_never_crashes(
    bounty, django_capture_on_commit_callbacks: Any
) -> None:
    submission = upload(bounty, photo_bytes("corrupted.jpg"), django_capture_on_commit_callbacks)
    assert submission.status == SubmissionStatus.REJECTED
    assert checks(submission)["integrity"] == "failed"
    assert any("damaged" in reason for reason in submission.reasons)


def test_a_photo_without_metadata_is_rejected_with_reasons(
    bounty, django_capture_on_commit_callbacks: Any
) -> None:
    # image00971.jpg decodes; what it lacks is EXIF: no GPS position, no capture time.
    submission = upload(bounty, photo_bytes("image00971.jpg"), django_capture_on_commit_callbacks)
    assert submission.status == SubmissionStatus.REJECTED
    assert checks(submission)["location"] == checks(submission)["time"] == "failed"
    assert len(submission.reasons) == 2


def test_the_same_photo_twice_is_a_duplicate(
    bounty, django_capture_on_commit_callbacks: Any
) -> None:
    data = fresh()
    upload(bounty, data, django_capture_on_commit_callbacks)
    second = upload(bounty, data, django_capture_on_commit_callbacks)
    assert second.status == SubmissionStatus.REJECTED
    assert checks(second)["duplicates"] == "failed"


def test_verifying_twice_gives_one_verdict_and_one_posting(
    bounty, django_capture_on_commit_callbacks: Any, settings
) -> None:
    settings.VERIFY_ACCEPT_WITHOUT_RELEVANCE = True
    worker = UserFactory()
    # A worker with a good history is accepted without review.
    for _ in range(3):
        done = Submission.objects.create(
            bounty=bounty, claim=claim_create(bounty=bounty, worker=UserFactory()), worker=worker,
            upload_id=uuid.uuid4(), photo="x", photo_sha256="0" * 64, content_type="image/jpeg",
            size_bytes=1, status=SubmissionStatus.ACCEPTED, decided_at=timezone.now(),
        )  # fmt: skip
        assert done
    bounty.quantity, bounty.max_per_worker = 10, 10
    bounty.save()
    submission = upload(bounty, fresh(), django_capture_on_commit_callbacks, worker=worker)
    assert submission.status == SubmissionStatus.ACCEPTED, submission.reasons
    Submission.objects.filter(pk=submission.pk).update(status=SubmissionStatus.VERIFYING)
    checking.submission_verify(submission_id=submission.pk)  # a redelivered task
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 1


def past_review_deadline(submission: Submission) -> None:
    Submission.objects.filter(pk=submission.pk).update(
        received_at=timezone.now() - submission.bounty.auto_approve_after - timedelta(minutes=1)
    )


def test_a_fully_checked_photo_waiting_past_its_deadline_is_accepted_automatically(
    bounty, django_capture_on_commit_callbacks: Any
) -> None:
    submission = upload(bounty, fresh(), django_capture_on_commit_callbacks)
    assert submission.status == SubmissionStatus.NEEDS_REVIEW  # new worker, no model
    assert checking.submissions_auto_approve_due() == 0  # not yet
    past_review_deadline(submission)
    assert checking.submissions_auto_approve_due() == 1
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED
    assert submission.events.get(new_status=SubmissionStatus.ACCEPTED).actor == "auto-approve"


def test_a_photo_that_breaks_verification_goes_to_a_person_after_the_last_attempt(
    bounty, django_capture_on_commit_callbacks: Any, monkeypatch, settings
) -> None:
    settings.VERIFY_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=False):  # the task is not run on commit
        worker = UserFactory()
        submission, _ = submission_create(
            claim=claim_create(bounty=bounty, worker=worker), worker=worker,
            upload_id=uuid.uuid4(), content_type="image/jpeg",
            photo=SimpleUploadedFile("p.jpg", fresh(), "image/jpeg"),
        )  # fmt: skip

    def explode(**kwargs: Any) -> None:
        raise RuntimeError("the decoder exploded")

    monkeypatch.setattr(checking, "run_fast_checks", explode)
    Submission.objects.filter(pk=submission.pk).update(
        received_at=timezone.now() - checking.STUCK_AFTER - timedelta(minutes=1)
    )
    for attempt in range(1, 4):
        with pytest.raises(RuntimeError):
            checking.submission_verify(submission_id=submission.pk)
        submission.refresh_from_db()
        assert submission.status == SubmissionStatus.VERIFYING
        assert submission.verify_attempts == attempt
        assert submission.verify_error == "RuntimeError: the decoder exploded"
        assert submission.pk in checking.submissions_stuck()  # the sweeper tries again
    checking.submission_verify(submission_id=submission.pk)  # the sweeper's next try
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.NEEDS_REVIEW
    assert submission.pk not in checking.submissions_stuck()

    # The worker reads a plain reason; operators see the error (review page, event log).
    assert submission.reasons == [
        "Automatic verification could not finish; a person will check the photo."
    ]
    event = submission.events.get(new_status=SubmissionStatus.NEEDS_REVIEW)
    assert event.reason == "3 runs failed; last error: RuntimeError: the decoder exploded"

    checking.submission_verify(submission_id=submission.pk)  # later tries change nothing
    submission.refresh_from_db()
    assert submission.verify_attempts == 4
    assert submission.events.filter(new_status=SubmissionStatus.NEEDS_REVIEW).count() == 1
    # Never accepted without a person: its checks never ran.
    past_review_deadline(submission)
    assert checking.submissions_auto_approve_due() == 0
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW
