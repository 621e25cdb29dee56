"""Training and evaluation of the forecasting model. Plain torch, no Django.

A proper loop: AdamW, seeds, early stopping on validation loss with the best weights restored,
a checkpoint per improvement, the GPU when present, and the metrics a forecaster is judged by
(Brier score, log loss, expected calibration error).
"""

import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from forecasting.model import META_FEATURES, Batch, ForecastModel, ModelConfig


@dataclass(frozen=True)
class Example:
    """One resolved question: its text embedding, its evidence, and the outcome (1 = yes)."""

    text: Sequence[float]
    images: Sequence[Sequence[float]]  # one image embedding per evidence item
    meta: Sequence[Sequence[float]]  # META_FEATURES numbers per evidence item
    outcome: int


@dataclass(frozen=True)
class TrainConfig:
    learning_rate: float = 3e-3
    weight_decay: float = 1e-2
    batch_size: int = 32
    max_epochs: int = 60
    patience: int = 8
    label_smoothing: float = 0.1

    seed: int = 0


@dataclass
class TrainResult:
    best_epoch: int
    best_val_loss: float
    history: list[dict[str, float]] = field(default_factory=list)


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def collate(examples: Sequence[Example], config: ModelConfig) -> tuple[Batch, torch.Tensor]:
    """Pad the evidence sets of ``examples`` into one batch (items masked where absent)."""
    size = len(examples)
    width = max(1, max(len(example.images) for example in examples))
    text = torch.tensor([list(example.text) for example in examples], dtype=torch.float32)
    images = torch.zeros(size, width, config.image_dim)
    meta = torch.zeros(size, width, META_FEATURES)
    mask = torch.zeros(size, width, dtype=torch.bool)
    for row, example in enumerate(examples):
        count = len(example.images)
        if count:  # one tensor per example, not per item: collation runs every batch
            images[row, :count] = torch.tensor(example.images, dtype=torch.float32)
            meta[row, :count] = torch.tensor(example.meta, dtype=torch.float32)
            mask[row, :count] = True
    outcomes = torch.tensor([float(example.outcome) for example in examples])

    return Batch(text, images, meta, mask), outcomes


def _batches(
    examples: Sequence[Example], size: int, *, shuffle: bool, rng: random.Random
) -> Iterator[list[Example]]:
    order = list(range(len(examples)))
    if shuffle:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        yield [examples[index] for index in order[start : start + size]]


def evaluate(
    model: ForecastModel, examples: Sequence[Example], *, device: torch.device | None = None
) -> dict[str, float]:
    """Log loss, Brier score and expected calibration error on ``examples``."""
    device = device or next(model.parameters()).device
    batch, outcomes = collate(examples, model.config)
    probabilities, _ = model.predict(batch.to(device))
    return scores(probabilities.cpu().tolist(), outcomes.tolist())


def scores(probabilities: Sequence[float], outcomes: Sequence[float]) -> dict[str, float]:
    return {
        "log_loss": log_loss(probabilities, outcomes),
        "brier": brier(probabilities, outcomes),
        "ece": expected_calibration_error(probabilities, outcomes),
    }


def brier(probabilities: Sequence[float], outcomes: Sequence[float]) -> float:
    return sum((p - y) ** 2 for p, y in zip(probabilities, outcomes, strict=True)) / len(outcomes)


def log_losses(
    probabilities: Sequence[float], outcomes: Sequence[float], eps: float = 1e-6
) -> list[float]:
    """Each forecast's log loss (probabilities clipped to [eps, 1 - eps])."""
    losses = []
    for p, y in zip(probabilities, outcomes, strict=True):
        p = min(max(p, eps), 1 - eps)
        losses.append(-(y * math.log(p) + (1 - y) * math.log(1 - p)))
    return losses


def log_loss(probabilities: Sequence[float], outcomes: Sequence[float], eps: float = 1e-6) -> float:
    return sum(log_losses(probabilities, outcomes, eps)) / len(outcomes)


