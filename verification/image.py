"""Loading untrusted uploads safely, reading their EXIF, and making clean copies for delivery.

Nothing here trusts the file name or the declared content type: the type comes from the bytes,
every limit is checked before the pixels are decoded, and every failure becomes an
`ImageRefused` with a sentence a worker can read.
"""

from __future__ import annotations

import io
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageOps

pillow_heif.register_heif_opener()

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000
# Pillow warns above this and refuses above twice this; we refuse above it ourselves (see
# `load_image`) before decoding, so the global only backs us up for code paths we do not own.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

MIME_JPEG = "image/jpeg"
MIME_PNG = "image/png"
MIME_WEBP = "image/webp"
MIME_HEIF = "image/heif"
_PIL_FORMATS = {MIME_JPEG: "JPEG", MIME_PNG: "PNG", MIME_WEBP: "WEBP", MIME_HEIF: "HEIF"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}

_TAG_ORIENTATION = 0x0112
_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_SOFTWARE = 0x0131
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_TIME_ORIGINAL = 0x9011
_TAG_OFFSET_TIME_DIGITIZED = 0x9012
_EXIF_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"
_OFFSET_PATTERN = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class ImageRefused(Exception):
    """An upload that cannot be accepted as an image; `reason` is shown to the worker."""

    def __init__(self, code: str, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = MAX_PIXELS


@dataclass(frozen=True)
class GeoPoint:
    lat: float
    lon: float


@dataclass(frozen=True)
class PhotoMetadata:
    """What the file says about itself. Evidence, never proof: EXIF is easy to rewrite."""

    gps: GeoPoint | None = None
    captured_at: datetime | None = None
    # False when the camera wrote no OffsetTimeOriginal: `captured_at` is then naive local time.
    captured_at_has_offset: bool = False
    # GPS receivers stamp their fix in UTC; present on many phones even without a capture time.
    gps_time: datetime | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    software: str | None = None


@dataclass
class LoadedImage:
    """A fully decoded upload, EXIF orientation applied. `width` and `height` are the photo's
    as displayed; `image` may be smaller when it was decoded at a reduced scale (`min_side`)."""

    image: Image.Image
    mime_type: str
    byte_size: int
    orientation: int
    metadata: PhotoMetadata = field(default_factory=PhotoMetadata)
    size: tuple[int, int] | None = None  # as displayed; None: the image's own size

    @property
    def width(self) -> int:
        return (self.size or self.image.size)[0]

    @property
    def height(self) -> int:
        return (self.size or self.image.size)[1]


def sniff_mime_type(data: bytes) -> str | None:
    """The image type from the magic bytes, or None for anything we do not accept."""
    if data.startswith(b"\xff\xd8\xff"):
        return MIME_JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return MIME_PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return MIME_WEBP
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return MIME_HEIF
    return None


def load_image(
    data: bytes, *, limits: ImageLimits | None = None, min_side: int | None = None
) -> LoadedImage:
    """Decode an upload fully, or raise `ImageRefused` with a readable reason.

    Order matters: size and type first (cheap), then the header's pixel count (before any
    decoding, so a decompression bomb never allocates), then the full decode.

    With `min_side`, a JPEG is decoded at the smallest of libjpeg's DCT scales (1/2, 1/4, 1/8)
    that keeps its shorter side at least that long. Every coefficient of the file is still
    entropy-decoded (a truncated or damaged file fails as before); only the inverse DCT works
    at the reduced size: a 9-megapixel photo decodes in ~26 ms instead of ~60, and everything
    after works on a quarter of the pixels. The checks use this; delivery decodes in full.
    """
    limits = limits or ImageLimits()
    if len(data) == 0:
        raise ImageRefused("empty", "The upload is empty.")
    if len(data) > limits.max_bytes:
        raise ImageRefused(
            "too_large",
            f"The file is {len(data) / 1e6:.1f} MB; the limit is {limits.max_bytes / 1e6:.0f} MB.",
            byte_size=len(data),
        )
    mime_type = sniff_mime_type(data)
    if mime_type is None:
        raise ImageRefused(
            "unknown_type",
            "The file is not a JPEG, PNG, WebP or HEIF photo.",
            magic=data[:12].hex(),
        )
    if mime_type == MIME_JPEG:
        problem = jpeg_structure_problem(data)
        if problem:
            raise ImageRefused("corrupt", f"The JPEG file is damaged: {problem}.")
    try:
        image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[mime_type]])
    except Image.DecompressionBombError as exc:
        raise ImageRefused("too_many_pixels", "The image has too many pixels.") from exc
    except Exception as exc:  # any parser failure on hostile input is a refusal, not a crash
        raise ImageRefused("unreadable", "The file could not be read as an image.") from exc
    pixels = image.width * image.height
    if pixels > limits.max_pixels:
        raise ImageRefused(
            "too_many_pixels",
            f"The image has {pixels / 1e6:.0f} megapixels; the limit is "
            f"{limits.max_pixels / 1e6:.0f}.",
            width=image.width,
            height=image.height,
        )
    size = image.size
    if min_side is not None and mime_type == MIME_JPEG and min(size) > 2 * min_side:
        scale = min_side / min(size)
        image.draft("RGB", (math.ceil(size[0] * scale), math.ceil(size[1] * scale)))
    try:
        image.load()
        exif = image.getexif()
        metadata = read_metadata(exif, xmp=image.info.get("xmp"))
        orientation = _int_or(exif.get(_TAG_ORIENTATION), 1)
        oriented = ImageOps.exif_transpose(image)
        rgb = oriented.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageRefused("too_many_pixels", "The image has too many pixels.") from exc
    except Exception as exc:
        raise ImageRefused(
            "corrupt", "The image data is damaged and could not be decoded."
        ) from exc
    return LoadedImage(
        image=rgb,
        mime_type=mime_type,
        byte_size=len(data),
        orientation=orientation,
        metadata=metadata,
        # The photo's own size (even when decoded at a reduced scale), turned as `rgb` was.
        size=size if rgb.size == image.size else size[::-1],
    )


