"""Fixtures for the API's fuzz suites, which serve schemathesis's requests in-process."""

from collections.abc import Iterator

import pytest
from django.core import signals
from django.db import close_old_connections

from market.core.api import APIKeyRateThrottle


@pytest.fixture
def keep_the_test_connection() -> Iterator[None]:
    """Like Django's test client: requests served in-process must not close the connection that
    holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def no_api_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of requests from one key: the per-key budget would answer most of them 429."""
    monkeypatch.setattr(APIKeyRateThrottle, "THROTTLE_RATES", {"api_key": None})
