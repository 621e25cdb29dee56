"""Relevance: does the photo show what the bounty asked for?

The check reports the model's probability as its score and passes at a neutral
`pass_threshold`; the verdict policy applies its own thresholds (by worker reputation) to the
score, so the status here is only a summary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from PIL import Image

from verification.checks import CheckName, CheckResult, failed, passed, skipped

if TYPE_CHECKING:  # the model (torch, transformers) loads only where a scorer runs it
    from verification.model import RelevanceScore


class Scorer(Protocol):
    def score(
        self, image: Image.Image, text: str, timeout: float | None = ...
    ) -> RelevanceScore: ...


@dataclass(frozen=True)
class RelevanceRules:
    pass_threshold: float = 0.5


def check_relevance(
    image: Image.Image,
    verify_text: str,
    scorer: Scorer | None,
    *,
    rules: RelevanceRules | None = None,
) -> tuple[CheckResult, list[float] | None]:
    """The result and the image embedding (None when the model did not run)."""
    rules = rules or RelevanceRules()
    name = CheckName.RELEVANCE
    if scorer is None:
        return skipped(name, "no vision model configured"), None
    if not verify_text.strip():
        return skipped(name, "The bounty gives no description to compare the photo with."), None
    result = scorer.score(image, verify_text)
    details = {
        "verify_text": verify_text,
        "best_negative": result.best_negative,
        "best_negative_probability": round(result.best_negative_probability, 4),
    }
    score = round(result.probability, 4)
    if result.probability >= rules.pass_threshold:
        return passed(name, "The photo matches the bounty's description.", score, **details), (
            result.embedding
        )
    return (
        failed(
            name,
            f"The photo does not look like {verify_text!r}; it looks more like "
            f"{result.best_negative!r}.",
            score,
            **details,
        ),
        result.embedding,
    )