# --- JPEG structure ---------------------------------------------------------------------------
# libjpeg only warns about damaged entropy-coded data and fills the rest with grey, so Pillow
# decodes a damaged file without complaint. A marker-level walk catches what it lets through:
# invalid markers inside the scan data, missing EOI, and restart-marker counts that do not add up.
_SCAN_MARKER = re.compile(rb"\xff(?!\x00)(?!\xff)(.)", re.DOTALL)
_VALID_AFTER_SCAN = (
    set(range(0xC0, 0xD0)) - {0xC8} | {0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0xFE}
) | set(range(0xE0, 0xF0))
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def jpeg_structure_problem(data: bytes) -> str | None:
    """A short description of what is structurally wrong with a JPEG, or None if it is sound."""
    position = 2
    frame: tuple[int, int, list[tuple[int, int, int]]] | None = None  # height, width, components
    restart_interval = 0
    progressive = False
    while True:
        if position + 2 > len(data):
            return "the file ends before the image data"
        if data[position] != 0xFF:
            return "unexpected bytes between segments"
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker == 0xD9:
            return "the image ends before any scan data" if frame is None else None
        if marker in _STANDALONE:
            position += 2
            continue
        if position + 4 > len(data):
            return "the file ends before the image data"
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        segment = data[position + 4 : position + 2 + length]
        if length < 2 or len(segment) != length - 2:
            return "a segment runs past the end of the file"
        position += 2 + length
        if marker in (0xC0, 0xC1, 0xC2) and len(segment) >= 6:
            progressive = marker == 0xC2
            components = [
                (segment[6 + 3 * i], segment[7 + 3 * i] >> 4, segment[7 + 3 * i] & 0x0F)
                for i in range(segment[5])
                if 8 + 3 * i <= len(segment)
            ]
            frame = (
                int.from_bytes(segment[1:3], "big"),
                int.from_bytes(segment[3:5], "big"),
                components,
            )
        elif marker == 0xDD and len(segment) >= 2:
            restart_interval = int.from_bytes(segment[0:2], "big")
        elif marker == 0xDA:
            if frame is None:
                return "scan data comes before the frame header"
            restarts = 0
            for match in _SCAN_MARKER.finditer(data, position):
                code = match.group(1)[0]
                if 0xD0 <= code <= 0xD7:
                    if code - 0xD0 != restarts % 8:
                        return "restart markers are out of order"
                    restarts += 1
                    continue
                if code not in _VALID_AFTER_SCAN:
                    return "invalid marker inside the image data"
                scan_components = segment[0] if segment else 0
                expected = _expected_restarts(frame, restart_interval, scan_components)
                if not progressive and expected is not None and restarts != expected:
                    return "the image data is incomplete"
                position = match.start()
                break
            else:
                return "the image data is cut off (no end marker)"


