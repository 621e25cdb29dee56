"""Metadata inside the file is input too: whatever its EXIF says, reading it and checking it
give values the database can hold and verdicts with reasons, never an exception."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import count_case, fuzz_examples
from tests.verification.conftest import DSCN0010, make_target
from tests.verification.hostile_exif import (
    DATETIME_DIGITIZED,
    DATETIME_ORIGINAL,
    DOUBLE,
    GPS_DATE,
    GPS_LAT,
    GPS_LAT_REF,
    GPS_LON,
    GPS_LON_REF,
    GPS_TIME,
    MAKE,
    MODEL,
    OFFSET_TIME_ORIGINAL,
    Field,
    exif_block,
    exif_time,
    hostile_exif_blocks,
    jpeg_with_exif,
    numbers,
    rationals,
    text,
    utc_offset,
)
from verification.checks import Status
from verification.checks.capture_time import check_time
from verification.checks.location import check_location
from verification.image import (
    EARLIEST_PLAUSIBLE_CAPTURE,
    LATEST_PLAUSIBLE_AFTER_UPLOAD,
    GeoPoint,
    PhotoMetadata,
    load_image,
)
from verification.pipeline import run_fast_checks

# Pillow warns about what it skips in a damaged EXIF block: expected here.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning"),
    pytest.mark.filterwarnings("ignore:Possibly corrupt EXIF:UserWarning"),
    pytest.mark.filterwarnings("ignore:Metadata Warning:UserWarning"),
    pytest.mark.filterwarnings("ignore:Tag data larger than file:UserWarning"),
]
FROM_KIRIBATI_OF_9999 = exif_block(
    exif=[text(DATETIME_ORIGINAL, "9999:12:31 23:59:59"), text(OFFSET_TIME_ORIGINAL, "-14:00")]
)


def metadata_of(block: bytes) -> PhotoMetadata:
    return load_image(jpeg_with_exif(block)).metadata


def captured(moment: datetime, offset_minutes: int = 0) -> bytes:
    local = moment.astimezone(UTC) + timedelta(minutes=offset_minutes)
    return exif_block(
        exif=[
            text(DATETIME_ORIGINAL, exif_time(local)),
            text(OFFSET_TIME_ORIGINAL, utc_offset(offset_minutes)),
        ]
    )


def storable(moment: datetime | None) -> bool:
    """What PostgreSQL and psycopg hold: an instant whose UTC year is 1 to 9999."""
    if moment is None:
        return True
    aware = moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
    try:
        return 1 <= aware.astimezone(UTC).year <= 9999
    except OverflowError:
        return False


def test_it_ignores_a_capture_time_that_would_be_year_10000_in_utc(now):
    metadata = metadata_of(FROM_KIRIBATI_OF_9999)
    assert metadata.captured_at is None
    assert metadata.implausible_times == ("9999:12:31 23:59:59 -14:00",)

    result = check_time(metadata=metadata, target=make_target(now), received_at=now)
    assert result.status is Status.FAILED
    assert "9999:12:31 23:59:59 -14:00" in result.reason
    assert "cannot be right" in result.reason
    assert result.details["source"] == "implausible"

    pipeline = run_fast_checks(
        target=make_target(now, require_gps=False),
        received_at=now,
        data=jpeg_with_exif(FROM_KIRIBATI_OF_9999),
    )
    assert pipeline.facts is not None
    assert pipeline.facts.captured_at is None
    assert pipeline.facts.to_dict()["captured_at"] is None
    assert pipeline.result("time").status is Status.FAILED


def test_it_ignores_a_capture_time_before_2000_with_a_reason(now):
    metadata = metadata_of(captured(datetime(1999, 12, 31, 23, 0, tzinfo=UTC)))
    assert metadata.captured_at is None
    result = check_time(metadata=metadata, target=make_target(now), received_at=now)
    assert result.status is Status.FAILED
    assert "1999:12:31 23:00:00 +00:00" in result.reason
    assert "before 2000" in result.reason


def test_it_ignores_a_capture_time_more_than_a_day_after_the_upload(now):
    """Plausible when the file was read, but verification runs days after the upload (a
    sweeper's retry): judged against the upload, not the clock."""
    received_at = now - timedelta(days=3)
    data = jpeg_with_exif(captured(now - timedelta(hours=1), offset_minutes=120))
    target = make_target(received_at, require_gps=False)
    pipeline = run_fast_checks(target=target, received_at=received_at, data=data)
    assert pipeline.facts is not None
    assert pipeline.facts.captured_at is None
    time = pipeline.result("time")
    assert time.status is Status.FAILED
    assert "more than 24 hours after the upload" in time.reason


def test_a_capture_time_just_inside_the_range_is_kept(now):
    metadata = metadata_of(captured(EARLIEST_PLAUSIBLE_CAPTURE, offset_minutes=-14 * 60))
    assert metadata.captured_at == EARLIEST_PLAUSIBLE_CAPTURE
    assert metadata.captured_at_has_offset
    assert metadata.implausible_times == ()


@pytest.mark.parametrize("offset", ["+99:99", "+00:99", "-14:01", "+15:00", "\u0661\u0662:00"])
def test_an_offset_no_zone_has_is_no_offset(offset):
    when = exif_time(datetime.now(UTC) - timedelta(minutes=5))
    metadata = metadata_of(
        exif_block(exif=[text(DATETIME_ORIGINAL, when), text(OFFSET_TIME_ORIGINAL, offset)])
    )
    assert metadata.captured_at is not None
    assert not metadata.captured_at_has_offset
    assert metadata.captured_at.utcoffset() is None


def test_it_falls_back_to_the_digitized_time_when_the_original_cannot_be_right():
    when = datetime.now(UTC) - timedelta(minutes=5)
    metadata = metadata_of(
        exif_block(
            exif=[
                text(DATETIME_ORIGINAL, "1970:01:01 00:00:00"),
                text(DATETIME_DIGITIZED, exif_time(when)),
            ]
        )
    )
    assert metadata.captured_at == when.replace(microsecond=0, tzinfo=None)
    assert metadata.implausible_times == ("1970:01:01 00:00:00",)


@pytest.mark.parametrize(
    "lat",
    [
        rationals(GPS_LAT, [(43, 0), (28, 1), (2, 1)]),  # a zero denominator: NaN
        rationals(GPS_LAT, [(0, 0), (0, 0), (0, 0)]),
        rationals(GPS_LAT, [(2**32 - 1, 1), (0, 1), (0, 1)]),  # far past the pole
        rationals(GPS_LAT, [(-43, 1), (28, 1), (2, 1)], signed=True),
        rationals(GPS_LAT, [(43, 1), (28, 1)]),  # two parts
        numbers(GPS_LAT, DOUBLE, [math.inf, 0.0, 0.0]),
        numbers(GPS_LAT, DOUBLE, [math.nan, 0.0, 0.0]),
        text(GPS_LAT, "43.4674"),  # a string where numbers belong
        Field(GPS_LAT, 7, b"\x00\x01\x02\x03\x04\x05\x06\x07\x08"),
        Field(GPS_LAT, 5, b"\x00\x00\x00\x2b\x00\x00\x00\x01", count=2**31),  # a count that lies
    ],
)
def test_gps_that_is_not_a_coordinate_is_no_gps(lat):
    metadata = metadata_of(
        exif_block(
            gps=[
                text(GPS_LAT_REF, "N"),
                lat,
                text(GPS_LON_REF, "E"),
                rationals(GPS_LON, [(11, 1), (53, 1), (6, 1)]),
            ]
        )
    )
    assert metadata.gps is None


def test_it_reads_a_sound_gps_position():
    metadata = metadata_of(
        exif_block(
            gps=[
                text(GPS_LAT_REF, "S"),
                rationals(GPS_LAT, [(43, 1), (30, 1), (0, 1)]),
                text(GPS_LON_REF, "W"),
                rationals(GPS_LON, [(11, 1), (15, 1), (0, 1)]),
            ]
        )
    )
    assert metadata.gps == GeoPoint(lat=-43.5, lon=-11.25)


@pytest.mark.parametrize(
    ("date", "time", "reason"),
    [
        ("9999:12:31", [(23, 1), (59, 1), (59, 1)], "GPS 9999-12-31 23:59:59 UTC"),
        ("1980:01:06", [(0, 1), (0, 1), (0, 1)], "GPS 1980-01-06 00:00:00 UTC"),
        ("2024:05:01", [(25, 1), (0, 1), (0, 1)], None),  # hour 25
        ("2024:05:01", [(12, 0), (0, 1), (0, 1)], None),  # a zero denominator
        ("2024:05:01", [(2**32 - 1, 1), (0, 1), (0, 1)], None),
    ],
)
def test_a_gps_time_that_cannot_be_right_is_no_gps_time(date, time, reason):
    metadata = metadata_of(exif_block(gps=[text(GPS_DATE, date), rationals(GPS_TIME, time)]))
    assert metadata.gps_time is None
    assert metadata.implausible_times == ((reason,) if reason else ())


def test_camera_names_are_bounded_storable_text():
    metadata = metadata_of(
        exif_block(ifd0=[text(MAKE, "Nik\x00on" + "n" * 5_000), text(MODEL, b"\xff\xfe\x80")])
    )
    assert metadata.camera_make is not None
    assert metadata.camera_make.startswith("Nikon")
    assert len(metadata.camera_make) == 200
    assert metadata.camera_model is not None
    metadata.camera_model.encode("utf-8")  # no lone surrogates


def test_a_bounty_window_reaching_year_1_or_9999_does_not_break_the_time_check(now):
    data = jpeg_with_exif(captured(now - timedelta(minutes=5), offset_minutes=60))
    target = make_target(
        now,
        starts_at=datetime(1, 1, 1, tzinfo=UTC),
        ends_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
    )
    result = check_time(metadata=load_image(data).metadata, target=target, received_at=now)
    assert result.status is Status.PASSED


@pytest.mark.parametrize("accuracy_m", [math.nan, math.inf, -math.inf, -5.0])
def test_a_reported_accuracy_that_is_not_a_distance_makes_the_report_unusable(now, accuracy_m):
    target = make_target(now, require_gps=False)
    far = GeoPoint(DSCN0010[0] + 1, DSCN0010[1])  # 111 km away: would fail if it counted
    result = check_location(gps=None, target=target, reported=far, reported_accuracy_m=accuracy_m)
    assert result.status is Status.SKIPPED


def test_a_gps_point_off_the_earth_is_treated_as_absent(now):
    target = make_target(now)
    result = check_location(gps=GeoPoint(math.nan, math.inf), target=target)
    assert result.status is Status.FAILED
    assert "no GPS position" in result.reason


@pytest.mark.fuzz
@settings(
    max_examples=fuzz_examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(block=hostile_exif_blocks(near=DSCN0010), minutes_late=st.integers(-60, 3 * 24 * 60))
def test_any_exif_gives_storable_metadata_and_a_verdict_with_reasons(block, minutes_late):
    count_case("exif metadata")
    now = datetime.now(UTC)
    received_at = now - timedelta(minutes=minutes_late)
    data = jpeg_with_exif(block)
    pipeline = run_fast_checks(target=make_target(received_at), received_at=received_at, data=data)

    assert all(result.reason for result in pipeline.results)
    assert {result.name for result in pipeline.results} == {
        "integrity", "location", "time", "duplicates",
    }  # fmt: skip
    if pipeline.image is None:
        return  # refused as an image: integrity failed, and said why
    metadata = pipeline.image.metadata
    latest = now + LATEST_PLAUSIBLE_AFTER_UPLOAD
    for moment in (metadata.captured_at, metadata.gps_time):
        assert storable(moment)
        if moment is not None:
            aware = moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
            assert EARLIEST_PLAUSIBLE_CAPTURE <= aware <= latest
    if metadata.gps is not None:
        assert math.isfinite(metadata.gps.lat) and -90 <= metadata.gps.lat <= 90
        assert math.isfinite(metadata.gps.lon) and -180 <= metadata.gps.lon <= 180
    for name in (metadata.camera_make, metadata.camera_model, metadata.software):
        if name is not None:
            assert "\x00" not in name and len(name) <= 200
            name.encode("utf-8")
    assert pipeline.facts is not None
    stored = pipeline.facts.captured_at
    assert storable(stored)
    if stored is not None:
        aware = stored if stored.utcoffset() is not None else stored.replace(tzinfo=UTC)
        assert EARLIEST_PLAUSIBLE_CAPTURE <= aware <= received_at + LATEST_PLAUSIBLE_AFTER_UPLOAD
