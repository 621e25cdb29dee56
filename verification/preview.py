"""The preview an agent judges a photo by before it pays: small (at most 512 px on the long
side), every detected face blurred whatever the bounty asks, a visible "PREVIEW" band across
the middle, and no metadata at all (no EXIF, GPS, XMP or ICC).

Imported only where previews are made (a worker's task, after the checks): it loads OpenCV,
which a web process must not carry.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

from verification.delivery_copy import blur_faces

PREVIEW_MAX_SIDE = 512
MARK = "PREVIEW"


def preview_jpeg(
    image: Image.Image, *, max_side: int = PREVIEW_MAX_SIDE, quality: int = 80
) -> bytes:
    """The preview of an oriented RGB image, as JPEG bytes."""
    # Faces are found on the larger image (the detector misses small faces), then shrunk.
    blurred, _ = blur_faces(image)
    blurred.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    marked = _marked(blurred)
    # A fresh image carries none of the source's `info`; it is saved with no EXIF either.
    clean = Image.frombytes("RGB", marked.size, marked.tobytes())
    buffer = io.BytesIO()
    clean.save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def _marked(image: Image.Image) -> Image.Image:
    """The image with a semi-transparent dark band across its middle reading "PREVIEW"."""
    width, height = image.size
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    band = max(8, height // 5)
    top = (height - band) // 2
    draw.rectangle((0, top, width, top + band), fill=(0, 0, 0, 120))
    font = ImageFont.load_default(size=max(6, band * 3 // 5))
    left, upper, right, lower = draw.textbbox((0, 0), MARK, font=font)
    draw.text(
        ((width - (right - left)) / 2 - left, top + (band - (lower - upper)) / 2 - upper),
        MARK,
        font=font,
        fill=(255, 255, 255, 200),
    )
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
