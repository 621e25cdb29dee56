"""The nearest-first search (shared by the Find page and the agents' API)."""

import pytest

from bounties import selectors
from bounties.selectors import bounties_near
from tests.bounties.helpers import funded_bounty
from tests.conftest import Actor

pytestmark = pytest.mark.django_db

# ~0 m, ~1.1 km, ~11 km north of the search point, and Paris (~340 km).
PLACES = [("here", 51.5072, -0.1276), ("1km", 51.5172, -0.1276), ("11km", 51.6072, -0.1276),
          ("paris", 48.8566, 2.3522)]  # fmt: skip


@pytest.fixture
def spread(owner: Actor, outsider: Actor) -> None:
    for index, (title, lat, lon) in enumerate(PLACES):
        agent = owner.agent if index % 2 == 0 else outsider.agent
        funded_bounty(agent, title=title, lat=lat, lon=lon)


@pytest.mark.parametrize("few_own", [5_000, 0])  # filter the agent's rows, or walk the index
def test_nearest_first_within_the_distance(
    spread: None, owner: Actor, few_own: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selectors, "FEW_OWN_BOUNTIES", few_own)
    everyone = bounties_near(lat=51.5072, lon=-0.1276, within_m=20_000)
    assert [n.bounty.title for n in everyone] == ["here", "1km", "11km"]
    assert everyone[0].distance_m < 1 and 1_000 < everyone[1].distance_m < 1_200
    own = bounties_near(lat=51.5072, lon=-0.1276, within_m=20_000, agent=owner.agent)
    assert [n.bounty.title for n in own] == ["here", "11km"]
    page = bounties_near(lat=51.5072, lon=-0.1276, within_m=500_000, limit=2, offset=2)
    assert [n.bounty.title for n in page] == ["11km", "paris"]
    assert bounties_near(lat=0.0, lon=0.0, within_m=1_000) == []
    assert bounties_near(lat=51.5072, lon=-0.1276, within_m=20_000, test_mode=True) == []
