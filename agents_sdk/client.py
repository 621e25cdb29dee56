"""``Sightline``: the one client, holding a service per resource."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType

import httpx

from agents_sdk import _http, webhooks
from agents_sdk.resources import (
    BountiesService,
    KeysService,
    MeService,
    QuestionsService,
    SubmissionsService,
    WalletService,
    WebhooksService,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Sightline:
    """A client for the Sightline API.

    >>> sl = Sightline(api_key="sl_...", base_url="https://sightline.example")
    >>> bounty = sl.bounties.create(title=..., price=400, quantity=5, ...)

    ``api_key`` defaults to ``$SIGHTLINE_API_KEY`` and ``base_url`` to ``$SIGHTLINE_BASE_URL``
    (else ``http://127.0.0.1:8000``). ``http_client`` or ``transport`` replace the HTTP layer
    (tests pass an ``httpx.MockTransport``); ``sleep``, ``random`` and ``monotonic`` replace
    the clock and the jitter, so retries and ``bounties.wait`` can be tested without waiting.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        initial_backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        webhook_tolerance: float = webhooks.DEFAULT_TOLERANCE_S,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = _http.default_sleep,
        random: Callable[[], float] = _http.default_random,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self._http = _http.HTTP(
            api_key=api_key if api_key is not None else os.environ.get("SIGHTLINE_API_KEY"),
            base_url=base_url or os.environ.get("SIGHTLINE_BASE_URL") or DEFAULT_BASE_URL,
            timeout=timeout,
            max_retries=max_retries,
            initial_backoff=initial_backoff,
            max_backoff=max_backoff,
            max_retry_after=max_retry_after,
            http_client=http_client,
            transport=transport,
            sleep=sleep,
            random=random,
        )
        self.keys = KeysService(self._http)
        self.submissions = SubmissionsService(self._http, self.keys)
        self.bounties = BountiesService(self._http, self.submissions, monotonic)
        self.wallet = WalletService(self._http)
        self.me = MeService(self._http)
        self.questions = QuestionsService(self._http)
        self.webhooks = WebhooksService(webhook_tolerance)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def close(self) -> None:
        """Close the HTTP connections (not those of an ``http_client`` you passed in)."""
        self._http.close()

    def __enter__(self) -> Sightline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
