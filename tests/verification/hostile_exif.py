"""EXIF as a hostile worker can write it, and hypothesis strategies that generate it.

Pillow's own writer refuses much of what a forged file can hold, so the TIFF block is built
here byte by byte: any tag with any TIFF type and count, rationals with zero denominators,
negative and huge numbers, text with NUL and invalid UTF-8, and blocks cut short.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
from hypothesis import strategies as st
from PIL import Image

BYTE, ASCII, SHORT, LONG, RATIONAL, UNDEFINED, SLONG, SRATIONAL, FLOAT, DOUBLE = (
    1, 2, 3, 4, 5, 7, 9, 10, 11, 12,
)  # fmt: skip
_UNIT = {BYTE: 1, ASCII: 1, SHORT: 2, LONG: 4, RATIONAL: 8, UNDEFINED: 1, SLONG: 4,
         SRATIONAL: 8, FLOAT: 4, DOUBLE: 8}  # fmt: skip
_PACK = {SHORT: ">H", LONG: ">L", SLONG: ">l", FLOAT: ">f", DOUBLE: ">d"}

EXIF_POINTER, GPS_POINTER = 0x8769, 0x8825
MAKE, MODEL, ORIENTATION, SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0131
DATETIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9004
OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED = 0x9011, 0x9012
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_TIME, GPS_DATE = 1, 2, 3, 4, 7, 29


@dataclass(frozen=True)
class Field:
    """One IFD entry. `count` None: what the payload holds; anything else is a lie the reader
    must survive."""

    tag: int
    type: int
    payload: bytes
    count: int | None = None


def text(tag: int, value: str | bytes) -> Field:
    raw = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return Field(tag, ASCII, raw + b"\0")


def numbers(tag: int, type_: int, values: Sequence[float]) -> Field:
    return Field(tag, type_, b"".join(struct.pack(_PACK[type_], value) for value in values))


def rationals(tag: int, pairs: Sequence[tuple[int, int]], *, signed: bool = False) -> Field:
    fmt = ">ll" if signed else ">LL"
    payload = b"".join(struct.pack(fmt, num, den) for num, den in pairs)
    return Field(tag, SRATIONAL if signed else RATIONAL, payload)


def _ifd(fields: Sequence[Field], offset: int) -> bytes:
    """An IFD at `offset` in the TIFF block, with its out-of-line values after it."""
    entries = sorted(fields, key=lambda field: field.tag)
    values_at = offset + 2 + 12 * len(entries) + 4
    head = bytearray(struct.pack(">H", len(entries)))
    values = bytearray()
    for field in entries:
        count = field.count if field.count is not None else len(field.payload) // _UNIT[field.type]
        if len(field.payload) <= 4:
            inline = field.payload.ljust(4, b"\0")
        else:
            inline = struct.pack(">L", values_at + len(values))
            values += field.payload + b"\0" * (len(field.payload) % 2)
        head += struct.pack(">HHL", field.tag, field.type, count & 0xFFFFFFFF) + inline
    return bytes(head + b"\0\0\0\0" + values)


def exif_block(
    ifd0: Sequence[Field] = (),
    exif: Sequence[Field] = (),
    gps: Sequence[Field] = (),
    *,
    cut_at: int | None = None,
) -> bytes:
    """An APP1 EXIF payload (b"Exif\\0\\0" and a big-endian TIFF block), cut short at `cut_at`
    bytes of the TIFF block when given."""

    def first(exif_at: int, gps_at: int) -> bytes:
        pointers = [Field(EXIF_POINTER, LONG, struct.pack(">L", exif_at))] if exif else []
        pointers += [Field(GPS_POINTER, LONG, struct.pack(">L", gps_at))] if gps else []
        return _ifd([*ifd0, *pointers], 8)

    exif_at = 8 + len(first(0, 0))
    exif_ifd = _ifd(exif, exif_at) if exif else b""
    gps_at = exif_at + len(exif_ifd)
    tiff = b"MM\0\x2a" + struct.pack(">L", 8) + first(exif_at, gps_at) + exif_ifd
    tiff += _ifd(gps, gps_at) if gps else b""
    return b"Exif\0\0" + (tiff if cut_at is None else tiff[:cut_at])


def jpeg_with_exif(block: bytes, *, pattern: int | None = None) -> bytes:
    """A small JPEG carrying `block`: one colour, or with `pattern` a noise image of its own
    (so photos of different patterns are not each other's duplicates)."""
    if pattern is None:
        image = Image.new("RGB", (64, 48), (180, 120, 60))
    else:
        pixels = np.random.default_rng(pattern).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        image = Image.fromarray(pixels).resize((128, 96))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, exif=block)
    return buffer.getvalue()


