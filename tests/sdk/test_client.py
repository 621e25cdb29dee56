"""The request loop: auth, idempotency keys, retries, typed errors, pagination."""

import json
import uuid
from typing import Any

import httpx
import pytest

from agents_sdk import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    Conflict,
    IdempotencyError,
    InsufficientFunds,
    NotFound,
    NotReady,
    PermissionDenied,
    RateLimited,
    Sightline,
    SightlineError,
    ValidationError,
)
from tests.sdk.fakes import API_KEY, FakeAPI, bounty_json, page, problem

CREATE: dict[str, Any] = {
    "title": "Queue",
    "instructions": "Photograph the queue.",
    "verify": "A queue",
    "lat": 51.5,
    "lon": -0.12,
    "radius_m": 150,
    "starts_at": "2026-05-01T17:00:00Z",
    "ends_at": "2026-05-01T18:00:00Z",
    "price": 400,
    "quantity": 5,
}


def test_it_sends_the_key_as_a_bearer_token_to_the_versioned_api() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/7/", bounty_json(7))

    bounty = fake.client().bounties.get(7)

    assert bounty.id == 7
    (request,) = fake.requests
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert str(request.url) == "http://testserver/api/v1/bounties/7/"
    assert "Idempotency-Key" not in request.headers


def test_it_reads_the_key_and_server_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGHTLINE_API_KEY", "sl_from_env")
    monkeypatch.setenv("SIGHTLINE_BASE_URL", "http://env.example/api/v1/")
    fake = FakeAPI()
    fake.on("GET", "wallet/", {"currency": "usd", "balance": 1})

    client = fake.client(api_key=None, base_url=None)
    client.wallet.get()

    assert client.base_url == "http://env.example"
    assert fake.requests[0].headers["Authorization"] == "Bearer sl_from_env"


def test_it_refuses_to_send_a_request_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGHTLINE_API_KEY", raising=False)
    fake = FakeAPI()

    with pytest.raises(AuthenticationError, match="SIGHTLINE_API_KEY"):
        fake.client(api_key=None).wallet.get()
    assert fake.requests == []


def test_it_generates_one_idempotency_key_per_post_and_reuses_it_across_retries() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "bounties/",
        problem(503, "internal_error"),
        httpx.ConnectError("connection reset"),
        httpx.Response(201, json=bounty_json(9)),
    )
    client = fake.client()

    bounty = client.bounties.create(**CREATE)
    client.bounties.create(**CREATE)

    assert bounty.id == 9
    keys = [request.headers["Idempotency-Key"] for request in fake.requests]
    assert len(keys) == 4
    assert keys[0] == keys[1] == keys[2]
    assert keys[3] != keys[0]
    assert uuid.UUID(keys[0]).version == 4


def test_it_sends_the_callers_idempotency_key() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", httpx.Response(201, json=bounty_json(9)))

    fake.client().bounties.create(**CREATE, idempotency_key="order-17")

    assert fake.requests[0].headers["Idempotency-Key"] == "order-17"


def test_it_honours_retry_after_on_429() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", problem(429, "rate_limited", retry_after=7), {"balance": 5})

    wallet = fake.client().wallet.get()

    assert wallet.balance == 5
    assert fake.sleeps == [7.0]


def test_it_gives_a_long_retry_after_back_to_the_caller() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", problem(429, "rate_limited", retry_after=3600))

    with pytest.raises(RateLimited) as caught:
        fake.client().wallet.get()

    assert caught.value.retry_after == 3600
    assert len(fake.requests) == 1
    assert fake.sleeps == []


def test_it_retries_5xx_with_exponential_backoff_and_full_jitter_then_raises() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", problem(500, "internal_error", "boom"))

    with pytest.raises(APIError) as caught:
        fake.client(max_retries=3, initial_backoff=1.0, max_backoff=3.0).wallet.get()

    assert caught.value.status == 500
    assert len(fake.requests) == 4
    # random() is 0.5: half of min(max_backoff, initial * 2**attempt).
    assert fake.sleeps == [0.5, 1.0, 1.5]


def test_it_retries_a_request_still_in_progress_under_the_same_key() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "bounties/",
        problem(409, "idempotency_request_in_progress"),
        httpx.Response(201, json=bounty_json(3)),
    )

    assert fake.client().bounties.create(**CREATE).id == 3
    first, second = fake.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


def test_it_retries_connection_errors_and_then_raises_a_connection_error() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", httpx.ConnectTimeout("timed out"))

    with pytest.raises(APIConnectionError, match="3 attempt"):
        fake.client(max_retries=2).wallet.get()

    assert len(fake.requests) == 3
    assert len(fake.sleeps) == 2


