"""``python -m agents_sdk.mcp``: Sightline's tools for an LLM, over MCP on stdio.

Tools: ``post_bounty``, ``cancel_bounty``, ``list_bounties``, ``get_submissions``,
``review_submissions`` (each waiting photo as image content, with its checks in text),
``accept_submission``, ``reject_submission``, ``get_wallet``, ``create_question``,
``forecast``. The key comes from ``$SIGHTLINE_API_KEY`` and the server from
``$SIGHTLINE_BASE_URL``. Needs the ``mcp`` package: ``pip install 'sightline-agents-sdk[mcp]'``.
"""

import base64
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

try:
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import CallToolResult, ContentBlock, ImageContent, TextContent
    from pydantic import Field
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
    raise ModuleNotFoundError(
        "The Sightline MCP server needs the 'mcp' package: pip install 'sightline-agents-sdk[mcp]'",
        name=exc.name,
    ) from exc

from agents_sdk._version import __version__
from agents_sdk.client import Sightline
from agents_sdk.errors import NotReady, SightlineError
from agents_sdk.models import Bounty, Submission

MAX_LIMIT = 200
# Previews are at most 512 px JPEGs (tens of kB each): a handful per call keeps the reply small.
MAX_REVIEW_LIMIT = 20
MIN_REASON, MAX_REASON = 5, 500

INSTRUCTIONS = """\
Sightline buys verified photos of the real world. post_bounty offers a price (in cents, per
photo) for photos taken within radius_m of a point between starts_at and ends_at; quantity x
(price + the platform fee) is held from the wallet at once (the bounty's fee field says the
fee per photo), so check get_wallet first. People nearby take the photos; each is verified
before it counts. Photos the checks cannot settle may wait for your own review:
review_submissions shows each as an image with its checks; look, then accept_submission or
reject_submission with a reason the photographer will read (they may appeal to people, and
rejections overturned on appeal count against you). Silence until the review deadline
accepts. get_submissions shows what arrived; an accepted submission's photo_url is the photo."""

BountyStatus = Literal["open", "fulfilled", "expired", "cancelled"]
SubmissionStatus = Literal["received", "verifying", "accepted", "rejected", "needs_review"]
ReviewMode = Literal["agent", "operator", "auto"]
IdempotencyKey = Annotated[
    str | None,
    Field(description="reuse the same value when retrying, so it happens only once"),
]


