"""Agents judging what they buy, measured on the synthetic world (bench/README.md).

    .venv/bin/python bench/review.py [--submissions 300] [--quantity 4] [--wrong-share 0.2]
                                     [--appeal-share 0.1] [--poll 0.5] [--broker redis://...]

A scratch database and a live server (gunicorn on a free local port). Without ``--broker``
tasks run in-process after commit (in the process whose commit enqueued them: verification in
the uploader, delivery in the server's accept request); with ``--broker`` (a Redis URL whose
queues may be purged) a Celery worker on the default and verify queues runs them, as deployed.
An agent whose key has ``submissions:review`` posts synthetic bounties
(``forecasting.synthetic.scenes``: a queue outside a shop, a crowd in a square, lit windows)
through the HTTP API with ``review="agent"``; simulated workers photograph them
through the real services (claim, upload stamped with the place and time, the checks;
``--wrong-share`` of the photos show another scene). Meanwhile a scripted agent reviewer,
using only the SDK over HTTP, polls its review queue, fetches each preview, and accepts the
photo when the synthetic truth says it shows the scene asked for, else rejects it with a reason;
after an acceptance it fetches the photo until it answers 200 (delivery runs after commit).
Then ``--appeal-share`` of the rejected workers appeal and an operator decides each appeal
(by the same truth, through the admin's service calls).

Reported: upload -> the agent holds the accepted photo (p50, p95) for photos accepted by the
agent with no operator involved, and the share of submissions that needed an operator, split
into appeals and anything else (the goal: only appeals). Writes bench/results/review.json and
the review section of bench/README.md.
"""

import argparse
import io
import json
import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "sightline_benchreview"
MEDIA_ROOT = tempfile.mkdtemp(prefix="sightline-benchreview-")
ENV = {
    "DJANGO_SETTINGS_MODULE": "market.settings",
    "DJANGO_ENV": "development",
    "DEBUG": "false",
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    "DATABASE_CONN_MAX_AGE": "600",
    "CELERY_BROKER_URL": "",  # tasks run in-process after commit, in whichever process enqueues
    "MEDIA_ROOT": MEDIA_ROOT,  # the bench (uploads) and the server (previews, photos) share it
    "API_THROTTLE_RATE": "100000000/min",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)

import django  # noqa: E402

