"""Loading untrusted uploads safely and reading their EXIF (the clean copy for delivery is made
by `verification.delivery_copy`, which needs OpenCV).

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
from numbers import Real
from typing import Any

import pillow_heif
from PIL import ExifTags, Image, ImageOps

pillow_heif.register_heif_opener()

# This library's default only: a Django process passes `settings.MAX_UPLOAD_BYTES`, the one
# upload limit, to `configure_uploads` at startup, and every `ImageLimits()` then uses it.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# JPEG and HEIF are what cameras write (the biggest phone sensors have 50 MP), and the checks
# decode a big JPEG at a reduced scale.
MAX_PIXELS = 50_000_000
# PNG and WebP always decode at full size (4 bytes a pixel with alpha) and no camera writes
# them: 16 MP (64 MB decoded) is ample for a screenshot or an edited photo.
MAX_PIXELS_PNG_WEBP = 16_000_000
# The decompression ratio: how many pixels a file may claim per byte it carries. Measured on
# ../shared/photos: camera files carry 0.19-1.2 bytes a pixel (at most 5.3 pixels a byte, the
# Nokia HEIF); the same photos re-encoded at JPEG q30 reach 20 pixels a byte, HEIF q30 50, a
# heavily blurred HEIF 88. One-colour 50 MP files: JPEG 64, PNG 308, WebP 562, HEIF 1658.
MAX_PIXELS_PER_BYTE = 100
# Up to this many pixels a file may be as small as it likes: a 1 MP decode costs ~4 MB, and small
# flat images (icons, tests) compress past any ratio.
PIXELS_ALWAYS_ALLOWED = 1_000_000
# Full decodes running at once in one process; the rest wait (see `configure_uploads`).
MAX_CONCURRENT_DECODES = 2
# Pillow warns above this and refuses above twice this; we refuse above it ourselves (see
# `open_upload`) before decoding, so the global only backs us up for code paths we do not own.
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
_OFFSET_PATTERN = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")


class ImageRefused(Exception):
    """An upload that cannot be accepted as an image; `reason` is shown to the worker."""

    def __init__(self, code: str, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class UploadBounds:
    """This process's upload limit and how many full decodes may run in it at once."""

    max_bytes: int = MAX_UPLOAD_BYTES
    max_concurrent_decodes: int = MAX_CONCURRENT_DECODES


_bounds = UploadBounds()
_decode_slots = threading.BoundedSemaphore(_bounds.max_concurrent_decodes)


def configure_uploads(bounds: UploadBounds) -> None:
    """Set this process's bounds: `max_bytes` becomes the default of `ImageLimits.max_bytes`
    (every caller that passes no limit uses it), and at most `max_concurrent_decodes` full
    decodes run at once (each can hold hundreds of megabytes; the rest wait for a slot).
    Decodes already running finish in the slots they took."""
    global _bounds, _decode_slots
    if bounds.max_bytes < 1 or bounds.max_concurrent_decodes < 1:
        raise ValueError("the upload limit and the decode slots must be at least 1")
    if bounds.max_concurrent_decodes != _bounds.max_concurrent_decodes:
        _decode_slots = threading.BoundedSemaphore(bounds.max_concurrent_decodes)
    _bounds = bounds


def upload_bounds() -> UploadBounds:
    return _bounds


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on one upload, each checked from its size and header before a pixel is decoded:
    its bytes, and its pixels, at most its type's cap and `max_pixels_per_byte` for each byte of
    the file (any file may have `pixels_always_allowed`)."""

    max_bytes: int = field(default_factory=lambda: _bounds.max_bytes)
    max_pixels: int = MAX_PIXELS
    max_pixels_png_webp: int = MAX_PIXELS_PNG_WEBP
    max_pixels_per_byte: int = MAX_PIXELS_PER_BYTE
    pixels_always_allowed: int = PIXELS_ALWAYS_ALLOWED

    def pixel_cap(self, mime_type: str) -> int:
        return self.max_pixels_png_webp if mime_type in (MIME_PNG, MIME_WEBP) else self.max_pixels

    def pixels_for_size(self, byte_size: int) -> int:
        return max(self.pixels_always_allowed, byte_size * self.max_pixels_per_byte)


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
    # Times the file states that cannot be true (`capture_time_plausible`), as written there:
    # left out above, kept so the time check can say why it ignored them.
    implausible_times: tuple[str, ...] = ()


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


def open_upload(data: bytes, *, limits: ImageLimits | None = None) -> tuple[Image.Image, str]:
    """The upload opened but not decoded, and its type; or `ImageRefused` with a readable reason.

    Everything that needs no pixels, cheapest first: size, type from the magic bytes, the JPEG's
    structure, then the header's pixel count (Pillow reads only the header here) against the
    type's cap and against the file's size, so a decompression bomb is refused before it
    allocates anything.
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
    cap = limits.pixel_cap(mime_type)
    if pixels > cap:
        kind = "PNG and WebP images" if cap == limits.max_pixels_png_webp else "photos"
        raise ImageRefused(
            "too_many_pixels",
            f"The image has {pixels / 1e6:.0f} megapixels; the limit for {kind} is "
            f"{cap / 1e6:.0f}.",
            width=image.width,
            height=image.height,
        )
    if pixels > limits.pixels_for_size(len(data)):
        raise ImageRefused(
            "too_many_pixels_for_size",
            f"The image claims {pixels / 1e6:.1f} megapixels in a file of only "
            f"{len(data) / 1e6:.2f} MB, far fewer bytes than any photo that size: send the photo "
            "as the camera saved it.",
            width=image.width,
            height=image.height,
            byte_size=len(data),
        )
    return image, mime_type


