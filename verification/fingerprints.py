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
    PROBED_VIEWS,
    DuplicateMatch,
    DuplicateRules,
    Fingerprint,
    band_probes,
    band_values,
    sort_matches,
)
from verification.models import PhotoFingerprint

_BAND_FIELDS = ("band0", "band1", "band2", "band3")
_BAND_WIDTH = HASH_BITS // DEFAULT_BANDS


def fingerprint_rows(
    reference: str, fp: Fingerprint, rules: DuplicateRules
) -> list[PhotoFingerprint]:
    """The photo's rows: the whole picture (view 0), then, when it is textured enough to be
    matched as a near copy, its crops (`STORED_CROPS`: 1 the centre crop, 2.. the side crops)."""
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


def _within(number: int) -> str:
    """Both Hamming distances of a row to searched view `number`, on the index tuple."""
    return (
        f"(bit_count((phash # (%(phash{number})s)::bigint)::bit(64)) <= %(max_distance)s"
        f" AND bit_count((dhash # (%(dhash{number})s)::bigint)::bit(64))"
        " <= %(max_confirm_distance)s)"
    )


@cache
def _postgres_find(probes: int) -> str:
    """On PostgreSQL, per band, two index-only scans of that band's covering index (band,
    view, id, phash, dhash): the whole picture's probe values against every stored view, and
    the probes' (`probes` searched views after the whole one) against views 0 and 1 only
    (`PROBED_VIEWS`, an index condition on the key's second column); each keeps only rows
    within both Hamming distances of one of its views (bit_count of the XOR, computed on the
    index tuples). The few survivors and the exact SHA-256 match are then read from the table.
    Eight scans of 17 values each (radius 1) and a few dozen index entries each at 1M photos;
    the previous version ran four scans of 137 values per searched view, 24 in all, and took
    ~29 ms there (bench/README.md).
    (Constant SQL: the table and column names are ours, every value is a parameter. The values
    are parenthesised before the casts: -2**63 is a valid hash, 2**63 is not a valid bigint.)"""
    probed = " OR ".join(_within(number) for number in range(1, probes + 1)) or "FALSE"
    near_ids = " UNION ALL ".join(
        f"SELECT id FROM {_TABLE} WHERE {field} = ANY(%(whole{band})s::integer[])"  # noqa: S608
        f" AND {_within(0)}"
        f" UNION ALL SELECT id FROM {_TABLE} WHERE {field} = ANY(%(probes{band})s::integer[])"
        f" AND view < %(probed_views)s AND ({probed})"
        for band, field in enumerate(_BAND_FIELDS)
    )
    return (
        f"SELECT {_COLUMNS} FROM {_TABLE} WHERE id IN ({near_ids})"  # noqa: S608
        f" UNION ALL SELECT {_COLUMNS} FROM {_TABLE} WHERE sha256 = %(sha256)s AND view = 0"
    )


def _band_probes(fp: Fingerprint, rules: DuplicateRules) -> tuple[list[list[int]], list[list[int]]]:
    """Per band, the values probed for the whole picture, and for its probes together."""
    radius = rules.band_radius(DEFAULT_BANDS)
    whole = [
        band_probes(value, width=_BAND_WIDTH, radius=radius) for value in band_values(fp.phash)
    ]
    probed: list[set[int]] = [set() for _ in _BAND_FIELDS]
    for view in fp.probes:
        for band, value in enumerate(band_values(view.phash)):
            probed[band].update(band_probes(value, width=_BAND_WIDTH, radius=radius))
    return whole, [sorted(values) for values in probed]


class DatabaseDuplicateIndex:
    """Multi-index hashing on band columns, then the confirmations (see
    `verification.checks.duplicates`): the whole picture against every stored view, its probes
    against the stored whole picture and its centre crop. PostgreSQL runs one query of
    index-only scans (`_postgres_find`); other databases (SQLite in development) send
    `sha256 = ... OR band0 IN (...) OR ...` and compute every distance in Python."""

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
                    if number > 0 and view >= PROBED_VIEWS:
                        break  # the probes meet the stored whole picture and centre crop only
                    match = rules.near_match(
                        query,
                        Fingerprint.unsigned(phash),
                        Fingerprint.unsigned(dhash),
                        bytes(spectrum),
                        query_view=number,
                        stored_view=view,
                    )
                    earlier = matches.get(photo)
                    if match is not None and (
                        earlier is None or (not earlier.exact and match.distance < earlier.distance)
                    ):
                        matches[photo] = replace(match, reference=reference)
        return sort_matches(matches.values())

    def _postgres_rows(self, fp: Fingerprint, rules: DuplicateRules, *, near: bool) -> list[tuple]:
        # No probes for a photo too plain to compare: the exact match alone.
        whole, probed = _band_probes(fp, rules) if near else ([[]] * 4, [[]] * 4)
        params: dict[str, Any] = {f"whole{band}": values for band, values in enumerate(whole)}
        params.update({f"probes{band}": values for band, values in enumerate(probed)})
        for number, view in enumerate(fp.searched_views):
            params[f"phash{number}"] = Fingerprint.signed(view.phash)
            params[f"dhash{number}"] = Fingerprint.signed(view.dhash)
        params.update(
            max_distance=rules.max_distance,
            max_confirm_distance=rules.max_confirm_distance,
            probed_views=PROBED_VIEWS,
            sha256=fp.sha256,
        )
        with transaction.atomic(), connection.cursor() as cursor:
            # Small index-only scans: starting parallel workers would cost more (~10 ms) than
            # the scans themselves. LOCAL: reverted with the transaction, and reset below for
            # an enclosing one.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute(_postgres_find(len(fp.probes)), params)
            rows = cursor.fetchall()
            cursor.execute("SET LOCAL max_parallel_workers_per_gather TO DEFAULT")
        # Rows whose id came up twice (exact and near) are the same row twice: harmless.
        return [row[1:] for row in rows]

    def _portable_rows(self, fp: Fingerprint, rules: DuplicateRules, *, near: bool) -> list[tuple]:
        condition = Q(sha256=fp.sha256, view=0)
        if near:
            whole, probed = _band_probes(fp, rules)
            for field, values in zip(_BAND_FIELDS, whole, strict=True):
                condition |= Q(**{f"{field}__in": values})
            for field, values in zip(_BAND_FIELDS, probed, strict=True):
                condition |= Q(**{f"{field}__in": values}, view__lt=PROBED_VIEWS)
        return list(
            PhotoFingerprint.objects.filter(condition).values_list(
                "reference", "sha256", "phash", "dhash", "spectrum", "band0", "view"
            )
        )
