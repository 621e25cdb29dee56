"""A verify worker killed (SIGKILL) in the middle of a job: the job is redelivered and the
submission still ends with exactly one verdict and one ledger posting."""

import os
import signal
import subprocess
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from bounties.services import ReportedLocation, claim_create, submission_create
from market.ledger.models import Transaction, TransactionKind
from tests.bounties.helpers import funded_bounty
from tests.bounties.photos import DSCN0010_GPS, with_capture_time
from tests.conftest import make_actor, wait_for
from tests.factories import UserFactory

pytestmark = [pytest.mark.celery_worker]


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    return {"VERIFY_ACCEPT_WITHOUT_RELEVANCE": "true"}


def pool_children(worker: subprocess.Popen[bytes]) -> list[int]:
    output = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(worker.pid)], capture_output=True, text=True
    ).stdout
    return [int(pid) for pid in output.split()]


def test_a_killed_worker_still_yields_one_verdict_and_one_posting(celery_worker) -> None:
    lat, lon = DSCN0010_GPS
    bounty = funded_bounty(make_actor().agent, lat=lat, lon=lon, radius_m=100, quantity=5,
                           max_per_worker=5)  # fmt: skip
    worker = UserFactory()
    for _ in range(3):  # a trusted worker's photo is accepted without review
        Submission.objects.create(
            bounty=bounty, claim=claim_create(bounty=bounty, worker=UserFactory()), worker=worker,
            upload_id=uuid.uuid4(), photo="x", photo_sha256="0" * 64, content_type="image/jpeg",
            size_bytes=1, status=SubmissionStatus.ACCEPTED, decided_at=timezone.now(),
        )  # fmt: skip
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    submission, _ = submission_create(
        claim=claim_create(bounty=bounty, worker=worker), worker=worker, upload_id=uuid.uuid4(),
        content_type="image/jpeg",
        photo=SimpleUploadedFile("p.jpg", with_capture_time("DSCN0010.jpg", local), "image/jpeg"),
        location=ReportedLocation(lat=lat, lon=lon, accuracy_m=15),
    )  # fmt: skip

    def verifying() -> bool:
        return Submission.objects.get(pk=submission.pk).status == SubmissionStatus.VERIFYING

    wait_for(verifying, timeout=60, interval=0.01)
    children = pool_children(celery_worker)
    assert children, "the worker has a pool process"
    for pid in children:
        os.kill(pid, signal.SIGKILL)  # mid-job: the task was started, not acknowledged

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
