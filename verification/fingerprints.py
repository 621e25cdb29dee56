"""The duplicate index on the database: `PhotoFingerprint` rows, searched by band."""

from __future__ import annotations

from dataclasses import replace

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


class DatabaseDuplicateIndex:
    """`sha256 = ... OR band0 IN (...) OR band1 IN (...) OR ...`, then exact Hamming distances
    on the candidates in Python. Each band column has its own B-tree index, so PostgreSQL
    answers with a BitmapOr of index scans."""

    def add(self, reference: str, fp: Fingerprint, rules: DuplicateRules) -> None:
        fingerprint_row(reference, fp, rules).save()

    def find(self, fp: Fingerprint, rules: DuplicateRules) -> list[DuplicateMatch]:
        condition = Q(sha256=fp.sha256)
        near = fp.quality >= rules.min_quality
        if near:
            radius = probe_radius(rules.max_distance, DEFAULT_BANDS)
            for field, value in zip(_BAND_FIELDS, band_values(fp.phash), strict=True):
                probes = band_probes(value, width=_BAND_WIDTH, radius=radius)
                condition |= Q(**{f"{field}__in": probes})
        matches: list[DuplicateMatch] = []
        rows = PhotoFingerprint.objects.filter(condition).values_list(
            "reference", "sha256", "phash", "dhash", "spectrum", "band0"
        )
        for reference, sha256, phash, dhash, spectrum, band0 in rows:
            if sha256 == fp.sha256:
                matches.append(DuplicateMatch(reference, 0, exact=True))
            elif near and band0 is not None:
                match = rules.near_match(
                    fp, Fingerprint.unsigned(phash), Fingerprint.unsigned(dhash), bytes(spectrum)
                )
                if match is not None:
                    matches.append(replace(match, reference=reference))
        return sort_matches(matches)
