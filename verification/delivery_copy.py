"""The copy of an accepted photo an agent receives: bystanders' faces blurred (OpenCV's Haar
cascade) when the bounty asks for it, and no metadata but the capture time.

Imported only where a copy is made (`bounties.delivery`, after a verdict): OpenCV is ~100 MB
that a web process must not carry.
"""

from __future__ import annotations

import io
import threading
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from verification.image import capture_time_exif

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
