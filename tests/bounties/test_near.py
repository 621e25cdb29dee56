"""The nearest-first search (shared by the Find page and the agents' API)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from bounties.models import CLAIM_UPLOAD_GRACE, Bounty, Claim
from bounties.selectors import bounties_near, bounty_rows_near, with_open_slots
from bounties.services import claim_create
from tests.bounties.helpers import funded_bounty, submit
from tests.conftest import Actor
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# ~0 m, ~1.1 km, ~11 km north of the search point, and Paris (~340 km).
PLACES = [("here", 51.5072, -0.1276), ("1km", 51.5172, -0.1276), ("11km", 51.6072, -0.1276),
          ("paris", 48.8566, 2.3522)]  # fmt: skip


@pytest.fixture
def spread(owner: Actor, outsider: Actor) -> None:
    for index, (title, lat, lon) in enumerate(PLACES):
        agent = owner.agent if index % 2 == 0 else outsider.agent
        funded_bounty(agent, title=title, lat=lat, lon=lon)


def test_nearest_first_within_the_distance(spread: None, owner: Actor) -> None:
    everyone = bounties_near(lat=51.5072, lon=-0.1276, within_m=20_000)
    assert [n.bounty.title for n in everyone] == ["here", "1km", "11km"]
    assert everyone[0].distance_m < 1 and 1_000 < everyone[1].distance_m < 1_200
    own = bounties_near(lat=51.5072, lon=-0.1276, within_m=20_000, agent=owner.agent)
    assert [n.bounty.title for n in own] == ["here", "11km"]
    page = bounties_near(lat=51.5072, lon=-0.1276, within_m=500_000, limit=2, offset=2)
    assert [n.bounty.title for n in page] == ["11km", "paris"]
    assert bounties_near(lat=0.0, lon=0.0, within_m=1_000) == []
    assert bounties_near(lat=51.5072, lon=-0.1276, within_m=20_000, test_mode=True) == []


def test_it_counts_open_slots_in_the_search(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=4, metadata={"store": 17})
    claim_create(bounty=bounty, worker=UserFactory())
    lapsed = claim_create(bounty=bounty, worker=UserFactory())
    Claim.objects.filter(pk=lapsed.pk).update(
        expires_at=timezone.now() - CLAIM_UPLOAD_GRACE - timedelta(seconds=1)
    )
    submit(bounty, UserFactory())
    [row] = bounty_rows_near(lat=bounty.lat, lon=bounty.lon, within_m=100, agent=owner.agent)
    [near] = bounties_near(lat=bounty.lat, lon=bounty.lon, within_m=100, agent=owner.agent)
    # 4 - one live claim - one submission awaiting a verdict; the lapsed claim holds nothing
    assert row["open_slots"] == near.bounty.open_slots == 2  # type: ignore[attr-defined]
    [expected] = with_open_slots([bounty])
    assert row["open_slots"] == expected.open_slots  # type: ignore[attr-defined]
    assert row["metadata"] == near.bounty.metadata == {"store": 17}
    assert row["id"] == near.bounty.pk == bounty.pk and row["distance_m"] < 1


def test_it_reads_timestamps_as_the_orm_does(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent)
    start = timezone.now().replace(microsecond=0)
    for moment in (start, start.replace(microsecond=100_000), start.replace(microsecond=123_456)):
        Bounty.objects.filter(pk=bounty.pk).update(created_at=moment)
        [row] = bounty_rows_near(lat=bounty.lat, lon=bounty.lon, within_m=100)
        stored = Bounty.objects.get(pk=bounty.pk)
        for name in ("starts_at", "ends_at", "created_at", "updated_at", "closed_at"):
            assert row[name] == getattr(stored, name), name
        assert row["created_at"] == moment and row["created_at"].tzinfo == stored.created_at.tzinfo
