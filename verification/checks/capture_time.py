"""Time: was the photo taken inside the bounty's window, and just before it was uploaded?

The capture instant comes from, in order of preference: DateTimeOriginal with its
OffsetTimeOriginal (an aware time); the GPS fix time (always UTC); DateTimeOriginal without an
offset, read in the target's time zone when the bounty names one. A naive time with no zone to
read it in cannot be placed in a one-hour window, so it counts as no capture time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from verification.checks import CheckName, CheckResult, failed, passed, skipped
from verification.image import PhotoMetadata
from verification.target import Target


@dataclass(frozen=True)
class TimeRules:
    # Phone clocks drift and network time is not instantaneous.
    max_clock_skew: timedelta = timedelta(minutes=5)
    # A photo uploaded long after it was taken was not taken for this bounty "on the spot".
    max_age_at_upload: timedelta = timedelta(hours=2)


def capture_instant(metadata: PhotoMetadata, target: Target) -> tuple[datetime | None, str]:
    """The aware capture time and where it came from ("exif", "gps", "exif+zone" or "none")."""
    captured_at = metadata.captured_at
    if captured_at is not None and metadata.captured_at_has_offset:
        return captured_at, "exif"
    if metadata.gps_time is not None:
        return metadata.gps_time, "gps"
    if captured_at is not None and target.timezone:
        try:
            return captured_at.replace(tzinfo=ZoneInfo(target.timezone)), "exif+zone"
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return None, "naive" if captured_at is not None else "none"


def check_time(
    *,
    metadata: PhotoMetadata,
    target: Target,
    received_at: datetime,
    rules: TimeRules | None = None,
) -> CheckResult:
    rules = rules or TimeRules()
    name = CheckName.TIME
    captured_at, source = capture_instant(metadata, target)
    if captured_at is None:
        reason = (
            "The photo's capture time has no time zone, so it cannot be placed in the window."
            if source == "naive"
            else "The photo carries no capture time."
        )
        if target.require_capture_time:
            return failed(
                name, f"{reason} Take the photo with your phone's camera app.", source=source
            )
        return skipped(name, reason, source=source)

    details = {"captured_at": captured_at.isoformat(), "source": source}
    skew = rules.max_clock_skew
    if captured_at > received_at + skew:
        return failed(name, "The photo's capture time is in the future.", **details)
    if captured_at < target.starts_at - skew or captured_at > target.ends_at + skew:
        return failed(
            name,
            f"The photo was taken at {captured_at:%Y-%m-%d %H:%M %z}, outside the window "
            f"{target.starts_at:%H:%M} to {target.ends_at:%H:%M %z}.",
            **details,
        )
    age = received_at - captured_at
    if age > rules.max_age_at_upload:
        minutes = int(age.total_seconds() // 60)
        limit = int(rules.max_age_at_upload.total_seconds() // 60)
        return failed(
            name,
            f"The photo was taken {minutes} minutes before it was uploaded; "
            f"the limit is {limit} minutes.",
            **details,
        )
    return passed(name, "The photo was taken inside the time window.", **details)
