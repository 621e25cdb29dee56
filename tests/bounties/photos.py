"""The real camera photos in ../shared/photos, and fresh copies of them (EXIF time rewritten,
as a forger could too: EXIF is evidence, never proof)."""

import io
from datetime import datetime
from pathlib import Path

from PIL import Image

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "photos"
DSCN0010_GPS = (43.467448, 11.885127)
EXIF_IFD, DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x8769, 0x9003, 0x9011


def photo_bytes(name: str) -> bytes:
    return (PHOTOS / name).read_bytes()


def with_capture_time(name: str, captured_at: datetime) -> bytes:
    """A copy of a photo with its EXIF capture time (and UTC offset) rewritten."""
    image = Image.open(PHOTOS / name)
    exif = image.getexif()
    exif_ifd = exif.get_ifd(EXIF_IFD)
    exif_ifd[DATETIME_ORIGINAL] = captured_at.strftime("%Y:%m:%d %H:%M:%S")
    offset = captured_at.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        exif_ifd[OFFSET_TIME_ORIGINAL] = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()