@pytest.mark.parametrize(
    ("response", "error_class"),
    [
        (problem(400, "validation_error"), ValidationError),
        (problem(401, "invalid_api_key"), AuthenticationError),
        (problem(402, "insufficient_funds"), InsufficientFunds),
        (problem(403, "insufficient_scope"), PermissionDenied),
        (problem(404, "not_found"), NotFound),
        (problem(422, "idempotency_key_reused"), IdempotencyError),
    ],
)
def test_it_never_retries_other_4xx(
    response: httpx.Response, error_class: type[SightlineError]
) -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", response)

    with pytest.raises(error_class):
        fake.client().bounties.create(**CREATE)

    assert len(fake.requests) == 1
    assert fake.sleeps == []


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (401, "not_authenticated", AuthenticationError),
        (403, "agent_suspended", PermissionDenied),
        (404, "not_found", NotFound),
        (402, "insufficient_funds", InsufficientFunds),
        (402, "spending_cap_exceeded", InsufficientFunds),
        (409, "idempotency_request_in_progress", IdempotencyError),
        (422, "idempotency_key_reused", IdempotencyError),
        (422, "unprocessable", ValidationError),
        (405, "method_not_allowed", APIError),
        (409, "already_decided", Conflict),
        (409, "not_ready", NotReady),
        (502, "bad_gateway", APIError),
    ],
)
def test_each_problem_becomes_its_typed_error(
    status: int, code: str, error_class: type[SightlineError]
) -> None:
    fake = FakeAPI()
    response = problem(status, code, "what went wrong")
    response.headers["X-Request-Id"] = "req_123"
    fake.on("GET", "wallet/", response)

    with pytest.raises(error_class) as caught:
        fake.client(max_retries=0).wallet.get()

    error = caught.value
    assert type(error) is error_class
    assert (error.status, error.code, error.detail) == (status, code, "what went wrong")
    assert error.body["type"] == f"https://sightline.dev/problems/{code}"
    assert error.request_id == "req_123"
    assert "req_123" in str(error)


def test_validation_errors_carry_the_field_errors() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "bounties/",
        problem(
            400,
            "validation_error",
            "The request has invalid fields: lat, radius_m.",
            errors={"lat": ["Ensure this value is less than or equal to 90."], "radius_m": "bad"},
        ),
    )

    with pytest.raises(ValidationError) as caught:
        fake.client().bounties.create(**{**CREATE, "lat": 91})

    assert caught.value.errors == {
        "lat": ["Ensure this value is less than or equal to 90."],
        "radius_m": ["bad"],
    }
    assert "lat: Ensure this value" in str(caught.value)
    assert json.loads(fake.requests[0].content)["lat"] == 91


def test_rate_limited_reads_retry_after_from_the_body_without_the_header() -> None:
    fake = FakeAPI()
    response = problem(429, "rate_limited", retry_after=12)
    del response.headers["Retry-After"]
    fake.on("GET", "wallet/", response)

    with pytest.raises(RateLimited) as caught:
        fake.client(max_retries=0).wallet.get()

    assert caught.value.retry_after == 12


def test_a_non_json_error_body_is_an_api_error() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", httpx.Response(502, text="<html>Bad Gateway</html>"))

    with pytest.raises(APIError, match="Bad Gateway") as caught:
        fake.client(max_retries=1).wallet.get()

    assert caught.value.status == 502
    assert len(fake.requests) == 2


def test_a_non_json_success_body_is_an_api_error() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", httpx.Response(200, text="hello"))

    with pytest.raises(APIError, match="Expected JSON"):
        fake.client().wallet.get()


def test_it_follows_next_until_null_and_sends_the_key_only_to_base_url() -> None:
    fake = FakeAPI()
    fake.on(
        "GET",
        "bounties/",
        page(
            [bounty_json(1), bounty_json(2)], "http://elsewhere.example/api/v1/bounties/?cursor=a"
        ),
        page([bounty_json(3)], "http://testserver/api/v1/bounties/?cursor=b"),
        page([]),
    )

    bounties = list(fake.client().bounties.list(status="open", near=(51.5, -0.12), within_m=5000))

    assert [bounty.id for bounty in bounties] == [1, 2, 3]
    assert [str(request.url) for request in fake.requests] == [
        "http://testserver/api/v1/bounties/?status=open&near=51.5%2C-0.12&within_m=5000",
        "http://testserver/api/v1/bounties/?cursor=a",
        "http://testserver/api/v1/bounties/?cursor=b",
    ]


def test_it_serves_under_a_path_prefix_and_follows_links_on_the_same_host() -> None:
    pages = {
        "": page([bounty_json(1)], "http://internal:8000/sightline/api/v1/bounties/?cursor=a"),
        "cursor=a": page([bounty_json(2)]),
    }
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, json=pages[request.url.query.decode()])

    client = Sightline(
        api_key=API_KEY,
        base_url="https://proxy.example/sightline/api/v1/",
        transport=httpx.MockTransport(handle),
    )

    assert [bounty.id for bounty in client.bounties.list()] == [1, 2]
    assert [str(request.url) for request in requests] == [
        "https://proxy.example/sightline/api/v1/bounties/",
        "https://proxy.example/sightline/api/v1/bounties/?cursor=a",
    ]


def test_near_is_sent_in_plain_decimal_notation() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/", page([]))

    list(fake.client().bounties.list(near=(0.00001, -1e-7)))

    assert fake.requests[0].url.params["near"] == "0.00001,-0.0000001"


def test_listing_is_lazy() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/", page([bounty_json(1)], "http://testserver/api/v1/bounties/?c=2"))

    first = next(iter(fake.client().bounties.list()))

    assert first.id == 1
    assert len(fake.requests) == 1


def test_it_uses_a_given_http_client_and_leaves_it_open() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", {"balance": 3})
    http_client = httpx.Client(transport=httpx.MockTransport(fake.handle))

    with Sightline(api_key=API_KEY, base_url="http://testserver", http_client=http_client) as sl:
        assert sl.wallet.get().balance == 3

    assert not http_client.is_closed
    http_client.close()
