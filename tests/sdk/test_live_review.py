"""Reviewing through the SDK, the CLI's client and the MCP server against the real server
(pytest-django's live_server on PostgreSQL): the queue, the preview, accept and reject."""

import base64
import io
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from django.db import transaction
from django.utils import timezone
from mcp import Client, StdioServerParameters
from mcp.types import ImageContent, TextContent
from PIL import Image

from agents_sdk import Conflict, NotFound, PermissionDenied, Sightline, ValidationError
from bounties.models import Bounty, Reviewer, Submission, SubmissionStatus
from bounties.services.review import submission_review_route
from market.accounts.models import Scope
from market.accounts.services import api_key_create
from market.ledger.services import wallet_credit_test_funds
from tests.bounties.helpers import submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.sdk.helpers import bounty_fields, client

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
REASON = "The queue is not in the photo, only an empty pavement."
CHECKS = [
    {"name": "location", "status": "passed", "score": 0.97, "reason": "33 m from the spot"},
    {"name": "relevance", "status": "skipped", "score": None, "reason": "no model"},
]


@pytest.fixture
def no_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks are set by ``waiting_for_review``: a synthetic image would fail them."""
    monkeypatch.setattr("bounties.services.fulfilment._enqueue_verification", lambda _: None)


def waiting_for_review(bounty_id: int) -> int:
    """A photo whose checks need a judgment, routed as verification routes it: to the bounty's
    agent, with its preview made after commit (by the task, eager in tests)."""
    bounty = Bounty.objects.get(pk=bounty_id)
    submission = submit(bounty, UserFactory())
    Submission.objects.filter(pk=submission.pk).update(
        checks=CHECKS,
        status=SubmissionStatus.VERIFYING,
        captured_at=timezone.now() - timedelta(minutes=2),
        facts={"gps": {"lat": bounty.lat + 0.0003, "lon": bounty.lon}},
    )
    with transaction.atomic():
        locked = (
            Submission.objects.select_for_update().select_related("bounty").get(pk=submission.pk)
        )
        submission_review_route(
            submission=locked, reasons=["Relevance was not checked."], checks_clean=True
        )
    submission.refresh_from_db()
    assert submission.review_by == Reviewer.AGENT and submission.preview
    return submission.pk


def posted_for_review(sl: Sightline, owner: Actor) -> Bounty:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000, idempotency_key="f")
    bounty = sl.bounties.create(**bounty_fields(quantity=3), review="agent")
    assert bounty.review == "agent"
    return Bounty.objects.get(pk=bounty.id)


def test_the_review_path_through_the_sdk(
    owner: Actor, outsider: Actor, live_server: Any, no_verification: None
) -> None:
    sl = client(owner, live_server)
    assert sl.me.get().review_mode == "agent"
    bounty = posted_for_review(sl, owner)
    first, second = waiting_for_review(bounty.pk), waiting_for_review(bounty.pk)

    queue = list(sl.submissions.review_queue())
    assert [submission.id for submission in queue] == [first, second]  # oldest first
    assert all(submission.awaits_your_review for submission in queue)
    assert queue[0].review_deadline is not None and queue[0].distance_m is not None
    preview = Image.open(io.BytesIO(sl.submissions.preview(first)))
    assert preview.format == "JPEG" and max(preview.size) <= 512

    with pytest.raises(ValidationError) as short:
        sl.submissions.reject(first, reason="no")
    assert "reason" in short.value.errors
    rejected = sl.submissions.reject(first, reason=REASON, idempotency_key="reject-1")
    assert rejected.status == "rejected"
    assert sl.submissions.reject(first, reason=REASON).status == "rejected"  # the same: no-op
    with pytest.raises(Conflict) as conflict:
        sl.submissions.accept(first)
    assert conflict.value.code == "already_decided"
    with pytest.raises(NotFound):
        client(outsider, live_server).submissions.accept(second)

    accepted = sl.submissions.accept(second)
    assert accepted.is_accepted
    assert [s.id for s in sl.submissions.review_queue()] == []
    assert Submission.objects.get(pk=first).reasons == [REASON]
    assert Submission.objects.get(pk=second).status == SubmissionStatus.ACCEPTED


def test_a_key_without_the_review_scope_is_refused(
    owner: Actor, live_server: Any, no_verification: None
) -> None:
    bounty = posted_for_review(client(owner, live_server), owner)
    waiting = waiting_for_review(bounty.pk)
    _, read_only = api_key_create(agent=owner.agent, scopes=[Scope.BOUNTIES_READ])
    owner.key = read_only
    sl = client(owner, live_server)

    assert sl.me.get().review_mode == "operator"
    with pytest.raises(PermissionDenied):
        sl.submissions.preview(waiting)
    with pytest.raises(PermissionDenied):
        sl.submissions.accept(waiting)
    assert Submission.objects.get(pk=waiting).status == SubmissionStatus.NEEDS_REVIEW


def test_an_mcp_session_reviews_with_the_official_client(
    owner: Actor, live_server: Any, no_verification: None
) -> None:
    """The MCP server as an LLM client runs it (a subprocess over stdio), against the server."""
    bounty = posted_for_review(client(owner, live_server), owner)
    first, second = waiting_for_review(bounty.pk), waiting_for_review(bounty.pk)
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIGHTLINE_")}
    env |= {"SIGHTLINE_API_KEY": owner.key, "SIGHTLINE_BASE_URL": live_server.url}
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "agents_sdk.mcp"], cwd=str(ROOT), env=env
    )

    async def session() -> tuple[Any, ...]:
        with anyio.fail_after(60):
            async with Client(server) as mcp:
                listed = await mcp.list_tools()
                review = await mcp.call_tool("review_submissions", {})
                reject = await mcp.call_tool(
                    "reject_submission", {"submission_id": first, "reason": REASON}
                )
                accept = await mcp.call_tool("accept_submission", {"submission_id": second})
                after = await mcp.call_tool("review_submissions", {})
                return listed, review, reject, accept, after

    listed, review, reject, accept, after = anyio.run(session)

    assert {"review_submissions", "accept_submission", "reject_submission"} <= {
        tool.name for tool in listed.tools
    }
    assert not review.is_error
    images = [block for block in review.content if isinstance(block, ImageContent)]
    texts = [block.text for block in review.content if isinstance(block, TextContent)]
    assert len(images) == 2 and all(image.mime_type == "image/jpeg" for image in images)
    for image in images:
        shown = Image.open(io.BytesIO(base64.b64decode(image.data)))
        assert shown.format == "JPEG" and max(shown.size) <= 512
    assert f"Submission {first} for bounty {bounty.pk}" in texts[1]
    assert "Check relevance: skipped: no model" in texts[1]
    assert "The bounty asked for: a queue of people outside a bakery" in texts[1]
    assert not reject.is_error and reject.structured_content["status"] == "rejected"
    assert not accept.is_error and accept.structured_content["status"] == "accepted"
    assert after.content[0].text == "No submission waits for your review."
    statuses = dict(Submission.objects.filter(bounty=bounty).values_list("pk", "status"))
    assert statuses == {first: SubmissionStatus.REJECTED, second: SubmissionStatus.ACCEPTED}
