"""The closed loop's training cycle: build a time-ordered dataset of resolved questions, search
a few hyperparameters within a compute budget (fine-tuning from the champion), judge the best
challenger on a later, held-out slice against the champion and two baselines (the base rate,
and the same model without evidence), record the version, and promote it only if it beats the
champion by the configured margin. Promotion and rollback re-forecast every open question.
"""

import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import torch
from django.conf import settings
from django.db import connection, transaction

from forecasting import baseline, dataset
from forecasting.model import ForecastModel, ModelConfig
from forecasting.models import ModelVersion, ModelVersionStatus
from forecasting.services.versions import model_version_promote
from forecasting.serving import load_version
from forecasting.text import TextEncoder, get_text_encoder
from forecasting.train import (
    Example,
    TrainConfig,
    collate,
    log_losses,
    paired_bootstrap,
    pick_device,
    reliability,
    save,
    scores,
    train,
)

logger = logging.getLogger(__name__)

LOCK_KEY = 0x5F0CA57  # pg advisory lock: one training cycle at a time
BLIND_ARTIFACT = "without_evidence.pt"  # the same model trained without evidence, beside it

SEARCH_SPACE: dict[str, Sequence[Any]] = {
    "learning_rate": (3e-3, 1e-3, 1e-2),
    "weight_decay": (1e-2, 1e-1),
    "dropout": (0.1, 0.3),
    "hidden": (64, 32),
}


@dataclass
class CycleResult:
    version: ModelVersion | None
    reason: str
    promoted: bool = False


@dataclass
class Trial:
    index: int
    hyperparameters: dict[str, Any]
    best_val_loss: float
    best_epoch: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


Progress = Callable[[str, int, int], None]  # (stage, done, total)


@contextmanager
def _cycle_lock() -> Iterator[bool]:
    """True when this process holds the one training slot (PostgreSQL advisory lock; the
    embedded SQLite default runs tasks in-process, one at a time)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


@contextmanager
def _threads(count: int) -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _candidates(count: int, *, seed: int, fine_tune: ModelConfig | None) -> list[dict[str, Any]]:
    """Up to ``count`` distinct settings from the search space: the defaults first, then a
    seeded shuffle of the rest. When fine-tuning, the hidden size is the champion's."""
    space = dict(SEARCH_SPACE)
    if fine_tune is not None:
        space["hidden"] = (fine_tune.hidden,)
    grid = [dict(zip(space, values, strict=True)) for values in itertools.product(*space.values())]
    first, rest = grid[0], grid[1:]
    random.Random(seed).shuffle(rest)  # noqa: S311 (a search, not security)
    return [first, *rest][:count]


def _model_for(
    hyperparameters: dict[str, Any],
    text_dim: int,
    image_dim: int,
    parent: ForecastModel | None,
    train_set: Sequence[Example],
) -> ForecastModel:
    """A model for a trial: the parent's weights (and input scaling) when fine-tuning, else
    fresh weights with the inputs standardised on the training set."""
    config = ModelConfig(
        text_dim=text_dim, image_dim=image_dim, hidden=hyperparameters["hidden"],
        dropout=hyperparameters["dropout"],
    )  # fmt: skip
    model = ForecastModel(config)
    if parent is not None and parent.config.hidden == config.hidden:
        model.load_state_dict(parent.state_dict())
    else:
        model.fit_normalisation(collate(train_set, config)[0])
    return model


def _strip_evidence(examples: Sequence[Example]) -> list[Example]:
    return [replace(example, images=[], meta=[]) for example in examples]


def _predict(
    model: ForecastModel, examples: Sequence[Example], device: torch.device
) -> list[float]:
    batch, _ = collate(examples, model.config)
    probabilities, _ = model.predict(batch.to(device))
    return [float(p) for p in probabilities.cpu()]


def _judge(probabilities: Sequence[float], outcomes: Sequence[float]) -> dict[str, Any]:
    return {
        **scores(probabilities, outcomes),
        "reliability": reliability(probabilities, outcomes),
        "probabilities": [round(p, 6) for p in probabilities],  # per held-out question
    }


def _compatible(version: ModelVersion | None, encoder: TextEncoder) -> bool:
    return version is not None and version.text_encoder == encoder.name


