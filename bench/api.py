"""API throughput and latency under 20 concurrent clients (gunicorn, PostgreSQL, DEBUG off).

Measures the nearest-open-bounties list (``GET /api/v1/bounties/?near=...``, random points over
Europe) with 10k, 100k and 1M open bounties spread over the continent, next to a bare DRF view
reading 20 rows on the same box in the same run, and records the query plan to show a GiST
index is used. The two alternate for a few rounds and each figure is the median over rounds, so
a burst of other work on a shared box weighs on both alike. Load comes from ``wrk`` (Debian
package; installed when missing and root).

    .venv/bin/python bench/api.py [--sizes 10000 100000 1000000] [--seconds 10] [--rounds 3]

Writes bench/results/api.json and the API section of bench/README.md.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages
    sys.path.insert(0, str(ROOT))

from bench.common import psql  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "api.json"
README = ROOT / "bench" / "README.md"
SECTION_START, SECTION_END = "<!-- bench:api:start -->", "<!-- bench:api:end -->"
DATABASE = "sightline_bench"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
PORT = 8765
# The partial GiST indexes a nearest-first search may walk (everyone's; an agent's own).
GIST_INDEXES = ("bounty_open_location_gist", "bounty_agent_open_location_gist")
# Europe, roughly: where the bounties are spread and the searches are made.
LAT_RANGE, LON_RANGE = (36.0, 70.0), (-10.0, 40.0)

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DJANGO_ENV": "development",
    "DEBUG": "false",
    "DATABASE_URL": DATABASE_URL,
    "DATABASE_CONN_MAX_AGE": "600",
    "CELERY_BROKER_URL": "",
    "API_THROTTLE_RATE": "100000000/min",
    "LOG_LEVEL": "WARNING",
}


def manage(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=ENV, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
        return shutil.which("wrk") or sys.exit("wrk did not install")
    sys.exit("bench/api.py needs wrk: apt-get install wrk")


def fresh_database() -> str:
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    psql(f"CREATE DATABASE {DATABASE}")
    manage("migrate", "--noinput", "-v0")
    key = manage(
        "create_agent", "--owner", "bench@sightline.local", "--name", "bench",
        "--daily-cap", "0",
    ).strip()  # fmt: skip
    return key


def add_bounties(count: int) -> None:
    """Insert open bounties straight into the table (benchmark data: no escrow is held)."""
    (lat0, lat1), (lon0, lon1) = LAT_RANGE, LON_RANGE
    psql(
        f"""
        INSERT INTO bounties_bounty (agent_id, title, instructions, verify, lat, lon, radius_m,
            starts_at, ends_at, price_minor, fee_minor, currency, quantity, accepted_count,
            claim_ttl, require_gps, max_per_worker, auto_approve_after, blur_faces, metadata,
            is_test, status, review, created_at, updated_at)
        SELECT (SELECT id FROM accounts_agent LIMIT 1), 'bench bounty ' || n, '', 'a photo',
            {lat0} + random() * {lat1 - lat0}, {lon0} + random() * {lon1 - lon0}, 150,
            now() - interval '1 hour', now() + interval '30 days', 400, 40, 'usd', 5, 0,
            interval '30 minutes', true, 1, interval '1 day', true, '{{}}'::jsonb, false,
            'open', 'operator', now(), now()
        FROM generate_series(1, {count}) AS n
        """,
        DATABASE,
    )
    # VACUUM too, as a table settles in service: autovacuum is not left to take up the bulk
    # insert in the middle of a round.
    psql("VACUUM ANALYZE bounties_bounty", DATABASE)


def query_plan() -> str:
    """The plan of one nearest-first search, from the real selector."""
    code = (
        "import django\n"
        "django.setup()\n"
        "from django.db import connection\n"
        "from django.test.utils import CaptureQueriesContext\n"
        "from bounties.selectors import bounties_near\n"
        "from market.accounts.models import Agent\n"
        "with CaptureQueriesContext(connection) as ctx:\n"
        "    bounties_near(lat=48.85, lon=2.35, within_m=50000, limit=20,\n"
        "                  agent=Agent.objects.get())\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('EXPLAIN ' + ctx.captured_queries[-1]['sql'])\n"
        "    print('\\n'.join(row[0] for row in cursor.fetchall()))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=ENV, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip


def start_server(workers: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "market.wsgi", "--bind", f"127.0.0.1:{PORT}",
         "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, env=ENV,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/api/v1/health/", timeout=1).status_code:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.kill()
    sys.exit("gunicorn did not start")


NEAR_SCRIPT = """
math.randomseed(os.time())
request = function()
  local lat = %(lat0)f + math.random() * %(dlat)f
  local lon = %(lon0)f + math.random() * %(dlon)f
  local path = string.format("/api/v1/bounties/?near=%%.4f,%%.4f&within_m=50000&page_size=20",
                             lat, lon)
  return wrk.format("GET", path, {["Authorization"] = "Bearer %(key)s"})
