"""The champion forecaster, loaded once per process, answering for one question at a time.

Reads only: which version is the champion, its artifact, the question's usable evidence. The
forecast is the mean of MC-dropout passes, with the 5th-95th percentile of those passes as its
interval (the spread is the model's own disagreement, which acquisition prices).
"""

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from django.conf import settings

from forecasting import dataset
from forecasting.model import ForecastModel
from forecasting.models import ModelVersion, ModelVersionStatus, Question
from forecasting.text import TextEncoder, get_text_encoder, question_text
from forecasting.train import collate, load

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelPrediction:
    probability: float
    low: float
    high: float
    model_version: str
    evidence_count: int


def champion() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersionStatus.CHAMPION).first()


@functools.lru_cache(maxsize=4)
def _load(name: str, artifact_path: str) -> ForecastModel:
    return load(Path(artifact_path))


def load_version(version: ModelVersion) -> ForecastModel:
    """The version's model (cached per process: a version's artifact never changes)."""
    return _load(version.name, version.artifact_path)


def predict(
    model: ForecastModel,
    question: Question,
    encoder: TextEncoder,
    *,
    embedding_model: str,
    samples: int,
) -> tuple[float, float, float, int]:
    """P(yes), interval low and high, and the evidence count, for ``question`` now."""
    items = list(dataset.usable_evidence(question)[: dataset.MAX_ITEMS])
    text = encoder.encode([question_text(question.title, question.resolution_criteria)])[0]
    example = dataset.example_for(
        question, items, text.tolist(), image_dim=model.config.image_dim,
        embedding_model=embedding_model,
    )  # fmt: skip
    batch, _ = collate([example], model.config)
    if samples > 1:  # the passes disagree as much as the model is unsure
        draws = model.draws(batch, samples)[:, 0]
        probability = float(draws.mean())
        low, high = (float(v) for v in torch.quantile(draws, torch.tensor([0.05, 0.95])))
    else:
        probability, _ = (float(v[0]) for v in model.predict(batch))
        low = high = probability
    return probability, min(low, probability), max(high, probability), len(items)


def champion_prediction(question: Question) -> ModelPrediction | None:
    """The champion's forecast for ``question``, or None when there is no usable champion
    (none promoted yet, or its artifact or text encoder cannot be loaded: logged)."""
    version = champion()
    if version is None:
        return None
    try:
        model = load_version(version)
        encoder = get_text_encoder()
        if encoder.name != version.text_encoder:
            logger.error(
                "champion %s was trained on text encoder %s, serving %s: not used",
                version.name, version.text_encoder, encoder.name,
            )  # fmt: skip
            return None
        probability, low, high, count = predict(
            model, question, encoder, embedding_model=version.embedding_model,
            samples=settings.FORECAST_MC_SAMPLES,
        )  # fmt: skip
    except (OSError, RuntimeError, KeyError, ValueError):
        logger.exception("champion %s could not forecast question %s", version.name, question.pk)
        return None
    return ModelPrediction(probability, low, high, version.name, count)
