"""The duplicate index on the database: `PhotoFingerprint` rows, searched by band."""

from __future__ import annotations

from dataclasses import replace
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


def fingerprint_row(reference: str, fp: Fingerprint, rules: DuplicateRules) -> PhotoFingerprint:
    bands: list[int | None] = (
        list(band_values(fp.phash, DEFAULT_BANDS))
        if fp.quality >= rules.min_quality
        else [None] * DEFAULT_BANDS
    )
    return PhotoFingerprint(
        reference=reference,
        sha256=fp.sha256,
        phash=Fingerprint.signed(fp.phash),
        dhash=Fingerprint.signed(fp.dhash),
        quality=fp.quality,
        spectrum=fp.spectrum,
        **dict(zip(_BAND_FIELDS, bands, strict=True)),
    )


_TABLE = PhotoFingerprint._meta.db_table
# On PostgreSQL: per band, an index-only scan of that band's covering index (band, id, phash,
# dhash) for the probe values, keeping only rows within both Hamming distances (bit_count of
# the XOR, computed on the index tuples); the few survivors and any exact SHA-256 match are
# then read from the table. At 1M stored hashes a band's probes meet ~2-4k index entries and
# no table page; the first version (bitmap scans, every candidate row sent to Python) took
# ~60 ms there (bench/README.md).
# (Constant SQL: the table and column names are ours, every value is a parameter. The values
# are parenthesised before the casts: -2**63 is a valid hash, 2**63 is not a valid bigint.)
_NEAR_IDS = " UNION ALL ".join(
    f"SELECT id FROM {_TABLE} WHERE {field} = ANY(%(probes{band})s::integer[])"  # noqa: S608
    " AND bit_count((phash # (%(phash)s)::bigint)::bit(64)) <= %(max_distance)s"
    " AND bit_count((dhash # (%(dhash)s)::bigint)::bit(64)) <= %(max_confirm_distance)s"
    for band, field in enumerate(_BAND_FIELDS)
)
_COLUMNS = "id, reference, sha256, phash, dhash, spectrum, band0"
_POSTGRES_FIND = (
    f"SELECT {_COLUMNS} FROM {_TABLE} WHERE id IN ({_NEAR_IDS})"  # noqa: S608
    f" UNION ALL SELECT {_COLUMNS} FROM {_TABLE} WHERE sha256 = %(sha256)s"
)


class DatabaseDuplicateIndex:
    """Multi-index hashing on band columns, then the confirmations (see
    `verification.checks.duplicates`). PostgreSQL runs one query of index-only scans
    (`_POSTGRES_FIND`); other databases (SQLite in development) send `sha256 = ... OR band0 IN
    (...) OR ...` and compute every distance in Python."""

    def add(self, reference: str, fp: Fingerprint, rules: DuplicateRules) -> None:
        fingerprint_row(reference, fp, rules).save()

    def find(self, fp: Fingerprint, rules: DuplicateRules) -> list[DuplicateMatch]:
        near = fp.quality >= rules.min_quality
        if connection.vendor == "postgresql":
            rows = self._postgres_rows(fp, rules, near=near)
        else:
            rows = self._portable_rows(fp, rules, near=near)
        matches: list[DuplicateMatch] = []
        seen: set[int] = set()
        for row_id, reference, sha256, phash, dhash, spectrum, band0 in rows:
            if row_id in seen:
                continue
            seen.add(row_id)
            if sha256 == fp.sha256:
                matches.append(DuplicateMatch(reference, 0, exact=True))
            elif near and band0 is not None:
                match = rules.near_match(
                    fp, Fingerprint.unsigned(phash), Fingerprint.unsigned(dhash), bytes(spectrum)
                )
                if match is not None:
                    matches.append(replace(match, reference=reference))
        return sort_matches(matches)

    def _postgres_rows(self, fp: Fingerprint, rules: DuplicateRules, *, near: bool) -> list[tuple]:
        radius = probe_radius(rules.max_distance, DEFAULT_BANDS)
        params: dict[str, Any] = {
            # No probes for a photo too plain to compare: the exact match alone.
            f"probes{band}": band_probes(value, width=_BAND_WIDTH, radius=radius) if near else []
            for band, value in enumerate(band_values(fp.phash))
        }
        params.update(
            phash=Fingerprint.signed(fp.phash),
            dhash=Fingerprint.signed(fp.dhash),
            max_distance=rules.max_distance,
            max_confirm_distance=rules.max_confirm_distance,
            sha256=fp.sha256,
        )
        with transaction.atomic(), connection.cursor() as cursor:
            # Four small index-only scans: starting parallel workers would cost more (~10 ms)
            # than the scans themselves. LOCAL: reverted with the transaction, and reset below
            # for an enclosing one.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(_POSTGRES_FIND, params)
            rows = cursor.fetchall()
            cursor.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
        return rows

    def _portable_rows(self, fp: Fingerprint, rules: DuplicateRules, *, near: bool) -> list[tuple]:
        condition = Q(sha256=fp.sha256)
        if near:
            radius = probe_radius(rules.max_distance, DEFAULT_BANDS)
            for field, value in zip(_BAND_FIELDS, band_values(fp.phash), strict=True):
                probes = band_probes(value, width=_BAND_WIDTH, radius=radius)
                condition |= Q(**{f"{field}__in": probes})
        return list(
            PhotoFingerprint.objects.filter(condition).values_list(
                "id", "reference", "sha256", "phash", "dhash", "spectrum", "band0"
            )
        )