from bench.common import percentile, psql  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "review.json"
OWNER = "bench-review@sightline.test"
OPERATOR = "bench-operator@sightline.test"
REJECT_REASON = "The photo shows another scene than the one this bounty asks for."
APPEAL_NOTE = "I stood where the bounty said and photographed what was there."
PREVIEW_MAX_SIDE = 512


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_worker(broker: str) -> subprocess.Popen[bytes]:
    """A Celery worker on the default and verify queues (purged first: the scratch database
    reuses ids)."""
    celery = [sys.executable, "-m", "celery", "-A", "market"]
    env = {**os.environ, **ENV}
    subprocess.run([*celery, "purge", "-f", "-Q", "default,verify"], cwd=ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    return subprocess.Popen(
        [*celery, "worker", "-Q", "default,verify", "--pool", "threads", "--concurrency", "4",
         "-l", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env,
    )  # fmt: skip


def upload(*, bounty: Any, worker: Any, photo: bytes, name: str) -> Any:
    """What a worker's phone does: claim, then upload the photo stamped with the bounty's place
    and the time now, through the real services; verification is enqueued on commit (run here
    at once without a broker)."""
    import uuid

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction
    from django.utils import timezone

    from bounties.services import ReportedLocation, claim_create, submission_create
    from bounties.simulation import stamp

    data = stamp(photo, lat=bounty.lat, lon=bounty.lon, taken_at=timezone.now())
    with transaction.atomic():
        submission, _ = submission_create(
            claim=claim_create(bounty=bounty, worker=worker), worker=worker,
            upload_id=uuid.uuid4(), content_type="image/jpeg",
            photo=SimpleUploadedFile(name, data, "image/jpeg"),
            location=ReportedLocation(lat=bounty.lat, lon=bounty.lon, accuracy_m=10.0),
        )  # fmt: skip
    submission.refresh_from_db()
    return submission


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    import httpx

    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "market.wsgi", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **ENV},
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health/", timeout=2).status_code:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    sys.exit("gunicorn did not start")


@dataclass
class Record:
    """One submission as the bench saw it (wall-clock seconds, time.time())."""

    submission: int
    bounty: int
    worker: int
    kind: str  # "scene" (shows what was asked) or "wrong_scene"
    upload_started: float
    upload_returned: float = 0.0
    status_after_upload: str = ""
    preview_at: float | None = None
    preview_px: tuple[int, int] | None = None
    verdict: str = ""
    verdict_at: float | None = None
    holds_at: float | None = None
    appealed: bool = False
    operator_verdict: str = ""
    errors: list[str] = field(default_factory=list)


class Truth:
    """What each uploaded photo shows, known to the bench; the reviewer waits for an entry that
    the uploader is about to record (without a broker the photo reaches the queue before
    ``upload`` returns)."""

    def __init__(self) -> None:
        self._records: dict[int, Record] = {}
        self._changed = threading.Condition()

    def add(self, record: Record) -> None:
        with self._changed:
            self._records[record.submission] = record
            self._changed.notify_all()

    def wait_for(self, submission_id: int, timeout: float = 60.0) -> Record | None:
        with self._changed:
            self._changed.wait_for(lambda: submission_id in self._records, timeout=timeout)
            return self._records.get(submission_id)

    def all(self) -> list[Record]:
        with self._changed:
            return list(self._records.values())


def reviewer(
    base_url: str,
    api_key: str,
    truth: Truth,
    stop: threading.Event,
    *,
    poll: float,
    not_ready_poll: float,
    threads: int,
) -> dict[str, Any]:
    """The scripted agent: HTTP only, through the SDK, until told to stop and its queue is
    empty; each waiting submission is judged in one of ``threads`` threads, as an agent judging
    several at once would. A preview or photo not ready yet is waited for as the SDK does (the
    server's ``retry_after``), or, with ``not_ready_poll``, asked again every that many seconds.
    Returns its own counters."""
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    from agents_sdk import Sightline
    from agents_sdk.errors import NotReady, SightlineError

    sl = Sightline(api_key, base_url=base_url, max_retries=20, max_backoff=1.0)
    done: set[int] = set()
    counters: Counter[str] = Counter()
    lock = threading.Lock()

    def ready(fetch: Any, submission_id: int) -> bytes:
        if not not_ready_poll:
            return bytes(fetch(submission_id))
        while True:
            try:
                return bytes(fetch(submission_id, wait=False))
            except NotReady:
                time.sleep(not_ready_poll)

    def photo(submission_id: int, wait: bool = True) -> bytes:
        path = f"submissions/{submission_id}/photo/"
        return sl._http.request("GET", path, retry_not_ready=wait).content

    def judge(submission_id: int) -> None:
        record = truth.wait_for(submission_id)
        try:
            preview = ready(sl.submissions.preview, submission_id)
            preview_at = time.time()
            with Image.open(io.BytesIO(preview)) as image:
                size = image.size
            if record is None:  # not uploaded by this bench: leave it to its deadline
                with lock:
                    counters["unknown"] += 1
                return
            record.preview_at, record.preview_px = preview_at, size
            if record.kind == "scene":
                sl.submissions.accept(submission_id)
                record.verdict, record.verdict_at = "accepted", time.time()
                ready(photo, submission_id)  # delivery runs after commit
                record.holds_at = time.time()
            else:
                sl.submissions.reject(submission_id, reason=REJECT_REASON)
                record.verdict, record.verdict_at = "rejected", time.time()
            with lock:
                counters[record.verdict] += 1
        except SightlineError as error:
            with lock:
                counters["errors"] += 1
            if record is not None:
                record.errors.append(f"{type(error).__name__}: {error}")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        while True:
            waiting = [
                s.id for s in sl.submissions.review_queue(page_size=100)
                if s.review_by == "agent" and s.id not in done
            ]  # fmt: skip
            counters["polls"] += 1
            if not waiting:
                if stop.is_set():
                    break
                time.sleep(poll)
                continue
            for submission_id in waiting:
                done.add(submission_id)
                pool.submit(judge, submission_id)
    return dict(counters)


def settle(truth: Truth, *, timeout: float) -> None:
    """Wait until no uploaded submission is still being verified or waiting for the agent
    (the reviewer works meanwhile), at most ``timeout`` seconds."""
    from django.db.models import Q

    from bounties.models import AWAITING_AGENT, Submission, SubmissionStatus

    ids = [record.submission for record in truth.all()]
    pending = Submission.objects.filter(pk__in=ids).filter(
        AWAITING_AGENT | Q(status__in=[SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING])
    )
    deadline = time.monotonic() + timeout
    while pending.exists() and time.monotonic() < deadline:
        time.sleep(0.5)


def fixtures(quantity_total: int) -> tuple[Any, str, Any]:
    """The agent (test mode, funded), its key with every scope (``submissions:review``
    included) and an operator."""
    from market.accounts.models import Role, Scope
    from market.accounts.services import (
        agent_create,
        api_key_create,
        requester_get_or_create,
        user_create,
    )
    from market.ledger.services import wallet_credit_test_funds

    owner, _ = requester_get_or_create(email=OWNER)
    agent = agent_create(owner=owner, name="bench-reviewer", is_test=True,
                         daily_spend_cap_minor=10**12)  # fmt: skip
    _, key = api_key_create(agent=agent, name="bench", scopes=list(Scope.values))
    wallet_credit_test_funds(agent=agent, amount_minor=quantity_total * 1_000,
                             idempotency_key="bench-review")  # fmt: skip
    operator = user_create(email=OPERATOR, role=Role.OPERATOR)
    return agent, key, operator


def post_bounties(base_url: str, api_key: str, count: int, quantity: int, seed: int) -> list[Any]:
    """``count`` synthetic bounties through the HTTP API, judged by the agent."""
    import numpy as np

    from agents_sdk import Sightline
    from forecasting.synthetic import CITIES, RADIUS_M
    from forecasting.synthetic.scenes import SCENES

    sl = Sightline(api_key, base_url=base_url)
    rng = np.random.default_rng(seed)
    wording = {
        "queue": "the queue of people outside the shop, seen from across the street",
        "crowd": "the whole square and the people in it, from above",
        "lights": "the front of the building at night, all its windows in view",
    }
    posted = []
    for index in range(count):
        scenario = sorted(SCENES)[int(rng.integers(len(SCENES)))]
        lat, lon = CITIES[int(rng.integers(len(CITIES)))]
        bounty = sl.bounties.create(
            title=f"Photo: {wording[scenario]}", instructions="One clear photo from where you "
            "stand.", verify=wording[scenario], lat=round(lat + rng.uniform(-0.02, 0.02), 6),
            lon=round(lon + rng.uniform(-0.02, 0.02), 6), radius_m=RADIUS_M,
            ends_at=datetime.now(UTC) + timedelta(hours=2), price=100, quantity=quantity,
            auto_approve_after_seconds=3600, blur_faces=False, review="agent",
            metadata={"bench": "review", "scenario": scenario, "index": index},
        )  # fmt: skip
        posted.append((bounty.id, scenario))
    return posted


def appeal_and_decide(
    records: list[Record], operator: Any, share: float, seed: int
) -> list[dict[str, Any]]:
    """``share`` of the workers the agent rejected appeal; the operator decides each one by the
    truth, with the admin's calls (``submission_decide`` as the operator, then the fair-use
    refresh)."""
    import numpy as np

    from bounties.models import Submission
    from bounties.services import submission_decide
    from bounties.services.review import agent_review_cooling_refresh
    from market.accounts.actors import operator_actor
    from market.core.errors import ApplicationError
    from web.services import submission_appeal

    rng = np.random.default_rng(seed + 1)
    decided = []
    for record in records:
        if record.verdict != "rejected" or rng.random() >= share:
            continue
        submission = Submission.objects.select_related("worker", "bounty__agent").get(
            pk=record.submission
        )
        try:
            submission_appeal(submission=submission, worker=submission.worker, note=APPEAL_NOTE)
        except ApplicationError as error:
            record.errors.append(f"appeal refused: {error.code}")
            continue
        record.appealed = True
        accept = record.kind == "scene"
        t0 = time.time()
        submission_decide(
            submission=Submission.objects.get(pk=record.submission), accept=accept,
            reasons=["Checked by a person."], actor=operator_actor(operator),
        )  # fmt: skip
        agent_review_cooling_refresh(agent=submission.bounty.agent)
        record.operator_verdict = "accepted" if accept else "rejected"
        decided.append({"submission": record.submission, "verdict": record.operator_verdict,
                        "seconds": time.time() - t0})  # fmt: skip
    return decided


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "p50": percentile(values, 0.5) if values else None,
        "p95": percentile(values, 0.95) if values else None,
        "mean": statistics.fmean(values) if values else None,
        "max": max(values) if values else None,
    }


