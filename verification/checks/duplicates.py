"""Duplicates: the same file (SHA-256) or the same picture re-encoded, resized or slightly
cropped as any earlier photo.

Near copies need three independent signals to agree:
1. a 64-bit perceptual hash (pHash: signs of the 8x8 lowest DCT coefficients of a 32x32
   luminance thumbnail) within `max_distance` bits finds the candidates, through the index;
2. a second 64-bit hash (dHash, gradient-based) within `max_confirm_distance` bits;
3. the *values* pHash thresholds (the 63 low-frequency DCT coefficients without DC, each
   weighted by its spatial frequency to undo natural images' 1/f fall-off, normalised, stored
   as 63 signed bytes: the "spectrum") with a cosine similarity of at least `min_similarity`.
Unrelated photos meet pHash alone at distance <= 10 often enough (real hashes are far from
uniform) that at 10k photos ~1% of them match an unrelated earlier one; dHash brings that to
~0.1%, and the spectrum (which keeps the magnitudes the 1-bit hashes throw away) to ~0.02%
(bench/README.md). That margin is what lets the quality gate (below) go down to 20.

Lookups go through a multi-index hash (Norouzi et al., "Fast search in Hamming space with
multi-index hashing"): the pHash is split into `bands` equal bands; two hashes within distance
d agree to within floor(d / bands) bits on at least one band (pigeonhole), so probing every
band value within that radius finds every candidate without a scan. The default searches
radius 1 (17 values a band of 16 bits; exact for d <= 7) and keeps d = 10: a near copy at 8-10
bits is found when one of its bands is within a bit, which is nearly always (the bench loses
~0.1 point of catch rate against the exact radius 2 and its 137 values a band, and the lookup
reads an eighth as many index entries). Candidates are then confirmed with exact Hamming
distances and the spectrum.

The cheap evasions (measured in bench/README.md) are met by looking at more than one view of
a picture, each a (pHash, dHash, spectrum) triple searched and confirmed as above:
- stored beside each photo (`STORED_CROPS`): a centre crop (4% of every side), which a copy
  turned by a few degrees with its corners cropped resembles, and the picture without 7% of
  one side (and 2% of the two sides across), for each side: a copy cropped by up to 10%,
  however the cut is split between the sides, lands near one of the five;
- searched beside each query (its probes): its mirror image, the picture inside a uniform
  border or frame (`trim_borders`), and its own centre crop (5%, which drops the corners a
  small rotation fills). The whole query is searched against every stored view; a probe only
  against the stored whole picture and its centre crop (`PROBED_VIEWS`): the pairs that catch
  something (bench/README.md), and the fewer entries a lookup reads.
A match through any pair of views is a match; the spectrum must agree more the further the pair
is from the two whole pictures (`min_similarity`, then `min_crop_similarity` for the whole query
and a stored crop, `min_view_similarity` for a probe). Fingerprints stored before the views
(their whole picture alone) are still found mirrored, framed or rotated through the probes.

Low-texture images (flat colour, sky, a dark pocket shot) all hash alike, so their hashes say
nothing: a PDQ-style quality score (gradient energy of a 64x64 luminance thumbnail, 0..100)
below `min_quality` turns near-copy matching off for that photo in both directions: it is not
searched for and not indexed for near matches. Exact SHA-256 matches apply to every photo.
PDQ discards hashes below 50 on this metric; the two confirmations let us go down to 20. Below
that, distinct plain photos (two tiles of the same sky) are as close to each other as a copy
is to its original, so no fingerprint can tell a copy from a new photo.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from typing import Protocol

import numpy as np
from PIL import Image

from verification.checks import CheckName, CheckResult, failed, passed, skipped

HASH_BITS = 64
DEFAULT_BANDS = 4
DEFAULT_MAX_DISTANCE = 10
DEFAULT_MAX_CONFIRM_DISTANCE = 12
DEFAULT_MIN_SIMILARITY = 0.8
# Matches through other pairs of views: the whole query and a stored crop, and a probe of the
# query (mirrored, trimmed, cropped) and a stored view. Searching more pairs, unrelated photos
# meet more often: 0.23% at 10k photos with 0.8 on every pair, 0.06-0.09% with these (the
# generated scenes' noise differs from run to run; bench/README.md).
DEFAULT_MIN_CROP_SIMILARITY = 0.85
DEFAULT_MIN_VIEW_SIMILARITY = 0.9
# Band values probed around each band of a searched hash (see the module docstring).
DEFAULT_PROBE_RADIUS = 1
DEFAULT_MIN_QUALITY = 20
SPECTRUM_SIZE = 63
_QUALITY_SIDE = 64
# Hashes are computed on a luminance copy reduced (box filter) to at most this side: every
# hash works on a 64x64 or smaller thumbnail, so the full-size photo is only read once.
_WORKING_SIDE = 256
# Views stored beside the whole picture, as (left, right, top, bottom) fractions of the width
# and height cut away: a centre crop, then the picture without 7% of one side (and 2% of the
# sides across). Crops of up to 10% of each dimension are caught ~96% of the time with them,
# ~88% with centre crops of 4% and 8% (bench/README.md).
STORED_CROPS: tuple[tuple[float, float, float, float], ...] = (
    (0.04, 0.04, 0.04, 0.04),
    (0.07, 0.0, 0.02, 0.02),
    (0.0, 0.07, 0.02, 0.02),
    (0.02, 0.02, 0.07, 0.0),
    (0.02, 0.02, 0.0, 0.07),
)
# A query's probes are searched against stored views 0 (the whole picture) and 1 (its centre
# crop) only; the side crops add nothing measurable to them.
PROBED_VIEWS = 2
# Each query's own centre crop (searched beside it): a copy rotated by a few degrees, corners
# filled, matches the stored photo's centre crop through it.
QUERY_CROP = 0.05
# A border line: at least this share of its pixels within this many levels of the outermost
# line's luminance (a JPEG's ringing and chroma rounding stay within it), at most this share
# of a side deep.
_BORDER_TOLERANCE = 12
_BORDER_SHARE = 0.95
_BORDER_MAX_DEPTH = 0.3
# Spatial frequency of each of the 8x8 DCT coefficients after DC (row-major), the spectrum's
# weights: natural images' coefficient magnitudes fall off about as 1/f.
_FREQUENCY = np.hypot(*np.meshgrid(np.arange(8), np.arange(8), indexing="ij")).ravel()[1:]


@dataclass(frozen=True)
class Hashes:
    """One view of a picture: the searched hash and its two confirmations."""

    phash: int  # unsigned, 0 <= phash < 2**64
    dhash: int  # unsigned, the confirming hash
    spectrum: bytes = b""


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    phash: int  # unsigned, 0 <= phash < 2**64
    dhash: int  # unsigned, the confirming hash
    quality: int  # 0..100
    # 63 signed bytes (see the module docstring); empty for fingerprints stored before it
    # existed, which are then confirmed by the two hashes alone.
    spectrum: bytes = b""
    # The picture's crops (`STORED_CROPS`), stored beside it for near matching.
    crops: tuple[Hashes, ...] = ()
    # The other views a lookup of this picture searches: cropped, inside its border, mirrored.
    probes: tuple[Hashes, ...] = ()

    @property
    def whole(self) -> Hashes:
        return Hashes(self.phash, self.dhash, self.spectrum)

    @property
    def stored_views(self) -> tuple[Hashes, ...]:
        """What the index keeps for near matching: the whole picture first, then its crops."""
        return (self.whole, *self.crops)

    @property
    def searched_views(self) -> tuple[Hashes, ...]:
        """What a lookup searches for: the whole picture first, then its probes."""
        return (self.whole, *self.probes)

    @staticmethod
    def signed(value: int) -> int:
        """An unsigned 64-bit hash as a signed one, for a database BIGINT column."""
        return value - (1 << 64) if value >= 1 << 63 else value

    @staticmethod
    def unsigned(value: int) -> int:
        return value & ((1 << 64) - 1)


@dataclass(frozen=True)
class DuplicateMatch:
    reference: str
    distance: int  # pHash bits (0 for an exact match)
    exact: bool
    confirm_distance: int = 0  # dHash bits
    similarity: float | None = None  # spectrum cosine (None: a fingerprint without one)


@dataclass(frozen=True)
class DuplicateRules:
    max_distance: int = DEFAULT_MAX_DISTANCE
    max_confirm_distance: int = DEFAULT_MAX_CONFIRM_DISTANCE
    min_quality: int = DEFAULT_MIN_QUALITY
    min_similarity: float = DEFAULT_MIN_SIMILARITY
    min_crop_similarity: float = DEFAULT_MIN_CROP_SIMILARITY
    min_view_similarity: float = DEFAULT_MIN_VIEW_SIMILARITY
    probe_radius: int = DEFAULT_PROBE_RADIUS

    def similarity_floor(self, *, query_view: int, stored_view: int) -> float:
        """The spectrum cosine a match needs between a searched view (0: the whole query) and a
        stored view (0: the whole stored picture)."""
        if query_view:
            return self.min_view_similarity
        return self.min_crop_similarity if stored_view else self.min_similarity

    def band_radius(self, bands: int) -> int:
        """The probe radius, never more than an exact search needs."""
        return max(0, min(self.probe_radius, self.max_distance // bands))

    def near_match(
        self,
        query: Hashes | Fingerprint,
        phash: int,
        dhash: int,
        spectrum: bytes = b"",
        *,
        query_view: int = 0,
        stored_view: int = 0,
    ) -> DuplicateMatch | None:
        distance = (phash ^ query.phash).bit_count()
        confirm = (dhash ^ query.dhash).bit_count()
        if distance > self.max_distance or confirm > self.max_confirm_distance:
            return None
        band_distance = min(value.bit_count() for value in band_values(phash ^ query.phash))
        if band_distance > self.band_radius(DEFAULT_BANDS):
            return None  # no band within the probe radius: a lookup would not meet it
        similarity = spectrum_similarity(query.spectrum, spectrum)
        floor = self.similarity_floor(query_view=query_view, stored_view=stored_view)
        if similarity is not None and similarity < floor:
            return None
        return DuplicateMatch(
            "", distance, exact=False, confirm_distance=confirm, similarity=similarity
        )


def fingerprint(data: bytes, image: Image.Image) -> Fingerprint:
    """SHA-256 of the file bytes; pHash, dHash, spectrum and quality of the (oriented)
    pixels."""
    return image_fingerprint(image, sha256=hashlib.sha256(data).hexdigest())


def image_fingerprint(image: Image.Image, sha256: str = "") -> Fingerprint:
    """Hashes of pixels alone (benchmarks and tests, where there is no file)."""
    luma = working_luma(image)
    whole = view_hashes(luma)
    probed = [centre_crop(luma, QUERY_CROP)]
    trimmed = trim_borders(luma)
    if trimmed.size != luma.size:
        probed.append(trimmed)
    probed.append(luma.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    return Fingerprint(
        sha256=sha256,
        phash=whole.phash,
        dhash=whole.dhash,
        quality=hash_quality(luma),
        spectrum=whole.spectrum,
        crops=tuple(view_hashes(crop(luma, *box)) for box in STORED_CROPS),
        probes=tuple(view_hashes(view) for view in probed),
    )


def view_hashes(luma: Image.Image) -> Hashes:
    phash, spectrum = _perceptual_hash_and_spectrum(luma)
    return Hashes(phash, difference_hash(luma), spectrum)


def centre_crop(image: Image.Image, fraction: float) -> Image.Image:
    """`image` without `fraction` of its width and height on every side."""
    return crop(image, fraction, fraction, fraction, fraction)


def crop(image: Image.Image, left: float, right: float, top: float, bottom: float) -> Image.Image:
    """`image` without these fractions of its width (left, right) and height (top, bottom)."""
    width, height = image.size
    return image.crop(
        (
            round(width * left),
            round(height * top),
            width - round(width * right),
            height - round(height * bottom),
        )
    )


def trim_borders(luma: Image.Image) -> Image.Image:
    """The picture inside a uniform border or frame of any colour (lines of the outermost
    line's luminance, up to `_BORDER_MAX_DEPTH` of a side on each side); `luma` itself when
    there is none."""
    pixels = np.asarray(luma, dtype=np.int16)
    height, width = pixels.shape
    rows, columns = int(height * _BORDER_MAX_DEPTH), int(width * _BORDER_MAX_DEPTH)
    top = _border_depth(pixels[:rows])
    bottom = _border_depth(pixels[::-1][:rows])
    left = _border_depth(pixels.T[:columns])
    right = _border_depth(pixels.T[::-1][:columns])
    if not (top or bottom or left or right):
        return luma
    return luma.crop((left, top, width - right, height - bottom))


def _border_depth(lines: np.ndarray) -> int:
    """How many of `lines` (outermost first) are uniform in the outermost line's colour."""
    if not len(lines):
        return 0
    colour = np.median(lines[0])
    uniform = (np.abs(lines - colour) <= _BORDER_TOLERANCE).mean(axis=1) >= _BORDER_SHARE
    return len(uniform) if uniform.all() else int(np.argmin(uniform))


def working_luma(image: Image.Image) -> Image.Image:
    """The image's luminance, box-reduced to at most `_WORKING_SIDE` a side (a big photo is
    reduced before the colour conversion, which then costs next to nothing)."""
    factor = max(1, min(image.size) // _WORKING_SIDE)
    small = image.reduce(factor) if factor > 1 else image
    return small if small.mode == "L" else small.convert("L")


def perceptual_hash(image: Image.Image) -> int:
    """imagehash.phash's 64 bits (its algorithm, on the working thumbnail), unsigned."""
    return _perceptual_hash_and_spectrum(working_luma(image))[0]


def _perceptual_hash_and_spectrum(luma: Image.Image) -> tuple[int, bytes]:
    # Imported here: scipy.fft costs ~28 MB and ~0.5 s at start in every web process, which
    # imports this module but never hashes a photo (the workers do).
    from scipy.fft import dct, dctn  # type: ignore[import-untyped]

    pixels = np.asarray(luma.resize((32, 32), Image.Resampling.LANCZOS), dtype=np.float64)
    # imagehash.phash: unnormalised DCT-II on both axes, the 8x8 lowest, above their median.
    low = dct(dct(pixels, axis=0), axis=1)[:8, :8]
    phash = _bits_to_int(low > np.median(low))
    weighted = dctn(pixels, norm="ortho")[:8, :8].ravel()[1:] * _FREQUENCY
    norm = float(np.linalg.norm(weighted))
    unit = weighted / norm if norm > 0 else weighted
    return phash, np.round(unit * 127).astype(np.int8).tobytes()


def difference_hash(image: Image.Image) -> int:
    """imagehash.dhash's 64 bits: is each of a 9x8 thumbnail's pixels brighter than its left
    neighbour."""
    pixels = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.LANCZOS), dtype=np.int32)
    return _bits_to_int(pixels[:, 1:] > pixels[:, :-1])


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.ravel()).tobytes(), "big")


