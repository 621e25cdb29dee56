"""The MCP server: its tools, called in-process and over stdio as an LLM client would."""

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client, StdioServerParameters
from mcp.types import ImageContent, TextContent

from agents_sdk.mcp import INSTRUCTIONS, build_server
from tests.sdk.fakes import (
    JPEG,
    FakeAPI,
    bounty_json,
    page,
    preview_response,
    problem,
    submission_json,
    waiting_json,
)

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {
    "post_bounty",
    "cancel_bounty",
    "list_bounties",
    "get_submissions",
    "review_submissions",
    "accept_submission",
    "reject_submission",
    "get_wallet",
    "create_question",
    "forecast",
}
POST_ARGUMENTS: dict[str, Any] = {
    "title": "Queue outside the bakery",
    "instructions": "Photograph the queue from across the street.",
    "verify": "A queue of people outside a bakery",
    "lat": 51.5072,
    "lon": -0.1276,
    "radius_m": 150,
    "starts_at": "2026-05-01T17:00:00Z",
    "ends_at": "2026-05-01T18:00:00Z",
    "price": 400,
    "quantity": 5,
}


def call(fake: FakeAPI, tool: str, arguments: dict[str, Any]) -> Any:
    async def session() -> Any:
        async with Client(build_server(fake.client())) as client:
            return await client.call_tool(tool, arguments)

    return anyio.run(session)


def test_it_lists_its_tools_with_input_schemas() -> None:
    async def session() -> Any:
        async with Client(build_server(FakeAPI().client())) as client:
            return await client.list_tools()

    tools = {tool.name: tool for tool in anyio.run(session).tools}

    assert set(tools) == TOOLS
    schema = tools["post_bounty"].input_schema
    assert {"title", "lat", "lon", "price", "ends_at"} <= set(schema["required"])
    assert not {"quantity", "starts_at"} & set(schema["required"])
    assert tools["post_bounty"].description


def test_post_bounty_posts_a_bounty() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", httpx.Response(201, json=bounty_json(12)))

    result = call(fake, "post_bounty", {**POST_ARGUMENTS, "idempotency_key": "llm-1"})

    assert not result.is_error
    assert result.structured_content["id"] == 12
    (request,) = fake.requests
    assert request.headers["Idempotency-Key"] == "llm-1"
    body = json.loads(request.content)
    assert body["price"] == 400
    assert body["quantity"] == 5
    assert body["starts_at"] == "2026-05-01T17:00:00Z"
    assert "claim_ttl_seconds" not in body


def test_an_api_error_is_a_tool_error_the_model_can_read() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "bounties/",
        problem(402, "insufficient_funds", "The wallet has 100 available; 2000 needed."),
    )

    result = call(fake, "post_bounty", POST_ARGUMENTS)

    assert result.is_error
    (content,) = result.content
    assert isinstance(content, TextContent)
    assert "InsufficientFunds" in content.text
    assert "2000 needed" in content.text


def test_arguments_are_checked_before_any_request() -> None:
    fake = FakeAPI()

    result = call(fake, "post_bounty", {**POST_ARGUMENTS, "lat": 123})

    assert result.is_error
    assert fake.requests == []


def test_list_bounties_get_submissions_and_get_wallet() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/", page([bounty_json(1, distance_m=40.0), bounty_json(2)]))
    fake.on("GET", "submissions/", page([submission_json(7, bounty_id=1)]))
    fake.on("GET", "wallet/", {"currency": "usd", "available": 8000, "held": 2000})

    bounties = call(fake, "list_bounties", {"near_lat": 51.5, "near_lon": -0.12, "limit": 1})
    submissions = call(fake, "get_submissions", {"bounty_id": 1, "status": "accepted"})
    wallet = call(fake, "get_wallet", {})

    assert bounties.structured_content["count"] == 1
    assert bounties.structured_content["bounties"][0]["distance_m"] == 40.0
    assert fake.requests[0].url.params["near"] == "51.5,-0.12"
    assert fake.requests[0].url.params["status"] == "open"
    assert submissions.structured_content["submissions"][0]["id"] == 7
    assert fake.requests[1].url.params["status"] == "accepted"
    assert wallet.structured_content["available"] == 8000


def test_the_module_serves_its_tools_over_stdio() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIGHTLINE_")}
    env["SIGHTLINE_BASE_URL"] = "http://127.0.0.1:9"  # never called: listing needs no API
    server = StdioServerParameters(
        command=sys.executable, args=["-m", "agents_sdk.mcp"], cwd=str(ROOT), env=env
    )

    async def session() -> Any:
        with anyio.fail_after(60):
            async with Client(server) as client:
                listed = await client.list_tools()
                wallet = await client.call_tool("get_wallet", {})
                return listed, wallet

    listed, wallet = anyio.run(session)

    assert {tool.name for tool in listed.tools} == TOOLS
    assert wallet.is_error
    assert "SIGHTLINE_API_KEY" in wallet.content[0].text


