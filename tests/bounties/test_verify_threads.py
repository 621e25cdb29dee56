"""The verify workers as deployed: concurrent jobs share the relevance model's forward passes,
in one threads-pool process (the Procfile's default; its crash test is in
test_worker_crash.py) or across prefork processes through the vision server."""

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from tests.bounties.helpers import funded_bounty, upload
from tests.bounties.photos import DSCN0010_GPS, with_capture_time
from tests.conftest import ROOT, make_actor, wait_for

pytestmark = [pytest.mark.celery_worker]

THREADS_POOL = ("--pool", "threads", "--concurrency", "4")
PHOTOS = ("DSCN0010.jpg", "DSCN0012.jpg", "DSCN0021.jpg")  # three photos within 70 m


def test_concurrent_jobs_in_a_threads_pool_worker_share_forward_passes(
    celery_workers, tiny_clip_dir: Path
) -> None:
    worker = celery_workers(
        THREADS_POOL,
        {
            "VISION_MODEL_DIR": str(tiny_clip_dir),
            "VISION_MAX_WAIT_MS": "3000",
            "VISION_MAX_BATCH": "8",
        },
    )
    lat, lon = DSCN0010_GPS
    bounty = funded_bounty(make_actor().agent, lat=lat, lon=lon, radius_m=150, quantity=5)
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    submissions = [upload(bounty, with_capture_time(name, local)) for name in PHOTOS]

    undecided = (SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING)

    def decided() -> bool:
        statuses = Submission.objects.filter(pk__in=[s.pk for s in submissions]).values_list(
            "status", flat=True
        )
        return not any(status in undecided for status in statuses)

    wait_for(decided, timeout=120)
    for submission in submissions:
        submission.refresh_from_db()
        checks = {check["name"]: check for check in submission.checks}
        assert checks["relevance"]["status"] in ("passed", "failed")  # the model ran
        assert checks["duplicates"]["status"] == "passed"
        # One verdict each (the random tiny model's scores decide which).
        assert (
            submission.events.filter(actor="verification")
            .exclude(new_status=SubmissionStatus.VERIFYING)
            .count()
            == 1
        )

    log = worker.log_path.read_text()
    batches = [int(n) for n in re.findall(r"relevance: batch of (\d+)", log)]
    assert sum(batches) == len(PHOTOS)
    assert max(batches) > 1, log  # at least two jobs shared one forward pass


@pytest.fixture
def vision_server(tiny_clip_dir: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """`manage.py serve_vision` on a socket of its own; yields (socket, log path, process)."""
    with tempfile.TemporaryDirectory(prefix="sl-") as directory:
        socket, log_path = str(Path(directory) / "vision.sock"), Path(directory) / "server.log"
        env = {**os.environ, "DJANGO_ENV": "test", "VISION_SERVER": socket,
               "VISION_MODEL_DIR": str(tiny_clip_dir), "VISION_MAX_WAIT_MS": "3000"}  # fmt: skip
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "manage.py", "serve_vision"], cwd=ROOT, env=env, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_for(lambda: Path(socket).exists() or server.poll() is not None, timeout=60)
            assert server.poll() is None, log_path.read_text()
            yield socket, log_path, server
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


def test_prefork_workers_share_forward_passes_through_the_vision_server(
    celery_workers, tiny_clip_dir: Path, vision_server: tuple[str, Path, subprocess.Popen[bytes]]
) -> None:
    socket, server_log, server = vision_server
    # Prefork children (time limits enforced), no model of their own: they preprocess and ask.
    celery_workers(("-c", "2"), {"VISION_SERVER": socket, "VISION_MODEL_DIR": str(tiny_clip_dir)})
    lat, lon = DSCN0010_GPS
    bounty = funded_bounty(make_actor().agent, lat=lat, lon=lon, radius_m=150, quantity=5)
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    submissions = [upload(bounty, with_capture_time(name, local)) for name in PHOTOS]
    undecided = (SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING)
    wait_for(
        lambda: (
            not Submission.objects.filter(
                pk__in=[s.pk for s in submissions], status__in=undecided
            ).exists()
        ),
        timeout=120,
    )
    for submission in submissions:
        submission.refresh_from_db()
        assert {c["name"]: c["status"] for c in submission.checks}["relevance"] != "skipped"
        assert submission.facts["embedding_model"] == f"clip:{tiny_clip_dir.name}"
    batches = [int(n) for n in re.findall(r"relevance: batch of (\d+)", server_log.read_text())]
    assert sum(batches) == len(PHOTOS)
    assert max(batches) > 1  # requests from the two worker processes shared a forward pass
    server.terminate()  # as the process manager stops it: promptly and cleanly
    assert server.wait(timeout=20) == 0
    assert not Path(socket).exists()