def spectrum_similarity(a: bytes, b: bytes) -> float | None:
    """Cosine similarity of two spectra, or None when either is missing (older rows)."""
    if len(a) != SPECTRUM_SIZE or len(b) != SPECTRUM_SIZE:
        return None
    x = np.frombuffer(a, dtype=np.int8).astype(np.int32)
    y = np.frombuffer(b, dtype=np.int8).astype(np.int32)
    norms = float(np.sqrt(float(x @ x) * float(y @ y)))
    return float(x @ y) / norms if norms else 0.0


def hash_quality(image: Image.Image) -> int:
    """PDQ's image-domain quality metric: summed neighbour differences on a 64x64 luminance
    thumbnail, in percent of full scale, divided by 90 and capped at 100."""
    thumb = image.convert("L").resize((_QUALITY_SIDE, _QUALITY_SIDE), Image.Resampling.BOX)
    luma = np.asarray(thumb, dtype=np.int32)
    vertical = np.abs((luma[1:, :] - luma[:-1, :]) * 100 // 255).sum()
    horizontal = np.abs((luma[:, 1:] - luma[:, :-1]) * 100 // 255).sum()
    return int(min(100, (vertical + horizontal) // 90))


def band_values(phash: int, bands: int = DEFAULT_BANDS) -> list[int]:
    width = HASH_BITS // bands
    mask = (1 << width) - 1
    return [(phash >> (width * i)) & mask for i in range(bands)]


@cache
def _flip_masks(width: int, radius: int) -> tuple[int, ...]:
    masks = [0]
    for flipped in range(1, radius + 1):
        for positions in combinations(range(width), flipped):
            masks.append(sum(1 << p for p in positions))
    return tuple(masks)


def band_probes(value: int, *, width: int, radius: int) -> list[int]:
    """Every `width`-bit value within Hamming `radius` of `value`."""
    return [value ^ mask for mask in _flip_masks(width, radius)]


class DuplicateIndex(Protocol):
    """Where earlier photos' fingerprints live. Implementations: `MemoryDuplicateIndex` here,
    `verification.fingerprints.DatabaseDuplicateIndex` on PostgreSQL."""

    def find(self, fp: Fingerprint, rules: DuplicateRules) -> list[DuplicateMatch]:
        """Exact SHA-256 matches, plus (when the photo's quality is at least
        `rules.min_quality`) near matches, exact ones first, then by distance."""
        ...

    def add(self, reference: str, fp: Fingerprint, rules: DuplicateRules) -> None:
        """Store a fingerprint; near matching only covers those of quality >= min_quality."""
        ...


class MemoryDuplicateIndex:
    """Multi-index hashing in memory, for tests, benchmarks and single-process use.

    Every stored view of every photo is an entry. All bands live in one numpy column of entries
    sorted by key (band number, band value), with an offsets array from every possible key to
    its run of entries (CSR): a lookup gathers the runs of every probe key of every band in a
    few vectorised steps, so its cost follows the number of candidates, not the number of
    stored photos. Candidates are confirmed (dHash, spectrum) in the same vectorised way. New
    entries wait in a small unsorted buffer (checked by brute force) and are merged every
    `merge_every` additions. Thread-safe: one lock around reads and writes.
    """

    def __init__(self, *, bands: int = DEFAULT_BANDS, merge_every: int = 2048) -> None:
        if HASH_BITS % bands or HASH_BITS // bands > 16:
            raise ValueError("bands must divide 64 into bands of at most 16 bits")
        self.bands = bands
        self._width = HASH_BITS // bands
        self._merge_every = merge_every
        self._lock = threading.Lock()
        self._references: list[str] = []  # by photo
        self._by_sha: dict[str, list[int]] = {}  # photos
        self._entries = 0
        self._photo = np.zeros(1024, dtype=np.int64)  # by entry
        self._view = np.zeros(1024, dtype=np.int16)  # the view's number among its photo's
        self._phash = np.zeros(1024, dtype=np.uint64)
        self._dhash = np.zeros(1024, dtype=np.uint64)
        self._spectrum = np.zeros((1024, SPECTRUM_SIZE), dtype=np.int8)
        self._has_spectrum = np.zeros(1024, dtype=bool)
        self._pending: list[int] = []  # entries not yet in the sorted columns
        self._keys = np.zeros(0, dtype=np.int64)
        self._key_entries = np.zeros(0, dtype=np.int64)  # sorted by (band << width) | value
        self._offsets = np.zeros((bands << self._width) + 1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._references)

    def add(self, reference: str, fp: Fingerprint, rules: DuplicateRules) -> None:
        with self._lock:
            self._append(reference, fp, rules)
            if len(self._pending) >= self._merge_every:
                self._merge()

    def add_many(self, items: Iterable[tuple[str, Fingerprint]], rules: DuplicateRules) -> None:
        with self._lock:
            for reference, fp in items:
                self._append(reference, fp, rules)
            self._merge()

    def _append(self, reference: str, fp: Fingerprint, rules: DuplicateRules) -> None:
        photo = len(self._references)
        self._references.append(reference)
        self._by_sha.setdefault(fp.sha256, []).append(photo)
        if fp.quality < rules.min_quality:
            return
        for number, view in enumerate(fp.stored_views):
            entry = self._entries
            if entry == len(self._phash):
                (
                    self._photo,
                    self._view,
                    self._phash,
                    self._dhash,
                    self._spectrum,
                    self._has_spectrum,
                ) = (
                    np.concatenate([column, np.zeros_like(column)])
                    for column in (
                        self._photo,
                        self._view,
                        self._phash,
                        self._dhash,
                        self._spectrum,
                        self._has_spectrum,
                    )
                )
            self._photo[entry] = photo
            self._view[entry] = number
            self._phash[entry] = view.phash
            self._dhash[entry] = view.dhash
            if len(view.spectrum) == SPECTRUM_SIZE:
                self._spectrum[entry] = np.frombuffer(view.spectrum, dtype=np.int8)
                self._has_spectrum[entry] = True
            self._entries += 1
            self._pending.append(entry)

    def _merge(self) -> None:
        if not self._pending:
            return
        entries = np.asarray(self._pending, dtype=np.int64)
        mask = np.uint64((1 << self._width) - 1)
        keys = [
            (np.int64(band) << self._width)
            | ((self._phash[entries] >> np.uint64(self._width * band)) & mask).astype(np.int64)
            for band in range(self.bands)
        ]
        all_keys = np.concatenate([self._keys, *keys])
        all_entries = np.concatenate([self._key_entries, *([entries] * self.bands)])
        order = np.argsort(all_keys, kind="stable")
        self._keys, self._key_entries = all_keys[order], all_entries[order]
        self._offsets = np.searchsorted(self._keys, np.arange(len(self._offsets)), side="left")
        self._pending = []

    def find(self, fp: Fingerprint, rules: DuplicateRules) -> list[DuplicateMatch]:
        with self._lock:
            matches = {
                photo: DuplicateMatch(self._references[photo], 0, exact=True)
                for photo in self._by_sha.get(fp.sha256, [])
            }
            if fp.quality < rules.min_quality:
                return sort_matches(matches.values())
            near: dict[int, DuplicateMatch] = {}
            for number, view in enumerate(fp.searched_views):
                for photo, match in self._near_view(view, rules, probe=number > 0):
                    if photo not in near or match.distance < near[photo].distance:
                        near[photo] = match
            for photo, match in near.items():
                matches.setdefault(photo, match)
            return sort_matches(matches.values())

    def _near_view(
        self, view: Hashes, rules: DuplicateRules, *, probe: bool
    ) -> list[tuple[int, DuplicateMatch]]:
        radius = rules.band_radius(self.bands)
        masks = _flip_masks_array(self._width, radius)
        probes = np.concatenate(
            [
                (np.int64(band) << self._width) | (np.int64(value) ^ masks)
                for band, value in enumerate(band_values(view.phash, self.bands))
            ]
        )
        left = self._offsets[probes]
        lengths = self._offsets[probes + 1] - left
        # Every position of every matching run, without a Python loop over the runs.
        starts = np.repeat(left - (np.cumsum(lengths) - lengths), lengths)
        positions = starts + np.arange(int(lengths.sum()))
        # Entries not yet merged: those a band probe would have found.
        pending = np.asarray(self._pending, dtype=np.int64)
        pending = pending[self._band_distance(self._phash[pending], view.phash) <= radius]
        candidates = [pending, self._key_entries[positions]]
        # An entry can come up in several bands; the caller keeps one match per photo.
        entries = np.concatenate(candidates)
        if probe:  # a probe meets the stored whole picture and its centre crop only
            entries = entries[self._view[entries] < PROBED_VIEWS]
        phash_distance = np.bitwise_count(self._phash[entries] ^ np.uint64(view.phash))
        dhash_distance = np.bitwise_count(self._dhash[entries] ^ np.uint64(view.dhash))
        near = (phash_distance <= rules.max_distance) & (
            dhash_distance <= rules.max_confirm_distance
        )
        entries, phash_distance, dhash_distance = (
            entries[near],
            phash_distance[near],
            dhash_distance[near],
        )
        similarity = self._similarities(view, entries)
        if similarity is not None:
            floor = np.where(
                self._view[entries] > 0,
                rules.similarity_floor(query_view=int(probe), stored_view=1),
                rules.similarity_floor(query_view=int(probe), stored_view=0),
            )
            confirmed = np.isnan(similarity) | (similarity >= floor)
            entries, similarity = entries[confirmed], similarity[confirmed]
            phash_distance, dhash_distance = phash_distance[confirmed], dhash_distance[confirmed]
        found = []
        for position, entry in enumerate(entries.tolist()):
            photo = int(self._photo[entry])
            value = None if similarity is None else float(similarity[position])
            match = DuplicateMatch(
                self._references[photo],
                int(phash_distance[position]),
                exact=False,
                confirm_distance=int(dhash_distance[position]),
                similarity=None if value is None or np.isnan(value) else value,
            )
            found.append((photo, match))
        return found

    def _band_distance(self, phashes: np.ndarray, phash: int) -> np.ndarray:
        """The smallest Hamming distance over the bands between each of `phashes` and `phash`."""
        differences = phashes ^ np.uint64(phash)
        mask = np.uint64((1 << self._width) - 1)
        per_band = [
            np.bitwise_count((differences >> np.uint64(self._width * band)) & mask)
            for band in range(self.bands)
        ]
        return np.min(per_band, axis=0) if len(differences) else np.zeros(0, dtype=np.uint8)

    def _similarities(self, view: Hashes, entries: np.ndarray) -> np.ndarray | None:
        """Spectrum cosines of `entries` with the query (NaN where an entry has no spectrum),
        or None when the query has none."""
        if len(view.spectrum) != SPECTRUM_SIZE:
            return None
        query = np.frombuffer(view.spectrum, dtype=np.int8).astype(np.int32)
        stored = self._spectrum[entries].astype(np.int32)
        norms = np.sqrt((stored * stored).sum(axis=1) * float(query @ query))
        with np.errstate(invalid="ignore", divide="ignore"):
            similarity = (stored @ query) / norms
        return np.where(self._has_spectrum[entries], np.nan_to_num(similarity), np.nan)


@cache
def _flip_masks_array(width: int, radius: int) -> np.ndarray:
    return np.asarray(_flip_masks(width, radius), dtype=np.int64)


def sort_matches(matches: Iterable[DuplicateMatch]) -> list[DuplicateMatch]:
    return sorted(matches, key=lambda m: (not m.exact, m.distance, m.reference))


def check_duplicates(
    fp: Fingerprint,
    index: DuplicateIndex | None,
    *,
    reference: str | None = None,
    rules: DuplicateRules | None = None,
) -> CheckResult:
    """Compare against every earlier photo in `index`, ignoring entries for `reference` itself
    (a retried task must not find its own photo)."""
    rules = rules or DuplicateRules()
    name = CheckName.DUPLICATES
    if index is None:
        return skipped(name, "No duplicate index is configured.")
    near_checked = fp.quality >= rules.min_quality
    matches = [match for match in index.find(fp, rules) if match.reference != reference]
    details = {
        "sha256": fp.sha256,
        "phash": f"{fp.phash:016x}",
        "quality": fp.quality,
        "near_duplicate_checked": near_checked,
        "matches": [
            {
                "reference": m.reference,
                "distance": m.distance,
                "confirm_distance": m.confirm_distance,
                "similarity": None if m.similarity is None else round(m.similarity, 3),
                "exact": m.exact,
            }
            for m in matches[:10]
        ],
    }
    if any(m.exact for m in matches):
        return failed(name, "This exact photo file has been submitted before.", 0.0, **details)
    if matches:
        # The score is the nearest pHash distance in bits.
        return failed(
            name,
            "This photo is a copy of a photo submitted before; take a new one.",
            float(matches[0].distance),
            **details,
        )
    reason = (
        "The photo has not been submitted before."
        if near_checked
        else "The file has not been submitted before (the picture is too plain to compare "
        "for near copies)."
    )
    return passed(name, reason, **details)
