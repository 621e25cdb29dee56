"""Reviewing what the agent buys through the SDK and the CLI: the queue, the preview, accept
and reject, ``review`` on a bounty, ``review_mode`` on ``me``, the webhook event."""

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents_sdk import Conflict, NotReady, ValidationError, cli, webhooks
from tests.sdk.fakes import (
    BASE_URL,
    JPEG,
    FakeAPI,
    bounty_json,
    page,
    preview_response,
    problem,
    submission_json,
    waiting_json,
)


def test_the_review_queue_asks_for_needs_review_and_reads_every_page() -> None:
    fake = FakeAPI()
    fake.on(
        "GET",
        "submissions/",
        page([waiting_json(3)], next_url=f"{BASE_URL}/api/v1/submissions/?cursor=abc"),
        page([waiting_json(4)]),
    )

    queue = list(fake.client().submissions.review_queue(bounty=1))

    assert [submission.id for submission in queue] == [3, 4]
    first = fake.requests[0].url.params
    assert (first["status"], first["bounty"]) == ("needs_review", "1")
    assert fake.requests[1].url.params["cursor"] == "abc"
    submission = queue[0]
    assert submission.awaits_your_review and submission.is_pending
    assert submission.review_deadline == datetime(2026, 5, 2, 17, 11, tzinfo=UTC)
    assert submission.distance_m == 42.0
    assert submission.preview_url and submission.preview_url.endswith("/3/preview/")
    assert [check.name for check in submission.checks] == ["location", "relevance"]


def test_a_submission_with_operators_does_not_await_your_review() -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/7/", waiting_json(7) | {"review_by": "operator"})

    assert not fake.client().submissions.get(7).awaits_your_review


def test_preview_returns_the_jpeg_bytes() -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/3/preview/", preview_response())

    assert fake.client().submissions.preview(3) == JPEG


def test_preview_waits_out_not_ready_for_the_seconds_the_server_asks() -> None:
    fake = FakeAPI()
    fake.on(
        "GET",
        "submissions/3/preview/",
        problem(409, "not_ready", "being made", retry_after=5),
        preview_response(),
    )

    assert fake.client().submissions.preview(3) == JPEG
    assert fake.sleeps == [5.0]


def test_preview_without_waiting_raises_not_ready_at_once() -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/3/preview/", problem(409, "not_ready", "being made", retry_after=5))

    with pytest.raises(NotReady) as caught:
        fake.client().submissions.preview(3, wait=False)

    assert caught.value.retry_after == 5.0
    assert len(fake.requests) == 1 and fake.sleeps == []


def test_a_photo_not_ready_after_acceptance_is_waited_for_too(tmp_path: Path) -> None:
    fake = FakeAPI()
    fake.on(
        "GET",
        "submissions/9/photo/",
        problem(409, "not_ready", "being prepared", retry_after=2),
        preview_response(),
    )

    fake.client().submissions.download(9, tmp_path / "9.jpg")

    assert (tmp_path / "9.jpg").read_bytes() == JPEG
    assert fake.sleeps == [2.0]


def test_accept_posts_once_under_one_idempotency_key() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "submissions/3/accept/",
        problem(503, "unavailable"),
        submission_json(3, status="accepted"),
    )

    accepted = fake.client().submissions.accept(3, idempotency_key="accept-3")

    assert accepted.is_accepted
    first, retry = fake.sent("POST", "submissions/3/accept/")
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == "accept-3"
    assert json.loads(first.content) == {}


def test_reject_sends_the_reason() -> None:
    fake = FakeAPI()
    fake.on("POST", "submissions/4/reject/", submission_json(4, status="rejected"))

    rejected = fake.client().submissions.reject(4, reason="No queue in the photo.")

    assert rejected.status == "rejected"
    (request,) = fake.requests
    assert json.loads(request.content) == {"reason": "No queue in the photo."}
    assert request.headers["Idempotency-Key"]


def test_deciding_the_other_way_is_a_conflict_and_is_not_retried() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "submissions/4/accept/",
        problem(409, "already_decided", "This submission was already rejected."),
    )

    with pytest.raises(Conflict) as caught:
        fake.client().submissions.accept(4)

    assert caught.value.code == "already_decided"
    assert len(fake.requests) == 1


def test_a_short_reason_comes_back_as_a_field_error() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "submissions/4/reject/",
        problem(400, "validation_error", errors={"reason": ["Ensure at least 5 characters."]}),
    )

    with pytest.raises(ValidationError) as caught:
        fake.client().submissions.reject(4, reason="no")

    assert "reason" in caught.value.errors


def test_bounty_create_sends_review_only_when_given() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", httpx.Response(201, json=bounty_json(1, review="agent")))
    fields: dict[str, Any] = {
        "title": "Queue", "instructions": "Photograph it", "verify": "A queue", "lat": 51.5,
        "lon": -0.12, "radius_m": 150, "ends_at": "2026-05-01T18:00:00Z", "price": 400,
    }  # fmt: skip

    bounty = fake.client().bounties.create(**fields, review="agent")
    fake.client().bounties.create(**fields)

    assert bounty.review == "agent"
    with_review, without = (json.loads(request.content) for request in fake.requests)
    assert with_review["review"] == "agent"
    assert "review" not in without


