"""Shared fixtures: three actors (owner, teammate, outsider), API clients, a real Celery worker."""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from market.accounts.models import Agent, APIKey, User
from market.accounts.services import api_key_create
from market.celery import app as celery_app
from tests import fuzz
from tests.factories import AgentFactory, RequesterFactory
from tests.verification.tiny_clip import build_tiny_clip

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "photos"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fuzz tally (`make fuzz` reads it): how many generated cases each fuzz suite tried."""
    if fuzz.CASES:
        parts = ", ".join(f"{suite} {count}" for suite, count in sorted(fuzz.CASES.items()))
        terminalreporter.write_line(f"fuzz: {sum(fuzz.CASES.values())} cases tried ({parts})")


def pytest_configure(config: pytest.Config) -> None:
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine != "django.db.backends.postgresql":
        raise pytest.UsageError(
            f"The suite runs on PostgreSQL only (DATABASE_URL gives {engine}). "
            "Run `make test`, or set DATABASE_URL=postgres://postgres@127.0.0.1:5432/sightline."
        )


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttles and lockouts count in the cache (per address: every test client is 127.0.0.1);
    each test starts with none counted."""
    cache.clear()
    yield


@dataclass
class Actor:
    """A requester with one agent and a key for it."""

    user: User
    agent: Agent
    api_key: APIKey
    key: str

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")
        return client


def make_actor(**agent_fields: object) -> Actor:
    agent: Agent = AgentFactory(**agent_fields)
    api_key, key = api_key_create(agent=agent)
    return Actor(user=agent.owner, agent=agent, api_key=api_key, key=key)


@pytest.fixture
def owner(db: None) -> Actor:
    return make_actor()


@pytest.fixture
def teammate(owner: Actor) -> Actor:
    """A second agent of the same requester."""
    return make_actor(owner=owner.user)


@pytest.fixture
def outsider(db: None) -> Actor:
    return make_actor(owner=RequesterFactory())


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


@pytest.fixture
def celery_via_broker() -> Iterator[None]:
    """Tasks go through the broker instead of running in-process, for one test."""
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = True


@pytest.fixture
def celery_worker_env() -> dict[str, str]:
    """Extra environment for the worker process (override in a test module)."""
    return {}


@pytest.fixture
def celery_workers(
    transactional_db: None,
    celery_via_broker: None,
    tmp_path: Path,
    celery_worker_env: dict[str, str],
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Starts real Celery worker processes consuming queues from Redis, on the test database:
    ``start(pool_args, env, queues)`` (default ``-c 1``, the prefork pool, every queue) returns
    the process once it answers a ping; every worker still running is stopped at the end.


    The test process stops running tasks eagerly for the duration, so ``.delay()`` goes through
    the broker to the worker, as in production.
    """
    broker_url = settings.CELERY_BROKER_URL
    if not broker_url.startswith("redis://"):
        pytest.fail("celery_worker needs CELERY_BROKER_URL=redis://... (make test sets it)")
    with celery_app.connection_for_write() as conn:
        for queue in settings.WORKER_QUEUES:
            conn.default_channel.queue_purge(queue)
    started: list[subprocess.Popen[bytes]] = []

    def start(
        pool_args: Sequence[str] = ("-c", "1"),
        env: dict[str, str] | None = None,
        queues: Sequence[str] = settings.WORKER_QUEUES,
    ) -> subprocess.Popen[bytes]:
        node = f"test-{uuid.uuid4().hex[:8]}@localhost"
        environment = {
            **os.environ,
            "DJANGO_ENV": "test",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **celery_worker_env,
            **(env or {}),
        }
        log_path = tmp_path / f"celery-worker-{len(started) + 1}.log"
        with log_path.open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "market", "worker", "-n", node, "-Q",
                 ",".join(queues), *pool_args, "--without-gossip",
                 "--without-mingle", "-l", "INFO"],
                cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        worker.log_path = log_path  # type: ignore[attr-defined]
        started.append(worker)
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(destination=[node], timeout=0.5):
            if worker.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()}")
        return worker

    try:
        yield start
    finally:
        for worker in started:
            if worker.poll() is None:
                worker.terminate()
        for worker in started:
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


@pytest.fixture
def celery_worker(
    celery_workers: Callable[..., subprocess.Popen[bytes]],
) -> subprocess.Popen[bytes]:
    """One real Celery worker process (prefork pool, one child); see ``celery_workers``."""
    return celery_workers()


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random CLIP saved as an operator would (`VISION_MODEL_DIR`)."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


def wait_for(condition: object, *, timeout: float = 30.0, interval: float = 0.1) -> None:
    """Poll ``condition()`` until it is truthy, failing the test after ``timeout`` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)
