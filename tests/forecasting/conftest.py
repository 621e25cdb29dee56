"""Fixtures for forecasting: a tiny randomly initialised text encoder saved and loaded through
the real transformers path, and a world of resolved questions whose outcome their evidence
shows (built straight into the database: the photo pipeline has its own tests)."""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import torch
from django.utils import timezone

from bounties.models import Bounty, Claim, ClaimStatus, Submission, SubmissionStatus
from forecasting.models import EvidenceItem, Outcome, Question, QuestionStatus
from market.accounts.models import Agent, User
from tests.bounties.helpers import funded_bounty
from tests.factories import UserFactory

WORDS = (
    "will the queue at bakery cafe shop exceed people lights on off in office tower crowd square "
    "be more than 5 10 20 counted photo at closing time night evening"
)
IMAGE_DIM = 8


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread() -> Any:
    """Tiny models on a shared box: one thread is many times faster than several."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertConfig, BertModel, BertTokenizer

    directory = tmp_path_factory.mktemp("tiny-minilm")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS.split()))]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(vocab_file=str(directory / "vocab.txt")).save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64,
    )  # fmt: skip
    BertModel(config).save_pretrained(directory)
    return directory


@pytest.fixture
def forecasting_settings(settings: Any, tiny_encoder_dir: Path, tmp_path: Path) -> Any:
    settings.FORECAST_TEXT_ENCODER_DIR = str(tiny_encoder_dir)
    settings.FORECAST_MODEL_DIR = tmp_path / "models"
    settings.FORECAST_MIN_QUESTIONS = 20
    settings.FORECAST_SEARCH_TRIALS = 2
    settings.FORECAST_MC_SAMPLES = 10
    return settings


@dataclass
class World:
    agent: Agent
    bounty: Bounty
    worker: User
    rng: random.Random
    clock: datetime

    def question(
        self,
        *,
        outcome: str | None,
        signal: float | None = None,
        items: int = 3,
        closes_in: timedelta | None = None,
        title: str = "Will the queue at the bakery exceed 10 people?",
    ) -> Question:
        """A question (resolved ``outcome``, or open if None) with ``items`` evidence items
        whose embeddings lean towards ``signal`` (default: the outcome: +1 yes, -1 no)."""
        self.clock += timedelta(minutes=1)
        closes_at = self.clock if closes_in is None else timezone.now() + closes_in
        question = Question.objects.create(
            agent=self.agent, title=title, resolution_criteria="Counted on the photo.",
            closes_at=closes_at, resolves_at=closes_at,
            status=QuestionStatus.RESOLVED if outcome else QuestionStatus.OPEN,
            outcome=outcome or "", resolution_source="test" if outcome else "",
            resolved_at=closes_at if outcome else None,
        )  # fmt: skip
        if signal is None:
            signal = 1.0 if outcome == Outcome.YES else -1.0
        for _ in range(items):
            self.evidence(question, signal, captured_at=closes_at - timedelta(seconds=30))
        return question

    def evidence(self, question: Question, signal: float, *, captured_at: datetime) -> EvidenceItem:
        claim = Claim.objects.create(
            bounty=self.bounty, worker=self.worker, status=ClaimStatus.SUBMITTED,
            expires_at=captured_at,
        )  # fmt: skip
        embedding = [signal + self.rng.gauss(0, 0.7)] + [
            self.rng.gauss(0, 1) for _ in range(IMAGE_DIM - 1)
        ]
        submission = Submission.objects.create(
            bounty=self.bounty, claim=claim, worker=self.worker, upload_id=uuid.uuid4(),
            photo="x", photo_sha256="0" * 64, content_type="image/jpeg", size_bytes=1,
            status=SubmissionStatus.ACCEPTED, decided_at=captured_at, captured_at=captured_at,
            embedding=embedding, facts={"embedding_model": "test-embedding"},
        )  # fmt: skip
        return EvidenceItem.objects.create(
            question=question, submission=submission, embedding=embedding,
            verify_text="a queue", captured_at=captured_at, distance_m=50.0,
            worker_reputation=0.9, embedding_model="test-embedding",
        )  # fmt: skip

    def resolved(self, count: int, *, noise: float = 0.0) -> list[Question]:
        """``count`` resolved questions, half yes; with ``noise``, that share of outcomes are
        the opposite of what the evidence shows."""
        questions = []
        for _ in range(count):
            shows_yes = self.rng.random() < 0.5
            flipped = self.rng.random() < noise
            outcome = Outcome.YES if shows_yes != flipped else Outcome.NO
            questions.append(self.question(outcome=outcome, signal=1.0 if shows_yes else -1.0))
        return questions


@pytest.fixture
def world(owner: Any) -> World:
    return World(
        agent=owner.agent, bounty=funded_bounty(owner.agent, quantity=5), worker=UserFactory(),
        rng=random.Random(7), clock=timezone.now() - timedelta(days=30),
    )  # fmt: skip
