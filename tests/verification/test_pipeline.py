import threading
from datetime import timedelta

import pytest

from tests.verification.conftest import make_target, photo_bytes
from tests.verification.corpus import reencoded
from verification.checks import CheckName, Status
from verification.checks.duplicates import MemoryDuplicateIndex
from verification.fingerprints import DatabaseDuplicateIndex
from verification.image import GeoPoint
from verification.models import PhotoFingerprint
from verification.pipeline import (
    FAST_CHECKS,
    MODEL_CHECKS,
    CheckSettings,
    run_all_checks,
    run_fast_checks,
)
from verification.policy import Decision, decide
from verification.safety_model import QuietClassifier


def statuses(result) -> dict[str, Status]:
    return {check.name: check.status for check in result.results}


def test_a_fresh_photo_on_the_spot_passes_every_fast_check(now, target, fresh_dscn0010):
    result = run_fast_checks(
        data=fresh_dscn0010,
        target=target,
        received_at=now,
        reported=GeoPoint(43.4675, 11.8852),
        reported_accuracy_m=25,
        index=MemoryDuplicateIndex(),
        reference="submission:1",
    )
    assert statuses(result) == dict.fromkeys(FAST_CHECKS, Status.PASSED)
    facts = result.facts
    assert facts is not None
    assert (facts.width, facts.height) == (640, 480)
    assert facts.gps is not None
    assert facts.gps.lat == pytest.approx(43.467448, abs=1e-5)
    assert facts.captured_at is not None
    assert abs(facts.captured_at - (now - timedelta(minutes=5))) < timedelta(seconds=1)
    assert facts.captured_at_source == "exif"
    assert len(facts.sha256) == 64
    assert facts.embedding is None


def test_it_reads_from_a_path_too(now, target):
    result = run_fast_checks(path="../shared/photos/DSCN0010.jpg", target=target, received_at=now)
    assert result.result(CheckName.LOCATION).passed
    assert result.result(CheckName.TIME).status is Status.FAILED  # taken in 2008
    assert result.result(CheckName.DUPLICATES).status is Status.SKIPPED  # no index


def test_the_same_photo_twice_is_an_exact_duplicate(now, target, fresh_dscn0010):
    index = MemoryDuplicateIndex()
    common = {"target": target, "received_at": now, "index": index}
    first = run_fast_checks(data=fresh_dscn0010, reference="submission:1", **common)
    second = run_fast_checks(data=fresh_dscn0010, reference="submission:2", **common)
    assert first.result(CheckName.DUPLICATES).passed
    duplicate = second.result(CheckName.DUPLICATES)
    assert duplicate.status is Status.FAILED
    assert duplicate.details["matches"][0]["reference"] == "submission:1"
    assert duplicate.details["matches"][0]["exact"] is True


@pytest.mark.django_db
def test_a_resized_reencoded_copy_is_a_near_duplicate_in_the_database(now, target):
    index = DatabaseDuplicateIndex()
    original = photo_bytes("DSCN0010.jpg")
    run_fast_checks(data=original, target=target, received_at=now, index=index, reference="s:1")
    copy = run_fast_checks(
        data=reencoded(original), target=target, received_at=now, index=index, reference="s:2"
    )
    duplicate = copy.result(CheckName.DUPLICATES)
    assert duplicate.status is Status.FAILED
    assert duplicate.details["matches"][0]["reference"] == "s:1"
    assert duplicate.details["matches"][0]["exact"] is False
    assert PhotoFingerprint.objects.filter(reference__in=["s:1", "s:2"], view=0).count() == 2


@pytest.mark.parametrize("name", ["corrupted.jpg", "Canon_40D.jpg"])
def test_integrity_or_evidence_failures_come_back_as_reasons(now, target, name):
    result = run_fast_checks(data=photo_bytes(name), target=target, received_at=now)
    assert any(check.failed for check in result.results)
    assert all(check.reason for check in result.results)


def test_integrity_failure_short_circuits_every_other_check(now, target, scorer):
    index = MemoryDuplicateIndex()
    result = run_all_checks(
        data=photo_bytes("corrupted.jpg"),
        target=target,
        received_at=now,
        index=index,
        reference="submission:1",
        scorer=scorer,
    )
    assert result.result(CheckName.INTEGRITY).status is Status.FAILED
    others = [check for check in result.results if check.name != CheckName.INTEGRITY]
    assert [check.name for check in others] == [*FAST_CHECKS[1:], *MODEL_CHECKS]
    assert all(check.status is Status.SKIPPED for check in others)
    assert result.facts is None
    assert len(index) == 0
    verdict = decide(result.results, reputation=1.0, history_count=10)
    assert verdict.decision is Decision.REJECTED
    assert verdict.reasons == ["The JPEG file is damaged: invalid marker inside the image data."]


