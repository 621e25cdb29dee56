"""Fixtures for the bounties tests."""

from collections.abc import Iterator

import pytest

from tests.helpers import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An agent's webhook endpoint on 127.0.0.1, recording what it receives."""
    server = Receiver()
    yield server
    server.server.shutdown()
