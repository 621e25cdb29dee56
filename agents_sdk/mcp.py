"""``python -m agents_sdk.mcp``: Sightline's tools for an LLM, over MCP on stdio.

Tools: ``post_bounty``, ``list_bounties``, ``get_submissions``, ``get_wallet``. The key comes
from ``$SIGHTLINE_API_KEY`` and the server from ``$SIGHTLINE_BASE_URL``. Needs the ``mcp``
package: ``pip install 'sightline-agents-sdk[mcp]'``.
"""

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import Field
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        "The Sightline MCP server needs the 'mcp' package: pip install 'sightline-agents-sdk[mcp]'",
        name=exc.name,
    ) from exc

from agents_sdk._version import __version__
from agents_sdk.client import Sightline
from agents_sdk.errors import SightlineError

MAX_LIMIT = 200

INSTRUCTIONS = """\
Sightline buys verified photos of the real world. post_bounty offers a price (in cents, per
photo) for photos taken within radius_m of a point between starts_at and ends_at; the price
times the quantity is held from the wallet at once, so check get_wallet first. People nearby
take the photos; each is verified before it counts. get_submissions shows what arrived and
the result of each check; an accepted submission's photo_url is the photo."""

BountyStatus = Literal["open", "fulfilled", "expired", "cancelled"]
SubmissionStatus = Literal["received", "verifying", "accepted", "rejected", "needs_review"]


@contextmanager
def _tool_errors() -> Iterator[None]:
    """An API error becomes a tool error whose text the model can act on."""
    try:
        yield
    except SightlineError as error:
        raise ToolError(f"{type(error).__name__}: {error}") from error


def build_server(client: Sightline | Callable[[], Sightline] = Sightline) -> MCPServer:
    """The MCP server, calling the API through ``client`` (made on first use when a factory)."""
    holder: list[Sightline] = [client] if isinstance(client, Sightline) else []

    def sightline() -> Sightline:
        if not holder:
            assert callable(client)
            holder.append(client())
        return holder[0]

    server = MCPServer(name="sightline", instructions=INSTRUCTIONS, version=__version__)

    @server.tool()
    def post_bounty(
        title: Annotated[str, Field(description="a short name for the job")],
        instructions: Annotated[str, Field(description="what the photographer should do")],
        verify: Annotated[str, Field(description="what the photo must show to be accepted")],
        lat: Annotated[float, Field(ge=-90, le=90)],
        lon: Annotated[float, Field(ge=-180, le=180)],
        radius_m: Annotated[int, Field(gt=0, description="how far from lat,lon, in metres")],
        ends_at: Annotated[str, Field(description="ISO 8601 with offset: 2026-05-01T18:00Z")],
        price: Annotated[int, Field(gt=0, description="per accepted photo, in cents")],
        quantity: Annotated[int, Field(gt=0, description="how many photos are wanted")] = 1,
        starts_at: Annotated[
            str | None, Field(description="ISO 8601 with offset; now if unset")
        ] = None,
        currency: str = "usd",
        claim_ttl_seconds: int | None = None,
        require_gps: bool | None = None,
        max_per_worker: int | None = None,
        auto_approve_after_seconds: int | None = None,
        blur_faces: bool | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: Annotated[
            str | None,
            Field(description="reuse the same value when retrying, so it is posted only once"),
        ] = None,
    ) -> dict[str, Any]:
        """Post a priced bounty for photos at a place and time; price x quantity is escrowed."""
        with _tool_errors():
            bounty = sightline().bounties.create(
                title=title,
                instructions=instructions,
                verify=verify,
                lat=lat,
                lon=lon,
                radius_m=radius_m,
                starts_at=starts_at,
                ends_at=ends_at,
                price=price,
                currency=currency,
                quantity=quantity,
                claim_ttl_seconds=claim_ttl_seconds,
                require_gps=require_gps,
                max_per_worker=max_per_worker,
                auto_approve_after_seconds=auto_approve_after_seconds,
                metadata=metadata,
                blur_faces=blur_faces,
                idempotency_key=idempotency_key,
            )
        return bounty.raw

    @server.tool()
    def list_bounties(
        status: BountyStatus | None = "open",
        near_lat: Annotated[float | None, Field(description="with near_lon: nearest first")] = None,
        near_lon: float | None = None,
        within_m: Annotated[int | None, Field(description="only this close to near_*")] = None,
        limit: Annotated[int, Field(gt=0, le=MAX_LIMIT)] = 20,
    ) -> dict[str, Any]:
        """List this agent's bounties, newest first (nearest first with near_lat/near_lon)."""
        near = (near_lat, near_lon) if near_lat is not None and near_lon is not None else None
        with _tool_errors():
            found = sightline().bounties.list(status=status, near=near, within_m=within_m)
            bounties = [bounty.raw for bounty in itertools.islice(found, limit)]
        return {"bounties": bounties, "count": len(bounties)}

    @server.tool()
    def get_submissions(
        bounty_id: int,
        status: SubmissionStatus | None = None,
        limit: Annotated[int, Field(gt=0, le=MAX_LIMIT)] = 50,
    ) -> dict[str, Any]:
        """The photos submitted to a bounty, newest first, with each verification check."""
        with _tool_errors():
            found = sightline().submissions.list(bounty=bounty_id, status=status)
            submissions = [submission.raw for submission in itertools.islice(found, limit)]
        return {"submissions": submissions, "count": len(submissions)}

    @server.tool()
    def get_wallet() -> dict[str, Any]:
        """The wallet in cents: available to spend, held in escrow, and today's cap left."""
        with _tool_errors():
            return sightline().wallet.get().raw

    @server.tool()
    def forecast(question_id: int) -> dict[str, Any]:
        """P(yes) for one of your questions, its interval, the model version and how much
        evidence it rests on."""
        with _tool_errors():
            return sightline().questions.forecast(question_id).raw

    return server


def main() -> None:
    build_server().run("stdio")


if __name__ == "__main__":
    main()