def test_the_exported_banner_without_camera_metadata_is_rejected(now, target):
    """image00971.jpg decodes (its flaw is metadata: no EXIF at all, an Adobe Fireworks XMP
    packet), so integrity passes and the evidence checks refuse it with reasons."""
    result = run_fast_checks(data=photo_bytes("image00971.jpg"), target=target, received_at=now)
    integrity = result.result(CheckName.INTEGRITY)
    assert integrity.passed
    assert integrity.details["software"].startswith("Adobe Fireworks")
    assert result.result(CheckName.LOCATION).status is Status.FAILED
    assert result.result(CheckName.TIME).status is Status.FAILED
    verdict = decide(result.results, reputation=1.0, history_count=10)
    assert verdict.decision is Decision.REJECTED
    assert len(verdict.reasons) == 2


def test_a_phone_heif_runs_through_the_fast_checks(now):
    target = make_target(now, lat=40.788685, lon=-4.005141, require_capture_time=False)
    result = run_fast_checks(
        data=photo_bytes("HMD_Nokia_8.3_5G.heif"), target=target, received_at=now
    )
    assert result.result(CheckName.INTEGRITY).details["mime_type"] == "image/heif"
    assert result.result(CheckName.LOCATION).passed
    # Its only time is the 2022 GPS fix, far outside today's window.
    assert result.result(CheckName.TIME).status is Status.FAILED
    assert result.result(CheckName.TIME).details["source"] == "gps"


def test_run_all_checks_adds_the_model_checks_and_the_embedding(
    now, target, fresh_dscn0010, scorer
):
    result = run_all_checks(
        data=fresh_dscn0010,
        target=target,
        received_at=now,
        index=MemoryDuplicateIndex(),
        reference="submission:1",
        scorer=scorer,
    )
    assert [check.name for check in result.results] == [*FAST_CHECKS, *MODEL_CHECKS]
    assert result.result(CheckName.SAFETY).passed
    assert result.result(CheckName.PROVENANCE).status is Status.SKIPPED
    assert result.result(CheckName.RELEVANCE).score is not None
    assert result.facts is not None
    assert result.facts.embedding is not None
    assert len(result.facts.embedding) == 16
    assert result.to_dict()["facts"]["sha256"] == result.facts.sha256


def test_without_a_model_relevance_is_skipped_and_the_policy_sends_to_review(
    now, target, fresh_dscn0010
):
    result = run_all_checks(data=fresh_dscn0010, target=target, received_at=now, scorer=None)
    relevance = result.result(CheckName.RELEVANCE)
    assert relevance.status is Status.SKIPPED
    assert relevance.reason == "no vision model configured"
    verdict = decide(result.results, reputation=1.0, history_count=20)
    assert verdict.decision is Decision.NEEDS_REVIEW


def test_settings_are_configurable(now, target, fresh_dscn0010):
    strict = CheckSettings(time=CheckSettings().time.__class__(max_age_at_upload=timedelta(0)))
    result = run_fast_checks(data=fresh_dscn0010, target=target, received_at=now, settings=strict)
    assert result.result(CheckName.TIME).status is Status.FAILED


def test_run_all_checks_can_reuse_the_fast_results(now, target, fresh_dscn0010, scorer):
    index = MemoryDuplicateIndex()
    common = {"data": fresh_dscn0010, "target": target, "received_at": now}
    fast = run_fast_checks(**common, index=index, reference="submission:1")
    full = run_all_checks(**common, fast=fast, scorer=scorer)
    assert [check.name for check in full.results] == [*FAST_CHECKS, *MODEL_CHECKS]
    assert full.results[: len(FAST_CHECKS)] == fast.results
    assert len(index) == 1  # not recorded twice
    assert [check.name for check in fast.results] == list(FAST_CHECKS)  # left as it was


def test_the_safety_model_runs_while_the_relevance_model_is_awaited(
    now, target, fresh_dscn0010, scorer
):
    class CountingClassifier(QuietClassifier):
        def __init__(self) -> None:
            super().__init__(threads=1)
            self.scored = threading.Event()

        def score_array(self, batch):
            scores = super().score_array(batch)
            self.scored.set()
            return scores

    class SlowScorer:
        """Relevance that answers only once the safety model has scored the photo."""

        safety_done_first = False

        def score(self, image, text, timeout=None):
            self.safety_done_first = safety.scored.wait(timeout=10)
            return scorer.score(image, text)

    safety, slow = CountingClassifier(), SlowScorer()
    result = run_all_checks(
        data=fresh_dscn0010, target=target, received_at=now, scorer=slow, safety_classifier=safety
    )
    assert slow.safety_done_first
    assert result.result(CheckName.SAFETY).status is Status.PASSED
    assert result.result(CheckName.RELEVANCE).status in (Status.PASSED, Status.FAILED)
