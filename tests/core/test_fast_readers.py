"""The two hand-made readers kept for speed (bench/api.py) read what the ORM reads: the API key
lookup's join and the nearest search's timestamp loader. A Django or psycopg upgrade that
changed a conversion fails here, not in production."""

from datetime import UTC

import pytest
from django.db.models import Model

from bounties.selectors import bounty_rows_near
from market.accounts.models import APIKey
from market.accounts.selectors import api_key_for
from tests.bounties.helpers import LONDON, funded_bounty
from tests.conftest import Actor

pytestmark = pytest.mark.django_db


def fields_of(instance: Model, model: type[Model]) -> dict[str, object]:
    return {
        field.attname: getattr(instance, field.attname) for field in model._meta.concrete_fields
    }


def test_the_key_lookup_reads_the_key_and_its_agent_as_the_orm_does(owner: Actor) -> None:
    found = api_key_for(owner.key)
    assert found is not None
    expected = APIKey.objects.select_related("agent").get(pk=owner.api_key.pk)
    assert fields_of(found, APIKey) == fields_of(expected, APIKey)
    assert fields_of(found.agent, type(expected.agent)) == fields_of(
        expected.agent, type(expected.agent)
    )
    assert isinstance(found.scopes, list) and found.scopes == expected.scopes
    assert api_key_for(owner.key[:-1] + ("x" if owner.key[-1] != "x" else "y")) is None


def test_the_search_reads_timestamps_as_the_orm_does(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent)
    [row] = bounty_rows_near(lat=LONDON[0], lon=LONDON[1], within_m=1_000)
    bounty.refresh_from_db()
    for name in ("starts_at", "ends_at", "created_at", "updated_at"):
        assert row[name] == getattr(bounty, name), name
        assert row[name].utcoffset().total_seconds() == 0 and row[name].tzinfo == UTC
    assert row["closed_at"] is None and row["metadata"] == bounty.metadata
