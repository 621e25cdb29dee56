"""Integrity: is this a real, complete photo of an accepted type within the limits?"""

from __future__ import annotations

from verification.checks import CheckName, CheckResult, failed, passed
from verification.image import ImageLimits, ImageRefused, LoadedImage, load_image

# The checks never need more: hashes work on <= 256 px, CLIP box-reduces to twice its 224 px
# input, Open-NSFW resizes to 256.
CHECK_MIN_SIDE = 448


def check_integrity(
    data: bytes, *, limits: ImageLimits | None = None, min_side: int | None = CHECK_MIN_SIDE
) -> tuple[CheckResult, LoadedImage | None]:
    """The check result and, when it passed, the decoded image the other checks work on (a big
    JPEG decoded at a reduced scale, its shorter side at least `min_side`; see `load_image`)."""
    try:
        loaded = load_image(data, limits=limits, min_side=min_side)

    except ImageRefused as refused:
        return (
            failed(CheckName.INTEGRITY, refused.reason, code=refused.code, **refused.details),
            None,
        )
    result = passed(
        CheckName.INTEGRITY,
        "The photo is a complete, readable image.",
        mime_type=loaded.mime_type,
        byte_size=loaded.byte_size,
        width=loaded.width,
        height=loaded.height,
        orientation=loaded.orientation,
        orientation_applied=loaded.orientation != 1,
        software=loaded.metadata.software,
    )
    return result, loaded
