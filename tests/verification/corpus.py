"""A procedural corpus for duplicate detection: distinct photos (tiles of the real shared
photos, and generated scenes) and the copies a cheater would make of them (resized,
re-encoded at JPEG quality 70, slightly cropped). Used by the tests (small) and the bench (10k).
"""

from __future__ import annotations

import io
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
    """Non-overlapping tiles of the real photos at two scales, each also mirrored, flipped
    and turned (distinct pictures to a perceptual hash)."""
    for name in TILE_SOURCES:
        photo = load_image((PHOTOS / name).read_bytes()).image
        for side, across in TILE_GRIDS.items():
            scale = max(1.0, min(photo.size) / (side * across))  # big photos: wider tiles
            scaled = photo.resize((round(photo.width / scale), round(photo.height / scale)))
            for top in range(0, scaled.height - side + 1, side):
                for left in range(0, scaled.width - side + 1, side):
                    tile = scaled.crop((left, top, left + side, top + side))
                    yield tile
                    yield ImageOps.mirror(tile)
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