def load_image(
    data: bytes, *, limits: ImageLimits | None = None, min_side: int | None = None
) -> LoadedImage:
    """Decode an upload fully, or raise `ImageRefused` with a readable reason.

    Every bound is checked first from the header (`open_upload`); the decode then waits for one
    of this process's decode slots (`configure_uploads`), so concurrent uploads cannot multiply
    its memory.

    With `min_side`, a JPEG is decoded at the smallest of libjpeg's DCT scales (1/2, 1/4, 1/8)
    that keeps its shorter side at least that long. Every coefficient of the file is still
    entropy-decoded (a truncated or damaged file fails as before); only the inverse DCT works
    at the reduced size: a 9-megapixel photo decodes in ~26 ms instead of ~60, and everything
    after works on a quarter of the pixels. The checks use this; delivery decodes in full.
    """
    image, mime_type = open_upload(data, limits=limits)
    size = image.size
    with _decode_slots:
        try:
            if min_side is not None and mime_type == MIME_JPEG and min(size) > 2 * min_side:
                scale = min_side / min(size)
                image.draft("RGB", (math.ceil(size[0] * scale), math.ceil(size[1] * scale)))
            image.load()
            decoded_size = image.size
            exif = image.getexif()
            metadata = read_metadata(exif, xmp=image.info.get("xmp"))
            orientation = _int_or(exif.get(_TAG_ORIENTATION), 1)
            # In place, and no copy when already RGB: at most two copies of the pixels at once.
            ImageOps.exif_transpose(image, in_place=True)
            rgb = image if image.mode == "RGB" else image.convert("RGB")
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
        size=size if rgb.size == decoded_size else size[::-1],
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
# Every value below comes from the worker's file: each reader takes whatever Pillow hands it
# (wrong types, NaN, zero denominators, huge numbers, truncated IFDs) and gives a value or None.

# The one definition of a believable camera time (capture time or GPS fix): no earlier than
# 2000 (this market's photos are new; clocks reset by a flat battery say 1970 or 1980) and no
# later than a day after the upload (clock drift and mislabelled zones fit in a day; nothing
# more does). It also keeps every stored time well inside what PostgreSQL and psycopg can hold.
EARLIEST_PLAUSIBLE_CAPTURE = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_PLAUSIBLE_AFTER_UPLOAD = timedelta(days=1)
# Longer strings are not camera names; they would only bloat the stored facts.
_MAX_TEXT_CHARS = 200


def capture_time_plausible(value: datetime, *, uploaded_at: datetime) -> bool:
    """Whether a camera time can be true for a photo uploaded at `uploaded_at` (see
    `EARLIEST_PLAUSIBLE_CAPTURE`). A naive time (no offset) is read as UTC: it is local time
    somewhere, at most 14 hours away, well inside the day allowed after the upload."""
    aware = value if value.utcoffset() is not None else value.replace(tzinfo=UTC)
    return EARLIEST_PLAUSIBLE_CAPTURE <= aware <= uploaded_at + LATEST_PLAUSIBLE_AFTER_UPLOAD


def read_metadata(
    exif: Image.Exif, *, xmp: object = None, uploaded_at: datetime | None = None
) -> PhotoMetadata:
    """GPS, capture time, camera and editing software from EXIF (XMP only for the software).

    Total: any EXIF at all gives a `PhotoMetadata`, with None for what cannot be read, never an
    exception. Times outside `capture_time_plausible` (judged against `uploaded_at`, default
    now) are left out and listed in `implausible_times`, so a check can say why."""
    uploaded_at = uploaded_at or datetime.now(UTC)
    exif_ifd = _ifd(exif, ExifTags.IFD.Exif)
    gps_ifd = _ifd(exif, ExifTags.IFD.GPSInfo)
    implausible: list[str] = []
    captured_at, has_offset = _capture_time(exif_ifd, uploaded_at, implausible)
    gps_time = _gps_time(gps_ifd)
    if gps_time is not None and not capture_time_plausible(gps_time, uploaded_at=uploaded_at):
        implausible.append(f"GPS {gps_time:%Y-%m-%d %H:%M:%S} UTC")
        gps_time = None
    software = _text(_tag(exif, _TAG_SOFTWARE)) or _text(_xmp_creator_tool(xmp))
    return PhotoMetadata(
        gps=_gps_point(gps_ifd),
        captured_at=captured_at,
        captured_at_has_offset=has_offset,
        gps_time=gps_time,
        camera_make=_text(_tag(exif, _TAG_MAKE)),
        camera_model=_text(_tag(exif, _TAG_MODEL)),
        software=software,
        implausible_times=tuple(implausible),
    )


