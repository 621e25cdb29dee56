"""Start time and resident memory of a web worker and a verify worker, beside a bare Django + DRF
app on the same box in the same run.

Each subject starts in a fresh interpreter and is measured from just before the interpreter
is launched until its first piece of work is done:

- web worker: import ``market.wsgi`` (Django set up, every app and the admin loaded), load the
  URL conf, serve ``GET /api/v1/bounties/`` with an agent's key through the WSGI application;
- verify worker: what a ``-Q verify`` Celery worker imports at start (the Celery app, Django,
  the task modules), then what its first task loads (the checks, CLIP's code, the vision
  server client, Open-NSFW with its ONNX session, the delivery copy's OpenCV); no CLIP weights;
- bare app: a settings module with DRF and PostgreSQL and nothing else, and one DRF view
  reading 20 rows from PostgreSQL's catalog, written to a temporary directory by this script;
- reference: the web worker with torch, transformers, ONNX Runtime and OpenCV imported first,
  which is what every web process carried before the web tier was made light.

The subjects alternate for ``--rounds`` rounds (in a rotating order); each figure is the median.

    .venv/bin/python bench/startup.py [--rounds 5]

Writes bench/results/startup.json and the startup section of bench/README.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages
    sys.path.insert(0, str(ROOT))

from bench.common import psql  # noqa: E402
from bench.readme import replace_section  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "startup.json"
DATABASE = "sightline_bench_startup"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DATABASE}"
ML_STACK = ("torch", "transformers", "onnxruntime", "cv2")
GOAL_RATIO = 2.0

ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "market.settings",
    "DJANGO_ENV": "development",
    "DEBUG": "false",
    "DATABASE_URL": DATABASE_URL,
    "CELERY_BROKER_URL": "",
    "LOG_LEVEL": "WARNING",
    "PYTHONDONTWRITEBYTECODE": "1",
}

# Each probe ends by printing one JSON line: its RSS after the first piece of work, its peak,
# and the ML modules it holds. STARTUP_T0 is the parent's clock just before the launch.
REPORT = textwrap.dedent(
    """
    import json, sys, time
    def _status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    print(json.dumps({
        "seconds": time.time() - float(__import__("os").environ["STARTUP_T0"]),
        "rss_mb": _status("VmRSS"), "peak_rss_mb": _status("VmHWM"),
        "ml_modules": sorted(m for m in sys.modules if m.split(".")[0] in ML_STACK),
    }))
    """
).replace("ML_STACK", repr(ML_STACK))

SERVE = textwrap.dedent(
    """
    import io
    from wsgiref.util import setup_testing_defaults
    from django.urls import get_resolver
    get_resolver().url_patterns
    def serve(path, headers):
        environ = {"PATH_INFO": path, "HTTP_HOST": "localhost", "wsgi.input": io.BytesIO()}
        environ.update(headers)
        setup_testing_defaults(environ)
        answered = []
        body = b"".join(application(environ, lambda status, _: answered.append(status)))
        if not answered[0].startswith("200"):
            raise SystemExit(f"{path}: {answered[0]} {body[:300]!r}")
    """
)

PROBES = {
    "web": "from market.wsgi import application\n"
    + SERVE
    + "serve('/api/v1/bounties/', {'HTTP_AUTHORIZATION': 'Bearer ' + __import__('os').environ"
    "['BENCH_KEY']})\n",
    "verify": textwrap.dedent(
        """
        import django
        django.setup()
        from market.celery import app
        app.loader.import_default_modules()
        import bounties.tasks, forecasting.tasks, bounties.services.checking
        import verification.model, verification.serving, verification.delivery_copy
        from verification.safety_model import get_classifier
        get_classifier()
        """
    ),
    "bare": "from bare_wsgi import application\n" + SERVE + "serve('/bare/', {})\n",
    "web_with_ml_stack": "import torch, transformers, onnxruntime, cv2\n"
    "from market.wsgi import application\n"
    + SERVE
    + "serve('/api/v1/bounties/', {'HTTP_AUTHORIZATION': 'Bearer ' + __import__('os').environ"
    "['BENCH_KEY']})\n",
}
LABELS = {
    "web": "web worker",
    "verify": "verify worker",
    "bare": "bare Django + DRF app",
    "web_with_ml_stack": "web worker with the ML stack (before)",
}

BARE_APP = {
    "bare_settings.py": f"""
        SECRET_KEY = "bench"
        DEBUG = False
        ALLOWED_HOSTS = ["localhost"]
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
        MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
        ROOT_URLCONF = "bare_urls"
        DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql",
            "NAME": "{DATABASE}", "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"}}}}
        USE_TZ = True
        REST_FRAMEWORK = {{"DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [], "UNAUTHENTICATED_USER": None}}
        """,
    "bare_urls.py": """
        from django.db import connection
        from django.urls import path
        from rest_framework.response import Response
        from rest_framework.views import APIView

        class Rows(APIView):
            def get(self, request):
                with connection.cursor() as cursor:
                    cursor.execute("SELECT oid, relname FROM pg_class ORDER BY oid LIMIT 20")
                    rows = cursor.fetchall()
                return Response([{"id": oid, "name": name} for oid, name in rows])

        urlpatterns = [path("bare/", Rows.as_view())]
        """,
    "bare_wsgi.py": """
        import os
        from django.core.wsgi import get_wsgi_application
        os.environ["DJANGO_SETTINGS_MODULE"] = "bare_settings"
        application = get_wsgi_application()
        """,
}


def manage(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=ENV, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip


def fresh_database() -> str:
    """A migrated database with one agent; its API key."""
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    psql(f"CREATE DATABASE {DATABASE}")
    manage("migrate", "--noinput", "-v0")
    return manage("create_agent", "--owner", "bench@sightline.local", "--name", "bench").strip()


def measure(subject: str, bare_dir: Path, key: str) -> dict[str, Any]:
    env = {**ENV, "BENCH_KEY": key}
    if subject == "bare":
        env["PYTHONPATH"] = str(bare_dir)
        env.pop("DJANGO_SETTINGS_MODULE")
    env["STARTUP_T0"] = repr(time.time())
    done = subprocess.run(
        [sys.executable, "-c", PROBES[subject] + REPORT],
        cwd=bare_dir if subject == "bare" else ROOT, env=env, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"{subject} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "seconds": round(statistics.median(s["seconds"] for s in samples), 3),
        "rss_mb": round(statistics.median(s["rss_mb"] for s in samples), 1),
        "peak_rss_mb": round(statistics.median(s["peak_rss_mb"] for s in samples), 1),
        "ml_modules": sorted({m.split(".")[0] for s in samples for m in s["ml_modules"]}),
        "samples": samples,
    }


def write_readme(results: dict[str, Any]) -> None:
    subjects = results["subjects"]
    bare = subjects["bare"]
    rows = [
        "| process | start s | resident MB | peak MB | start / bare | memory / bare | ML stack |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, subject in subjects.items():
        rows.append(
            f"| {LABELS[name]} | {subject['seconds']:.2f} | {subject['rss_mb']:.0f} | "
            f"{subject['peak_rss_mb']:.0f} | {subject['seconds'] / bare['seconds']:.2f} | "
            f"{subject['rss_mb'] / bare['rss_mb']:.2f} | "
            f"{', '.join(subject['ml_modules']) or 'none'} |"
        )
    goal = results["goal"]
    replace_section(
        "startup",
        [
            "## startup: web and verify workers against a bare app (`bench/startup.py`)",
            "",
            f"Run {results['run_at']} on {results['machine']} (a shared box: load average "
            f"{results['load_average_at_start'][0]} at start, {results['load_average_at_end'][0]}"
            f" at the end). Each process starts in a fresh interpreter; 'start' runs from just "
            "before the launch to the end of its first piece of work, 'resident' is its RSS "
            "then. Web worker: import `market.wsgi`, load the URL conf, serve "
            "`GET /api/v1/bounties/` with an agent's key (PostgreSQL). Verify worker: the Celery "
            "app, Django and the task modules, then the model stage's modules and Open-NSFW's "
            "session (no CLIP weights). Bare app: DRF and PostgreSQL only, one DRF view reading "
            "20 rows. The last row imports torch, transformers, ONNX Runtime and OpenCV into the "
            f"web worker first: what every web process carried before. Median of "
            f"{results['rounds']} rounds, the subjects alternating.",
            f"Goal: a web worker within {GOAL_RATIO:g}x of the bare app's start time and memory.",
            "",
            *rows,
            "",
            f"Web worker against the bare app: start {goal['start_ratio']:.2f}x, memory "
            f"{goal['memory_ratio']:.2f}x ({'met' if goal['met'] else 'not met'}).",
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--readme-only", action="store_true")
    args = parser.parse_args()
    if args.readme_only:
        write_readme(json.loads(RESULTS.read_text()))
        return
    key = fresh_database()
    load_start = list(os.getloadavg())
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in PROBES}
    with tempfile.TemporaryDirectory(prefix="bare-app-") as directory:
        bare_dir = Path(directory)
        for name, source in BARE_APP.items():
            (bare_dir / name).write_text(textwrap.dedent(source))
        names = list(PROBES)
        for round_number in range(args.rounds):
            shift = round_number % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(measure(name, bare_dir, key))
            print(f"round {round_number + 1}/{args.rounds} done", file=sys.stderr)
    subjects = {name: summary(runs) for name, runs in samples.items()}
    web, bare = subjects["web"], subjects["bare"]
    start_ratio, memory_ratio = web["seconds"] / bare["seconds"], web["rss_mb"] / bare["rss_mb"]
    results = {
        "run_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
        "load_average_at_start": [round(v, 2) for v in load_start],
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "rounds": args.rounds,
        "subjects": subjects,
        "goal": {
            "ratio": GOAL_RATIO,
            "start_ratio": round(start_ratio, 3),
            "memory_ratio": round(memory_ratio, 3),
            "met": start_ratio <= GOAL_RATIO and memory_ratio <= GOAL_RATIO,
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    write_readme(results)
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    print(json.dumps({name: {k: s[k] for k in ("seconds", "rss_mb")} for name, s in
                      subjects.items()} | {"goal": results["goal"]}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
