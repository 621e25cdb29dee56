"""The request loop: authentication, idempotency keys, retries with jittered backoff.

Every POST carries an ``Idempotency-Key`` (the caller's, or a fresh uuid4) that stays the
same across the retries of that call, so a retried POST can never act twice. Connection
errors, timeouts, 429 (after ``Retry-After``), 409 ``idempotency_request_in_progress``, 409
``not_ready`` (after its ``retry_after``; callers may opt out) and 5xx are retried up to
``max_retries`` times with exponential backoff and full jitter; any other 4xx is raised at
once.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from agents_sdk._version import __version__
from agents_sdk.errors import (
    NO_API_KEY,
    APIConnectionError,
    APIError,
    AuthenticationError,
    NotReady,
    RateLimited,
    SightlineError,
    error_from_response,
)

API_PREFIX = "/api/v1/"
IN_PROGRESS_CODE = "idempotency_request_in_progress"
USER_AGENT = f"sightline-agents-sdk/{__version__} httpx/{httpx.__version__}"

Params = Mapping[str, str | int | float | None]


class HTTP:
    """Sends one API call, retrying it as documented above; shared by every service."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str,
        timeout: float,
        max_retries: int,
        initial_backoff: float,
        max_backoff: float,
        max_retry_after: float,
        http_client: httpx.Client | None,
        transport: httpx.BaseTransport | None,
        sleep: Callable[[float], None],
        random: Callable[[], float],
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/").removesuffix(API_PREFIX.rstrip("/"))
        parts = urlsplit(self.base_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.max_retries = max_retries
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.random = random
        self._owns_client = http_client is None
        self.client = http_client or httpx.Client(timeout=timeout, transport=transport)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def url(self, path: str) -> str:
        """The absolute URL of an API path (``"bounties/"``) or of a link the API returned.

        A link (a page's ``next``) keeps only its path and query: the key is only ever sent
        to the host of ``base_url``, whatever host the server put in its links.
        """
        if "://" in path:
            parts = urlsplit(path)
            return self.origin + parts.path + (f"?{parts.query}" if parts.query else "")
        return self.base_url + API_PREFIX + path.lstrip("/")

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(max_backoff, initial_backoff * 2**attempt))."""
        return self.random() * min(self.max_backoff, self.initial_backoff * 2**attempt)

    def _retry_delay(
        self, error: SightlineError, attempt: int, *, retry_not_ready: bool
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or None when it must not be."""
        if isinstance(error, RateLimited | NotReady):
            if isinstance(error, NotReady) and not retry_not_ready:
                return None
            if error.retry_after is None:
                return self.backoff(attempt)
            # A wait longer than we are willing to block for goes back to the caller.
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        if error.status == 409 and error.code == IN_PROGRESS_CODE:
            return self.backoff(attempt)
        if error.status is not None and error.status >= 500:
            return self.backoff(attempt)
        return None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        retry_not_ready: bool = True,
    ) -> httpx.Response:
        """Send the call, retrying as documented; return the 2xx response or raise.

        ``retry_not_ready=False`` raises ``NotReady`` at once instead of waiting it out."""
        if not self.api_key:
            raise AuthenticationError(
                "No API key: pass api_key=... or set SIGHTLINE_API_KEY.", code=NO_API_KEY
            )
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if method.upper() == "POST":
            # Chosen once, before the loop: every retry of this call carries the same key.
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        query = {name: value for name, value in (params or {}).items() if value is not None}
        url = self.url(path)
        attempt = 0
        while True:
            try:
                response = self.client.request(
                    method, url, params=query or None, json=json, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise APIConnectionError(
                        f"Could not reach {self.base_url} after {attempt + 1} attempt(s): "
                        f"{type(exc).__name__}: {exc}",
                        code="connection_error",
                    ) from exc
                self.sleep(self.backoff(attempt))
                attempt += 1
                continue
            if response.is_success:
                return response
            error = error_from_response(response)
            delay = self._retry_delay(error, attempt, retry_not_ready=retry_not_ready)
            if delay is None or attempt >= self.max_retries:
                raise error
            self.sleep(delay)
            attempt += 1

    def get_json(self, path: str, *, params: Params | None = None) -> dict[str, Any]:
        return _json_object(self.request("GET", path, params=params))

    def post_json(
        self, path: str, *, json: Any = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        return _json_object(self.request("POST", path, json=json, idempotency_key=idempotency_key))

    def paginate(self, path: str, *, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list, following ``next`` until it is null."""
        page = self.get_json(path, params=params)
        while True:
            results = page.get("results")
            if not isinstance(results, list):
                raise APIError("A list response has no 'results' array.", code="bad_response")
            yield from results
            next_url = page.get("next")
            if not next_url:
                return
            page = self.get_json(str(next_url))


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise APIError(
            f"Expected JSON from {response.request.url}, got "
            f"{response.headers.get('Content-Type', 'no content type')}.",
            status=response.status_code,
            code="bad_response",
        ) from exc
    if not isinstance(body, dict):
        raise APIError("Expected a JSON object.", status=response.status_code, code="bad_response")
    return body


def default_random() -> float:
    """Jitter only spreads retries out; it needs no cryptographic randomness."""
    return random.random()  # noqa: S311


default_sleep = time.sleep