def who_decided(actor: str) -> str:
    if actor.startswith("agent:"):
        return "agent"
    if actor.startswith("operator:"):
        return "operator"
    return actor  # "verification" (the checks), "auto-approve"


def analyse(records: list[Record]) -> dict[str, Any]:
    """Classify every submission from the database: who decided it, and whether an operator
    was needed (an appeal, or anything else: routed to operators, handed over, decided by
    one)."""
    from bounties.models import Submission, SubmissionEvent, SubmissionStatus

    by_id = {record.submission: record for record in records}
    rows = Submission.objects.filter(pk__in=by_id).order_by("pk")
    decisions = {SubmissionStatus.ACCEPTED, SubmissionStatus.REJECTED}
    events: dict[int, list[Any]] = {}
    for event in SubmissionEvent.objects.filter(submission__in=rows).order_by("pk"):
        events.setdefault(event.submission_id, []).append(event)
    final_by: Counter[str] = Counter()
    first_by: Counter[str] = Counter()
    operator_needed: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for row in rows:
        history = events.get(row.pk, [])
        verdicts = [
            e for e in history if e.new_status in decisions and e.old_status != e.new_status
        ]
        first_by[who_decided(verdicts[0].actor) if verdicts else "undecided"] += 1
        final_by[who_decided(verdicts[-1].actor) if verdicts else "undecided"] += 1
        statuses[row.status] += 1
        if row.appealed_at is not None:
            operator_needed["appeal"] += 1
        elif row.review_by == "operator" or any(
            who_decided(e.actor) == "operator" or e.actor == "auto-approve" for e in history
        ):
            operator_needed["other"] += 1
    total = len(records)
    held = [r for r in records if r.verdict == "accepted" and r.holds_at and not r.appealed]
    return {
        "submissions": total,
        "final_status": dict(statuses),
        "first_decided_by": dict(first_by),
        "finally_decided_by": dict(final_by),
        "operator_needed": {
            "appeal": operator_needed["appeal"],
            "other": operator_needed["other"],
            "share": (operator_needed["appeal"] + operator_needed["other"]) / total,
            "share_appeal": operator_needed["appeal"] / total,
            "share_other": operator_needed["other"] / total,
        },
        "upload_to_holds_s": summary([r.holds_at - r.upload_started for r in held if r.holds_at]),
        "upload_call_s": summary(
            [r.upload_returned - r.upload_started for r in records if r.preview_at]
        ),
        "upload_to_preview_s": summary(
            [r.preview_at - r.upload_started for r in records if r.preview_at]
        ),
        "verdict_to_holds_s": summary(
            [r.holds_at - r.verdict_at for r in held if r.holds_at and r.verdict_at]
        ),
        "reject_upload_to_verdict_s": summary(
            [
                r.verdict_at - r.upload_started
                for r in records
                if r.verdict == "rejected" and r.verdict_at
            ]
        ),
        "preview_max_side_px": max(
            (max(r.preview_px) for r in records if r.preview_px), default=None
        ),
        "errors": [f"{r.submission}: {e}" for r in records for e in r.errors][:20],
    }


