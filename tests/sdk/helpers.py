"""Helpers shared by the SDK's live-server tests."""

from datetime import UTC, datetime, timedelta
from typing import Any

from agents_sdk import Sightline
from tests.conftest import Actor


def bounty_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "title": "Queue outside the bakery",
        "instructions": "Across the street.",
        "verify": "a queue of people outside a bakery",
        "lat": 51.5072,
        "lon": -0.1276,
        "radius_m": 150,
        "ends_at": datetime.now(UTC) + timedelta(hours=1),
        "price": 400,
        "currency": "usd",
        "quantity": 2,
    }
    fields.update(overrides)
    return fields


def client(actor: Actor, live_server: Any) -> Sightline:
    return Sightline(api_key=actor.key, base_url=live_server.url, sleep=lambda _: None)