def test_me_reads_the_review_mode_and_cooling_period() -> None:
    fake = FakeAPI()
    fake.on(
        "GET",
        "me/",
        {
            "agent_id": 5, "agent_name": "scout", "status": "active", "test_mode": True,
            "currency": "usd", "key_prefix": "sl_test_abcd", "scopes": ["bounties:read"],
            "review_mode": "cooling", "cooling_until": "2026-05-09T00:00:00Z",
        },
    )  # fmt: skip

    me = fake.client().me.get()

    assert (me.agent_id, me.review_mode) == (5, "cooling")
    assert me.cooling_until == datetime(2026, 5, 9, tzinfo=UTC)
    assert me.scopes == ("bounties:read",)


def test_a_needs_review_event_verifies_and_names_its_type() -> None:
    body = json.dumps(
        {
            "id": "evt_1",
            "type": "submission.needs_review",
            "data": {"object": {"id": 3, "review_deadline": "2026-05-02T17:11:00Z"}},
        }
    )
    header = webhooks.signature_header(body, "whsec", timestamp=1_000)

    event = webhooks.construct_event(body, header, "whsec", now=1_000)

    assert event["type"] == webhooks.SUBMISSION_NEEDS_REVIEW
    assert webhooks.SUBMISSION_NEEDS_REVIEW in webhooks.EVENT_TYPES


def run(fake: FakeAPI, *argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.main(
        list(argv), client_factory=lambda args: fake.client(), stdout=stdout, stderr=stderr
    )
    return code, stdout.getvalue(), stderr.getvalue()


def test_cli_submissions_review_prints_the_queue() -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/", page([waiting_json(3), waiting_json(4)]))

    code, out, _ = run(fake, "submissions", "review", "--limit", "1")

    assert code == cli.EXIT_OK
    [shown] = json.loads(out)
    assert (shown["id"], shown["review_by"]) == (3, "agent")
    assert fake.requests[0].url.params["status"] == "needs_review"


def test_cli_preview_writes_the_file(tmp_path: Path) -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/3/preview/", preview_response())
    target = tmp_path / "3.jpg"

    code, out, _ = run(fake, "submissions", "preview", "3", "--out", str(target))

    assert code == cli.EXIT_OK
    assert target.read_bytes() == JPEG
    assert json.loads(out)["bytes"] == len(JPEG)


def test_cli_accept_and_reject() -> None:
    fake = FakeAPI()
    fake.on("POST", "submissions/3/accept/", submission_json(3, status="accepted"))
    fake.on("POST", "submissions/4/reject/", submission_json(4, status="rejected"))

    accepted = run(fake, "submissions", "accept", "3", "--idempotency-key", "a-3")
    rejected = run(fake, "submissions", "reject", "4", "--reason", "No queue in the photo.")

    assert accepted[0] == rejected[0] == cli.EXIT_OK
    assert json.loads(accepted[1])["status"] == "accepted"
    assert json.loads(rejected[1])["status"] == "rejected"
    assert fake.requests[0].headers["Idempotency-Key"] == "a-3"
    assert json.loads(fake.requests[1].content) == {"reason": "No queue in the photo."}


def test_cli_reject_needs_a_reason(capsys: pytest.CaptureFixture[str]) -> None:
    fake = FakeAPI()

    with pytest.raises(SystemExit) as exited:
        run(fake, "submissions", "reject", "4")

    assert exited.value.code == cli.EXIT_USAGE
    assert "--reason" in capsys.readouterr().err
    assert fake.requests == []


def test_cli_a_conflict_exits_1_with_its_code() -> None:
    fake = FakeAPI()
    fake.on("POST", "submissions/4/accept/", problem(409, "already_decided", "rejected already"))

    code, _, err = run(fake, "submissions", "accept", "4")

    assert code == cli.EXIT_API_ERROR
    assert json.loads(err.split("\n", 1)[1])["code"] == "already_decided"


def test_cli_bounties_create_takes_who_reviews() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", httpx.Response(201, json=bounty_json(8, review="operator")))

    code, out, _ = run(
        fake,
        "bounties", "create", "--title", "Queue", "--instructions", "Photograph it",
        "--verify", "A queue", "--lat", "51.5", "--lon", "-0.12", "--radius-m", "150",
        "--ends-at", "2026-05-01T18:00:00Z", "--price", "400", "--review", "operator",
    )  # fmt: skip

    assert code == cli.EXIT_OK and json.loads(out)["review"] == "operator"
    assert json.loads(fake.requests[0].content)["review"] == "operator"


def test_cli_me_prints_the_review_mode() -> None:
    fake = FakeAPI()
    fake.on("GET", "me/", {"agent_id": 5, "review_mode": "agent", "cooling_until": None})

    code, out, _ = run(fake, "me")

    assert code == cli.EXIT_OK and json.loads(out)["review_mode"] == "agent"
