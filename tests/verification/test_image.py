import io
import struct
import zlib
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import ExifTags, Image

from tests.verification.conftest import photo_bytes
from verification.delivery_copy import delivery_jpeg, detect_faces
from verification.image import (
    MIME_HEIF,
    MIME_JPEG,
    MIME_PNG,
    MIME_WEBP,
    ImageLimits,
    ImageRefused,
    load_image,
    sniff_mime_type,
)


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def test_it_detects_types_by_content_not_name():
    tiny = Image.new("RGB", (8, 8), "red")
    assert sniff_mime_type(encoded(tiny, "JPEG")) == MIME_JPEG
    assert sniff_mime_type(encoded(tiny, "PNG")) == MIME_PNG
    assert sniff_mime_type(encoded(tiny, "WEBP")) == MIME_WEBP
    assert sniff_mime_type(photo_bytes("HMD_Nokia_8.3_5G.heif")) == MIME_HEIF
    assert sniff_mime_type(encoded(tiny, "GIF")) is None
    assert sniff_mime_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


@pytest.mark.parametrize("payload", [b"", b"GIF89a....", b"%PDF-1.7 hello", b"\xff\xd8\xff"])
def test_it_refuses_unknown_or_empty_uploads_with_a_reason(payload):
    with pytest.raises(ImageRefused) as refused:
        load_image(payload)
    assert refused.value.reason.endswith(".")


def test_it_refuses_files_over_the_size_limit():
    data = photo_bytes("DSCN0010.jpg")
    with pytest.raises(ImageRefused) as refused:
        load_image(data, limits=ImageLimits(max_bytes=100_000))
    assert refused.value.code == "too_large"
    assert "limit" in refused.value.reason


