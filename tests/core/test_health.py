"""The health endpoint's details, read with an API key (anonymous callers get the status only:
test_health_public.py)."""

import pytest
from rest_framework.test import APIClient

from tests.conftest import Actor

pytestmark = pytest.mark.django_db

HEALTH = "/api/v1/health/"


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