def test_the_instructions_state_the_escrow_as_quantity_times_price_plus_fee() -> None:
    assert "quantity x\n(price + the platform fee)" in INSTRUCTIONS


def test_review_submissions_shows_each_preview_as_an_image_with_its_checks_in_text() -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/", page([waiting_json(3), waiting_json(4)]))
    fake.on("GET", "bounties/1/", bounty_json(1))
    fake.on("GET", "submissions/3/preview/", preview_response())
    fake.on("GET", "submissions/4/preview/", problem(409, "not_ready", "soon", retry_after=5))

    result = call(fake, "review_submissions", {})

    assert not result.is_error
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    images = [block for block in result.content if isinstance(block, ImageContent)]
    assert "2 submission(s)" in texts[0]
    assert "Submission 3 for bounty 1" in texts[1]
    assert "The bounty asked for: A queue of people outside a bakery" in texts[1]
    assert "Check relevance: skipped: no model" in texts[1]
    assert "Taken 42 m from the bounty's spot" in texts[1]
    assert "Decide by 2026-05-02T17:11:00+00:00" in texts[1]
    (image,) = images
    assert image.mime_type == "image/jpeg"
    assert base64.b64decode(image.data) == JPEG
    assert "being made" in texts[-1]  # 4's preview: not waited for, said so
    assert fake.sleeps == []
    assert [s["id"] for s in result.structured_content["submissions"]] == [3, 4]
    assert len(fake.sent("GET", "bounties/1/")) == 1  # one bounty, fetched once


def test_review_submissions_with_nothing_waiting() -> None:
    fake = FakeAPI()
    fake.on("GET", "submissions/", page([]))

    result = call(fake, "review_submissions", {"bounty_id": 9})

    assert result.content[0].text == "No submission waits for your review."
    assert fake.requests[0].url.params["bounty"] == "9"


def test_accept_and_reject_submission() -> None:
    fake = FakeAPI()
    fake.on("POST", "submissions/3/accept/", submission_json(3, status="accepted"))
    fake.on("POST", "submissions/4/reject/", submission_json(4, status="rejected"))

    accepted = call(fake, "accept_submission", {"submission_id": 3})
    rejected = call(
        fake, "reject_submission", {"submission_id": 4, "reason": "No queue in the photo."}
    )

    assert accepted.structured_content["status"] == "accepted"
    assert rejected.structured_content["status"] == "rejected"
    assert json.loads(fake.requests[1].content) == {"reason": "No queue in the photo."}


def test_a_reason_out_of_bounds_is_refused_before_any_request() -> None:
    fake = FakeAPI()

    short = call(fake, "reject_submission", {"submission_id": 4, "reason": "no"})
    long = call(fake, "reject_submission", {"submission_id": 4, "reason": "x" * 501})

    assert short.is_error and long.is_error
    assert fake.requests == []


def test_deciding_the_other_way_is_a_tool_error_naming_the_code() -> None:
    fake = FakeAPI()
    fake.on("POST", "submissions/4/accept/", problem(409, "already_decided", "rejected already"))

    result = call(fake, "accept_submission", {"submission_id": 4})

    assert result.is_error
    assert "Conflict" in result.content[0].text and "already_decided" in result.content[0].text


def test_cancel_bounty_and_create_question() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/5/cancel/", bounty_json(5, status="cancelled"))
    fake.on("POST", "questions/", httpx.Response(201, json={"id": 8, "status": "open"}))

    cancelled = call(fake, "cancel_bounty", {"bounty_id": 5, "idempotency_key": "c-5"})
    asked = call(
        fake,
        "create_question",
        {
            "title": "Will the queue pass 10 people?",
            "resolution_criteria": "the 17:30 photo",
            "closes_at": "2026-05-01T17:30:00Z",
            "resolves_at": "2026-05-01T18:00:00Z",
            "evidence_template": {"verify": "a queue", "price": 200, "quantity": 2},
            "max_acquisition_spend": 1000,
        },
    )

    assert cancelled.structured_content["status"] == "cancelled"
    assert fake.requests[0].headers["Idempotency-Key"] == "c-5"
    assert asked.structured_content["id"] == 8
    body = json.loads(fake.requests[1].content)
    assert body["evidence_template"]["price"] == 200 and body["max_acquisition_spend"] == 1000
    assert "lat" not in body
