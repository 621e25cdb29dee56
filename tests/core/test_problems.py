"""Every error is RFC 9457 problem+json with a stable code; never a 500 for bad input."""

import pytest
import time_machine
from rest_framework.test import APIClient

from market.core.api import APIKeyRateThrottle
from tests.conftest import Actor
from tests.helpers import assert_problem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.urls_errors")]

ECHO = "/api/v1/test/echo/"


def test_validation_errors_list_every_field(owner: Actor) -> None:
    response = owner.client().post(ECHO, {"lat": 91, "tags": ["ok", "toolong"]}, format="json")
    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {"lat", "tags.1", "window"}
    assert "less than or equal to 90" in body["errors"]["lat"][0]
    assert body["instance"] == ECHO


def test_application_errors_keep_their_status_code_and_extra(owner: Actor) -> None:
    response = owner.client().post(ECHO, {"lat": 0, "tags": [], "window": {}}, format="json")
    body = assert_problem(response, 402, "insufficient_funds")
    assert body["needed_minor"] == 5


def test_malformed_json_answers_400(owner: Actor) -> None:
    response = owner.client().post(ECHO, data="{not json", content_type="application/json")
    assert_problem(response, 400, "malformed_request")


def test_a_wrong_content_type_answers_415(owner: Actor) -> None:
    response = owner.client().post(
        ECHO, data="lat=1", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(response, 415, "unsupported_media_type")


def test_a_wrong_method_answers_405(owner: Actor) -> None:
    assert_problem(owner.client().delete(ECHO), 405, "method_not_allowed")


def test_unknown_api_paths_answer_404_problem(owner: Actor) -> None:
    body = assert_problem(owner.client().get("/api/v1/nothing-here/"), 404, "not_found")
    assert body["instance"] == "/api/v1/nothing-here/"


def test_unknown_site_paths_answer_an_html_404(client) -> None:
    response = client.get("/nothing-here/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_bug_answers_500_problem_without_leaking_details(owner: Actor) -> None:
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {owner.key}")
    body = assert_problem(client.get("/api/v1/test/boom/"), 500, "internal_error")
    assert "a bug" not in str(body)


@time_machine.travel("2026-06-01 12:00:10Z", tick=False)  # one throttle window throughout
def test_each_key_has_its_own_rate_limit(owner: Actor, outsider: Actor, monkeypatch) -> None:
    monkeypatch.setattr(APIKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    client = owner.client()
    for _ in range(3):
        assert client.get("/api/v1/me/").status_code == 200
    response = client.get("/api/v1/me/")
    body = assert_problem(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0 and body["retry_after"] == int(response["Retry-After"])
    assert outsider.client().get("/api/v1/me/").status_code == 200


def test_a_key_gets_a_fresh_budget_in_the_next_window(owner: Actor, monkeypatch) -> None:
    monkeypatch.setattr(APIKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    client = owner.client()
    with time_machine.travel("2026-06-01 12:00:30Z", tick=False) as clock:  # half way through
        for _ in range(2):
            assert client.get("/api/v1/me/").status_code == 200
        response = client.get("/api/v1/me/")
        assert_problem(response, 429, "rate_limited")
        assert response["Retry-After"] == "30"  # until the window ends
        clock.move_to("2026-06-01 12:00:59.9Z")
        assert_problem(client.get("/api/v1/me/"), 429, "rate_limited")
        clock.move_to("2026-06-01 12:01:00Z")
        assert client.get("/api/v1/me/").status_code == 200