def write_readme(results: dict[str, Any]) -> None:
    from bench.readme import replace_section

    a = results["analysis"]
    need = a["operator_needed"]

    def s(stats: dict[str, Any], key: str) -> str:
        return "-" if stats[key] is None else f"{stats[key]:.2f}"

    holds, preview = a["upload_to_holds_s"], a["upload_to_preview_s"]
    verdict_holds = a["verdict_to_holds_s"]
    lines = [
        "## review: agents judge what they buy (`bench/review.py`)",
        "",
        f"Run {results['ran_at']} on {results['machine']} (load average before: "
        f"{results['load_average'][0]:.1f}). A live server (gunicorn, {results['server_workers']}"
        f" workers, PostgreSQL; tasks: {results.get('tasks', 'in-process after commit')}) and an "
        f"agent whose key has `submissions:review` posting {results['bounties']} synthetic "
        "bounties through the API "
        f'with `review="agent"` ({results["quantity"]} photos each). Simulated workers upload '
        f"{a['submissions']} procedurally rendered photos (at "
        f"{results.get('upload_rate_per_s', 0)}/s) through the real pipeline, "
        f"{results['wrong_share']:.0%} of them of another scene; no vision model, so every photo "
        "that passes the checks needs a judgment. A scripted reviewer (the SDK over HTTP only) "
        f"polls its queue every {results['poll_s']} s when empty, fetches each preview, accepts "
        "what the synthetic truth says shows the scene asked for and rejects the rest with a "
        "reason, then fetches each accepted photo until it answers 200 (previews and photos not "
        "ready yet: "
        + (
            f"asked again every {results['not_ready_poll_s']} s"
            if results.get("not_ready_poll_s")
            else "waited for as the SDK does, the server's `retry_after`"
        )
        + f"; {results.get('reviewer_threads', 1)}"
        " submissions judged at once). "
        f"{results['appeal_share']:.0%} of the rejected workers appeal; an operator decides the "
        "appeals.",
        "",
        "| measure | count | p50 s | p95 s | max s |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| upload -> agent holds the accepted photo (agent-accepted, no operator) | "
        f"{holds['count']} | {s(holds, 'p50')} | {s(holds, 'p95')} | {s(holds, 'max')} |",
        f"| upload -> preview in the agent's hands | {preview['count']} | {s(preview, 'p50')} | "
        f"{s(preview, 'p95')} | {s(preview, 'max')} |",
        f"| accept -> photo answers 200 | {verdict_holds['count']} | {s(verdict_holds, 'p50')} | "
        f"{s(verdict_holds, 'p95')} | {s(verdict_holds, 'max')} |",
        "",
        f"Needed an operator: {need['appeal'] + need['other']} of {a['submissions']} "
        f"({need['share']:.1%}): appeals {need['appeal']} ({need['share_appeal']:.1%}), anything "
        f"else {need['other']} ({need['share_other']:.1%}) — "
        f"{'only appeals, the goal' if need['other'] == 0 else 'NOT only appeals'}. First "
        f"decided by: {json.dumps(a['first_decided_by'])}; finally: "
        f"{json.dumps(a['finally_decided_by'])}. Largest preview side: "
        f"{a['preview_max_side_px']} px. Wall time {results['seconds']:.0f} s.",
    ]
    variant = results.get("variant")
    if variant:
        vh = variant["upload_to_holds_s"]
        lines += [
            "",
            f"The same agent asking again every {variant['not_ready_poll_s']} s instead of waiting "
            f"the server's `retry_after` (`{variant['command']}`): upload -> holds p50 "
            f"{vh['p50']:.2f} s, p95 {vh['p95']:.2f} s (n={vh['count']}); accept -> photo p50 "
            f"{variant['verdict_to_holds_s']['p50']:.2f} s. So with the SDK as it is, the 5 s "
            "`retry_after` on `not_ready` (preview and photo) is most of the wait, not the "
            "pipeline.",
        ]
    replace_section("review", lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=300)
    parser.add_argument("--quantity", type=int, default=4, help="photos per bounty")
    parser.add_argument("--wrong-share", type=float, default=0.2)
    parser.add_argument("--appeal-share", type=float, default=0.1)
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between empty polls")
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=2.0, help="uploads per second (0: a burst)")
    parser.add_argument("--reviewer-threads", type=int, default=8)
    parser.add_argument(
        "--not-ready-poll",
        type=float,
        default=0.0,
        help="ask again every this many seconds for a preview or photo not ready "
        "(default: wait as the SDK does, the server's retry_after)",
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=300,
        help="seconds to wait after the last upload for the queue to empty",
    )
    parser.add_argument("--broker", default="", help="a Redis URL: tasks run on a Celery worker")
    parser.add_argument("--readme-only", action="store_true")
    args = parser.parse_args()
    if args.readme_only:
        write_readme(json.loads(RESULTS.read_text()))
        return
    load_before = os.getloadavg()
    if args.broker:
        ENV.update({"CELERY_BROKER_URL": args.broker, "CACHE_URL": "locmemcache://"})
        os.environ.update(ENV)
    psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(f"CREATE DATABASE {DATABASE}")
    server = worker_process = None
    try:
        django.setup()
        import numpy as np
        from django.core.management import call_command
        from django.db import connection
        from tqdm import tqdm

        from bounties.simulation import simulated_worker
        from forecasting.synthetic.scenes import SCENES, render_scene
        from market.core.errors import ApplicationError

        logging.disable(logging.WARNING)  # the pipeline logs every upload: keep the bar readable
        call_command("migrate", verbosity=0)
        started, t_start = datetime.now(UTC), time.monotonic()
        bounty_count = -(-args.submissions // args.quantity)
        _, key, operator = fixtures(bounty_count * args.quantity)
        workers = [simulated_worker(index) for index in range(1, max(40, args.quantity) + 1)]
        connection.close()  # the server must see the fixtures: nothing is left in a transaction
        port = free_port()
        server = start_server(port, args.server_workers)
        if args.broker:
            worker_process = start_worker(args.broker)
        base_url = f"http://127.0.0.1:{port}"
        bounties = post_bounties(base_url, key, bounty_count, args.quantity, args.seed)

        truth, stop = Truth(), threading.Event()
        counters: dict[str, Any] = {}
        thread = threading.Thread(
            target=lambda: counters.update(
                reviewer(
                    base_url,
                    key,
                    truth,
                    stop,
                    poll=args.poll,
                    not_ready_poll=args.not_ready_poll,
                    threads=args.reviewer_threads,
                )
            ),
            daemon=True,
        )
        thread.start()
        rng = np.random.default_rng(args.seed)
        from bounties.models import Bounty

        refused: Counter[str] = Counter()
        with tqdm(total=args.submissions, desc="submissions", unit="photo") as bar:
            uploaded, upload_t0 = 0, time.monotonic()
            for bounty_id, scenario in bounties:
                bounty = Bounty.objects.get(pk=bounty_id)
                state = SCENES[scenario].draw_state(rng)
                for worker in rng.permutation(len(workers))[: args.quantity]:
                    if uploaded >= args.submissions:
                        break
                    kind, shown = "scene", scenario
                    if rng.random() < args.wrong_share:
                        others = sorted(name for name in SCENES if name != scenario)
                        kind, shown = "wrong_scene", others[int(rng.integers(len(others)))]
                        photo = render_scene(shown, SCENES[shown].draw_state(rng), rng)
                    else:
                        photo = render_scene(scenario, state, rng)
                    if args.rate:  # arrivals at a steady rate, not one burst
                        time.sleep(max(0.0, upload_t0 + uploaded / args.rate - time.monotonic()))
                    t0 = time.time()
                    try:
                        submission = upload(
                            bounty=bounty, worker=workers[int(worker)], photo=photo,
                            name=f"{shown}.jpg",
                        )  # fmt: skip
                    except ApplicationError as error:
                        refused[error.code] += 1
                        continue
                    truth.add(Record(
                        submission=submission.pk, bounty=bounty_id, worker=submission.worker_id,
                        kind=kind, upload_started=t0, upload_returned=time.time(),
                        status_after_upload=submission.status,
                    ))  # fmt: skip
                    uploaded += 1
                    bar.update()
        settle(truth, timeout=args.settle_timeout)
        stop.set()
        thread.join(timeout=120)
        upload_seconds = time.monotonic() - t_start
        records = truth.all()
        appeals = appeal_and_decide(records, operator, args.appeal_share, args.seed)
        analysis = analyse(records)
        import gunicorn  # type: ignore[import-untyped]

        results = {
            "ran_at": started.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, gunicorn {gunicorn.__version__}",
            "load_average": load_before,
            "server_workers": args.server_workers,
            "bounties": len(bounties),
            "quantity": args.quantity,
            "wrong_share": args.wrong_share,
            "appeal_share": args.appeal_share,
            "poll_s": args.poll,
            "upload_rate_per_s": args.rate,
            "not_ready_poll_s": args.not_ready_poll,
            "reviewer_threads": args.reviewer_threads,
            "seed": args.seed,
            "tasks": "celery worker (default, verify; 4 threads)"
            if args.broker
            else "in-process after commit",
            "seconds": time.monotonic() - t_start,
            "upload_and_review_seconds": upload_seconds,
            "uploads_refused": dict(refused),
            "reviewer": counters,
            "appeals": appeals,
            "analysis": analysis,
            "submissions": [vars(record) for record in records],
        }
        RESULTS.write_text(json.dumps(results, indent=2, default=str))
        write_readme(results)
        need = analysis["operator_needed"]
        holds = analysis["upload_to_holds_s"]
        print(
            f"upload -> agent holds data: p50 {holds['p50']} s, p95 {holds['p95']} s "
            f"(n={holds['count']}); operator needed {need['share']:.1%} (appeals "
            f"{need['appeal']}, other {need['other']}); wrote {RESULTS} and bench/README.md"
        )
    finally:
        for process in (worker_process, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        psql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        subprocess.run(["rm", "-rf", MEDIA_ROOT], check=False)


if __name__ == "__main__":
    main()
