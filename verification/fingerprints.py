"""The duplicate index on the database: `PhotoFingerprint` rows, searched by band."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from verification.checks.duplicates import (
    DEFAULT_BANDS,
    HASH_BITS,
    DuplicateMatch,
    DuplicateRules,
    Fingerprint,
    band_probes,
    band_values,
    probe_radius,
    sort_matches,
)
from verification.models import PhotoFingerprint

_BAND_FIELDS = ("band0", "band1", "band2", "band3")
_BAND_WIDTH = HASH_BITS // DEFAULT_BANDS


def fingerprint_rows(
    reference: str, fp: Fingerprint, rules: DuplicateRules
) -> list[PhotoFingerprint]:
    """The photo's rows: the whole picture (view 0), then, when it is textured enough to be
    matched as a near copy, its centre crops."""
    near = fp.quality >= rules.min_quality
    no_bands: list[int | None] = [None] * DEFAULT_BANDS
    return [
        PhotoFingerprint(
            reference=reference,
            sha256=fp.sha256,
            phash=Fingerprint.signed(view.phash),
            dhash=Fingerprint.signed(view.dhash),
            quality=fp.quality,
            spectrum=view.spectrum,
            view=number,
            **dict(
                zip(
                    _BAND_FIELDS,
                    [*band_values(view.phash)] if near else no_bands,
                    strict=True,
                )
            ),
        )
        for number, view in enumerate(fp.stored_views if near else [fp.whole])
    ]


_TABLE = PhotoFingerprint._meta.db_table
_COLUMNS = "id, reference, sha256, phash, dhash, spectrum, band0, view"


@cache
def _postgres_find(views: int) -> str:
    """On PostgreSQL: per searched view and band, an index-only scan of that band's covering
    index (band, id, phash, dhash) for the probe values, keeping only rows within both Hamming
    distances of that view (bit_count of the XOR, computed on the index tuples); the few
    survivors and the exact SHA-256 match are then read from the table. At 1M stored hashes a
    band's probes meet ~2-4k index entries and no table page; the first version (bitmap scans,
    every candidate row sent to Python) took ~60 ms there (bench/README.md).
    (Constant SQL: the table and column names are ours, every value is a parameter. The values
    are parenthesised before the casts: -2**63 is a valid hash, 2**63 is not a valid bigint.)"""
    near_ids = " UNION ALL ".join(
        f"SELECT id FROM {_TABLE} WHERE {field} = ANY(%(probes{view}_{band})s::integer[])"  # noqa: S608
        f" AND bit_count((phash # (%(phash{view})s)::bigint)::bit(64)) <= %(max_distance)s"
        f" AND bit_count((dhash # (%(dhash{view})s)::bigint)::bit(64))"
        " <= %(max_confirm_distance)s"
        for view in range(views)
        for band, field in enumerate(_BAND_FIELDS)
    )
    return (
        f"SELECT {_COLUMNS} FROM {_TABLE} WHERE id IN ({near_ids})"  # noqa: S608
        f" UNION ALL SELECT {_COLUMNS} FROM {_TABLE} WHERE sha256 = %(sha256)s AND view = 0"
    )


class DatabaseDuplicateIndex:
    """Multi-index hashing on band columns, then the confirmations (see
    `verification.checks.duplicates`), for every view the query searches against every view
    stored. PostgreSQL runs one query of index-only scans (`_postgres_find`); other databases
    (SQLite in development) send `sha256 = ... OR band0 IN (...) OR ...` and compute every
    distance in Python."""

    def add(self, reference: str, fp: Fingerprint, rules: DuplicateRules) -> None:
        PhotoFingerprint.objects.bulk_create(fingerprint_rows(reference, fp, rules))

    def find(self, fp: Fingerprint, rules: DuplicateRules) -> list[DuplicateMatch]:
        near = fp.quality >= rules.min_quality
        if connection.vendor == "postgresql":
            rows = self._postgres_rows(fp, rules, near=near)
        else:
            rows = self._portable_rows(fp, rules, near=near)
        # One match per stored photo (reference and file): exact first, else its nearest view.
        matches: dict[tuple[str, str], DuplicateMatch] = {}
        for reference, sha256, phash, dhash, spectrum, band0, view in rows:
            photo = (reference, sha256)
            if sha256 == fp.sha256 and view == 0:
                matches[photo] = DuplicateMatch(reference, 0, exact=True)
            elif near and band0 is not None:
                for number, query in enumerate(fp.searched_views):
                    match = rules.near_match(
                        query,
                        Fingerprint.unsigned(phash),
                        Fingerprint.unsigned(dhash),
                        bytes(spectrum),
                        probe=number > 0,
                    )
                    earlier = matches.get(photo)
                    if match is not None and (
                        earlier is None or (not earlier.exact and match.distance < earlier.distance)
                    ):
                        matches[photo] = replace(match, reference=reference)
        return sort_matches(matches.values())

    def _postgres_rows(self, fp: Fingerprint, rules: DuplicateRules, *, near: bool) -> list[tuple]:
        radius = probe_radius(rules.max_distance, DEFAULT_BANDS)
        views = fp.searched_views
        params: dict[str, Any] = {
            # No probes for a photo too plain to compare: the exact match alone.
            f"probes{number}_{band}": band_probes(value, width=_BAND_WIDTH, radius=radius)
            if near
            else []
            for number, view in enumerate(views)
            for band, value in enumerate(band_values(view.phash))
        }
        for number, view in enumerate(views):
            params[f"phash{number}"] = Fingerprint.signed(view.phash)
            params[f"dhash{number}"] = Fingerprint.signed(view.dhash)
        params.update(
            max_distance=rules.max_distance,
            max_confirm_distance=rules.max_confirm_distance,
            sha256=fp.sha256,
        )
        with transaction.atomic(), connection.cursor() as cursor:
            # Small index-only scans: starting parallel workers would cost more (~10 ms) than
            # the scans themselves. LOCAL: reverted with the transaction, and reset below for
            # an enclosing one.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(_postgres_find(len(views)), params)
            rows = cursor.fetchall()
            cursor.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
        # Rows whose id came up twice (exact and near) are the same row twice: harmless.
        return [row[1:] for row in rows]

    def _portable_rows(self, fp: Fingerprint, rules: DuplicateRules, *, near: bool) -> list[tuple]:
        condition = Q(sha256=fp.sha256, view=0)
        if near:
            radius = probe_radius(rules.max_distance, DEFAULT_BANDS)
            for view in fp.searched_views:
                for field, value in zip(_BAND_FIELDS, band_values(view.phash), strict=True):
                    probes = band_probes(value, width=_BAND_WIDTH, radius=radius)
                    condition |= Q(**{f"{field}__in": probes})
        return list(
            PhotoFingerprint.objects.filter(condition).values_list(
                "reference", "sha256", "phash", "dhash", "spectrum", "band0", "view"
            )
        )
