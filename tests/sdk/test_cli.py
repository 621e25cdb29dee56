"""``python -m agents_sdk``: JSON on stdout, clear errors on stderr, distinct exit codes."""

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from agents_sdk import cli
from tests.sdk.fakes import FakeAPI, bounty_json, page, problem, submission_json

ROOT = Path(__file__).resolve().parents[2]


def run(fake: FakeAPI, *argv: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    code = cli.main(
        list(argv), client_factory=lambda args: fake.client(), stdout=stdout, stderr=stderr
    )
    return code, stdout.getvalue(), stderr.getvalue()


def test_bounties_create_prints_the_bounty() -> None:
    fake = FakeAPI()
    fake.on("POST", "bounties/", httpx.Response(201, json=bounty_json(8)))

    code, out, _ = run(
        fake,
        "bounties", "create", "--title", "Queue", "--instructions", "Photograph it",
        "--verify", "A queue", "--lat", "51.5", "--lon", "-0.12", "--radius-m", "150",
        "--starts-at", "2026-05-01T17:00:00Z", "--ends-at", "2026-05-01T18:00:00Z",
        "--price", "400", "--quantity", "5", "--require-gps", "false",
        "--metadata", '{"order": 17}', "--idempotency-key", "order-17",
    )  # fmt: skip

    assert code == cli.EXIT_OK
    assert json.loads(out)["id"] == 8
    request = fake.requests[0]
    assert request.headers["Idempotency-Key"] == "order-17"
    body = json.loads(request.content)
    assert (body["quantity"], body["require_gps"], body["metadata"]) == (5, False, {"order": 17})


def test_bounties_list_prints_a_json_array_up_to_the_limit() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/", page([bounty_json(1), bounty_json(2), bounty_json(3)]))

    code, out, _ = run(fake, "bounties", "list", "--near", "51.5,-0.12", "--limit", "2")

    assert code == cli.EXIT_OK
    assert [bounty["id"] for bounty in json.loads(out)] == [1, 2]
    assert fake.requests[0].url.params["near"] == "51.5,-0.12"


def test_bounties_get_and_cancel() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/3/", bounty_json(3))
    fake.on("POST", "bounties/3/cancel/", bounty_json(3, status="cancelled"))

    assert json.loads(run(fake, "bounties", "get", "3")[1])["status"] == "open"
    assert json.loads(run(fake, "bounties", "cancel", "3")[1])["status"] == "cancelled"


def test_bounties_wait_prints_a_json_line_per_accepted_submission(tmp_path: Path) -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/1/", bounty_json(1, status="fulfilled"))
    fake.on("GET", "submissions/", page([submission_json(2), submission_json(1)]))
    fake.on("GET", "submissions/1/photo/", httpx.Response(200, content=b"one"))
    fake.on("GET", "submissions/2/photo/", httpx.Response(200, content=b"two"))

    code, out, _ = run(fake, "bounties", "wait", "1", "--download-dir", str(tmp_path / "p"))

    assert code == cli.EXIT_OK
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["id"] for line in lines] == [1, 2]
    assert Path(lines[1]["downloaded_to"]).read_bytes() == b"two"


def test_wallet_prints_the_balances() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", {"currency": "usd", "balance": 10, "available": 10})

    code, out, _ = run(fake, "wallet")

    assert code == cli.EXIT_OK
    assert json.loads(out)["available"] == 10


def test_an_api_error_exits_1_with_the_problem_on_stderr() -> None:
    fake = FakeAPI()
    fake.on(
        "POST",
        "bounties/3/cancel/",
        problem(402, "insufficient_funds", "Not enough funds."),
    )

    code, out, err = run(fake, "bounties", "cancel", "3")

    assert code == cli.EXIT_API_ERROR
    assert out == ""
    first_line, report = err.split("\n", 1)
    assert first_line == "error: 402 insufficient_funds: Not enough funds."
    assert json.loads(report)["error"] == "InsufficientFunds"


def test_field_errors_are_reported() -> None:
    fake = FakeAPI()
    fake.on("GET", "bounties/", problem(400, "validation_error", errors={"within_m": ["Bad."]}))

    code, _, err = run(fake, "bounties", "list", "--within-m", "-1")

    assert code == cli.EXIT_API_ERROR
    assert "within_m: Bad." in err
    assert json.loads(err.split("\n", 1)[1])["errors"] == {"within_m": ["Bad."]}


def test_an_unreachable_server_exits_3() -> None:
    fake = FakeAPI()
    fake.on("GET", "wallet/", httpx.ConnectError("refused"))

    code, _, err = run(fake, "wallet")

    assert code == cli.EXIT_CONNECTION
    assert "Could not reach" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bounties", "list", "--near", "north"], "expected LAT,LON"),
        (["bounties", "get", "seven"], "invalid int value"),
        (["bounties", "create", "--title", "t"], "required"),
        (
            [
                "bounties", "create", "--title", "t", "--instructions", "i", "--verify", "v",
                "--lat", "0", "--lon", "0", "--radius-m", "10", "--price", "1",
                "--starts-at", "2026-05-01T17:00:00", "--ends-at", "2026-05-01T18:00:00Z",
            ],
            "needs a UTC offset",
        ),
        (["wallet", "--metadata", "{}"], "unrecognized arguments"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeAPI()

    with pytest.raises(SystemExit) as caught:
        run(fake, *argv)

    assert caught.value.code == cli.EXIT_USAGE
    assert message in capsys.readouterr().err
    assert fake.requests == []


def test_the_module_runs_and_a_missing_key_exits_2() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SIGHTLINE_")}

    result = subprocess.run(
        [sys.executable, "-m", "agents_sdk", "wallet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == cli.EXIT_USAGE
    assert "SIGHTLINE_API_KEY" in result.stderr
    assert result.stdout == ""
