"""The forecasting model and its training loop, on synthetic questions whose outcome depends on
what their evidence shows (plain torch, no database)."""

import random
from pathlib import Path

import pytest
import torch

from forecasting.model import Batch, ForecastModel, ModelConfig
from forecasting.train import (
    Example,
    TrainConfig,
    brier,
    collate,
    evaluate,
    expected_calibration_error,
    load,
    log_loss,
    log_losses,
    paired_bootstrap,
    save,
    scores,
    train,
)

CONFIG = ModelConfig(text_dim=16, image_dim=8, hidden=16, dropout=0.1)


def synthetic(count: int, seed: int) -> list[Example]:
    """Questions whose answer is 'yes' when their photos show a long queue (the first image
    feature), with noisy photos, decoy features and questions without evidence."""
    rng = random.Random(seed)
    examples = []
    for _ in range(count):
        queue = rng.choice([True, False])
        items = rng.randint(0, 4)
        images = []
        for _ in range(items):
            signal = (1.5 if queue else -1.5) + rng.gauss(0, 1.0)
            images.append([signal] + [rng.gauss(0, 1) for _ in range(CONFIG.image_dim - 1)])
        meta = [[rng.random(), rng.random(), rng.uniform(0.5, 1.0), 1.0] for _ in range(items)]
        text = [rng.gauss(0, 1) for _ in range(CONFIG.text_dim)]
        outcome = int(queue) if items else int(rng.random() < 0.5)
        examples.append(Example(text=text, images=images, meta=meta, outcome=outcome))
    return examples


def test_the_metrics_are_right() -> None:
    assert brier([1.0, 0.0], [1, 0]) == 0 and brier([0.5, 0.5], [1, 0]) == 0.25
    assert log_loss([0.5], [1]) == pytest.approx(0.6931, abs=1e-4)
    # perfectly calibrated: 0.25 predicted for a bin where a quarter are yes
    assert expected_calibration_error([0.25] * 4, [1, 0, 0, 0]) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 2, [0, 0]) == pytest.approx(0.9)


def test_the_paired_bootstrap_says_how_sure_a_win_is() -> None:
    better, worse = [0.1] * 30, [0.7] * 30
    assert paired_bootstrap(better, worse) == 1.0 and paired_bootstrap(worse, better) == 0.0
    assert paired_bootstrap(better, better) == 0.0  # a tie is no win
    # one lucky question out of thirty is not a reliable win
    lucky = [0.75] * 29 + [0.0]  # worse on 29, far better on one: ahead on average
    assert 0.4 < paired_bootstrap(lucky, [0.7] * 29 + [1.5]) < 0.9
    assert log_losses([0.5, 0.9], [1, 0]) == pytest.approx([0.6931, 2.3026], abs=1e-4)


def test_a_question_without_evidence_gets_a_finite_forecast() -> None:
    model = ForecastModel(CONFIG)
    batch, _ = collate([Example(text=[0.0] * 16, images=[], meta=[], outcome=1)], CONFIG)
    probability, spread = model.predict(batch, samples=5)
    assert torch.isfinite(probability).all() and 0 < probability.item() < 1
    assert spread.item() >= 0


def test_training_beats_the_base_rate_and_stops_early(tmp_path: Path) -> None:
    train_set, val_set, test_set = synthetic(300, 1), synthetic(100, 2), synthetic(200, 3)
    model = ForecastModel(CONFIG)
    config = TrainConfig(max_epochs=40, patience=5, seed=7, batch_size=32)
    result = train(model, train_set, val_set, config, checkpoint=tmp_path / "best.pt")
    assert len(result.history) <= config.max_epochs
    assert result.best_epoch >= 0 and result.history[result.best_epoch][
        "log_loss"
    ] == pytest.approx(result.best_val_loss)
    trained = evaluate(model, test_set)
    base_rate = sum(e.outcome for e in train_set) / len(train_set)
    baseline = scores([base_rate] * len(test_set), [e.outcome for e in test_set])
    assert trained["brier"] < baseline["brier"] - 0.05, (trained, baseline)
    assert trained["log_loss"] < baseline["log_loss"]
    # the restored best weights are the checkpoint's
    loaded = load(tmp_path / "best.pt")
    batch, _ = collate(test_set[:10], CONFIG)
    assert torch.allclose(loaded.predict(batch)[0], model.cpu().predict(batch)[0], atol=1e-6)


def test_training_is_deterministic_for_a_seed() -> None:
    histories = []
    for _ in range(2):
        torch.manual_seed(0)
        model = ForecastModel(CONFIG)
        result = train(model, synthetic(80, 4), synthetic(40, 5), TrainConfig(max_epochs=3, seed=3))
        histories.append([round(row["log_loss"], 6) for row in result.history])
    assert histories[0] == histories[1]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = ForecastModel(CONFIG)
    save(model, tmp_path / "m.pt")
    batch: Batch = collate(synthetic(5, 6), CONFIG)[0]
    assert torch.allclose(load(tmp_path / "m.pt").predict(batch)[0], model.predict(batch)[0])
