"""Fixtures for the verification library: the real shared photos, targets, a tiny CLIP."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import ExifTags, Image

from verification.model import RelevanceScorer, VisionModel
from verification.target import Target

PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "photos"
DSCN0010 = (43.467448, 11.885127)


def photo_bytes(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def with_capture_time(data: bytes, captured_at: datetime, *, offset: bool = True) -> bytes:
    """A copy whose EXIF DateTimeOriginal (and OffsetTimeOriginal) say `captured_at`, as a
    worker (or a forger) could write them."""
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[0x9003] = captured_at.strftime("%Y:%m:%d %H:%M:%S")
    if offset:
        utc_offset = captured_at.utcoffset()
        assert utc_offset is not None
        minutes = int(utc_offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        exif_ifd[0x9011] = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    else:
        exif_ifd.pop(0x9011, None)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps.pop(7, None)  # the stale GPS fix time would otherwise disagree
    gps.pop(29, None)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=92, exif=exif)
    return buffer.getvalue()


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def make_target(now: datetime, **overrides: object) -> Target:
    fields: dict[str, object] = {
        "lat": DSCN0010[0],
        "lon": DSCN0010[1],
        "radius_m": 100.0,
        "starts_at": now - timedelta(minutes=30),
        "ends_at": now + timedelta(minutes=30),
        "require_gps": True,
        "verify_text": "a photo of the street outside the store",
    }
    fields.update(overrides)
    return Target(**fields)  # type: ignore[arg-type]


@pytest.fixture
def target(now: datetime) -> Target:
    return make_target(now)


@pytest.fixture
def fresh_dscn0010(now: datetime) -> bytes:
    """DSCN0010 with its capture time rewritten to five minutes ago (at +02:00, Italy)."""
    captured = (now - timedelta(minutes=5)).astimezone(timezone(timedelta(hours=2)))
    return with_capture_time(photo_bytes("DSCN0010.jpg"), captured)


@pytest.fixture(scope="session")
def tiny_model(tiny_clip_dir: Path) -> VisionModel:
    return VisionModel.from_directory(tiny_clip_dir)


@pytest.fixture
def scorer(tiny_model: VisionModel) -> Iterator[RelevanceScorer]:
    scorer = RelevanceScorer(tiny_model, max_batch_size=8, max_wait_s=0.2)
    yield scorer
    scorer.close()