def _expected_restarts(
    frame: tuple[int, int, list[tuple[int, int, int]]], restart_interval: int, scan_components: int
) -> int | None:
    height, width, components = frame
    if restart_interval == 0 or not components or height == 0:
        return None
    if scan_components == 1 and len(components) > 1:
        return None  # a non-interleaved scan of one component: MCUs follow that component
    if len(components) == 1:
        mcus = math.ceil(width / 8) * math.ceil(height / 8)
    else:
        h_max = max(c[1] for c in components)
        v_max = max(c[2] for c in components)
        mcus = math.ceil(width / (8 * h_max)) * math.ceil(height / (8 * v_max))
    return math.ceil(mcus / restart_interval) - 1


# --- EXIF -------------------------------------------------------------------------------------
def read_metadata(exif: Image.Exif, *, xmp: object = None) -> PhotoMetadata:
    """GPS, capture time, camera and editing software from EXIF (XMP only for the software)."""
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    gps_ifd = exif.get_ifd(ExifTags.IFD.GPSInfo)
    captured_at, has_offset = _capture_time(exif_ifd)
    software = _text(exif.get(_TAG_SOFTWARE)) or _xmp_creator_tool(xmp)
    return PhotoMetadata(
        gps=_gps_point(gps_ifd),
        captured_at=captured_at,
        captured_at_has_offset=has_offset,
        gps_time=_gps_time(gps_ifd),
        camera_make=_text(exif.get(_TAG_MAKE)),
        camera_model=_text(exif.get(_TAG_MODEL)),
        software=software,
    )


def _capture_time(exif_ifd: dict[int, Any]) -> tuple[datetime | None, bool]:
    for time_tag, offset_tag in (
        (_TAG_DATETIME_ORIGINAL, _TAG_OFFSET_TIME_ORIGINAL),
        (_TAG_DATETIME_DIGITIZED, _TAG_OFFSET_TIME_DIGITIZED),
    ):
        raw = _text(exif_ifd.get(time_tag))
        if not raw:
            continue
        try:
            naive = datetime.strptime(raw, _EXIF_TIME_FORMAT)
        except ValueError:
            continue
        offset = _parse_offset(_text(exif_ifd.get(offset_tag)))
        if offset is None:
            return naive, False
        return naive.replace(tzinfo=offset), True
    return None, False


