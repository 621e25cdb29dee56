from __future__ import annotations

from django.db import models


class PhotoFingerprint(models.Model):
    """One earlier photo's fingerprint, for duplicate search (see verification.checks.duplicates).

    `phash` (the searched hash) and `dhash` (the confirming one) are 64-bit hashes stored as
    signed BIGINTs; `band0..band3` are phash's four 16-bit bands (least significant first), NULL
    when the photo is too plain (low quality) to be matched as a near copy; `spectrum` is the
    second confirmation (63 signed bytes; empty on rows stored before it existed). A photo has
    one row per stored view: `view` 0 is the whole picture (the only row of a photo too plain to
    compare, and the one an exact SHA-256 match reads), 1.. its crops (`STORED_CROPS`: 1 the
    centre crop, 2.. the side crops).
    """

    reference = models.CharField(max_length=100, db_index=True)  # e.g. "submission:12"
    sha256 = models.CharField(max_length=64, db_index=True)
    phash = models.BigIntegerField()
    dhash = models.BigIntegerField()
    quality = models.PositiveSmallIntegerField()
    view = models.PositiveSmallIntegerField(default=0)
    spectrum = models.BinaryField(max_length=63, default=b"")
    band0 = models.IntegerField(null=True)
    band1 = models.IntegerField(null=True)
    band2 = models.IntegerField(null=True)
    band3 = models.IntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # One B-tree per band, keyed by (band, view) and carrying the hashes (PostgreSQL
        # INCLUDE; other databases get the plain index): a lookup reads candidates and filters
        # them by Hamming distance from the index alone, without visiting the table (index-only
        # scans), and the query's probes read only the views they are compared with.
        indexes = [
            models.Index(
                fields=[f"band{band}", "view"],
                include=["id", "phash", "dhash"],
                name=f"photofp_band{band}_view",
            )
            for band in range(4)
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quality__lte=100), name="photofingerprint_quality_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.sha256[:12]}"
