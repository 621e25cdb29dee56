from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tests.verification.conftest import DSCN0010, make_target, photo_bytes, with_capture_time
from verification.checks import Status
from verification.checks.capture_time import TimeRules, check_time
from verification.checks.location import check_location
from verification.image import GeoPoint, PhotoMetadata, load_image

ROME = timezone(timedelta(hours=2))


def gps_of(name: str) -> GeoPoint | None:
    return load_image(photo_bytes(name)).metadata.gps


def test_it_passes_a_photo_taken_inside_the_radius(now):
    result = check_location(gps=gps_of("DSCN0010.jpg"), target=make_target(now))
    assert result.status is Status.PASSED
    assert result.details["source"] == "exif"
    assert result.details["distance_m"] < 1


def test_it_fails_a_photo_taken_outside_the_radius(now):
    # DSCN0021 was taken ~60 m away: outside a 30 m circle around DSCN0010's spot.
    result = check_location(gps=gps_of("DSCN0021.jpg"), target=make_target(now, radius_m=30))
    assert result.status is Status.FAILED
    assert "must be within 30 m" in result.reason
    assert 50 < result.details["distance_m"] < 80


def test_it_fails_a_photo_without_gps_when_the_bounty_requires_it(now):
    result = check_location(gps=gps_of("Canon_40D.jpg"), target=make_target(now))
    assert result.status is Status.FAILED
    assert "no GPS position" in result.reason


def test_without_gps_it_falls_back_to_the_reported_location(now):
    target = make_target(now, require_gps=False)
    near = GeoPoint(DSCN0010[0] + 0.0003, DSCN0010[1])  # ~33 m north
    far = GeoPoint(DSCN0010[0] + 0.01, DSCN0010[1])  # ~1.1 km north
    passed = check_location(gps=None, target=target, reported=near, reported_accuracy_m=20)
    assert passed.status is Status.PASSED
    assert passed.details["source"] == "reported"
    failed = check_location(gps=None, target=target, reported=far, reported_accuracy_m=20)
    assert failed.status is Status.FAILED
    assert check_location(gps=None, target=target).status is Status.SKIPPED


def test_it_fails_when_exif_gps_and_the_reported_location_disagree(now):
    target = make_target(now)
    elsewhere = GeoPoint(45.4642, 9.19)  # Milan
    result = check_location(
        gps=gps_of("DSCN0010.jpg"), target=target, reported=elsewhere, reported_accuracy_m=30
    )
    assert result.status is Status.FAILED
    assert "from where your phone said you were" in result.reason
    nearby = GeoPoint(DSCN0010[0] + 0.0005, DSCN0010[1])  # 56 m: within accuracy + radius
    ok = check_location(
        gps=gps_of("DSCN0010.jpg"), target=target, reported=nearby, reported_accuracy_m=30
    )
    assert ok.status is Status.PASSED


def test_a_fresh_copy_with_a_rewritten_capture_time_passes(now, fresh_dscn0010):
    metadata = load_image(fresh_dscn0010).metadata
    assert metadata.captured_at_has_offset
    result = check_time(metadata=metadata, target=make_target(now), received_at=now)
    assert result.status is Status.PASSED, result.reason
    assert result.details["source"] == "exif"


def test_the_original_old_capture_time_fails(now):
    metadata = load_image(photo_bytes("HMD_Nokia_8.3_5G.jpg")).metadata
    result = check_time(metadata=metadata, target=make_target(now), received_at=now)
    assert result.status is Status.FAILED
    assert "outside the window" in result.reason


def test_a_capture_time_in_the_future_fails(now):
    metadata = PhotoMetadata(captured_at=now + timedelta(minutes=20), captured_at_has_offset=True)
    result = check_time(metadata=metadata, target=make_target(now), received_at=now)
    assert result.status is Status.FAILED
    assert "future" in result.reason
    skewed = PhotoMetadata(captured_at=now + timedelta(minutes=2), captured_at_has_offset=True)
    assert check_time(metadata=skewed, target=make_target(now), received_at=now).passed


def test_a_photo_uploaded_long_after_it_was_taken_fails(now):
    target = make_target(now, starts_at=now - timedelta(hours=5))
    metadata = PhotoMetadata(captured_at=now - timedelta(hours=3), captured_at_has_offset=True)
    result = check_time(metadata=metadata, target=target, received_at=now)
    assert result.status is Status.FAILED
    assert "before it was uploaded" in result.reason
    lenient = TimeRules(max_age_at_upload=timedelta(hours=4))
    assert check_time(metadata=metadata, target=target, received_at=now, rules=lenient).passed


@pytest.mark.parametrize(("required", "status"), [(True, Status.FAILED), (False, Status.SKIPPED)])
def test_no_capture_time_fails_or_skips_per_the_spec(now, required, status):
    target = make_target(now, require_capture_time=required)
    metadata = load_image(photo_bytes("landscape_6.jpg")).metadata
    result = check_time(metadata=metadata, target=target, received_at=now)
    assert result.status is status
    assert "no capture time" in result.reason


def test_a_naive_capture_time_is_read_in_the_target_zone(now):
    local = now.astimezone(ZoneInfo("Europe/Rome")) - timedelta(minutes=10)
    data = with_capture_time(photo_bytes("DSCN0010.jpg"), local, offset=False)
    metadata = load_image(data).metadata
    assert metadata.captured_at is not None
    assert metadata.captured_at.tzinfo is None
    without_zone = check_time(metadata=metadata, target=make_target(now), received_at=now)
    assert without_zone.status is Status.FAILED
    assert "no time zone" in without_zone.reason
    in_rome = make_target(now, timezone="Europe/Rome")
    result = check_time(metadata=metadata, target=in_rome, received_at=now)
    assert result.status is Status.PASSED, result.reason
    assert result.details["source"] == "exif+zone"


def test_the_capture_time_offset_is_respected(now):
    # 10 minutes ago in Rome, written with its offset: inside a window given in UTC.
    captured = datetime.fromtimestamp(now.timestamp() - 600, tz=ROME)
    metadata = PhotoMetadata(captured_at=captured, captured_at_has_offset=True)
    assert check_time(metadata=metadata, target=make_target(now), received_at=now).passed
