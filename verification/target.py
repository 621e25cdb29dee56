"""What a bounty asks of a photo, as plain values (the bounties app builds one from its spec)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Target:
    lat: float
    lon: float
    radius_m: float
    starts_at: datetime
    ends_at: datetime
    require_gps: bool = True
    verify_text: str = ""
    require_capture_time: bool = True
    # IANA zone of the place (e.g. "Europe/Rome"): reads capture times that carry no offset.
    timezone: str | None = None
