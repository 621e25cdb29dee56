"""A procedural corpus for duplicate detection: distinct photos (tiles of the real shared
photos, and generated scenes) and the copies a cheater would make of them (resized,
re-encoded at JPEG quality 70, slightly cropped; and the evasions: mirrored, framed, cropped
up to 10%, turned a few degrees). Used by the tests (small) and the bench (10k).
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from verification.image import load_image

PHOTOS = Path(__file__).resolve().parents[3] / "shared" / "photos"
TILE_SOURCES = (
    "DSCN0010.jpg",
    "DSCN0012.jpg",
    "DSCN0021.jpg",
    "HMD_Nokia_8.3_5G.jpg",
    "landscape_6.jpg",
    "image00971.jpg",
    "HMD_Nokia_8.3_5G.heif",
)
_WORDS = [
    "queue",
    "store",
    "open",
    "closed",
    "sale",
    "exit",
    "bus",
    "17:00",
    "cafe",
    "market",
    "price",
    "menu",
    "taxi",
]


# Tile side in pixels -> tiles across a big photo's short side. The grids must not line up
# (6 x 256 and 9 x 160, not 6 x 160): aligned grids make one tile a resized copy of another.
TILE_GRIDS = {256: 6, 160: 9}


def photo_tiles() -> Iterator[Image.Image]:
    """Non-overlapping tiles of the real photos at two scales, each also upside down and turned
    (distinct pictures to a perceptual hash; a mirrored tile is a copy, not a new photo)."""
    for name in TILE_SOURCES:
        photo = load_image((PHOTOS / name).read_bytes()).image
        for side, across in TILE_GRIDS.items():
            scale = max(1.0, min(photo.size) / (side * across))  # big photos: wider tiles
            scaled = photo.resize((round(photo.width / scale), round(photo.height / scale)))
            for top in range(0, scaled.height - side + 1, side):
                for left in range(0, scaled.width - side + 1, side):
                    tile = scaled.crop((left, top, left + side, top + side))
                    yield tile
                    yield ImageOps.flip(tile)
                    yield tile.transpose(Image.Transpose.ROTATE_90)


def generated_scene(rng: random.Random, size: tuple[int, int] = (256, 192)) -> Image.Image:
    """A random scene: a gradient sky, shapes, a line of text and sensor noise."""
    width, height = size
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    gradient = Image.linear_gradient("L").resize(size).rotate(rng.choice((0, 90, 180, 270)))
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), gradient)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(4, 12)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width, x0 + rng.randint(10, width // 2))
        y1 = min(height, y0 + rng.randint(10, height // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice(("rectangle", "ellipse", "line", "polygon"))
        if shape == "rectangle":
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        elif shape == "ellipse":
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "line":
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(2, 8))
        else:
            points = [
                (rng.randrange(width), rng.randrange(height)) for _ in range(rng.randint(3, 6))
            ]
            draw.polygon(points, fill=colour)
    text = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(1, 3)))
    draw.text((rng.randrange(width // 2), rng.randrange(height - 12)), text, fill=(255, 255, 255))
    noise = Image.effect_noise(size, rng.uniform(5, 30)).convert("RGB")
    image = Image.blend(image, noise, 0.12)
    return image.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))


def distinct_images(count: int, seed: int = 7) -> list[Image.Image]:
    """`count` distinct photos: every real-photo tile first (up to a third), then scenes."""
    rng = random.Random(seed)
    tiles = list(photo_tiles())
    rng.shuffle(tiles)
    images = tiles[: count // 3]
    while len(images) < count:
        images.append(generated_scene(rng))
    return images


def jpeg_roundtrip(image: Image.Image, quality: int = 70) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def resized(image: Image.Image, rng: random.Random) -> Image.Image:
    factor = rng.uniform(0.4, 0.9)
    return image.resize((round(image.width * factor), round(image.height * factor)))


def cropped(image: Image.Image, rng: random.Random, max_fraction: float = 0.03) -> Image.Image:
    """Up to `max_fraction` of the width and height cut from each side."""
    dx = lambda: round(image.width * rng.uniform(0, max_fraction))  # noqa: E731
    dy = lambda: round(image.height * rng.uniform(0, max_fraction))  # noqa: E731
    return image.crop((dx(), dy(), image.width - dx(), image.height - dy()))


COPY_KINDS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "resized": resized,
    "jpeg70": lambda image, rng: jpeg_roundtrip(image),
    "cropped": cropped,
    "resized+jpeg70": lambda image, rng: jpeg_roundtrip(resized(image, rng)),
    "cropped+jpeg70": lambda image, rng: jpeg_roundtrip(cropped(image, rng)),
}


def mirrored(image: Image.Image, rng: random.Random) -> Image.Image:
    return ImageOps.mirror(image)


def bordered(image: Image.Image, rng: random.Random) -> Image.Image:
    """A uniform frame of a random colour, 1-10% of the short side wide on each side."""
    side = min(image.size)
    widths = [max(1, round(side * rng.uniform(0.01, 0.10))) for _ in range(4)]
    colour = tuple(rng.randrange(256) for _ in range(3))
    return ImageOps.expand(image, border=tuple(widths), fill=colour)


def cropped_in_total(
    image: Image.Image, rng: random.Random, max_fraction: float = 0.10
) -> Image.Image:
    """Up to `max_fraction` of the width and of the height cut, split at random between the
    two sides (all of it from one side at worst)."""
    cut_x = image.width * rng.uniform(0, max_fraction)
    cut_y = image.height * rng.uniform(0, max_fraction)
    left, top = round(cut_x * rng.random()), round(cut_y * rng.random())
    return image.crop(
        (left, top, image.width - round(cut_x) + left, image.height - round(cut_y) + top)
    )


def rotated(image: Image.Image, rng: random.Random, *, hide_corners: bool = False) -> Image.Image:
    """Turned 1-3 degrees either way; the corners the turn uncovers left black, or cropped
    away (`hide_corners`)."""
    angle = rng.choice((-1, 1)) * rng.uniform(1, 3)
    turned = image.rotate(angle, resample=Image.Resampling.BICUBIC)
    if not hide_corners:
        return turned
    slope = math.tan(math.radians(abs(angle)))
    dx, dy = math.ceil(image.height * slope), math.ceil(image.width * slope)
    return turned.crop((dx, dy, image.width - dx, image.height - dy))


# The cheap evasions, each saved again as a JPEG (q70) as a cheat's editor would.
EVASION_KINDS: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "mirrored": lambda image, rng: jpeg_roundtrip(mirrored(image, rng)),
    "bordered": lambda image, rng: jpeg_roundtrip(bordered(image, rng)),
    "cropped10": lambda image, rng: jpeg_roundtrip(cropped_in_total(image, rng)),
    "rotated3": lambda image, rng: jpeg_roundtrip(rotated(image, rng)),
    "rotated3+cropped": lambda image, rng: jpeg_roundtrip(rotated(image, rng, hide_corners=True)),
}


def reencoded(data: bytes, scale: float = 0.6, quality: int = 70) -> bytes:
    """A resized, recompressed copy of a photo file (no EXIF): the plainest near copy."""
    image = load_image(data).image
    small = image.resize((round(image.width * scale), round(image.height * scale)))
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
