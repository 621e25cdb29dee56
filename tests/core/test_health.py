"""The health endpoint's details, read with an API key (anonymous callers get the status only:
test_health_public.py)."""

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone
from rest_framework.test import APIClient

from market.core import heartbeats
from market.core.models import WorkerHeartbeat
from tests.conftest import Actor, wait_for

pytestmark = pytest.mark.django_db

HEALTH = "/api/v1/health/"
DAY = timedelta(days=1)


@pytest.fixture
def api_client(owner: Actor) -> APIClient:
    return owner.client()


def test_it_is_healthy_with_tasks_in_process(api_client: APIClient) -> None:
    response = api_client.get(HEALTH)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "up"
    assert body["components"]["database"] == {"status": "ok", "vendor": "postgresql"}
    assert body["components"]["broker"]["mode"] == "in-process"
    assert body["components"]["vision_model"]["mode"] == "not_configured"


def test_an_unreachable_broker_answers_503(
    api_client: APIClient, celery_via_broker: None, monkeypatch
) -> None:
    # Celery reads CELERY_BROKER_URL from the environment before its own settings.
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    response = api_client.get(HEALTH)
    assert response.status_code == 503
    broker = response.json()["components"]["broker"]
    assert broker["status"] == "error" and broker["mode"] == "broker"


def test_a_reachable_broker_without_workers_is_reported(
    api_client: APIClient, celery_via_broker: None
) -> None:
    body = api_client.get(HEALTH).json()
    assert body["components"]["broker"]["status"] == "ok"
    assert body["components"]["workers"]["queues"]["verify"]["status"] == "unknown"


def test_a_missing_vision_model_directory_answers_503(
    api_client: APIClient, settings, tmp_path
) -> None:
    settings.VISION_MODEL_DIR = str(tmp_path / "nowhere")
    response = api_client.get(HEALTH)
    assert response.status_code == 503
    assert response.json()["components"]["vision_model"]["mode"] == "missing"


def test_a_configured_vision_model_directory_is_ok(
    api_client: APIClient, settings, tmp_path
) -> None:
    (tmp_path / "config.json").write_text("{}")
    settings.VISION_MODEL_DIR = str(tmp_path)
    assert api_client.get(HEALTH).json()["components"]["vision_model"]["mode"] == "configured"


def workers_section(api_client: APIClient) -> dict[str, Any]:
    return api_client.get(HEALTH).json()["components"]["workers"]["queues"]


def test_a_worker_is_alive_in_the_health_endpoint_as_soon_as_it_is_ready(
    api_client: APIClient, celery_workers
) -> None:
    """No beat runs here: the worker records itself on Celery's worker_ready, then on its own
    clock (every second here)."""
    celery_workers(env={"WORKER_HEARTBEAT_SECONDS": "1"})

    def every_queue_ok() -> bool:
        queues = workers_section(api_client)
        return all(queues[queue]["status"] == "ok" for queue in settings.WORKER_QUEUES)

    wait_for(every_queue_ok, timeout=5)  # the first beat is written as the worker gets ready
    queues = workers_section(api_client)
    for queue in settings.WORKER_QUEUES:
        [process] = queues[queue]["processes"]
        assert process["hostname"].startswith("test-") and process["status"] == "ok"
    first_seen = queues["verify"]["last_seen"]
    wait_for(lambda: workers_section(api_client)["verify"]["last_seen"] > first_seen, timeout=20)


def test_a_process_that_stopped_beating_is_stale_and_then_forgotten(
    api_client: APIClient, celery_via_broker: None, settings
) -> None:
    settings.WORKER_HEARTBEAT_SECONDS = 10  # stale after 3 missed beats: 30 s
    now = timezone.now()
    for hostname, ago in [("default@live", 5), ("default@dead", 31), ("default@gone", 86401)]:
        WorkerHeartbeat.objects.create(
            queue="default", hostname=hostname, seen_at=now - timedelta(seconds=ago)
        )
    WorkerHeartbeat.objects.create(queue="verify", hostname="verify@dead", seen_at=now - DAY / 2)
    WorkerHeartbeat.objects.create(queue="training", hostname="training@live", seen_at=now)

    queues = workers_section(api_client)
    assert queues["default"]["status"] == "ok"
    assert [(p["hostname"], p["status"]) for p in queues["default"]["processes"]] == [
        ("default@live", "ok"),
        ("default@dead", "stale"),
    ]
    assert queues["verify"]["status"] == "stale"
    assert queues["training"]["status"] == "ok"  # a queue outside WORKER_QUEUES, once it beats

    WorkerHeartbeat.objects.filter(hostname="verify@dead").update(seen_at=now - DAY)
    assert workers_section(api_client)["verify"] == {
        "status": "unknown",
        "last_seen": None,
        "processes": [],
    }


def test_a_heartbeat_that_cannot_be_written_never_stops_the_worker(monkeypatch, caplog) -> None:
    def database_down(**_: object) -> None:
        raise OperationalError("the database is restarting")

    monkeypatch.setattr(heartbeats, "worker_heartbeat_record", database_down)
    heartbeats.worker_alive_record(hostname="verify@host", queues=["verify"])
    assert "could not record verify@host alive" in caplog.text
