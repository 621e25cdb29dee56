"""A verify worker killed (SIGKILL) in the middle of a job, in either pool: the job is
redelivered and the submission still ends with exactly one verdict and one ledger posting."""

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
from tests.bounties.helpers import assert_accepted_once, funded_bounty
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


def trusted_workers_upload() -> Submission:
    """A fresh photo at the bounty's spot from a worker with three accepted photos (trusted:
    accepted without review)."""
    lat, lon = DSCN0010_GPS
    bounty = funded_bounty(make_actor().agent, lat=lat, lon=lon, radius_m=100, quantity=5,
                           max_per_worker=5)  # fmt: skip
    worker = UserFactory()
    for _ in range(3):
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
    return submission


def test_a_killed_worker_still_yields_one_verdict_and_one_posting(celery_worker) -> None:
    submission = trusted_workers_upload()

    def verifying() -> bool:
        return Submission.objects.get(pk=submission.pk).status == SubmissionStatus.VERIFYING

    wait_for(verifying, timeout=60, interval=0.01)
    children = pool_children(celery_worker)
    assert children, "the worker has a pool process"
    for pid in children:
        os.kill(pid, signal.SIGKILL)  # mid-job: the task was started, not acknowledged

    assert_accepted_once(submission)


def test_a_killed_threads_pool_worker_still_yields_one_verdict_and_one_posting(
    celery_workers, tiny_clip_dir
) -> None:
    """The Procfile's verify worker (threads pool) killed as a whole: its job stays unacked
    until the visibility timeout (4x the time limit, short here), then the next worker gets it."""
    limit = {"CELERY_TASK_TIME_LIMIT": "5", "CELERY_UNACKED_RESTORE_SECONDS": "2"}
    threads_pool = ("--pool", "threads", "--concurrency", "4")
    first = celery_workers(
        threads_pool,
        # The relevance request waits 30 s for company: the job is surely mid-flight when killed.
        {**limit, "VISION_MODEL_DIR": str(tiny_clip_dir), "VISION_MAX_WAIT_MS": "30000"},
    )
    submission = trusted_workers_upload()
    wait_for(lambda: bool(Submission.objects.get(pk=submission.pk).checks), timeout=60,
             interval=0.01)  # fmt: skip
    os.kill(first.pid, signal.SIGKILL)  # the whole process: the job is unacknowledged
    first.wait()
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.VERIFYING
    celery_workers(threads_pool, limit)
    assert_accepted_once(submission)
