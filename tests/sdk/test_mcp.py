"""The MCP server: its tools, called in-process and over stdio as an LLM client would."""

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

from agents_sdk.mcp import build_server
from tests.sdk.fakes import FakeAPI, bounty_json, page, problem, submission_json

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"post_bounty", "list_bounties", "get_submissions", "get_wallet", "forecast"}
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
