import io
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from market.accounts import keys
from market.accounts.logging import RedactAPIKeysFilter
from market.accounts.models import AgentStatus, APIKey, Scope
from market.accounts.services import agent_set_status, api_key_create, api_key_revoke
from tests.conftest import Actor
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"


def test_it_authenticates_a_valid_key(owner: Actor) -> None:
    response = owner.client().get(ME)
    assert response.status_code == 200
    assert response.json()["agent_id"] == owner.agent.pk
    assert response.json()["key_prefix"] == f"sl_{owner.api_key.prefix}"
    assert sorted(response.json()["scopes"]) == sorted(Scope.values)


def test_each_agent_sees_only_itself(owner: Actor, outsider: Actor) -> None:
    assert owner.client().get(ME).json()["agent_id"] == owner.agent.pk
    assert outsider.client().get(ME).json()["agent_id"] == outsider.agent.pk


def test_a_missing_key_answers_401(api_client: APIClient) -> None:
    response = api_client.get(ME)
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_key_answers_401(owner: Actor, api_client: APIClient) -> None:
    # Well-formed, valid checksum, but the secret differs: only the hash can tell.
    forged = keys.compose(
        prefix=owner.api_key.prefix, secret="x" * keys.SECRET_LENGTH, is_test=False
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert_problem(api_client.get(ME), 401, "invalid_api_key")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer sl_nope", "Token {key}", "Basic dXNlcjpwYXNz", "Bearer {key}x"],
)
def test_malformed_credentials_answer_401(owner: Actor, api_client: APIClient, header: str) -> None:
    api_client.credentials(HTTP_AUTHORIZATION=header.format(key=owner.key))
    assert_problem(api_client.get(ME), 401, "invalid_api_key")


def test_a_revoked_key_fails_on_the_next_request(owner: Actor) -> None:
    client = owner.client()
    assert client.get(ME).status_code == 200
    api_key_revoke(api_key=owner.api_key)
    assert_problem(client.get(ME), 401, "revoked_api_key")


def test_revoking_twice_keeps_the_first_revocation_time(owner: Actor) -> None:
    first = api_key_revoke(api_key=owner.api_key).revoked_at
    second = api_key_revoke(api_key=APIKey.objects.get(pk=owner.api_key.pk)).revoked_at
    assert first is not None and first == second


def test_a_test_key_cannot_pose_as_a_live_key(owner: Actor, api_client: APIClient) -> None:
    parsed = keys.parse(owner.key)
    assert parsed is not None and not parsed.is_test
    secret = owner.key.split("_")[2][: keys.SECRET_LENGTH]
    as_test = keys.compose(prefix=parsed.prefix, secret=secret, is_test=True)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {as_test}")
    assert_problem(api_client.get(ME), 401, "invalid_api_key")


def test_a_suspended_agent_answers_403(owner: Actor) -> None:
    agent_set_status(agent=owner.agent, status=AgentStatus.SUSPENDED)
    assert_problem(owner.client().get(ME), 403, "agent_suspended")
    agent_set_status(agent=owner.agent, status=AgentStatus.ACTIVE)
    assert owner.client().get(ME).status_code == 200


def test_it_records_the_last_use_at_most_once_a_minute(owner: Actor) -> None:
    assert owner.api_key.last_used_at is None
    owner.client().get(ME)
    owner.api_key.refresh_from_db()
    first = owner.api_key.last_used_at
    assert first is not None and timezone.now() - first < timedelta(seconds=5)
    owner.client().get(ME)
    owner.api_key.refresh_from_db()
    assert owner.api_key.last_used_at == first
    APIKey.objects.filter(pk=owner.api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    owner.client().get(ME)
    owner.api_key.refresh_from_db()
    assert owner.api_key.last_used_at is not None and owner.api_key.last_used_at > first


def test_keys_are_stored_only_as_a_hash(owner: Actor) -> None:
    stored = APIKey.objects.filter(pk=owner.api_key.pk).values().get()
    assert owner.key not in str(stored)
    assert stored["hashed_key"] == keys.hash_key(owner.key)


def test_keys_never_reach_the_logs(owner: Actor, api_client: APIClient) -> None:
    console = [
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactAPIKeysFilter) for f in handler.filters)
    ]
    assert console, "the configured console handler must carry the redaction filter"
    handler = console[0]
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        revoked, revoked_key = api_key_create(agent=owner.agent)
        api_key_revoke(api_key=revoked)
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {revoked_key}")
        api_client.get(ME)
        logging.getLogger("market").warning("client sent %s", owner.key)
    finally:
        handler.setStream(previous)
    output = stream.getvalue()
    assert "client sent sl_" in output and "[REDACTED]" in output
    assert owner.key not in output and revoked_key not in output
