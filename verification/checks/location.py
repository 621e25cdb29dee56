"""Location: was the photo taken inside the bounty's circle?

The EXIF GPS position is the primary evidence. The browser-reported position (with its
accuracy) is a cross-check: a file whose GPS is far from where the worker's phone said it was
has probably been taken elsewhere, or had its EXIF rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from verification.checks import CheckName, CheckResult, failed, passed, skipped
from verification.geo import haversine_m
from verification.image import GeoPoint
from verification.target import Target


@dataclass(frozen=True)
class LocationRules:
    # Used when the browser reports a position without an accuracy.
    default_reported_accuracy_m: float = 100.0
    # A reported position vaguer than this proves nothing (cell-tower or IP geolocation).
    max_reported_accuracy_m: float = 1_000.0


def check_location(
    *,
    gps: GeoPoint | None,
    target: Target,
    reported: GeoPoint | None = None,
    reported_accuracy_m: float | None = None,
    rules: LocationRules | None = None,
) -> CheckResult:
    rules = rules or LocationRules()
    name = CheckName.LOCATION
    gps, reported = _on_earth(gps), _on_earth(reported)
    accuracy_m = (
        rules.default_reported_accuracy_m if reported_accuracy_m is None else reported_accuracy_m
    )
    # NaN, infinite or negative accuracies come only from broken or forged reports.
    usable_report = reported if 0 <= accuracy_m <= rules.max_reported_accuracy_m else None
    if gps is None:
        if target.require_gps:
            return failed(
                name,
                "The photo carries no GPS position. Turn on location for your camera app "
                "and take the photo again.",
                source=None,
            )
        if usable_report is None:
            return skipped(name, "Neither the photo nor your phone gave a usable location.")
        distance_m = haversine_m(usable_report.lat, usable_report.lon, target.lat, target.lon)
        reported_details: dict[str, object] = {
            "source": "reported",
            "distance_m": round(distance_m, 1),
            "reported_accuracy_m": accuracy_m,
        }
        if distance_m > target.radius_m + accuracy_m:
            return failed(
                name,
                f"Your phone placed you {distance_m:.0f} m from the spot; "
                f"you must be within {target.radius_m:.0f} m.",
                **reported_details,
            )
        return passed(
            name,
            "Your phone's location is inside the area.",
            _closeness(distance_m, target),
            **reported_details,
        )

    distance_m = haversine_m(gps.lat, gps.lon, target.lat, target.lon)
    details: dict[str, object] = {
        "source": "exif",
        "distance_m": round(distance_m, 1),
        "gps": {"lat": gps.lat, "lon": gps.lon},
    }
    if distance_m > target.radius_m:
        return failed(
            name,
            f"The photo was taken {distance_m:.0f} m from the spot; "
            f"it must be within {target.radius_m:.0f} m.",
            **details,
        )
    if usable_report is not None:
        apart_m = haversine_m(gps.lat, gps.lon, usable_report.lat, usable_report.lon)
        details |= {"reported_distance_m": round(apart_m, 1), "reported_accuracy_m": accuracy_m}
        if apart_m > accuracy_m + target.radius_m:
            return failed(
                name,
                f"The photo's GPS position is {apart_m:.0f} m from where your phone said "
                "you were when uploading. Take the photo on the spot and upload it there.",
                **details,
            )
    return passed(
        name, "The photo was taken inside the area.", _closeness(distance_m, target), **details
    )


def _on_earth(point: GeoPoint | None) -> GeoPoint | None:
    """The point if it is a coordinate (finite, in range), else None: treated as absent."""
    if point is None or not (-90 <= point.lat <= 90 and -180 <= point.lon <= 180):
        return None
    return point


def _closeness(distance_m: float, target: Target) -> float:
    """1.0 at the centre, 0.0 at the edge of the circle."""
    if target.radius_m <= 0:
        return 1.0
    return round(max(0.0, 1.0 - distance_m / target.radius_m), 3)