end
"""


CLAIM_SCRIPT = """
local sessions = {%(sessions)s}
local bounties = {%(bounties)s}
math.randomseed(os.time())
request = function()
  local session = sessions[math.random(#sessions)]
  local bounty = bounties[math.random(#bounties)]
  return wrk.format("POST", "/bounties/" .. bounty .. "/claim/", {
    ["Cookie"] = "sessionid=" .. session .. "; csrftoken=%(csrf)s",
    ["X-CSRFToken"] = "%(csrf)s",
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "")
end
"""
CSRF_SECRET = "b" * 32


def claim_fixtures(workers: int, bounties: int) -> tuple[list[str], list[int]]:
    """Logged-in workers (their session keys) and bounties with room for every claim."""
    psql(
        f"""
        INSERT INTO bounties_bounty (agent_id, title, instructions, verify, lat, lon, radius_m,
            starts_at, ends_at, price_minor, fee_minor, currency, quantity, accepted_count,
            claim_ttl, require_gps, max_per_worker, auto_approve_after, blur_faces, metadata,
            is_test, status, review, created_at, updated_at)
        SELECT (SELECT id FROM accounts_agent LIMIT 1), 'claim bench ' || n, '', 'a photo',
            48.85, 2.35, 150, now() - interval '1 hour', now() + interval '30 days', 400, 40,
            'usd', 1000, 0, interval '30 minutes', true, 1, interval '1 day', true,
            '{{}}'::jsonb, false, 'open', 'operator', now(), now()
        FROM generate_series(1, {bounties}) AS n
        """,
        DATABASE,
    )
    code = (
        "import django, json\n"
        "django.setup()\n"
        "from django.test import Client\n"
        "from bounties.models import Bounty\n"
        "from market.accounts.models import Role\n"
        "from market.accounts.services import user_create\n"
        "sessions = []\n"
        f"for n in range({workers}):\n"
        "    user = user_create(email=f'bench-worker-{n}@sightline.local', role=Role.WORKER)\n"
        "    client = Client()\n"
        "    client.force_login(user)\n"
        "    sessions.append(client.cookies['sessionid'].value)\n"
        "ids = list(Bounty.objects.filter(title__startswith='claim bench')"
        ".values_list('id', flat=True))\n"
        "print(json.dumps({'sessions': sessions, 'bounties': ids}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=ENV, check=True, capture_output=True,
        text=True,
    ).stdout  # fmt: skip
    fixtures = json.loads(output.strip().splitlines()[-1])
    return fixtures["sessions"], fixtures["bounties"]


def _milliseconds(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def load(wrk: str, url: str, seconds: int, script: str | None = None) -> dict[str, float]:
    """20 concurrent connections for ``seconds``: requests per second, p50 and p99 in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script or "")
    args = [wrk, "-t2", "-c20", f"-d{seconds}s", "--latency", url]
    if script:
        args[1:1] = ["-s", lua.name]
    output = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    Path(lua.name).unlink()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "p50_ms": _milliseconds(re.search(r"\s50%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        "p99_ms": _milliseconds(re.search(r"\s99%\s+(\S+)", output).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each figure's median over the rounds (non-2xx responses: their sum)."""
    median = {key: round(statistics.median(run[key] for run in runs), 2) for key in runs[0]}
    return median | {"non_2xx": sum(int(run["non_2xx"]) for run in runs)}


def write_readme(results: dict[str, Any]) -> None:
    claims_row = results["claims"]
    rows = [
        "| open bounties | nearest list req/s | p50 ms | p99 ms | bare view req/s | p50 ms | "
        "p99 ms | nearest / bare |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in results["runs"]:
        near, bare = run["nearest"], run["bare"]
        rows.append(
            f"| {run['open_bounties']:,} | {near['requests_per_second']:.0f} | "
            f"{near['p50_ms']:.1f} | {near['p99_ms']:.1f} | {bare['requests_per_second']:.0f} | "
            f"{bare['p50_ms']:.1f} | {bare['p99_ms']:.1f} | {run['throughput_ratio']:.2f} |"
        )
    worst = "; ".join(
        f"{run['open_bounties']:,}: {max(r['nearest']['p99_ms'] for r in run['rounds']):.1f} ms"
        for run in results["runs"]
    )
    section = "\n".join(
        [
            SECTION_START,
            "## API (`bench/api.py`)",
            "",
            f"Run {results['run_at']} on {results['machine']} (a shared box: load average "
            f"{results['load_average_at_start'][0]} at start, {results['load_average_at_end'][0]} "
            f"at the end); gunicorn with {results['gunicorn_workers']} sync workers, PostgreSQL, "
            "DEBUG off; wrk with 20 connections. The nearest list and the bare view alternate, "
            f"{results['seconds']} s each, for {results['rounds']} rounds; each figure is the "
            "median over rounds, the ratio the median of each round's ratio. The nearest list "
            "searches a random point over Europe within 50 km (page of 20, every field of the "
            "bounty, open slots counted); the bare view is a DRF view serialising 7 fields of 20 "
            "rows with no authentication.",
            "Goal: nearest at least half the bare view's throughput, p99 under 100 ms, cost "
            "growing sub-linearly with the number of open bounties.",
            "",
            *rows,
            "",
            f"The nearest list's p99 in its worst round, by open bounties: {worst} (a burst of "
            "other work on the shared box lands in some rounds, on either view).",
            "",
            f"The plan uses the GiST index: `{results['index_used']}` (one query per search; the "
            "API key lookup is the request's only other query).",
            "",
            "| claims (website endpoint) | req/s | p50 ms | p99 ms | bare view req/s | "
            "claims created |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| {claims_row['workers']} logged-in workers x {claims_row['bounties']} bounties, "
            f"random pairs | {claims_row['claim']['requests_per_second']:.0f} | "
            f"{claims_row['claim']['p50_ms']:.1f} | {claims_row['claim']['p99_ms']:.1f} | "
            f"{claims_row['bare']['requests_per_second']:.0f} | {claims_row['claims_created']} |",
            "",
            "Goal for claims: at least 100 per second with p99 under 250 ms. Each claim locks its "
            "bounty row, counts the open slots and writes the claim (a repeated pair returns the "
            "worker's existing claim), then answers a redirect.",
            SECTION_END,
        ]
    )
    text = README.read_text() if README.exists() else "# Benchmarks\n\n"
    if SECTION_START not in text:  # the section as written before it had markers
        text = re.sub(
            r"## API \(`bench/api.py`\).*?(?=\n<!-- bench:|\n## |\Z)",
            lambda _: f"{SECTION_START}\n{SECTION_END}\n",
            text,
            count=1,
            flags=re.S,
        )
    if SECTION_START in text and SECTION_END in text:
        before, rest = text.split(SECTION_START, 1)
        text = before + section + rest.split(SECTION_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    README.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    options = parser.parse_args()
    load_at_start = [round(value, 2) for value in os.getloadavg()]
    run_at = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    wrk = ensure_wrk()
    key = fresh_database()
    (lat0, lat1), (lon0, lon1) = LAT_RANGE, LON_RANGE
    script = NEAR_SCRIPT % {
        "lat0": lat0, "dlat": lat1 - lat0, "lon0": lon0, "dlon": lon1 - lon0, "key": key,
    }  # fmt: skip
    runs, inserted = [], 0
    for size in tqdm(sorted(options.sizes), desc="sizes", unit="size"):
        add_bounties(size - inserted)
        inserted = size
        plan = query_plan()
        server = start_server(options.workers)
        rounds = []
        try:
            base = f"http://127.0.0.1:{PORT}"
            load(wrk, f"{base}/bench/bare/", 2)  # warm up both paths
            load(wrk, base, 2, script)
            for _ in range(options.rounds):
                nearest = load(wrk, base, options.seconds, script)
                bare = load(wrk, f"{base}/bench/bare/", options.seconds)
                rounds.append({"nearest": nearest, "bare": bare})
        finally:
            server.terminate()
            server.wait(timeout=30)
        ratios = [r["nearest"]["requests_per_second"] / r["bare"]["requests_per_second"]
                  for r in rounds]  # fmt: skip
        runs.append(
            {
                "open_bounties": size,
                "nearest": median_run([r["nearest"] for r in rounds]),
                "bare": median_run([r["bare"] for r in rounds]),
                "throughput_ratio": round(statistics.median(ratios), 3),
                "rounds": rounds,
                "plan": plan,
            }
        )
    sessions, bounty_ids = claim_fixtures(workers=200, bounties=200)
    claim_script = CLAIM_SCRIPT % {
        "sessions": ", ".join(f'"{key}"' for key in sessions),
        "bounties": ", ".join(str(pk) for pk in bounty_ids),
        "csrf": CSRF_SECRET,
    }
    server = start_server(options.workers)
    try:
        base = f"http://127.0.0.1:{PORT}"
        load(wrk, base, 2, claim_script)
        claims = load(wrk, base, options.seconds, claim_script)
        claims_bare = load(wrk, f"{base}/bench/bare/", options.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    claims_made = int(psql("SELECT count(*) FROM bounties_claim", DATABASE).strip())
    used = sorted(
        {name for run in runs for name in GIST_INDEXES if f"using {name} " in run["plan"]}
    )
    results = {
        "benchmark": "api",
        "run_at": run_at,
        "machine": f"{os.cpu_count()} CPU cores",
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
        "gunicorn_workers": options.workers,
        "seconds": options.seconds,
        "rounds": options.rounds,
        "concurrency": 20,
        "index_used": ", ".join(used)
        if all(any(f"using {name} " in run["plan"] for name in GIST_INDEXES) for run in runs)
        else "NO",
        "runs": runs,
        "claims": {
            "endpoint": "POST /bounties/<id>/claim/ (the website's, session and CSRF)",
            "workers": len(sessions),
            "bounties": len(bounty_ids),
            "claims_created": claims_made,
            "claim": claims,
            "bare": claims_bare,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    write_readme(results)
    print(json.dumps({r["open_bounties"]: r["nearest"] | {"ratio": r["throughput_ratio"]}
                      for r in runs}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
