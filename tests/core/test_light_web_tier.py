"""The web tier carries no ML stack: a fresh interpreter imports the WSGI application, serves the
main pages and API calls through it, and has imported none of torch, transformers, ONNX Runtime
or OpenCV (they load only in the workers that run models, and in the vision server)."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from forecasting.models import Question
from tests.bounties.helpers import funded_bounty
from tests.conftest import _database_url, make_actor
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
ML_STACK = ("torch", "transformers", "onnxruntime", "cv2")

# Runs in the fresh interpreter: each request goes through `market.wsgi.application` itself.
SERVE = """
import io, json, sys
from wsgiref.util import setup_testing_defaults

from market.wsgi import application

def serve(path, headers):
    environ = {"PATH_INFO": path, "HTTP_HOST": "testserver", "wsgi.input": io.BytesIO()}
    environ.update(headers)
    setup_testing_defaults(environ)
    answered = []
    body = b"".join(application(environ, lambda status, _: answered.append(status)))
    return int(answered[0].split()[0]), body.decode(errors="replace")[:300]

requests = json.loads(sys.argv[1])
served = {path: serve(path, headers) for path, headers in requests}
print(json.dumps({
    "served": served,
    "loaded": sorted(name for name in sys.modules if name.split(".")[0] in {ml_stack}),
}))
"""


@pytest.mark.django_db(transaction=True)
def test_it_serves_pages_and_api_calls_without_importing_the_ml_stack() -> None:
    owner = make_actor()
    funded_bounty(owner.agent)
    now = timezone.now()
    question = Question.objects.create(
        agent=owner.agent, title="Will the queue exceed 10 people?", resolution_criteria="Count.",
        closes_at=now + timedelta(hours=1), resolves_at=now + timedelta(hours=2),
    )  # fmt: skip
    browser = Client()
    browser.force_login(UserFactory())
    agent = {"HTTP_AUTHORIZATION": f"Bearer {owner.key}"}
    session = browser.cookies[settings.SESSION_COOKIE_NAME].value
    worker = {"HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={session}"}
    requests = [
        ("/", {}),
        ("/accounts/login/", {}),
        ("/find/", worker),
        ("/submissions/", worker),
        ("/admin/login/", {}),
        ("/api/v1/health/", {}),
        ("/api/v1/bounties/", agent),
        ("/api/v1/questions/", agent),
        (f"/api/v1/questions/{question.pk}/forecast", agent),
    ]
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "market.settings",
        "DJANGO_ENV": "test",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",  # as in production: tasks go to the workers
    }
    result = subprocess.run(
        [sys.executable, "-c", SERVE.replace("{ml_stack}", repr(set(ML_STACK))),
         json.dumps(requests)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])

    statuses = {path: status for path, (status, _) in report["served"].items()}
    assert statuses == {path: 200 for path, _ in requests}, report["served"]
    forecast = json.loads(report["served"][f"/api/v1/questions/{question.pk}/forecast"][1])
    assert forecast["pending"] is True and forecast["model_version"] == "base-rate-v1"
    assert report["loaded"] == []
