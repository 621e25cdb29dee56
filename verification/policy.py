"""From check results and the worker's standing to a verdict: accepted, rejected or
needs_review, always with the reasons.

Rules, in order:
1. Any failed fast check (integrity, location, time, duplicates) rejects: those are facts about
   the file, and the worker can retake the photo.
2. Unsafe content rejects; the safety review band sends the photo to review.
3. Relevance: at or above the accept threshold (lower for trusted workers) passes; in the review
   band below it, review; below the band, reject. No model (skipped) means review, unless
   `accept_without_relevance` says the other checks are enough.
4. A photo that would be accepted from a new or low-reputation worker goes to review.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from verification.checks import CheckName, CheckResult, Status


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    NEEDS_REVIEW = "needs_review"


@dataclass(frozen=True)
class Thresholds:
    relevance_accept: float = 0.6
    # Scores in [relevance_accept - relevance_review_band, relevance_accept) go to review.
    relevance_review_band: float = 0.25
    # Trusted workers (reputation >= trusted_reputation) are accepted from this score.
    relevance_accept_trusted: float = 0.45
    trusted_reputation: float = 0.9
    # Below this reputation, or with fewer than `min_history` decided photos, accepted photos
    # go to review instead.
    low_reputation: float = 0.6
    min_history: int = 3
    accept_without_relevance: bool = False


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reasons: list[str] = field(default_factory=list)


_FAST = {CheckName.INTEGRITY, CheckName.LOCATION, CheckName.TIME, CheckName.DUPLICATES}


def decide(
    results: Sequence[CheckResult],
    *,
    reputation: float | None,
    history_count: int = 0,
    thresholds: Thresholds | None = None,
) -> Verdict:
    """The verdict for one photo. `reputation` comes from `reputation()` (None: no history)."""
    thresholds = thresholds or Thresholds()
    by_name = {result.name: result for result in results}
    rejections = [r.reason for r in results if r.name in _FAST and r.status is Status.FAILED]
    reviews: list[str] = []

    safety = by_name.get(CheckName.SAFETY)
    if safety is not None and safety.status is Status.FAILED:
        (reviews if safety.needs_review else rejections).append(safety.reason)

    relevance = by_name.get(CheckName.RELEVANCE)
    trusted = reputation is not None and reputation >= thresholds.trusted_reputation
    accept_at = thresholds.relevance_accept_trusted if trusted else thresholds.relevance_accept
    if relevance is None or relevance.status is Status.SKIPPED or relevance.score is None:
        if not thresholds.accept_without_relevance:
            reason = relevance.reason if relevance else "relevance was not checked"
            reviews.append(f"A person must confirm the photo shows what was asked ({reason}).")
    elif relevance.score < accept_at - thresholds.relevance_review_band:
        rejections.append(relevance.reason)
    elif relevance.score < accept_at:
        reviews.append("The photo may not show what was asked; a person will check it.")

    if rejections:
        return Verdict(Decision.REJECTED, rejections)
    if reputation is None or history_count < thresholds.min_history:
        reviews.append("Photos from new workers are checked by a person.")
    elif reputation < thresholds.low_reputation:
        reviews.append("Photos from workers with many rejected photos are checked by a person.")
    if reviews:
        return Verdict(Decision.NEEDS_REVIEW, reviews)
    return Verdict(Decision.ACCEPTED, ["All checks passed."])


def reputation(
    verdicts: Iterable[tuple[bool, datetime]],
    now: datetime,
    *,
    n: int = 50,
    half_life: timedelta = timedelta(days=30),
) -> float | None:
    """Recency-weighted acceptance rate over the last `n` decided photos, each weighted by
    0.5 ** (age / half_life). None when there are no decided photos."""
    recent = sorted(verdicts, key=lambda verdict: verdict[1], reverse=True)[:n]
    if not recent:
        return None
    total = accepted_weight = 0.0
    for accepted, decided_at in recent:
        age = max(timedelta(0), now - decided_at)
        weight = 0.5 ** (age / half_life)
        total += weight
        if accepted:
            accepted_weight += weight
    return accepted_weight / total if total > 0 else None