def _parse_offset(raw: str | None) -> timezone | None:
    match = _OFFSET_PATTERN.match(raw or "")
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def _gps_point(gps_ifd: dict[int, Any]) -> GeoPoint | None:
    lat = _dms_to_degrees(gps_ifd.get(2), _text(gps_ifd.get(1)), "S")
    lon = _dms_to_degrees(gps_ifd.get(4), _text(gps_ifd.get(3)), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return GeoPoint(lat=lat, lon=lon)


def _dms_to_degrees(value: Any, ref: str | None, negative_ref: str) -> float | None:
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    total = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(total) or ref is None:
        return None
    return -total if ref.upper().startswith(negative_ref) else total


def _gps_time(gps_ifd: dict[int, Any]) -> datetime | None:
    date_raw = _text(gps_ifd.get(29))
    time_parts = gps_ifd.get(7)
    if not date_raw or time_parts is None:
        return None
    try:
        hours, minutes, seconds = (float(part) for part in time_parts)
        day = datetime.strptime(date_raw, "%Y:%m:%d").replace(tzinfo=UTC)
        return day + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None


def _xmp_creator_tool(xmp: object) -> str | None:
    if not isinstance(xmp, bytes | str):
        return None
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
    match = re.search(r"<xmp:CreatorTool>([^<]{1,200})</xmp:CreatorTool>", text)
    return match.group(1).strip() if match else None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned or None


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


# --- Delivery copy ----------------------------------------------------------------------------
_FACE_DETECT_MAX_SIDE = 1024
_cascade_lock = threading.Lock()
_cascade: cv2.CascadeClassifier | None = None


def _face_cascade() -> cv2.CascadeClassifier:
    global _cascade
    if _cascade is None:
        path = str(Path(cv2.__file__).parent / "data" / "haarcascade_frontalface_default.xml")
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():
            raise RuntimeError(f"OpenCV face cascade missing at {path}")
        _cascade = cascade
    return _cascade


def detect_faces(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Face boxes (x, y, width, height) in the image's own pixels."""
    scale = min(1.0, _FACE_DETECT_MAX_SIDE / max(image.size))
    small = image.convert("L")
    if scale < 1.0:
        small = small.resize((round(image.width * scale), round(image.height * scale)))
    gray = np.asarray(small)
    # Tuned to over-blur rather than miss: a blurred hand costs less than an unblurred face.
    with _cascade_lock:  # CascadeClassifier is not documented as thread-safe
        boxes = _face_cascade().detectMultiScale(
            gray, scaleFactor=1.05, minNeighbors=3, minSize=(24, 24)
        )
    return [tuple(round(v / scale) for v in box) for box in boxes]  # type: ignore[misc]


def blur_faces(image: Image.Image) -> tuple[Image.Image, int]:
    """A copy with every detected face Gaussian-blurred beyond recognition, and the face count."""
    boxes = detect_faces(image)
    pixels = np.array(image.convert("RGB"))
    for x, y, w, h in boxes:
        pad_x, pad_y = w // 8, h // 8
        x0, y0 = max(0, x - pad_x), max(0, y - pad_y)
        x1, y1 = min(pixels.shape[1], x + w + pad_x), min(pixels.shape[0], y + h + pad_y)
        kernel = max(3, (max(w, h) // 3) | 1)  # odd, and wide enough to erase features
        pixels[y0:y1, x0:x1] = cv2.GaussianBlur(pixels[y0:y1, x0:x1], (kernel, kernel), 0)
    return Image.fromarray(pixels), len(boxes)


def delivery_jpeg(
    image: Image.Image,
    *,
    blur_faces_in_copy: bool = True,
    captured_at: datetime | None = None,
    quality: int = 88,
) -> bytes:
    """Re-encode for delivery: orientation already applied, faces blurred when asked, and no
    metadata at all (no EXIF, GPS, XMP or ICC) except the capture time when the caller passes it.
    """
    if blur_faces_in_copy:
        clean, _ = blur_faces(image)
    else:
        # A fresh image carries none of the source's `info` (ICC, XMP, EXIF).
        clean = Image.fromarray(np.array(image.convert("RGB")))
    buffer = io.BytesIO()
    exif = capture_time_exif(captured_at) if captured_at is not None else b""
    clean.save(buffer, format="JPEG", quality=quality, exif=exif)
    return buffer.getvalue()


def capture_time_exif(captured_at: datetime) -> bytes:
    """An EXIF block holding only DateTimeOriginal (and OffsetTimeOriginal when aware)."""
    tags: dict[int, str] = {_TAG_DATETIME_ORIGINAL: captured_at.strftime(_EXIF_TIME_FORMAT)}
    offset = captured_at.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        tags[_TAG_OFFSET_TIME_ORIGINAL] = f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    exif = Image.Exif()
    exif[ExifTags.IFD.Exif] = tags
    return exif.tobytes()
