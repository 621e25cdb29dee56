"""``python -m agents_sdk``: the API from a shell, JSON on stdout.

    python -m agents_sdk bounties create --title ... --lat 51.5 --lon -0.12 ...
    python -m agents_sdk bounties list --status open --near 51.5,-0.12 --within-m 5000
    python -m agents_sdk bounties wait 42 --download-dir photos/
    python -m agents_sdk submissions review
    python -m agents_sdk submissions preview 7 --out 7.jpg
    python -m agents_sdk submissions accept 7
    python -m agents_sdk submissions reject 8 --reason "The queue is not in the photo."
    python -m agents_sdk wallet

The key comes from ``$SIGHTLINE_API_KEY`` (never a flag, so it stays out of shell history and
``ps``), the server from ``--base-url`` or ``$SIGHTLINE_BASE_URL``. Exit codes: 0 success,
1 the API refused the call, 2 bad usage (or no key), 3 the server could not be reached.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from agents_sdk.client import Sightline
from agents_sdk.errors import NO_API_KEY, APIConnectionError, SightlineError, ValidationError

EXIT_OK = 0
EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3

ClientFactory = Callable[[argparse.Namespace], Sightline]


def _lat_lon(value: str) -> tuple[float, float]:
    try:
        lat, lon = (float(part) for part in value.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected LAT,LON, got {value!r}") from exc
    return lat, lon


def _json_object(value: str) -> dict[str, Any]:
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return parsed


def _aware_datetime(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 datetime: {value!r}") from exc
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"needs a UTC offset (Z or +hh:mm): {value!r}")
    return parsed


def _bool(value: str) -> bool:
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def build_parser() -> argparse.ArgumentParser:
    invoked_as = Path(sys.argv[0]).name
    parser = argparse.ArgumentParser(
        prog="python -m agents_sdk" if invoked_as == "__main__.py" else invoked_as,
        description="Sightline from the shell. The API key is read from $SIGHTLINE_API_KEY.",
    )
    parser.add_argument(
        "--base-url", help="server root (default $SIGHTLINE_BASE_URL or http://127.0.0.1:8000)"
    )
    parser.add_argument("--max-retries", type=int, default=3, help="retries per call (3)")
    resources = parser.add_subparsers(dest="resource", required=True, metavar="RESOURCE")

    bounties = resources.add_parser("bounties", help="post, list, watch and cancel bounties")
    actions = bounties.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create", help="post a bounty (holds quantity x (price + fee) in escrow)"
    )
    create.add_argument("--title", required=True)
    create.add_argument("--instructions", required=True, help="what the photographer should do")
    create.add_argument("--verify", required=True, help="what the photo must show")
    create.add_argument("--lat", type=float, required=True)
    create.add_argument("--lon", type=float, required=True)
    create.add_argument("--radius-m", type=int, required=True)
    create.add_argument(
        "--starts-at", type=_aware_datetime, help="ISO 8601 with a UTC offset (default: now)"
    )
    create.add_argument(
        "--ends-at", type=_aware_datetime, required=True, help="ISO 8601 with a UTC offset"
    )
    create.add_argument("--price", type=int, required=True, help="per photo, in cents")
    create.add_argument("--currency", default="usd")
    create.add_argument("--quantity", type=int, default=1)
    create.add_argument("--claim-ttl-seconds", type=int)
    create.add_argument("--require-gps", type=_bool, metavar="true|false")
    create.add_argument("--max-per-worker", type=int)
    create.add_argument("--auto-approve-after-seconds", type=int)
    create.add_argument("--blur-faces", type=_bool, metavar="true|false")
    create.add_argument(
        "--review",
        choices=["agent", "operator", "auto"],
        help="who judges photos that need a judgment (default: agent if the key may review)",
    )
    create.add_argument("--metadata", type=_json_object, help="a JSON object")
    create.add_argument("--idempotency-key", help="makes repeating this command safe")

    listing = actions.add_parser("list", help="list bounties (a JSON array)")
    listing.add_argument("--status", choices=["open", "fulfilled", "expired", "cancelled"])
    listing.add_argument("--near", type=_lat_lon, metavar="LAT,LON")
    listing.add_argument("--within-m", type=int)
    listing.add_argument("--limit", type=int, help="stop after this many")

    for name, text in (("get", "show one bounty"), ("cancel", "cancel and refund open slots")):
        action = actions.add_parser(name, help=text)
        action.add_argument("bounty_id", type=int)

    wait = actions.add_parser(
        "wait", help="print each accepted submission (a JSON line) until the bounty closes"
    )
    wait.add_argument("bounty_id", type=int)
    wait.add_argument("--timeout", type=float, default=3600, help="seconds (3600)")
    wait.add_argument("--poll-interval", type=float, default=5, help="seconds (5)")
    wait.add_argument("--download-dir", type=Path, help="save each photo here as <id>.jpg")

    submissions = resources.add_parser(
        "submissions", help="review the photos waiting for you: preview, accept, reject"
    )
    review_actions = submissions.add_subparsers(dest="action", required=True, metavar="ACTION")
    review = review_actions.add_parser(
        "review", help="list the submissions waiting for your review, oldest first (JSON)"
    )
    review.add_argument("--bounty", type=int, help="only this bounty's")
    review.add_argument("--limit", type=int, help="stop after this many")
    preview = review_actions.add_parser(
        "preview", help="save a submission's preview (JPEG, faces blurred, marked)"
    )
    preview.add_argument("submission_id", type=int)
    preview.add_argument("--out", type=Path, required=True, help="the file to write")
    accept = review_actions.add_parser("accept", help="accept: pays the worker from escrow")
    accept.add_argument("submission_id", type=int)
    accept.add_argument("--idempotency-key", help="makes repeating this command safe")
    reject = review_actions.add_parser("reject", help="reject, saying why (the worker reads it)")
    reject.add_argument("submission_id", type=int)
    reject.add_argument("--reason", required=True, help="5 to 500 characters")
    reject.add_argument("--idempotency-key", help="makes repeating this command safe")

    resources.add_parser("wallet", help="show the wallet's balances")
    resources.add_parser("me", help="show this key's agent, scopes and review mode")
    return parser


def _dump(value: Any, out: TextIO, *, indent: int | None = 2) -> None:
    out.write(json.dumps(value, indent=indent, default=str) + "\n")
    out.flush()


def _run_submissions(client: Sightline, args: argparse.Namespace, out: TextIO) -> None:
    submissions = client.submissions
    if args.action == "review":
        found: Iterable[Any] = submissions.review_queue(bounty=args.bounty)
        if args.limit is not None:
            found = itertools.islice(found, args.limit)
        _dump([submission.raw for submission in found], out)
    elif args.action == "preview":
        data = submissions.preview(args.submission_id)
        args.out.write_bytes(data)
        _dump({"id": args.submission_id, "written_to": str(args.out), "bytes": len(data)}, out)
    elif args.action == "accept":
        accepted = submissions.accept(args.submission_id, idempotency_key=args.idempotency_key)
        _dump(accepted.raw, out)
    elif args.action == "reject":
        rejected = submissions.reject(
            args.submission_id, reason=args.reason, idempotency_key=args.idempotency_key
        )
        _dump(rejected.raw, out)


def _run(client: Sightline, args: argparse.Namespace, out: TextIO) -> None:
    if args.resource == "wallet":
        _dump(client.wallet.get().raw, out)
        return
    if args.resource == "me":
        _dump(client.me.get().raw, out)
        return
    if args.resource == "submissions":
        _run_submissions(client, args, out)
        return
    bounties = client.bounties
    if args.action == "create":
        bounty = bounties.create(
            title=args.title,
            instructions=args.instructions,
            verify=args.verify,
            lat=args.lat,
            lon=args.lon,
            radius_m=args.radius_m,
            starts_at=args.starts_at,
            ends_at=args.ends_at,
            price=args.price,
            currency=args.currency,
            quantity=args.quantity,
            claim_ttl_seconds=args.claim_ttl_seconds,
            require_gps=args.require_gps,
            max_per_worker=args.max_per_worker,
            auto_approve_after_seconds=args.auto_approve_after_seconds,
            metadata=args.metadata,
            blur_faces=args.blur_faces,
            review=args.review,
            idempotency_key=args.idempotency_key,
        )
        _dump(bounty.raw, out)
    elif args.action == "list":
        found: Iterable[Any] = bounties.list(
            status=args.status, near=args.near, within_m=args.within_m
        )
        if args.limit is not None:
            found = itertools.islice(found, args.limit)
        _dump([bounty.raw for bounty in found], out)
    elif args.action == "get":
        _dump(bounties.get(args.bounty_id).raw, out)
    elif args.action == "cancel":
        _dump(bounties.cancel(args.bounty_id).raw, out)
    elif args.action == "wait":
        if args.download_dir is not None:
            args.download_dir.mkdir(parents=True, exist_ok=True)
        for submission in bounties.wait(
            args.bounty_id, timeout=args.timeout, poll_interval=args.poll_interval
        ):
            line = dict(submission.raw)
            if args.download_dir is not None:
                path = args.download_dir / f"{submission.id}.jpg"
                line["downloaded_to"] = str(client.submissions.download(submission.id, path))
            _dump(line, out, indent=None)


def _default_client(args: argparse.Namespace) -> Sightline:
    return Sightline(base_url=args.base_url, max_retries=args.max_retries)


def _error_report(error: SightlineError) -> dict[str, Any]:
    report: dict[str, Any] = {
        "error": type(error).__name__,
        "status": error.status,
        "code": error.code,
        "detail": error.detail,
    }
    if isinstance(error, ValidationError) and error.errors:
        report["errors"] = error.errors
    if error.request_id:
        report["request_id"] = error.request_id
    return report


def main(
    argv: Sequence[str] | None = None,
    *,
    client_factory: ClientFactory = _default_client,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run one command; return the exit code. Errors go to stderr: a line, then JSON."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        with client_factory(args) as client:
            _run(client, args, out)
    except APIConnectionError as error:
        err.write(f"error: {error}\n")
        return EXIT_CONNECTION
    except SightlineError as error:
        err.write(f"error: {error}\n")
        if error.code == NO_API_KEY:
            return EXIT_USAGE
        _dump(_error_report(error), err)
        return EXIT_API_ERROR
    except KeyboardInterrupt:
        return 130
    return EXIT_OK