def _ifd(exif: Image.Exif, ifd: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(ifd))
    except Exception:  # Pillow parses IFDs lazily; a hostile one fails in many ways
        return {}


def _tag(mapping: Any, tag: int) -> Any:
    try:
        return mapping.get(tag)
    except Exception:  # Pillow decodes a tag's value on first access (see `_ifd`)
        return None


def _capture_time(
    exif_ifd: dict[int, Any], uploaded_at: datetime, implausible: list[str]
) -> tuple[datetime | None, bool]:
    """The first readable, plausible DateTimeOriginal/DateTimeDigitized with its offset."""
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
        raw_offset = _text(exif_ifd.get(offset_tag))
        offset = _parse_offset(raw_offset)
        value = naive if offset is None else naive.replace(tzinfo=offset)
        if not capture_time_plausible(value, uploaded_at=uploaded_at):
            implausible.append(f"{raw} {raw_offset}" if offset is not None else raw)
            continue
        return value, offset is not None
    return None, False


_MAX_UTC_OFFSET = timedelta(hours=14)  # Kiribati; no zone on Earth is further from UTC


def _parse_offset(raw: str | None) -> timezone | None:
    """An EXIF OffsetTime ("+02:00"), or None for anything else (minutes past 59, beyond 14 h,
    other digits than ASCII)."""
    match = _OFFSET_PATTERN.fullmatch(raw or "")
    if not match:
        return None
    sign, hours, minutes = match.groups()
    if int(minutes) >= 60:
        return None
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > _MAX_UTC_OFFSET:
        return None
    return timezone(-delta if sign == "-" else delta)


def _gps_point(gps_ifd: dict[int, Any]) -> GeoPoint | None:
    lat = _dms_to_degrees(gps_ifd.get(2), _text(gps_ifd.get(1)), "S")
    lon = _dms_to_degrees(gps_ifd.get(4), _text(gps_ifd.get(3)), "W")
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return GeoPoint(lat=lat, lon=lon)


def _numbers(value: Any, count: int) -> tuple[float, ...] | None:
    """Exactly `count` finite, non-negative numbers (EXIF rationals, ints, floats), or None.
    Strings and bytes are not numbers here, even when they look like some."""
    if not isinstance(value, tuple | list) or len(value) != count:
        return None
    numbers = []
    for part in value:
        if isinstance(part, str | bytes | bool) or not isinstance(part, Real):
            return None
        try:
            number = float(part)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None
        if not math.isfinite(number) or number < 0:
            return None
        numbers.append(number)
    return tuple(numbers)


def _dms_to_degrees(value: Any, ref: str | None, negative_ref: str) -> float | None:
    parts = _numbers(value, 3)
    if parts is None or ref is None:
        return None
    degrees, minutes, seconds = parts
    total = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(total):
        return None
    return -total if ref.upper().startswith(negative_ref) else total


def _gps_time(gps_ifd: dict[int, Any]) -> datetime | None:
    """The GPS fix's UTC time (GPSDateStamp and GPSTimeStamp), or None."""
    date_raw = _text(gps_ifd.get(29))
    parts = _numbers(gps_ifd.get(7), 3)
    if not date_raw or parts is None:
        return None
    hours, minutes, seconds = parts
    if hours >= 24 or minutes >= 60 or seconds >= 61:  # 60: a leap second
        return None
    try:
        day = datetime.strptime(date_raw, "%Y:%m:%d").replace(tzinfo=UTC)
        return day + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except (ValueError, OverflowError):
        return None


def _xmp_creator_tool(xmp: object) -> str | None:
    if not isinstance(xmp, bytes | str):
        return None
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
    match = re.search(r"<xmp:CreatorTool>([^<]{1,200})</xmp:CreatorTool>", text)
    return match.group(1).strip() if match else None


def _text(value: Any) -> str | None:
    """A short, storable string: no NUL (PostgreSQL refuses it), no lone surrogates (UTF-8
    cannot encode them), at most `_MAX_TEXT_CHARS`; None for anything that is not text."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    cleaned = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "").strip()
    return cleaned[:_MAX_TEXT_CHARS] or None


def _int_or(value: Any, default: int) -> int:
    if isinstance(value, str | bytes):
        return default
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return default


# --- Delivery copy: the capture time it keeps (the copy itself: `verification.delivery_copy`)
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