def paired_bootstrap(
    losses: Sequence[float], baseline: Sequence[float], *, samples: int = 2_000, seed: int = 0
) -> float:
    """The share of bootstrap resamples of the same questions in which ``losses`` average
    lower than ``baseline``: how sure we can be that one model beats the other on this set,
    rather than on the luck of which questions were held out."""
    differences = [b - a for a, b in zip(losses, baseline, strict=True)]
    n = len(differences)
    if n == 0:
        return 0.0
    rng = random.Random(seed)  # noqa: S311 (resampling, not security)
    wins = 0
    for _ in range(samples):
        if sum(differences[rng.randrange(n)] for _ in range(n)) > 0:
            wins += 1
    return wins / samples


def reliability(
    probabilities: Sequence[float], outcomes: Sequence[float], bins: int = 10
) -> list[dict[str, float]]:
    """The reliability diagram's points: per non-empty equal-width bin, the mean forecast, the
    share that resolved yes, and how many fell in it."""
    points = []
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        members = [
            (p, y)
            for p, y in zip(probabilities, outcomes, strict=True)
            if low <= p < high or (index == bins - 1 and p == 1.0)
        ]
        if members:
            points.append({
                "forecast": sum(p for p, _ in members) / len(members),
                "observed": sum(y for _, y in members) / len(members),
                "count": float(len(members)),
            })  # fmt: skip
    return points


def expected_calibration_error(
    probabilities: Sequence[float], outcomes: Sequence[float], bins: int = 10
) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by bin size."""
    total = len(outcomes)
    return sum(
        point["count"] / total * abs(point["observed"] - point["forecast"])
        for point in reliability(probabilities, outcomes, bins)
    )


def train(
    model: ForecastModel,
    train_set: Sequence[Example],
    val_set: Sequence[Example],
    config: TrainConfig,
    *,
    checkpoint: Path | None = None,
    device: torch.device | None = None,
) -> TrainResult:
    """Fit ``model`` in place (fine-tuning starts from whatever weights it has), stopping when
    the validation loss has not improved for ``patience`` epochs; the best weights are
    restored, and saved to ``checkpoint`` at every improvement."""
    seed_everything(config.seed)
    device = device or pick_device()
    model.to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    rng = random.Random(config.seed)  # noqa: S311 (shuffling batches, not security)
    result = TrainResult(best_epoch=-1, best_val_loss=math.inf)
    best_state = _snapshot(model)
    for epoch in range(config.max_epochs):
        model.train()
        total, seen = 0.0, 0
        for examples in _batches(train_set, config.batch_size, shuffle=True, rng=rng):
            batch, outcomes = collate(examples, model.config)
            optimizer.zero_grad()
            # smoothed targets: outcomes are noisy (sources err, photos mislead), and a model
            # that learns certainty pays for it in log loss on the first surprise
            targets = outcomes * (1 - config.label_smoothing) + config.label_smoothing / 2
            loss = loss_fn(model(batch.to(device)), targets.to(device))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(examples)
            seen += len(examples)
        val = evaluate(model, val_set, device=device)
        result.history.append({"epoch": epoch, "train_loss": total / seen, **val})
        if val["log_loss"] < result.best_val_loss - 1e-6:
            result.best_epoch, result.best_val_loss = epoch, val["log_loss"]
            best_state = _snapshot(model)
            if checkpoint is not None:
                save(model, checkpoint)
        elif epoch - result.best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    return result


def _snapshot(model: ForecastModel) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def save(model: ForecastModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": model.config.__dict__, "state": model.state_dict()}, path)


def load(path: Path, *, device: torch.device | str = "cpu") -> ForecastModel:
    saved = torch.load(path, map_location=device, weights_only=True)
    model = ForecastModel(ModelConfig(**saved["config"]))
    model.load_state_dict(saved["state"])
    model.eval()
    return model
