"""A cheap image descriptor for when no vision model is configured ("tiny-image-v1").

Without it a photo's evidence would carry no embedding at all and a forecaster would see
nothing of it. 512 numbers from a 64x64 thumbnail, in a few milliseconds, deterministic:

- an 8x8 grid of mean luminance and two opponent colours (where it is bright, and what colour),
- per cell, the mean horizontal and vertical gradient energy and the luminance spread (where the
  structure is, and which way it runs),
- a 4x4 grid of 4-bin gradient orientation histograms (the shapes' layout, coarsely),
- a 4x4x4 RGB histogram (the palette, whatever the layout).

Each block is scaled to a comparable range, then the whole vector is L2-normalised (as CLIP
embeddings are), so a dot product is a cosine similarity. It knows nothing of semantics.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

TINY_IMAGE_MODEL = "tiny-image-v1"
DIMENSIONS = 512

_SIDE = 64
_GRID = 8
_ORIENTATION_GRID = 4
_ORIENTATION_BINS = 4
_COLOUR_LEVELS = 4


def tiny_embedding(image: Image.Image) -> list[float]:
    """The L2-normalised 512-float descriptor of an (already oriented) image."""
    # Shrink first (converting a 12-megapixel photo costs more than the rest together).
    resizable = image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGB")
    thumbnail = resizable.resize((_SIDE, _SIDE), Image.Resampling.BOX, reducing_gap=2.0)
    thumbnail = thumbnail.convert("RGB")
    rgb = np.asarray(thumbnail, dtype=np.float32) / 255.0
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    opponent_rg = red - green
    opponent_yb = 0.5 * (red + green) - blue

    colour_means = np.stack(
        [_cells(luminance - 0.5, _GRID), _cells(opponent_rg, _GRID), _cells(opponent_yb, _GRID)]
    )
    dx = np.zeros_like(luminance)
    dy = np.zeros_like(luminance)
    dx[:, 1:-1] = (luminance[:, 2:] - luminance[:, :-2]) / 2
    dy[1:-1, :] = (luminance[2:, :] - luminance[:-2, :]) / 2
    energy = np.stack([_cells(np.abs(dx), _GRID), _cells(np.abs(dy), _GRID)]) * 8.0
    spread = _cells_std(luminance, _GRID) * 4.0

    magnitude = np.hypot(dx, dy)
    angle = np.mod(np.arctan2(dy, dx), np.pi)  # an edge's direction, not its polarity
    bins = np.minimum((angle / np.pi * _ORIENTATION_BINS).astype(np.int64), _ORIENTATION_BINS - 1)
    orientations = (
        np.stack(
            [_cells(magnitude * (bins == b), _ORIENTATION_GRID) for b in range(_ORIENTATION_BINS)]
        )
        * 8.0
    )

    levels = np.minimum((rgb * _COLOUR_LEVELS).astype(np.int64), _COLOUR_LEVELS - 1)
    codes = (levels[..., 0] * _COLOUR_LEVELS + levels[..., 1]) * _COLOUR_LEVELS + levels[..., 2]
    histogram = np.bincount(codes.ravel(), minlength=_COLOUR_LEVELS**3).astype(np.float32)
    histogram = np.sqrt(histogram / histogram.sum())  # Hellinger: rare colours still count

    vector = np.concatenate(
        [
            colour_means.ravel(),
            energy.ravel(),
            spread.ravel(),
            orientations.ravel(),
            histogram * 0.5,
        ]
    )
    norm = float(np.linalg.norm(vector))
    if norm > 0:
        vector = vector / norm
    return [round(float(value), 6) for value in vector]


def _cells(values: np.ndarray, grid: int) -> np.ndarray:
    side = values.shape[0] // grid
    return values.reshape(grid, side, grid, side).mean(axis=(1, 3))


def _cells_std(values: np.ndarray, grid: int) -> np.ndarray:
    side = values.shape[0] // grid
    return values.reshape(grid, side, grid, side).std(axis=(1, 3))