def training_cycle(
    *,
    as_of: datetime | None = None,
    trials: int | None = None,
    budget_seconds: float | None = None,
    margin: float | None = None,
    confidence: float | None = None,
    seed: int = 0,
    encoder: TextEncoder | None = None,
    progress: Progress | None = None,
) -> CycleResult:
    """One turn of the loop. ``as_of`` backtests: only what was resolved by then is used."""
    with _cycle_lock() as held, _threads(settings.FORECAST_TORCH_THREADS):
        if not held:
            return CycleResult(None, "Another training cycle is running.")
        return _cycle(
            as_of=as_of,
            trials=trials or settings.FORECAST_SEARCH_TRIALS,
            budget_seconds=budget_seconds or settings.FORECAST_SEARCH_BUDGET_SECONDS,
            margin=settings.FORECAST_PROMOTION_MARGIN if margin is None else margin,
            confidence=(
                settings.FORECAST_PROMOTION_CONFIDENCE if confidence is None else confidence
            ),
            seed=seed,
            encoder=encoder,
            progress=progress or (lambda stage, done, total: None),
        )


def _cycle(
    *,
    as_of: datetime | None,
    trials: int,
    budget_seconds: float,
    margin: float,
    confidence: float,
    seed: int,
    encoder: TextEncoder | None,
    progress: Progress,
) -> CycleResult:
    started = time.monotonic()
    questions = list(dataset.resolved_questions(as_of))
    if len(questions) < settings.FORECAST_MIN_QUESTIONS:
        reason = (
            f"Only {len(questions)} resolved questions (at least "
            f"{settings.FORECAST_MIN_QUESTIONS} are needed to train and hold some out)."
        )
        return CycleResult(None, reason)
    encoder = encoder or get_text_encoder()  # loaded only when there is something to train
    current = ModelVersion.objects.filter(status=ModelVersionStatus.CHAMPION).first()

    embedding_model, image_dim = dataset.dominant_embedding(as_of)
    progress("dataset", 0, 1)
    data = dataset.build(questions, encoder, embedding_model=embedding_model, image_dim=image_dim)
    split = dataset.time_split(data, holdout=settings.FORECAST_HOLDOUT_FRACTION)
    progress("dataset", 1, 1)

    parent = None
    if (
        _compatible(current, encoder)
        and current is not None
        and current.embedding_model == embedding_model
        and load_version(current).config.image_dim == image_dim
    ):
        parent = current
    parent_model = load_version(parent) if parent is not None else None
    device = pick_device()
    candidates = _candidates(
        trials, seed=seed, fine_tune=parent_model.config if parent_model else None
    )
    results: list[tuple[Trial, ForecastModel]] = []
    for index, hyperparameters in enumerate(candidates):
        if results and time.monotonic() - started > budget_seconds:
            break  # the budget is spent: keep what was found
        progress("search", index, len(candidates))
        model = _model_for(hyperparameters, encoder.dim, image_dim, parent_model, split.train)
        trial_start = time.monotonic()
        fit = train(
            model, split.train, split.validation,
            TrainConfig(
                learning_rate=hyperparameters["learning_rate"],
                weight_decay=hyperparameters["weight_decay"], seed=seed + index,
            ),
            device=device,
        )  # fmt: skip
        trial = Trial(
            index, hyperparameters, fit.best_val_loss, fit.best_epoch,
            time.monotonic() - trial_start, fit.history,
        )  # fmt: skip
        results.append((trial, model))
    progress("search", len(results), len(candidates))
    best, challenger = min(results, key=lambda pair: pair[0].best_val_loss)

    progress("evaluate", 0, 1)
    outcomes = [float(example.outcome) for example in split.test]
    seen = split.train + split.validation
    base = baseline.base_rate(
        sum(e.outcome for e in seen), sum(1 - e.outcome for e in seen)
    ).probability
    blind = _model_for(
        best.hyperparameters, encoder.dim, image_dim, None, _strip_evidence(split.train)
    )

    train(
        blind, _strip_evidence(split.train), _strip_evidence(split.validation),
        TrainConfig(
            learning_rate=best.hyperparameters["learning_rate"],
            weight_decay=best.hyperparameters["weight_decay"], seed=seed,
        ),
        device=device,
    )  # fmt: skip
    metrics: dict[str, Any] = {
        "challenger": _judge(_predict(challenger, split.test, device), outcomes),
        "base_rate": _judge([base] * len(outcomes), outcomes),
        "without_evidence": _judge(_predict(blind, _strip_evidence(split.test), device), outcomes),
        "held_out_questions": len(outcomes),
    }
    incumbent_name = baseline.MODEL_VERSION
    incumbent = metrics["base_rate"]
    if current is not None:
        champion_metrics = _champion_on(current, questions[-len(outcomes) :], encoder, outcomes)
        if champion_metrics is not None:
            metrics["champion"] = champion_metrics
            incumbent_name, incumbent = current.name, champion_metrics
    progress("evaluate", 1, 1)

    gain = incumbent["log_loss"] - metrics["challenger"]["log_loss"]
    p_better = paired_bootstrap(
        log_losses(metrics["challenger"]["probabilities"], outcomes),
        log_losses(incumbent["probabilities"], outcomes),
        seed=seed,
    )
    metrics["comparison"] = {"incumbent": incumbent_name, "gain": gain, "p_better": p_better}
    promote = gain > margin and p_better >= confidence
    decision = (
        f"{'Promoted' if promote else 'Rejected'}: held-out log loss "
        f"{metrics['challenger']['log_loss']:.4f} vs {incumbent['log_loss']:.4f} for "
        f"{incumbent_name} (needs an improvement of more than {margin:g}, got {gain:.4f}; "
        f"better in {p_better:.0%} of bootstrap resamples, needs {confidence:.0%})."
    )
    # numbered in order (cycles run one at a time, under the lock)
    name = f"forecaster-v{ModelVersion.objects.count() + 1}-{data.data_hash[:8]}"

    artifact = settings.FORECAST_MODEL_DIR / name / "model.pt"
    save(challenger.to("cpu"), artifact)
    save(blind.to("cpu"), artifact.with_name(BLIND_ARTIFACT))  # the baseline, for audits
    version = _record(
        name=name, parent=parent, artifact=str(artifact), best=best,
        trials=[trial for trial, _ in results], config=challenger.config,
        encoder=encoder, data=data, metrics=metrics, decision=decision,
        device=str(device), seconds=time.monotonic() - started, promote=promote,
        as_of=as_of, split=split,
    )  # fmt: skip
    logger.info("training cycle: %s", decision)
    return CycleResult(version, decision, promoted=promote)