def _png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header claims width x height pixels: a decompression bomb."""
    png = bytearray(encoded(Image.new("L", (1, 1)), "PNG"))
    ihdr = struct.pack(">II", width, height) + bytes(png[24:29])
    png[16:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(png)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_it_refuses_decompression_bombs_before_decoding():
    with pytest.raises(ImageRefused) as refused:
        load_image(_png_claiming(60_000, 60_000))
    assert refused.value.code == "too_many_pixels"
    with pytest.raises(ImageRefused) as refused:
        load_image(_png_claiming(8_000, 8_000))  # 64 MP: over our 50 MP limit
    assert refused.value.code == "too_many_pixels"
    assert "megapixels" in refused.value.reason


def test_it_reads_gps_time_and_camera_from_a_jpeg():
    loaded = load_image(photo_bytes("DSCN0010.jpg"))
    assert (loaded.width, loaded.height) == (640, 480)
    metadata = loaded.metadata
    assert metadata.gps is not None
    assert metadata.gps.lat == pytest.approx(43.467448, abs=1e-5)
    assert metadata.gps.lon == pytest.approx(11.885127, abs=1e-5)
    assert metadata.captured_at == datetime(2008, 10, 22, 16, 28, 39)
    assert metadata.captured_at_has_offset is False  # Nikon wrote no offset: a naive time
    assert (metadata.camera_make, metadata.camera_model) == ("NIKON", "COOLPIX P6000")


def test_it_reads_the_capture_time_offset_as_an_aware_datetime():
    metadata = load_image(photo_bytes("HMD_Nokia_8.3_5G.jpg")).metadata
    assert metadata.captured_at == datetime(2022, 8, 14, 11, 12, 31, tzinfo=UTC)
    assert metadata.captured_at.utcoffset() == timedelta(hours=3)
    assert metadata.captured_at_has_offset is True
    assert metadata.gps is not None
    assert metadata.gps.lat == pytest.approx(60.146706, abs=1e-5)


def test_it_decodes_a_phone_heif_with_its_gps():
    loaded = load_image(photo_bytes("HMD_Nokia_8.3_5G.heif"))
    assert loaded.mime_type == MIME_HEIF
    assert (loaded.width, loaded.height) == (3456, 4608)
    assert loaded.metadata.gps is not None
    assert loaded.metadata.gps.lat == pytest.approx(40.788685, abs=1e-5)
    assert loaded.metadata.gps.lon == pytest.approx(-4.005141, abs=1e-5)  # West is negative


def test_it_applies_the_exif_orientation():
    stored = Image.open(io.BytesIO(photo_bytes("landscape_6.jpg")))
    assert stored.size == (450, 600)
    loaded = load_image(photo_bytes("landscape_6.jpg"))
    assert loaded.orientation == 6
    assert (loaded.width, loaded.height) == (600, 450)


def test_a_big_jpeg_can_be_decoded_at_a_reduced_scale_keeping_its_facts():
    full = load_image(photo_bytes("HMD_Nokia_8.3_5G.jpg"))
    reduced = load_image(photo_bytes("HMD_Nokia_8.3_5G.jpg"), min_side=448)
    assert full.image.size == (4608, 1976)
    assert reduced.image.size == (1152, 494)  # libjpeg's 1/4 scale: the shorter side >= 448
    assert (reduced.width, reduced.height) == (full.width, full.height) == (4608, 1976)
    assert reduced.metadata == full.metadata
    # The same picture: the reduced decode matches the full one, reduced.
    same = np.asarray(full.image.reduce(4), dtype=float) - np.asarray(reduced.image, dtype=float)
    assert np.abs(same).mean() < 3
    small = load_image(photo_bytes("DSCN0010.jpg"), min_side=448)
    assert small.image.size == (640, 480)  # nothing to gain: decoded in full


def test_a_reduced_decode_still_reads_every_byte_and_keeps_the_orientation():
    data = photo_bytes("HMD_Nokia_8.3_5G.jpg")
    for cut in (len(data) // 2, -2):
        with pytest.raises(ImageRefused):
            load_image(data[:cut], min_side=448)
    image = Image.open(io.BytesIO(data))
    exif = image.getexif()
    exif[0x0112] = 6  # stored sideways: shown turned a quarter clockwise
    turned = load_image(encoded(image, "JPEG", quality=90, exif=exif), min_side=448)
    assert turned.orientation == 6
    assert (turned.width, turned.height) == (1976, 4608)
    assert turned.image.size == (494, 1152)


def test_it_has_no_gps_for_the_canon():

    metadata = load_image(photo_bytes("Canon_40D.jpg")).metadata
    assert metadata.gps is None
    assert metadata.camera_model == "Canon EOS 40D"


def test_it_refuses_the_damaged_jpeg_with_a_reason():
    with pytest.raises(ImageRefused) as refused:
        load_image(photo_bytes("corrupted.jpg"))
    assert refused.value.code == "corrupt"
    assert refused.value.reason.startswith("The JPEG file is damaged")


@pytest.mark.parametrize("cut", [500, 20_000, 100_000, -2])
def test_it_refuses_truncated_jpegs(cut):
    with pytest.raises(ImageRefused):
        load_image(photo_bytes("DSCN0010.jpg")[:cut])


def test_it_refuses_truncated_pngs():
    data = encoded(Image.effect_noise((200, 200), 50), "PNG")
    with pytest.raises(ImageRefused):
        load_image(data[: len(data) // 2])


def test_the_delivery_copy_keeps_no_metadata_but_the_capture_time():
    loaded = load_image(photo_bytes("HMD_Nokia_8.3_5G.jpg"))
    captured_at = datetime(2022, 8, 14, 14, 12, 31, tzinfo=timezone(timedelta(hours=3)))
    copy = Image.open(io.BytesIO(delivery_jpeg(loaded.image, captured_at=captured_at)))
    assert copy.format == "JPEG"
    assert copy.size == (4608, 1976)
    assert "icc_profile" not in copy.info
    assert "xmp" not in copy.info
    exif = copy.getexif()
    assert dict(exif) == {ExifTags.IFD.Exif: exif[ExifTags.IFD.Exif]}  # only the pointer
    assert exif.get_ifd(ExifTags.IFD.GPSInfo) == {}
    assert exif.get_ifd(ExifTags.IFD.Exif) == {0x9003: "2022:08:14 14:12:31", 0x9011: "+03:00"}


def test_the_delivery_copy_without_a_time_has_no_exif_at_all():
    loaded = load_image(photo_bytes("landscape_6.jpg"))  # carries an ICC profile and EXIF
    copy = Image.open(io.BytesIO(delivery_jpeg(loaded.image, blur_faces_in_copy=False)))
    assert copy.size == (600, 450)  # orientation baked into the pixels
    assert "exif" not in copy.info
    assert "icc_profile" not in copy.info
    assert len(copy.getexif()) == 0


def test_the_delivery_copy_blurs_faces():
    loaded = load_image(photo_bytes("image00971.jpg"))
    faces = detect_faces(loaded.image)
    boy = next((x, y, w, h) for x, y, w, h in faces if x > 450 and y < 120)
    copy = Image.open(io.BytesIO(delivery_jpeg(loaded.image))).convert("L")
    x, y, w, h = boy
    before = np.asarray(loaded.image.convert("L"), dtype=float)[y : y + h, x : x + w]
    after = np.asarray(copy, dtype=float)[y : y + h, x : x + w]
    detail = lambda a: np.abs(np.diff(a, axis=1)).mean()  # noqa: E731
    assert detail(after) < detail(before) / 3


@pytest.mark.parametrize(("fmt", "mime_type"), [("PNG", MIME_PNG), ("WEBP", MIME_WEBP)])
def test_it_loads_png_and_webp(fmt, mime_type):
    loaded = load_image(encoded(Image.effect_noise((120, 90), 40).convert("RGB"), fmt))
    assert loaded.mime_type == mime_type
    assert (loaded.width, loaded.height) == (120, 90)
    assert loaded.metadata.gps is None
