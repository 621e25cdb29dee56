"""Time: was the photo taken inside the bounty's window, and just before it was uploaded?

The capture instant comes from, in order of preference: DateTimeOriginal with its
OffsetTimeOriginal (an aware time); the GPS fix time (always UTC); DateTimeOriginal without an
offset, read in the target's time zone when the bounty names one. A naive time with no zone to
read it in cannot be placed in a one-hour window, so it counts as no capture time; so does a
time that cannot be true (`capture_time_plausible`: before 2000, or more than a day after the
upload), with a reason that says so.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from verification.checks import CheckName, CheckResult, failed, passed, skipped
from verification.image import (
    EARLIEST_PLAUSIBLE_CAPTURE,
    LATEST_PLAUSIBLE_AFTER_UPLOAD,
    PhotoMetadata,
    capture_time_plausible,
)
from verification.target import Target

_NO_CAPTURE_TIME = {
    "naive": "The photo's capture time has no time zone, so it cannot be placed in the window.",
    "implausible": (
        "The photo's capture time ({times}) cannot be right: it is before "
        f"{EARLIEST_PLAUSIBLE_CAPTURE:%Y} or more than "
        f"{LATEST_PLAUSIBLE_AFTER_UPLOAD.total_seconds() / 3600:.0f} hours after the upload, "
        "so the camera's clock is not trusted."
    ),
    "none": "The photo carries no capture time.",
}


@dataclass(frozen=True)
class TimeRules:
    # Phone clocks drift and network time is not instantaneous.
    max_clock_skew: timedelta = timedelta(minutes=5)
    # A photo uploaded long after it was taken was not taken for this bounty "on the spot".
    max_age_at_upload: timedelta = timedelta(hours=2)


def capture_instant(
    metadata: PhotoMetadata, target: Target, *, received_at: datetime
) -> tuple[datetime | None, str]:
    """The aware capture time and where it came from ("exif", "gps" or "exif+zone"); without
    one, why: "naive", "implausible" (only times `capture_time_plausible` rejects) or "none"."""
    captured_at, source, _ = _capture(metadata, target, received_at)
    return captured_at, source


def _capture(
    metadata: PhotoMetadata, target: Target, received_at: datetime
) -> tuple[datetime | None, str, list[str]]:
    """`capture_instant`, with the implausible times it passed over, as the file wrote them."""
    implausible = list(metadata.implausible_times)
    candidates = _candidates(metadata, target)
    for candidate, source in candidates:
        if capture_time_plausible(candidate, uploaded_at=received_at):
            return candidate, source, implausible
        implausible.append(f"{candidate:%Y-%m-%d %H:%M:%S %z}")
    naive = metadata.captured_at
    if metadata.captured_at_has_offset or any(source == "exif+zone" for _, source in candidates):
        naive = None  # judged above
    if naive is not None and not capture_time_plausible(naive, uploaded_at=received_at):
        implausible.append(f"{naive:%Y-%m-%d %H:%M:%S}")
        naive = None
    if implausible:
        return None, "implausible", implausible
    return None, "naive" if naive is not None else "none", implausible


def _candidates(metadata: PhotoMetadata, target: Target) -> list[tuple[datetime, str]]:
    """Aware capture times, best evidence first."""
    captured_at = metadata.captured_at
    candidates = []
    if captured_at is not None and metadata.captured_at_has_offset:
        candidates.append((captured_at, "exif"))
    if metadata.gps_time is not None:
        candidates.append((metadata.gps_time, "gps"))
    if captured_at is not None and not metadata.captured_at_has_offset and target.timezone:
        with suppress(ZoneInfoNotFoundError, ValueError, OSError):  # not a zone we know
            candidates.append((captured_at.replace(tzinfo=ZoneInfo(target.timezone)), "exif+zone"))
    return candidates


def check_time(
    *,
    metadata: PhotoMetadata,
    target: Target,
    received_at: datetime,
    rules: TimeRules | None = None,
) -> CheckResult:
    rules = rules or TimeRules()
    name = CheckName.TIME
    captured_at, source, implausible = _capture(metadata, target, received_at)
    if captured_at is None:
        reason = _NO_CAPTURE_TIME[source]
        if implausible:
            reason = reason.format(times=", ".join(implausible))
        missing: dict[str, object] = {"source": source, "implausible": implausible}
        if target.require_capture_time:
            return failed(name, f"{reason} Take the photo with your phone's camera app.", **missing)
        return skipped(name, reason, **missing)

    details = {"captured_at": captured_at.isoformat(), "source": source}
    skew = rules.max_clock_skew
    # The skew moves the plausible capture time, never the bounty's window: a window reaching
    # year 1 or 9999 cannot overflow here.
    if captured_at - skew > received_at:
        return failed(name, "The photo's capture time is in the future.", **details)
    if captured_at + skew < target.starts_at or captured_at - skew > target.ends_at:
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
