"""The public health check says up or degraded, nothing more; details for operators or a key."""

from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.conftest import Actor
from tests.factories import OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db

HEALTH = "/api/v1/health/"


def test_an_anonymous_caller_reads_only_up(api_client: APIClient) -> None:
    response = api_client.get(HEALTH)

    assert response.status_code == 200
    assert response.json() == {"status": "up"}


def test_an_anonymous_caller_reads_only_degraded_when_a_component_fails(
    api_client: APIClient, settings, tmp_path: Path
) -> None:
    settings.VISION_MODEL_DIR = str(tmp_path / "secret-model-path")

    response = api_client.get(HEALTH)

    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    assert "secret-model-path" not in response.content.decode()


@pytest.mark.parametrize("header", ["Bearer sl_nope_nope", "Basic dXNlcjpwYXNz", "Bearer "])
def test_a_bad_key_is_answered_like_no_key(api_client: APIClient, header: str) -> None:
    response = api_client.get(HEALTH, HTTP_AUTHORIZATION=header)

    assert response.status_code == 200
    assert response.json() == {"status": "up"}


def test_a_revoked_key_reads_no_details(owner: Actor) -> None:
    owner.api_key.revoked_at = owner.api_key.created_at
    owner.api_key.save()

    assert owner.client().get(HEALTH).json() == {"status": "up"}


def test_a_signed_in_worker_reads_no_details(client: Client) -> None:
    client.force_login(UserFactory())

    assert client.get(HEALTH).json() == {"status": "up"}


def test_an_operator_reads_every_component(client: Client) -> None:
    client.force_login(OperatorFactory())

    body = client.get(HEALTH).json()

    assert body["status"] == "up"
    assert set(body["components"]) == {"database", "broker", "workers", "vision_model"}


def test_an_agent_with_a_key_reads_every_component(owner: Actor) -> None:
    body = owner.client().get(HEALTH).json()

    assert body["components"]["database"] == {"status": "ok", "vendor": "postgresql"}


def test_the_schema_states_the_two_answers(api_client: APIClient) -> None:
    schema = api_client.get("/api/v1/schema/", {"format": "json"}).json()
    schemas = schema["components"]["schemas"]
    health = schemas["Health"]
    status = health["properties"]["status"]
    if "$ref" in status:  # the enum as a component of its own
        status = schemas[status["$ref"].rsplit("/", 1)[-1]]

    assert set(status["enum"]) == {"up", "degraded"}
    assert health["required"] == ["status"]
