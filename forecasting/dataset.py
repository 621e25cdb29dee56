"""What the forecaster reads, built from the database: one Example per question.

Used both to train (resolved questions, in time order) and to serve (an open question now), so
the two can never drift apart. Evidence captured after the question's ``closes_at`` is never
read: it could carry the answer (a photo of the result) into the training data or a forecast.
"""

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from forecasting.models import EvidenceItem, Outcome, Question, QuestionStatus
from forecasting.selectors import usable_evidence
from forecasting.text import TextEncoder, question_text
from forecasting.train import Example

MAX_ITEMS = 32  # the most recent evidence items a question is judged on
DEFAULT_IMAGE_DIM = 512


@dataclass(frozen=True)
class Record:
    question_id: int
    closes_at: datetime
    example: Example


@dataclass(frozen=True)
class Dataset:
    records: list[Record]
    data_hash: str
    embedding_model: str
    image_dim: int

    def examples(self) -> list[Example]:
        return [record.example for record in self.records]

    def summary(self) -> dict[str, object]:
        outcomes = [record.example.outcome for record in self.records]
        items = [len(record.example.images) for record in self.records]
        return {
            "questions": len(self.records),
            "yes": sum(outcomes),
            "evidence_items": sum(items),
            "with_evidence": sum(1 for count in items if count),
            "first_close": self.records[0].closes_at.isoformat() if self.records else None,
            "last_close": self.records[-1].closes_at.isoformat() if self.records else None,
        }


def meta_features(item: EvidenceItem, closes_at: datetime, *, has_embedding: bool) -> list[float]:
    """distance (10 km units, capped), log hours before the close, reputation, has_embedding."""
    distance = min(item.distance_m / 10_000, 1.0) if item.distance_m is not None else 1.0
    hours = 0.0
    if item.captured_at is not None:
        hours = max((closes_at - item.captured_at).total_seconds(), 0.0) / 3600
    reputation = item.worker_reputation if item.worker_reputation is not None else 0.5
    return [distance, math.log1p(hours) / 5, reputation, 1.0 if has_embedding else 0.0]


def example_for(
    question: Question,
    items: Sequence[EvidenceItem],
    text: Sequence[float],
    *,
    image_dim: int,
    embedding_model: str,
    outcome: int = 0,
) -> Example:
    """The model's view of ``question`` with ``items`` (already filtered to usable evidence).
    An embedding from another model, or of another size, counts as missing: a forecaster only
    understands the embeddings it was trained on."""
    images, meta = [], []
    for item in list(items)[:MAX_ITEMS]:
        embedding = item.embedding
        usable = (
            isinstance(embedding, list)
            and len(embedding) == image_dim
            and item.embedding_model == embedding_model
        )
        images.append([float(v) for v in embedding] if usable else [0.0] * image_dim)  # type: ignore[union-attr]
        meta.append(meta_features(item, question.closes_at, has_embedding=usable))
    return Example(text=list(text), images=images, meta=meta, outcome=outcome)


def dominant_embedding(as_of: datetime | None = None) -> tuple[str, int]:
    """The embedding model most of the usable evidence was made with, and its size."""
    items = EvidenceItem.objects.filter(embedding__isnull=False)
    if as_of is not None:
        items = items.filter(question__closes_at__lte=as_of)
    counts = Counter(
        (name, len(embedding) if isinstance(embedding, list) else 0)
        for name, embedding in items.values_list("embedding_model", "embedding")[:5_000]
    )
    counts.pop(("", 0), None)
    if not counts:
        return "", DEFAULT_IMAGE_DIM
    (name, size), _ = counts.most_common(1)[0]
    return name, size


def resolved_questions(as_of: datetime | None = None) -> QuerySet[Question]:
    """Resolved questions in time order (by close); with ``as_of``, only those resolved by then
    (a backtest: what the loop could have known at that moment)."""
    questions = Question.objects.filter(status=QuestionStatus.RESOLVED)
    if as_of is not None:
        questions = questions.filter(Q(closes_at__lte=as_of) & Q(resolved_at__lte=as_of))
    return questions.order_by("closes_at", "id")


def build(
    questions: Iterable[Question],
    encoder: TextEncoder,
    *,
    embedding_model: str,
    image_dim: int,
) -> Dataset:
    """Examples for resolved ``questions`` (in the order given), with a hash of exactly what
    went in (question ids, outcomes, evidence ids, encoder, embedding model)."""
    questions = list(questions)
    texts = encoder.encode([question_text(q.title, q.resolution_criteria) for q in questions])
    records, fingerprint = [], []
    for question, text in zip(questions, texts.tolist(), strict=True):
        items = list(usable_evidence(question)[:MAX_ITEMS])
        outcome = 1 if question.outcome == Outcome.YES else 0
        example = example_for(
            question, items, text, image_dim=image_dim, embedding_model=embedding_model,
            outcome=outcome,
        )  # fmt: skip
        records.append(Record(question.pk, question.closes_at, example))
        fingerprint.append([question.pk, outcome, sorted(item.pk for item in items)])
    digest = hashlib.sha256(
        json.dumps([encoder.name, embedding_model, image_dim, fingerprint]).encode()
    ).hexdigest()
    return Dataset(records, digest, embedding_model, image_dim)


@dataclass(frozen=True)
class Split:
    train: list[Example]
    validation: list[Example]
    test: list[Example]


def time_split(dataset: Dataset, *, holdout: float, validation: float = 0.15) -> Split:
    """Earliest questions to train on, the next to stop early on, the latest held out: the
    model is always judged on questions that closed after everything it learnt from."""
    examples = dataset.examples()
    n = len(examples)
    test_start = n - max(1, round(n * holdout))
    val_start = test_start - max(1, round(test_start * validation))
    return Split(examples[:val_start], examples[val_start:test_start], examples[test_start:])
