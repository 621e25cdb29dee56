"""Helpers shared by tests of several apps (test modules import from here, never from each
other): the problem+json check, the link in a sent mail, a `manage.py` run with its own
environment, an HTTP receiver for outgoing webhooks."""

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from django.core import mail

from market.core.problems import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX

ROOT = Path(__file__).resolve().parent.parent

# The environment `check --deploy` passes with: every essential production refuses to start
# without, with harmless values.
PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "p" * 20 + "roduction-secret-key-that-is-long-and-random-0123456789",
    "ALLOWED_HOSTS": "sightline.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/sightline",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_SECRET_KEY": "sk_live_fake_key_for_the_settings_test",
    "STRIPE_WEBHOOK_SECRET": "whsec_fake_secret_for_the_settings_test",
    "RECEIPT_SIGNING_KEY": "bm90LWEtcmVhbC1rZXktanVzdC0zMi1ieXRlcy1sb24=",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "EMAIL_HOST": "smtp.example.com",
}


def assert_problem(response: Any, status: int, code: str) -> dict:
    """``response`` is RFC 9457 problem+json with ``status`` and our ``code``; its body."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == PROBLEM_TYPE_PREFIX + code
    assert body["title"] and body["detail"]
    return body


def emailed_link(message: mail.EmailMessage) -> str:
    """The path of the one site link in a message."""
    return "/" + message.body.split("://", 1)[1].split("/", 1)[1].split()[0]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`manage.py` in a fresh process with ``env`` instead of this process's settings."""
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and k != "DEBUG"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


class Receiver:
    """A tiny HTTP server recording every request; answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": self.rfile.read(length)}
                )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
