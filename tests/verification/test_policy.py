from datetime import UTC, datetime, timedelta

import pytest

from verification.checks import CheckName, CheckResult, Status
from verification.policy import Decision, Thresholds, decide, reputation

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def ok(name: str, score: float | None = None) -> CheckResult:
    return CheckResult(name, Status.PASSED, score, f"{name} ok")


def fast_passed() -> list[CheckResult]:
    return [
        ok(CheckName.INTEGRITY),
        ok(CheckName.LOCATION),
        ok(CheckName.TIME),
        ok(CheckName.DUPLICATES),
    ]


def with_relevance(score: float, safety: float = 0.01) -> list[CheckResult]:
    return [*fast_passed(), ok(CheckName.RELEVANCE, score), ok(CheckName.SAFETY, safety)]


def test_an_established_worker_with_a_relevant_photo_is_accepted():
    verdict = decide(with_relevance(0.8), reputation=0.8, history_count=10)
    assert verdict.decision is Decision.ACCEPTED


def test_any_failed_fast_check_rejects_with_its_reason():
    results = with_relevance(0.9)
    results[1] = CheckResult(CheckName.LOCATION, Status.FAILED, None, "Too far away.")
    verdict = decide(results, reputation=1.0, history_count=50)
    assert verdict.decision is Decision.REJECTED
    assert verdict.reasons == ["Too far away."]


def test_relevance_bands():
    accepted = decide(with_relevance(0.61), reputation=0.8, history_count=10)
    review = decide(with_relevance(0.5), reputation=0.8, history_count=10)
    rejected = decide(with_relevance(0.2), reputation=0.8, history_count=10)
    assert (accepted.decision, review.decision, rejected.decision) == (
        Decision.ACCEPTED,
        Decision.NEEDS_REVIEW,
        Decision.REJECTED,
    )


def test_trusted_workers_get_a_lower_relevance_threshold():
    assert decide(with_relevance(0.5), reputation=0.95, history_count=30).decision is (
        Decision.ACCEPTED
    )
    assert decide(with_relevance(0.5), reputation=0.8, history_count=30).decision is (
        Decision.NEEDS_REVIEW
    )


@pytest.mark.parametrize(("rep", "history"), [(None, 0), (0.99, 1), (0.3, 40)])
def test_new_and_low_reputation_workers_go_to_review(rep, history):
    verdict = decide(with_relevance(0.95), reputation=rep, history_count=history)
    assert verdict.decision is Decision.NEEDS_REVIEW


def test_safety_review_band_and_unsafe():
    results = with_relevance(0.9)
    results[-1] = CheckResult(
        CheckName.SAFETY, Status.FAILED, 0.5, "Needs a look.", {"band": "review"}, True
    )
    assert decide(results, reputation=1.0, history_count=50).decision is Decision.NEEDS_REVIEW
    results[-1] = CheckResult(CheckName.SAFETY, Status.FAILED, 0.9, "Explicit.", {"band": "unsafe"})
    verdict = decide(results, reputation=1.0, history_count=50)
    assert verdict.decision is Decision.REJECTED
    assert verdict.reasons == ["Explicit."]


def test_accepting_without_a_model_is_a_policy_choice():
    results = [*fast_passed(), CheckResult(CheckName.RELEVANCE, Status.SKIPPED, None, "no model")]
    lenient = Thresholds(accept_without_relevance=True)
    assert decide(results, reputation=0.9, history_count=10).decision is Decision.NEEDS_REVIEW
    assert decide(results, reputation=0.9, history_count=10, thresholds=lenient).decision is (
        Decision.ACCEPTED
    )


def test_reputation_weights_recent_verdicts_more():
    old_bad_new_good = [(False, NOW - timedelta(days=120))] * 5 + [(True, NOW)] * 5
    old_good_new_bad = [(True, NOW - timedelta(days=120))] * 5 + [(False, NOW)] * 5
    assert reputation(old_bad_new_good, NOW) == pytest.approx(16 / 17)
    assert reputation(old_good_new_bad, NOW) == pytest.approx(1 / 17)
    assert reputation([], NOW) is None


def test_reputation_only_counts_the_last_n():
    history = [(False, NOW - timedelta(days=d)) for d in range(10, 20)]
    history += [(True, NOW - timedelta(days=d)) for d in range(5)]
    assert reputation(history, NOW, n=5) == 1.0
    assert 0 < reputation(history, NOW, n=15, half_life=timedelta(days=3650)) < 0.5  # type: ignore[operator]
