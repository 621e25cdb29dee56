"""The stack as `make up` runs it: supervisord running the Procfile's processes from the shipped
configuration (deploy/supervisord.conf, generated from the Procfile). Each worker process and
beat, killed with SIGKILL in turn while photos are being uploaded through the website: the web
keeps answering, supervisord has the process back within seconds (and the health endpoint
shows the worker alive again), and every upload around the kills is decided exactly once."""

import configparser
import contextlib
import io
import os
import re
import runpy
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from PIL import Image

from bounties.models import Bounty, Submission, SubmissionStatus
from bounties.services import claim_create
from market.accounts.models import User
from market.celery import app as celery_app
from tests.bounties.helpers import assert_accepted_once, funded_bounty
from tests.bounties.photos import DSCN0010_GPS, with_capture_time
from tests.conftest import Actor, _database_url, make_actor, wait_for
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHIPPED = ROOT / "deploy" / "supervisord.conf"
GENERATOR = ROOT / "scripts" / "supervisord_conf.py"
WEB = "web"
# A restarted process gets a new pid at once; a Celery worker is consuming (and says so in the
# health endpoint) a few seconds later: Django and the app load first (3-5 s on a busy 2-core
# box, measured; the bound leaves room for the other processes starting beside it).
BACK_WITHIN_S = 30


def procfile() -> dict[str, str]:
    """The Procfile's processes, read by the generator's own parser."""
    procfile_processes = runpy.run_path(str(GENERATOR))["procfile_processes"]
    return procfile_processes((ROOT / "Procfile").read_text())


def queue_of(command: str) -> str | None:
    words = shlex.split(command)
    return words[words.index("-Q") + 1] if "-Q" in words else None


def generate(*arguments: str) -> str:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *arguments], check=True, capture_output=True, text=True
    ).stdout


def test_it_ships_the_configuration_generated_from_the_procfile() -> None:
    assert SHIPPED.read_text() == generate(), "run: scripts/supervisord_conf.py > " + str(
        SHIPPED.relative_to(ROOT)
    )


def test_it_restarts_every_procfile_process_and_stops_its_whole_group() -> None:
    conf = configparser.RawConfigParser()
    conf.read_string(SHIPPED.read_text())
    programs = {section.removeprefix("program:") for section in conf.sections()}
    assert set(procfile()) <= programs
    for name in procfile():
        program = conf[f"program:{name}"]
        assert program["autorestart"] == "true"
        assert program["stopasgroup"] == program["killasgroup"] == "true"
        assert program["stdout_logfile"].startswith("%(here)s/../var/log/")
    # Celery's node name keeps its %h (supervisord would otherwise expand it, and fail).
    assert "-n default@%%h" in conf["program:worker-default"]["command"]


def test_it_refuses_a_malformed_procfile(tmp_path: Path) -> None:
    broken = tmp_path / "Procfile"
    broken.write_text("web: gunicorn market.wsgi\nno command here\n")
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--procfile", str(broken)], capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "line 2" in result.stderr


@dataclass
class Stack:
    conf: Path
    logs: Path
    base_url: str
    http: httpx.Client
    killed: list[int] = field(default_factory=list)  # pids killed by the test

    def ctl(self, *arguments: str) -> str:
        return subprocess.run(
            [str(BIN / "supervisorctl"), "-c", str(self.conf), *arguments],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()  # fmt: skip

    def pid(self, program: str) -> int:
        """The running process's pid; 0 while supervisord has none running."""
        answer = self.ctl("pid", program)
        return int(answer) if answer.isdigit() else 0

    def state(self, program: str) -> str:
        return self.ctl("status", program).split()[1]

    def health(self, actor: Actor) -> dict[str, Any]:
        response = self.http.get("/api/v1/health/", headers=bearer(actor))
        assert response.status_code == 200, response.text
        return response.json()

    def log_tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            for log in sorted(self.logs.glob("*.log"))
        )


