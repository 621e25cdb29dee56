"""Decide under the lock, deliver after commit: the verdict and the escrow release commit on
their own; the derived photo, the receipt and the ``submission.accepted`` webhook follow from a
task, retried on storage errors, never undoing the verdict and never leaving a stray file."""

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.core.files.storage import FileSystemStorage
from django.test import TestCase
from django.utils import timezone

from bounties.delivery import DELIVERY_STUCK_AFTER, delivered_photo_name
from bounties.models import Receipt, Submission, SubmissionStatus, WebhookDelivery
from bounties.services import submission_decide
from bounties.tasks import deliveries_sweep, submission_deliver
from bounties.webhooks import webhook_endpoint_create
from market.celery import app as celery_app
from market.ledger.models import Transaction, TransactionKind
from tests.bounties.helpers import funded_bounty, submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.helpers import assert_problem
from tests.ledger.helpers import assert_books_are_right

pytestmark = pytest.mark.django_db

REAL_SAVE = FileSystemStorage.save


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def submission(owner: Actor) -> Submission:
    webhook_endpoint_create(agent=owner.agent, url="http://127.0.0.1:9/hooks")
    return submit(funded_bounty(owner.agent, quantity=1), UserFactory())


def delivered_files(media_root: Path) -> list[Path]:
    folder = media_root / "submissions" / "delivered"
    return sorted(folder.iterdir()) if folder.exists() else []


def events(event_type: str) -> int:
    return WebhookDelivery.objects.filter(event_type=event_type).count()


def decide_capturing(submission: Submission) -> list[Callable[[], Any]]:
    """Accept, and return what was left for after commit without running it."""
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        submission_decide(submission=submission, accept=True, reasons=[], actor="test")
    return callbacks


@pytest.fixture
def storage_failures() -> Iterator[list[str]]:
    """The storage fails while ``modes`` has entries: "before" (nothing written) or "after"
    (the bytes written, then the answer lost, as an S3 PUT that timed out)."""
    modes: list[str] = []

    def save(storage: FileSystemStorage, name: str, content: Any, max_length: Any = None) -> str:
        mode = modes.pop(0) if modes else None
        if mode == "after":
            REAL_SAVE(storage, name, content, max_length=max_length)
        if mode is not None:
            raise OSError(f"storage unavailable ({mode})")
        return REAL_SAVE(storage, name, content, max_length=max_length)

    with mock.patch.object(FileSystemStorage, "save", autospec=True, side_effect=save):
        yield modes


@pytest.fixture
def retries_run_inline() -> Iterator[None]:
    """Eager tasks that retry run again at once, as a worker would run them after the backoff
    (propagating each error instead is Celery's eager default in tests: the first retry would
    stop the chain); a task that runs out of retries fails silently, as in a worker's log."""
    celery_app.conf.task_eager_propagates = False
    try:
        yield
    finally:
        celery_app.conf.task_eager_propagates = True


def test_it_answers_not_ready_until_the_data_is_released_then_serves_it(
    owner: Actor, submission: Submission
) -> None:
    callbacks = decide_capturing(submission)
    for part in ("photo", "receipt"):
        response = owner.client().get(f"/api/v1/submissions/{submission.pk}/{part}/")
        assert assert_problem(response, 409, "not_ready")["retry_after"] > 0
    detail = owner.client().get(f"/api/v1/submissions/{submission.pk}/").json()
    assert detail["status"] == "accepted"

    for callback in callbacks:
        callback()

    assert owner.client().get(f"/api/v1/submissions/{submission.pk}/photo/").status_code == 200
    body = owner.client().get(f"/api/v1/submissions/{submission.pk}/receipt/").json()
    assert body["receipt"]["submission"] == submission.pk


def test_the_accepted_webhook_fires_once_at_release_and_fulfilled_at_the_verdict(
    submission: Submission,
) -> None:
    decide_capturing(submission)
    assert events("bounty.fulfilled") == 1
    assert events("submission.accepted") == 0  # the verdict alone releases nothing

    submission_deliver.delay(submission.pk)
    submission_deliver.delay(submission.pk)  # a redelivered task

    assert events("submission.accepted") == 1
    [delivery] = WebhookDelivery.objects.filter(event_type="submission.accepted")
    assert delivery.payload["data"]["object"]["id"] == submission.pk
    assert Receipt.objects.filter(submission=submission).count() == 1


@pytest.mark.usefixtures("retries_run_inline")
def test_a_storage_error_keeps_the_verdict_and_the_payment_and_the_task_retries_to_success(
    owner: Actor, submission: Submission, storage_failures: list[str], media_root: Path
) -> None:
    storage_failures.extend(["before", "after"])  # two attempts fail, the third succeeds

    with TestCase.captureOnCommitCallbacks(execute=True):
        submission_decide(submission=submission, accept=True, reasons=[], actor="test")

    assert not storage_failures  # both failures happened
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 1
    assert Receipt.objects.filter(submission=submission).exists()
    assert events("submission.accepted") == 1
    # One file, under the one name, and it is the one the receipt describes.
    assert [path.relative_to(media_root).as_posix() for path in delivered_files(media_root)] == [
        delivered_photo_name(submission)
    ]
    assert submission.delivered_photo.name == delivered_photo_name(submission)
    assert submission.receipt.document["photo"]["sha256"] == submission.delivered_sha256
    assert owner.client().get(f"/api/v1/submissions/{submission.pk}/photo/").status_code == 200
    assert_books_are_right()


@pytest.mark.usefixtures("retries_run_inline")
def test_an_outage_longer_than_the_retries_leaves_no_file_and_the_sweep_delivers_later(
    owner: Actor, submission: Submission, storage_failures: list[str], media_root: Path
) -> None:
    attempts = submission_deliver.max_retries + 1
    storage_failures.extend(["after"] * attempts)  # every attempt writes, then fails

    with TestCase.captureOnCommitCallbacks(execute=True):
        submission_decide(submission=submission, accept=True, reasons=[], actor="test")

    assert not storage_failures  # the task tried until its retries ran out
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 1
    assert not submission.delivered_photo and not Receipt.objects.exists()
    # Each attempt wrote its copy under the one name, replacing the last: never a second file.
    assert [path.name for path in delivered_files(media_root)] == [
        Path(delivered_photo_name(submission)).name
    ]
    response = owner.client().get(f"/api/v1/submissions/{submission.pk}/receipt/")
    assert_problem(response, 409, "not_ready")
    assert events("submission.accepted") == 0

    storage_failures.clear()  # the storage is back
    deliveries_sweep.delay()  # too early: the task may still be retrying
    assert not Receipt.objects.exists()
    with time_machine.travel(timezone.now() + DELIVERY_STUCK_AFTER + timedelta(seconds=1)):
        deliveries_sweep.delay()

    submission.refresh_from_db()
    assert Receipt.objects.filter(submission=submission).count() == 1
    assert events("submission.accepted") == 1
    assert [path.name for path in delivered_files(media_root)] == [
        Path(delivered_photo_name(submission)).name
    ]
    assert owner.client().get(f"/api/v1/submissions/{submission.pk}/photo/").status_code == 200
    assert_books_are_right()


def test_a_rejection_enqueues_no_delivery(submission: Submission, media_root: Path) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        submission_decide(submission=submission, accept=False, reasons=["blurry"], actor="t")
    assert events("submission.rejected") == 1
    assert not Receipt.objects.exists() and not delivered_files(media_root)
    with time_machine.travel(timezone.now() + DELIVERY_STUCK_AFTER * 2):
        deliveries_sweep.delay()
    assert not Receipt.objects.exists()
