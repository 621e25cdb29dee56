"""Content safety: Yahoo's Open-NSFW model (ONNX) on every photo before anyone sees it.

Its authors' guidance: below 0.2 safe, above 0.8 unsafe, in between a person should look. The
middle band comes back as `failed` with `needs_review=True` and details {"band": "review"}, so
a consumer that ignores the flag errs on the side of not delivering.

The model itself (ONNX Runtime, its session and micro-batcher) is `verification.safety_model`,
loaded only by the process that scores a photo: this module, which every process that runs the
pipeline imports, carries only the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image

from verification.checks import CheckName, CheckResult, Status, passed

SAFE_BELOW = 0.2
UNSAFE_ABOVE = 0.8


class ImageScorer(Protocol):
    """A model that scores one photo now (the package's own classifier, a test double)."""

    def score(self, image: Image.Image) -> float: ...


@runtime_checkable
class BatchingScorer(Protocol):
    """A model that takes the photo now and answers later, sharing forward passes with
    concurrent callers (`verification.safety_model.QuietClassifier`)."""

    def submit(self, image: Image.Image) -> Callable[[], float]: ...


def safety_score(image: Image.Image, classifier: ImageScorer | BatchingScorer) -> float:
    """The model's NSFW probability (through the classifier's micro-batcher when it has one)."""
    return safety_request(image, classifier)()


def safety_request(
    image: Image.Image, classifier: ImageScorer | BatchingScorer
) -> Callable[[], float]:
    """Start scoring `image` and return a function that waits for the score: the caller can
    do other work (the relevance check) while the model runs."""
    if isinstance(classifier, BatchingScorer):
        return classifier.submit(image)
    score = float(classifier.score(image))
    return lambda: score


@dataclass(frozen=True)
class SafetyRules:
    safe_below: float = SAFE_BELOW
    unsafe_above: float = UNSAFE_ABOVE


def check_safety(
    image: Image.Image,
    classifier: ImageScorer | BatchingScorer | None = None,
    *,
    rules: SafetyRules | None = None,
) -> CheckResult:
    return start_safety_check(image, classifier, rules=rules)()


def start_safety_check(
    image: Image.Image,
    classifier: ImageScorer | BatchingScorer | None = None,
    *,
    rules: SafetyRules | None = None,
) -> Callable[[], CheckResult]:
    """`check_safety` in two steps: the model (the process-wide Open-NSFW session when
    `classifier` is None) starts on the photo now, the returned function waits for it and gives
    the result."""
    if classifier is None:
        # ONNX Runtime loads here, in the process that scores photos, not in every process
        # that imports the pipeline (the web runs the fast checks and must not carry it).
        from verification.safety_model import get_classifier

        classifier = get_classifier()
    pending = safety_request(image, classifier)
    return lambda: safety_result(pending(), rules or SafetyRules())


def safety_result(raw_score: float, rules: SafetyRules) -> CheckResult:
    name = CheckName.SAFETY
    score = round(raw_score, 4)
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
