"""Website fixtures: a worker near a bounty (at DSCN0010's GPS position), its requester (owner)
and an outsider; uploads go to a temporary MEDIA_ROOT."""

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from bounties.models import Bounty
from market.accounts.models import User
from tests.bounties.helpers import funded_bounty
from tests.bounties.photos import DSCN0010_GPS
from tests.conftest import Actor
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def worker(db: None) -> User:
    return UserFactory(email="worker@example.com")


@pytest.fixture
def bounty(owner: Actor) -> Bounty:
    lat, lon = DSCN0010_GPS
    return funded_bounty(
        owner.agent, lat=lat, lon=lon, radius_m=100, quantity=2, title="The old town square"
    )


@pytest.fixture
def worker_client(client: Client, worker: User) -> Client:
    client.force_login(worker)
    return client


@pytest.fixture
def owner_client(client: Client, owner: Actor) -> Client:
    client.force_login(owner.user)
    return client


@pytest.fixture
def outsider_client(client: Client, outsider: Actor) -> Client:
    client.force_login(outsider.user)
    return client