def bearer(actor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {actor.key}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stack(transactional_db: None, celery_via_broker: None) -> Iterator[Stack]:
    """supervisord with the shipped programs (only its files moved to a temporary directory),
    on the test database and this test's Redis database; stopped, every group, at the end."""
    with celery_app.connection_for_write() as conn:
        for queue in {queue_of(command) for command in procfile().values()} - {None}:
            conn.default_channel.queue_purge(queue)
    # A short path: the control socket's name must fit in a sockaddr_un (108 bytes).
    var = Path(tempfile.mkdtemp(prefix="sl-stack-"))
    (var / "log").mkdir()
    (var / "run").mkdir()
    conf = var / "supervisord.conf"
    conf.write_text(generate("--root", str(ROOT), "--var", str(var)))
    port = free_port()
    environment = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "DEFAULT_CONCURRENCY": "1",
        "VERIFY_CONCURRENCY": "2",
        "VERIFY_ACCEPT_WITHOUT_RELEVANCE": "true",
        # A killed worker's unacknowledged job is redelivered after the visibility timeout
        # (4x the time limit): 20 s here, scanned for every 2 s.
        "CELERY_TASK_TIME_LIMIT": "5",
        "CELERY_UNACKED_RESTORE_SECONDS": "2",
    }
    supervisord = subprocess.Popen(
        [str(BIN / "supervisord"), "-n", "-c", str(conf)],
        cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base_url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base_url, timeout=30) as http:
        running = Stack(conf=conf, logs=var / "log", base_url=base_url, http=http)
        try:
            yield running
        finally:
            running.ctl("shutdown")
            try:
                supervisord.wait(timeout=60)
            except subprocess.TimeoutExpired:
                supervisord.kill()
                supervisord.wait()
            for pid in running.killed:  # anything a killed process left behind in its group
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            shutil.rmtree(var, ignore_errors=True)


def web_answers(stack: Stack, actor: Actor, bounty: Bounty) -> None:
    """The probe and an API call, both answered."""
    probe = stack.http.get("/api/v1/health/")
    assert probe.status_code == 200 and probe.json() == {"status": "up"}, probe.text
    api = stack.http.get(f"/api/v1/bounties/{bounty.pk}/", headers=bearer(actor))
    assert api.status_code == 200 and api.json()["id"] == bounty.pk, api.text


def last_seen(health: dict[str, Any], queue: str) -> datetime | None:
    beats = health["components"]["workers"]["queues"].get(queue, {}).get("processes", [])
    return max((datetime.fromisoformat(beat["last_seen"]) for beat in beats), default=None)