def exif_time(moment: datetime) -> str:
    """EXIF's "YYYY:MM:DD HH:MM:SS" for any year (strftime pads years below 1000 unevenly)."""
    return (
        f"{moment.year:04d}:{moment.month:02d}:{moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def utc_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# --- Strategies -------------------------------------------------------------------------------
def _recent(minutes_ago: int, offset_minutes: int) -> tuple[str, str]:
    moment = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    local = moment + timedelta(minutes=offset_minutes)
    return exif_time(local), utc_offset(offset_minutes)


# A capture time and offset that pass the time check (drawn at run time: "now" moves).
recent_times = st.builds(
    _recent, st.integers(0, 20), st.sampled_from([0, 60, 120, -300, 330, -840, 840])
)
any_times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
time_texts = st.one_of(
    any_times.map(exif_time),
    st.sampled_from(["9999:12:31 23:59:59", "0001:01:01 00:00:00", "0000:00:00 00:00:00",
                     "    :  :     :  :  ", "2024:02:30 10:00:00", "1999:12:31 23:59:59"]),
    st.text(max_size=40),
)  # fmt: skip
offset_texts = st.one_of(
    st.builds(
        lambda sign, hours, minutes: f"{sign}{hours:02d}:{minutes:02d}",
        st.sampled_from("+-"), st.integers(0, 99), st.integers(0, 99),
    ),
    st.sampled_from(["-14:00", "+14:00", "+99:99", "+00:99", "\u0661\u0662:00", "Z", "+05:30\n"]),
    st.text(max_size=12),
)  # fmt: skip
uint32 = st.integers(0, 2**32 - 1)
int32 = st.integers(-(2**31), 2**31 - 1)
denominators = st.one_of(st.just(0), st.just(1), uint32)
hostile_floats = st.floats(allow_nan=True, allow_infinity=True)
hostile_text = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.just("\x00" * 5),
    st.just(b"\xff\xfe\x00bad utf-8"),
    st.just("\ud800lone surrogate"),
)


def _wrong_typed(tag: int) -> st.SearchStrategy[Field]:
    """Any TIFF type but the right one, any count: bytes, tuples, numbers where text belongs."""
    return st.one_of(
        st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=6).map(
            lambda values: numbers(tag, SHORT, values)
        ),
        st.lists(int32, min_size=1, max_size=4).map(lambda values: numbers(tag, SLONG, values)),
        st.lists(hostile_floats, min_size=1, max_size=3).map(
            lambda values: numbers(tag, DOUBLE, values)
        ),
        st.lists(st.tuples(int32, int32), min_size=1, max_size=4).map(
            lambda pairs: rationals(tag, pairs, signed=True)
        ),
        st.binary(max_size=64).map(lambda raw: Field(tag, UNDEFINED, raw)),
        st.builds(
            Field,
            st.just(tag),
            st.sampled_from(sorted(_UNIT)),
            st.binary(max_size=32),
            st.one_of(st.none(), uint32),
        ),  # a count that lies: values read past the block's end
    )


def _field(tag: int, good: st.SearchStrategy[Field]) -> st.SearchStrategy[Field]:
    return st.one_of(good, good, _wrong_typed(tag))


def _dms(tag: int) -> st.SearchStrategy[Field]:
    return st.one_of(
        st.lists(st.tuples(uint32, denominators), min_size=3, max_size=3).map(
            lambda pairs: rationals(tag, pairs)
        ),
        st.lists(st.tuples(uint32, denominators), min_size=0, max_size=5).map(
            lambda pairs: rationals(tag, pairs)
        ),
    )


TRUTHFUL = st.sampled_from([True, True, False])


def _texts(
    tag: int, values: st.SearchStrategy[str] | st.SearchStrategy[str | bytes]
) -> st.SearchStrategy[Field]:
    return _field(tag, values.map(partial(text, tag)))


@st.composite
def hostile_exif_blocks(draw: st.DrawFn, *, near: tuple[float, float] | None = None) -> bytes:
    """An EXIF block with any subset of the fields verification reads, each well-formed,
    malformed or of the wrong type; sometimes truthful (a recent time, GPS at `near`), so the
    later stages are reached too; sometimes cut short."""
    exif: list[Field] = []
    gps: list[Field] = []
    ifd0: list[Field] = []
    if draw(TRUTHFUL):  # two in three: the later stages get their share
        when, offset = draw(recent_times)
        exif += [text(DATETIME_ORIGINAL, when), text(OFFSET_TIME_ORIGINAL, offset)]
    else:
        for tag in (DATETIME_ORIGINAL, DATETIME_DIGITIZED):
            if draw(st.booleans()):
                exif.append(draw(_texts(tag, time_texts)))
        for tag in (OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED):
            if draw(st.booleans()):
                exif.append(draw(_texts(tag, offset_texts)))
    if near is not None and draw(TRUTHFUL):
        lat, lon = near
        gps += [
            text(GPS_LAT_REF, "N" if lat >= 0 else "S"),
            rationals(GPS_LAT, [(round(abs(lat) * 1_000_000), 1_000_000), (0, 1), (0, 1)]),
            text(GPS_LON_REF, "E" if lon >= 0 else "W"),
            rationals(GPS_LON, [(round(abs(lon) * 1_000_000), 1_000_000), (0, 1), (0, 1)]),
        ]
    else:
        for ref_tag, value_tag in ((GPS_LAT_REF, GPS_LAT), (GPS_LON_REF, GPS_LON)):
            if draw(st.booleans()):
                refs = st.sampled_from(["N", "S", "E", "W", "", "north"])
                gps.append(draw(_texts(ref_tag, refs)))
            if draw(st.booleans()):
                gps.append(draw(_field(value_tag, _dms(value_tag))))
    if draw(st.booleans()):
        gps.append(draw(_field(GPS_TIME, _dms(GPS_TIME))))
    if draw(st.booleans()):
        gps.append(draw(_texts(GPS_DATE, time_texts.map(lambda value: value.split(" ")[0]))))
    for tag in (MAKE, MODEL, SOFTWARE):
        if draw(st.booleans()):
            ifd0.append(draw(_texts(tag, hostile_text)))
    if draw(st.booleans()):
        orientations = st.integers(0, 0xFFFF).map(
            lambda value: numbers(ORIENTATION, SHORT, [value])
        )
        ifd0.append(draw(_field(ORIENTATION, orientations)))
    block = exif_block(ifd0, exif, gps)
    if draw(st.integers(0, 9)) == 0:  # one in ten cut short
        block = block[: draw(st.integers(6, len(block)))]
    return block
