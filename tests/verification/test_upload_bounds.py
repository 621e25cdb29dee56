"""Uploads are bounded before they are decoded: bytes, pixels for the type, pixels for the
file's size (a decompression ratio); and decodes are bounded per process."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.fuzz import count_case, fuzz_examples
from tests.verification.conftest import photo_bytes
from tests.verification.decodes import counting_decodes
from verification.checks import Status
from verification.checks.integrity import check_integrity
from verification.image import (
    MAX_PIXELS_PER_BYTE,
    ImageLimits,
    ImageRefused,
    UploadBounds,
    configure_uploads,
    load_image,
    open_upload,
    upload_bounds,
)

pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def one_colour_png(width: int, height: int) -> bytes:
    """A real, valid one-colour RGB PNG, compressed row by row (never held decoded)."""
    row = b"\x00" + bytes((10, 200, 30)) * width
    compressor = zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """Random black and white pixels: about one byte per 8 pixels, nothing to compress."""
    bits = np.random.default_rng(0).integers(0, 2, (height, width), dtype=np.uint8).astype(bool)
    return encoded(Image.fromarray(bits), "PNG", compress_level=1)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed JPEG whose frame header claims width x height."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), "red"), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims width x height."""
    png = bytearray(encoded(Image.new("L", (1, 1)), "PNG"))
    ihdr = struct.pack(">II", width, height) + bytes(png[24:29])
    png[16:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(png)


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    """The issue's file: 49.99 MP of one colour in ~160 KB (150 MB decoded, more converted)."""
    return one_colour_png(7071, 7070)


def test_it_refuses_a_one_colour_50_megapixel_png_without_decoding_it(png_bomb):
    assert len(png_bomb) < 200_000
    with counting_decodes() as decodes:
        with pytest.raises(ImageRefused) as refused:
            load_image(png_bomb)
        result, loaded = check_integrity(png_bomb)
    assert decodes.count == 0
    assert refused.value.code == "too_many_pixels"
    assert refused.value.reason == (
        "The image has 50 megapixels; the limit for PNG and WebP images is 16."
    )
    assert result.status is Status.FAILED and loaded is None
    assert result.reason == refused.value.reason
    assert result.details["width"] == 7071 and result.details["height"] == 7070


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(one_colour_png(4000, 3000), id="12 MP one-colour PNG in 40 KB"),
        pytest.param(jpeg_claiming(6000, 5000), id="JPEG claiming 30 MP in 600 bytes"),
    ],
)
def test_it_refuses_more_pixels_than_the_file_has_bytes_for(data):
    with counting_decodes() as decodes:
        result, loaded = check_integrity(data)
    assert decodes.count == 0 and loaded is None
    assert result.status is Status.FAILED
    assert result.details["code"] == "too_many_pixels_for_size"
    assert "megapixels in a file of only" in result.reason
    assert "send the photo as the camera saved it" in result.reason


def test_it_caps_png_and_webp_lower_than_jpeg():
    noise = noise_png(5000, 4000)  # 20 MP in 2.5 MB: within the ratio, over the PNG cap
    webp = encoded(Image.new("RGB", (4100, 4000), "red"), "WEBP", lossless=True)
    with counting_decodes() as decodes:
        for data in (noise, webp):
            with pytest.raises(ImageRefused) as refused:
                open_upload(data)
            assert refused.value.code == "too_many_pixels"
            assert "the limit for PNG and WebP images is 16" in refused.value.reason
    assert decodes.count == 0
    # The same 20 MP in a JPEG is within its cap (the ratio aside, this file being tiny).
    no_ratio = ImageLimits(max_pixels_per_byte=10**9)
    image, _ = open_upload(jpeg_claiming(5000, 4000), limits=no_ratio)
    assert image.size == (5000, 4000)
    with pytest.raises(ImageRefused):
        open_upload(png_claiming(5000, 4000), limits=no_ratio)


@pytest.mark.parametrize(
    "name", ["DSCN0010.jpg", "Canon_40D.jpg", "HMD_Nokia_8.3_5G.jpg", "HMD_Nokia_8.3_5G.heif"]
)
def test_real_photos_and_hard_reencodings_of_them_pass(name):
    """The ratio leaves room: the most compressed camera file is 5.3 pixels a byte; re-encoded
    at JPEG q20, a photo is still far from 100."""
    original = photo_bytes(name)
    open_upload(original)
    image = Image.open(io.BytesIO(original)).convert("RGB")
    squeezed = encoded(image, "JPEG", quality=20)
    opened, _ = open_upload(squeezed)
    assert opened.width * opened.height / len(squeezed) < MAX_PIXELS_PER_BYTE / 3


@pytest.mark.fuzz
@settings(
    max_examples=fuzz_examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    width=st.integers(1, 2**31 - 1) | st.integers(1, 20_000),
    height=st.integers(1, 2**31 - 1) | st.integers(1, 20_000),
    fmt=st.sampled_from(["PNG", "JPEG"]),
)
def test_any_claimed_size_is_refused_unread_or_read_within_its_budget(width, height, fmt):
    count_case("upload bounds")
    if fmt == "JPEG":
        width, height = min(width, 65_535), min(height, 65_535)
    data = png_claiming(width, height) if fmt == "PNG" else jpeg_claiming(width, height)
    limits = ImageLimits()
    with counting_decodes() as decodes:
        try:
            load_image(data, limits=limits, min_side=448)
        except ImageRefused as refused:
            assert refused.reason.endswith(".")
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    within = width * height <= min(limits.pixel_cap(mime), limits.pixels_for_size(len(data)))
    assert decodes.count == (1 if within else 0)


@pytest.fixture
def decode_slots() -> Iterator[None]:
    before = upload_bounds()
    yield
    configure_uploads(before)


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_at_most_the_configured_number_of_decodes_run_at_once(decode_slots, slots):
    configure_uploads(replace(upload_bounds(), max_concurrent_decodes=slots))
    data = noise_png(640, 480)
    loaded = []
    with counting_decodes(pause_s=0.05) as decodes:
        threads = [
            threading.Thread(target=lambda: loaded.append(load_image(data))) for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(loaded) == 8 and all(image.width == 640 for image in loaded)
    assert decodes.count == 8
    assert decodes.most_at_once == slots


def test_the_default_limit_is_the_configured_one(decode_slots):
    configure_uploads(UploadBounds(max_bytes=100_000, max_concurrent_decodes=2))
    assert ImageLimits().max_bytes == 100_000
    with pytest.raises(ImageRefused) as refused:
        load_image(photo_bytes("DSCN0010.jpg"))
    assert refused.value.code == "too_large"
    with pytest.raises(ValueError):
        configure_uploads(UploadBounds(max_bytes=100_000, max_concurrent_decodes=0))