def fresh_photo(seed: int) -> bytes:
    """DSCN0010's EXIF (where, and a capture time a minute ago) on pixels of its own, so no
    upload of the test is a copy of another (the duplicates check would reject it)."""
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    original = Image.open(io.BytesIO(with_capture_time("DSCN0010.jpg", local)))
    blocks = np.random.default_rng(seed).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    pixels = Image.fromarray(blocks).resize(original.size, Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    pixels.save(buffer, "JPEG", quality=90, exif=original.getexif().tobytes())
    return buffer.getvalue()


def trusted_worker_at(bounty: Bounty) -> User:
    """A worker with three accepted photos of the bounty (trusted: accepted without review)."""
    worker = UserFactory()
    for _ in range(3):
        Submission.objects.create(
            bounty=bounty, claim=claim_create(bounty=bounty, worker=UserFactory()), worker=worker,
            upload_id=uuid.uuid4(), photo="x", photo_sha256="0" * 64, content_type="image/jpeg",
            size_bytes=1, status=SubmissionStatus.ACCEPTED, decided_at=timezone.now(),
        )  # fmt: skip
    return worker


def upload_through_the_website(stack: Stack, actor: Actor, seed: int) -> Submission:
    """A trusted worker claims a fresh bounty at DSCN0010's spot and uploads a photo of it
    through the web process, as the upload page's script does."""
    lat, lon = DSCN0010_GPS
    bounty = funded_bounty(actor.agent, lat=lat, lon=lon, radius_m=100, quantity=5,
                           max_per_worker=5)  # fmt: skip
    worker = trusted_worker_at(bounty)
    claim_create(bounty=bounty, worker=worker)
    session = Client()
    session.force_login(worker)
    cookies = {settings.SESSION_COOKIE_NAME: session.cookies[settings.SESSION_COOKIE_NAME].value}
    page_url = f"/bounties/{bounty.pk}/upload/"
    with httpx.Client(base_url=stack.base_url, cookies=cookies, timeout=30) as browser:
        page = browser.get(page_url)
        assert page.status_code == 200, page.text
        response = browser.post(
            page_url,
            headers={"X-CSRFToken": browser.cookies[settings.CSRF_COOKIE_NAME],
                     "Accept": "application/json"},
            data={"upload_id": str(uuid.uuid4()), "lat": str(lat), "lon": str(lon),
                  "accuracy_m": "15"},
            files={"photo": ("photo.jpg", fresh_photo(seed), "image/jpeg")},
        )  # fmt: skip
    assert response.status_code == 201, response.text
    submission_id = re.search(r"#submission-(\d+)$", response.json()["redirect"])
    assert submission_id is not None
    return Submission.objects.get(pk=int(submission_id.group(1)))


def attempts(submission: Submission) -> int:
    return Submission.objects.get(pk=submission.pk).verify_attempts


# Verification runs a submission's job on `default` (the fast checks, attempt 1), then on
# `verify` (the model stage, attempt 2); each counts its attempt as it starts. A worker is killed
# once its job has started: the broker has it as delivered but unacknowledged. (Killed in the
# instant between Redis handing it over and the worker recording it, a job would be lost to the
# sweeper's 10 minutes: kombu's Redis transport pops and records in two steps.)
STARTED_ON = {"default": 1, "verify": 2}
UNDECIDED = {SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING}


@pytest.mark.celery_worker
@pytest.mark.timeout(240)
def test_it_survives_each_worker_killed_and_decides_every_upload_once(stack: Stack) -> None:
    operator = make_actor()
    queues = {name: queue_of(command) for name, command in procfile().items()}

    def every_worker_alive() -> bool:
        try:
            health = stack.health(operator)
        except httpx.TransportError:  # the web process is still starting
            return False
        return all(last_seen(health, queue) for queue in queues.values() if queue)

    uploads: list[Submission] = []
    back_after_s: dict[str, float] = {}
    try:
        wait_for(every_worker_alive, timeout=90, interval=0.5)
        for program, queue in queues.items():
            if program == WEB:
                continue
            before = stack.pid(program)
            assert before, f"{program} is running"
            in_flight = upload_through_the_website(stack, operator, seed=len(uploads))
            uploads.append(in_flight)
            if queue in STARTED_ON:
                wait_for(lambda: attempts(in_flight) >= STARTED_ON[queue],  # noqa: B023
                         timeout=30, interval=0.01)  # fmt: skip
            killed_at = timezone.now()
            started = time.monotonic()
            os.kill(before, signal.SIGKILL)
            stack.killed.append(before)
            if queue in STARTED_ON:
                assert Submission.objects.get(pk=in_flight.pk).status in UNDECIDED, (
                    "killed with its job in flight"
                )
            uploads.append(upload_through_the_website(stack, operator, seed=len(uploads)))
            web_answers(stack, operator, in_flight.bounty)

            wait_for(lambda: stack.pid(program) not in (0, before), timeout=BACK_WITHIN_S)  # noqa: B023
            if queue is not None:
                wait_for(
                    lambda: (last_seen(stack.health(operator), queue) or killed_at) > killed_at,  # noqa: B023
                    timeout=BACK_WITHIN_S, interval=0.25,
                )  # fmt: skip
            back_after_s[program] = time.monotonic() - started
            web_answers(stack, operator, in_flight.bounty)

        for submission in uploads:
            assert_accepted_once(submission)
        for program in queues:
            assert stack.state(program) == "RUNNING"
    except BaseException:
        print(stack.log_tail())
        raise
    print(f"back after (s): { {name: round(s, 1) for name, s in back_after_s.items()} }")