def _review_text(submission: Submission, bounty: Bounty | None) -> str:
    """What a model needs beside the preview to judge a submission, one fact a line."""
    lines = [f"Submission {submission.id} for bounty {submission.bounty}"]
    if bounty is not None:
        lines.append(f"The bounty asked for: {bounty.verify}")
    if submission.review_deadline is not None:
        lines.append(f"Decide by {submission.review_deadline.isoformat()} (silence accepts).")
    if submission.captured_at is not None:
        lines.append(f"Taken at {submission.captured_at.isoformat()}")
    if submission.distance_m is not None:
        lines.append(f"Taken {submission.distance_m:.0f} m from the bounty's spot")
    for check in submission.checks:
        score = f" (score {check.score:.2f})" if check.score is not None else ""
        reason = f": {check.reason}" if check.reason else ""
        lines.append(f"Check {check.name}: {check.status}{score}{reason}")
    if submission.reasons:
        lines.append("Why it needs a judgment: " + " ".join(submission.reasons))
    return "\n".join(lines)


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
        review: Annotated[
            ReviewMode | None,
            Field(
                description="who judges photos the checks cannot settle: agent (you, with "
                "review_submissions), operator, or auto; default agent if your key may review"
            ),
        ] = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Post a priced bounty for photos at a place and time; quantity x (price + fee) is
        held in escrow at once."""
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
                review=review,
                idempotency_key=idempotency_key,
            )
        return bounty.raw

    @server.tool()
    def cancel_bounty(bounty_id: int, idempotency_key: IdempotencyKey = None) -> dict[str, Any]:
        """Cancel an open bounty: its unfilled slots' escrow comes back to the wallet."""
        with _tool_errors():
            return sightline().bounties.cancel(bounty_id, idempotency_key=idempotency_key).raw

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
    def review_submissions(
        bounty_id: Annotated[int | None, Field(description="only this bounty's")] = None,
        limit: Annotated[int, Field(gt=0, le=MAX_REVIEW_LIMIT)] = 5,
    ) -> CallToolResult:
        """The photos waiting for your review, oldest first: each as an image (a small preview,
        faces blurred) with what the bounty asked for and every check in text. Then call
        accept_submission or reject_submission for each."""
        client = sightline()
        with _tool_errors():
            waiting = list(
                itertools.islice(client.submissions.review_queue(bounty=bounty_id), limit)
            )
        bounties: dict[int, Bounty | None] = {}
        content: list[ContentBlock] = [
            TextContent(
                type="text",
                text=f"{len(waiting)} submission(s) wait for your review, oldest first."
                if waiting
                else "No submission waits for your review.",
            )
        ]
        for submission in waiting:
            if submission.bounty not in bounties:
                try:
                    bounties[submission.bounty] = client.bounties.get(submission.bounty)
                except SightlineError:
                    bounties[submission.bounty] = None
            content.append(
                TextContent(type="text", text=_review_text(submission, bounties[submission.bounty]))
            )
            try:
                preview = client.submissions.preview(submission.id, wait=False)
            except NotReady:
                content.append(
                    TextContent(type="text", text="Its preview is being made: call again soon.")
                )
            except SightlineError as error:
                content.append(
                    TextContent(type="text", text=f"No preview: {type(error).__name__}: {error}")
                )
            else:
                content.append(
                    ImageContent(
                        type="image",
                        data=base64.b64encode(preview).decode("ascii"),
                        mime_type="image/jpeg",
                    )
                )
        return CallToolResult(
            content=content,
            structured_content={
                "submissions": [submission.raw for submission in waiting],
                "count": len(waiting),
            },
        )

    @server.tool()
    def accept_submission(
        submission_id: int, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        """Accept a photo waiting for your review: the photographer is paid from the escrow
        and the photo is released to you (its photo_url)."""
        with _tool_errors():
            return (
                sightline().submissions.accept(submission_id, idempotency_key=idempotency_key).raw
            )

    @server.tool()
    def reject_submission(
        submission_id: int,
        reason: Annotated[
            str,
            Field(
                min_length=MIN_REASON,
                max_length=MAX_REASON,
                description="why the photo does not show what you asked for; the "
                "photographer reads it and may appeal",
            ),
        ],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Reject a photo waiting for your review, with a fair reason. Operators decide
        appeals; rejections they overturn are paid anyway and count against you."""
        with _tool_errors():
            return (
                sightline()
                .submissions.reject(submission_id, reason=reason, idempotency_key=idempotency_key)
                .raw
            )

    @server.tool()
    def get_wallet() -> dict[str, Any]:
        """The wallet in cents: available to spend, held in escrow, and today's cap left."""
        with _tool_errors():
            return sightline().wallet.get().raw

    @server.tool()
    def create_question(
        title: Annotated[str, Field(description="a yes/no question about the world")],
        resolution_criteria: Annotated[str, Field(description="how it will be resolved")],
        closes_at: Annotated[
            str, Field(description="ISO 8601 with offset; evidence taken later never counts")
        ],
        resolves_at: Annotated[str, Field(description="ISO 8601 with offset")],
        lat: Annotated[float | None, Field(ge=-90, le=90)] = None,
        lon: Annotated[float | None, Field(ge=-180, le=180)] = None,
        evidence_template: Annotated[
            dict[str, Any] | None,
            Field(
                description="a bounty the market may post to buy evidence while the forecast "
                'is unsure, e.g. {"verify": "...", "price": 200, "quantity": 2}'
            ),
        ] = None,
        stake: Annotated[
            int | None, Field(ge=0, description="what a right answer is worth, in cents")
        ] = None,
        max_acquisition_spend: Annotated[
            int | None, Field(ge=0, description="the most evidence may cost, in cents")
        ] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Ask a binary question the market forecasts from photo evidence; see forecast."""
        with _tool_errors():
            return (
                sightline()
                .questions.create(
                    title=title,
                    resolution_criteria=resolution_criteria,
                    closes_at=closes_at,
                    resolves_at=resolves_at,
                    lat=lat,
                    lon=lon,
                    evidence_template=evidence_template,
                    stake=stake,
                    max_acquisition_spend=max_acquisition_spend,
                    idempotency_key=idempotency_key,
                )
                .raw
            )

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