def _champion_on(
    version: ModelVersion, questions: Sequence[Any], encoder: TextEncoder, outcomes: list[float]
) -> dict[str, Any] | None:
    """The champion's scores on the held-out questions, read with its own embedding model.
    None if it cannot read them (another text encoder): then the base rate is the bar."""
    if not _compatible(version, encoder):
        return None
    model = load_version(version)
    data = dataset.build(
        questions, encoder, embedding_model=version.embedding_model,
        image_dim=model.config.image_dim,
    )  # fmt: skip
    return _judge(_predict(model, data.examples(), torch.device("cpu")), outcomes)


@transaction.atomic
def _record(
    *,
    name: str,
    parent: ModelVersion | None,
    artifact: str,
    best: Trial,
    trials: list[Trial],
    config: ModelConfig,
    encoder: TextEncoder,
    data: dataset.Dataset,
    metrics: dict[str, Any],
    decision: str,
    device: str,
    seconds: float,
    promote: bool,
    as_of: datetime | None,
    split: dataset.Split,
) -> ModelVersion:
    summary = {
        **data.summary(), "train": len(split.train), "validation": len(split.validation),
        "test": len(split.test), "as_of": as_of.isoformat() if as_of else None,
    }  # fmt: skip
    version = ModelVersion.objects.create(
        name=name,
        status=ModelVersionStatus.REJECTED,
        parent=parent,
        artifact_path=artifact,
        hyperparameters=best.hyperparameters,
        model_config=asdict(config),
        text_encoder=encoder.name,
        embedding_model=data.embedding_model,
        data_hash=data.data_hash,
        data_summary=summary,
        metrics=metrics,
        training_curve=best.history,
        search=[
            {key: value for key, value in asdict(trial).items() if key != "history"}
            for trial in trials
        ],
        decision=decision,
        device=device,
        training_seconds=seconds,
    )
    if promote:
        version = model_version_promote(version=version, actor="training cycle")

    return version
