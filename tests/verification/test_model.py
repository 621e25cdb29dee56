import threading
import time

import pytest
from PIL import Image

from verification.batching import MicroBatcher
from verification.checks import Status
from verification.checks.relevance import check_relevance
from verification.model import RelevanceScorer, VisionModel, get_scorer


def test_it_loads_the_model_once_per_process(tiny_clip_dir):
    first = get_scorer(tiny_clip_dir, max_batch_size=4, max_wait_s=0.001)
    second = get_scorer(str(tiny_clip_dir), max_batch_size=4, max_wait_s=0.001)
    assert first is not None
    assert first is second
    assert first.model.device.type in {"cpu", "cuda"}


def test_without_a_model_directory_relevance_is_skipped():
    assert get_scorer(None) is None
    assert get_scorer("") is None
    result, embedding = check_relevance(Image.new("RGB", (64, 64)), "a queue", None)
    assert result.status is Status.SKIPPED
    assert result.reason == "no vision model configured"
    assert embedding is None


def test_it_scores_against_the_negatives_and_returns_a_normalised_embedding(scorer):
    score = scorer.score(Image.new("RGB", (80, 60), "red"), "a photo of the queue")
    assert 0.0 < score.probability < 1.0
    assert len(score.embedding) == 16  # the tiny model's projection_dim
    assert sum(v * v for v in score.embedding) == pytest.approx(1.0, abs=1e-4)
    assert score.best_negative in scorer.model.negatives


def test_the_relevance_check_reports_the_probability(scorer):
    result, embedding = check_relevance(Image.new("RGB", (64, 64), "blue"), "a store", scorer)
    assert result.status in {Status.PASSED, Status.FAILED}
    assert result.score is not None
    assert 0.0 <= result.score <= 1.0
    assert embedding is not None


def test_concurrent_requests_share_one_forward_pass(tiny_model: VisionModel):
    scorer = RelevanceScorer(tiny_model, max_batch_size=8, max_wait_s=0.5)
    passes_before = tiny_model.forward_passes
    start = threading.Barrier(6)
    results = []

    def request(shade: int) -> None:
        start.wait()
        image = Image.new("RGB", (40, 40), (shade, shade, shade))
        results.append(scorer.score(image, f"a photo of shop {shade}"))

    threads = [threading.Thread(target=request, args=(shade * 40,)) for shade in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scorer.close()
    assert len(results) == 6
    assert list(scorer.batcher.batch_sizes) == [6]
    assert tiny_model.forward_passes - passes_before == 1


def test_the_batcher_respects_the_maximum_batch_size():
    batcher: MicroBatcher[int, int] = MicroBatcher(
        lambda items: [item * 2 for item in items], max_batch_size=3, max_wait_s=0.3
    )
    futures = [batcher.submit(n) for n in range(7)]
    assert [future.result(timeout=5) for future in futures] == [0, 2, 4, 6, 8, 10, 12]
    batcher.close()
    assert list(batcher.batch_sizes) == [3, 3, 1]
    assert (batcher.batches, batcher.items) == (3, 7)


def test_the_batcher_does_not_wait_past_max_wait():
    batcher: MicroBatcher[int, int] = MicroBatcher(
        lambda items: list(items), max_batch_size=100, max_wait_s=0.05
    )
    started = time.monotonic()
    assert batcher(1, timeout=5) == 1
    assert time.monotonic() - started < 1.0
    batcher.close()


def test_a_failing_batch_fails_every_caller_instead_of_hanging():
    def explode(items):
        raise RuntimeError("model crashed")

    batcher: MicroBatcher[int, int] = MicroBatcher(explode, max_batch_size=4, max_wait_s=0.1)
    futures = [batcher.submit(n) for n in range(3)]
    for future in futures:
        with pytest.raises(RuntimeError, match="model crashed"):
            future.result(timeout=5)
    batcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(1)
