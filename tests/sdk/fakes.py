"""A fake Sightline API behind ``httpx.MockTransport``: canned answers per route, every
request recorded, and a fake clock so retries and polling never really sleep."""

import json
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

import httpx

from agents_sdk import Sightline

BASE_URL = "http://testserver"
API_KEY = "sl_test_abcdefgh_secret"

Answer = httpx.Response | dict[str, Any] | Exception | Callable[[httpx.Request], Any]


def problem(status: int, code: str, detail: str = "", **extra: Any) -> httpx.Response:
    body = {
        "type": f"https://sightline.dev/problems/{code}",
        "title": "Error",
        "status": status,
        "detail": detail or code,
        "code": code,
        **extra,
    }
    headers = {"Content-Type": "application/problem+json"}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def page(results: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    return {"next": next_url, "previous": None, "results": results}


def bounty_json(bounty_id: int = 1, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": bounty_id,
        "status": "open",
        "title": "Queue outside the bakery",
        "instructions": "Photograph the queue from across the street.",
        "verify": "A queue of people outside a bakery",
        "lat": 51.5072,
        "lon": -0.1276,
        "radius_m": 150,
        "starts_at": "2026-05-01T17:00:00Z",
        "ends_at": "2026-05-01T18:00:00Z",
        "price": 400,
        "fee": 40,
        "currency": "usd",
        "quantity": 5,
        "accepted": 0,
        "open_slots": 5,
        "claim_ttl_seconds": 900,
        "require_gps": True,
        "max_per_worker": 1,
        "auto_approve_after_seconds": 86400,
        "blur_faces": True,
        "metadata": {},
        "test_mode": True,
        "created_at": "2026-05-01T16:00:00Z",
        "closed_at": None,
    }
    data.update(fields)
    return data


def submission_json(submission_id: int, bounty_id: int = 1, **fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": submission_id,
        "bounty": bounty_id,
        "status": "accepted",
        "note": "",
        "captured_at": "2026-05-01T17:10:00Z",
        "received_at": "2026-05-01T17:11:00Z",
        "decided_at": "2026-05-01T17:12:00Z",
        "location": {"lat": 51.5073, "lon": -0.1275, "accuracy_m": 8.0},
        "checks": [{"name": "fresh", "status": "passed", "score": None, "reason": ""}],
        "photo_url": f"{BASE_URL}/api/v1/submissions/{submission_id}/photo/",
        "receipt_url": f"{BASE_URL}/api/v1/submissions/{submission_id}/receipt/",
    }
    data.update(fields)
    return data


JPEG = b"\xff\xd8\xff\xe0 a small preview \xff\xd9"


def waiting_json(submission_id: int, **fields: Any) -> dict[str, Any]:
    return submission_json(
        submission_id,
        status="needs_review",
        decided_at=None,
        location=None,
        photo_url=None,
        receipt_url=None,
        review_by="agent",
        review_deadline="2026-05-02T17:11:00Z",
        distance_m=42.0,
        preview_url=f"{BASE_URL}/api/v1/submissions/{submission_id}/preview/",
        checks=[
            {"name": "location", "status": "passed", "score": 0.9, "reason": "42 m away"},
            {"name": "relevance", "status": "skipped", "score": None, "reason": "no model"},
        ],
        reasons=["Relevance was not checked."],
        **fields,
    )


def preview_response() -> httpx.Response:
    return httpx.Response(200, content=JPEG, headers={"Content-Type": "image/jpeg"})


class FakeAPI:
    """Answers by (method, path); a route's answers are used in order, the last one repeats."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], deque[Answer]] = defaultdict(deque)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.now = 1000.0

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, "/api/v1/" + path.lstrip("/"))].extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return problem(404, "not_found", f"no fake route {request.method} {request.url.path}")
        answer = queue.popleft() if len(queue) > 1 else queue[0]
        if callable(answer):
            answer = answer(request)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def client(self, **options: Any) -> Sightline:
        settings: dict[str, Any] = {
            "api_key": API_KEY,
            "base_url": BASE_URL,
            "transport": httpx.MockTransport(self.handle),
            "sleep": self.sleep,
            "random": lambda: 0.5,
            "monotonic": lambda: self.now,
        }
        settings.update(options)
        return Sightline(**settings)

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        path = "/api/v1/" + path.lstrip("/")
        return [r for r in self.requests if r.method == method and r.url.path == path]
