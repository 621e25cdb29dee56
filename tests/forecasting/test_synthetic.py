"""The synthetic dataset: photos whose content carries the latent state (not trivially), and
questions generated end to end through the real services and verification pipeline."""

import io
from dataclasses import replace
from unittest import mock

import numpy as np
import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from bounties.models import BountyStatus, SubmissionStatus
from bounties.services import bounty_create
from forecasting.acquisition import template_spec
from forecasting.models import Outcome, Question, QuestionStatus
from forecasting.services import question_attach_bounty
from forecasting.synthetic import (
    LABEL_NOISE,
    SOURCE,
    _plan,
    fulfil_open_bounties,
    generate,
    resolve_closed,
)
from forecasting.synthetic.scenes import SCENES, render, render_scene
from market.ledger.services import wallet_credit_test_funds
from verification.embedding import TINY_IMAGE_MODEL, tiny_embedding


def decoded(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def scene_photos(scene: str, state: dict, count: int, seed: int) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [decoded(render_scene(scene, state, rng)) for _ in range(count)]


def lower_edge_energy(image: Image.Image) -> float:
    """Horizontal luminance change in the lower two thirds, where people stand."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    return float(np.abs(np.diff(grey[grey.shape[0] // 3 :], axis=1)).mean())


def test_photos_decode_at_their_size_and_are_deterministic_by_seed():
    for scene in SCENES:
        state = SCENES[scene].draw_state(np.random.default_rng(1))
        first = render(scene, state, np.random.default_rng(7))
        again = render(scene, state, np.random.default_rng(7))
        assert first == again
        assert decoded(first.jpeg).size == (320, 240)
        assert render(scene, state, np.random.default_rng(8)).jpeg != first.jpeg


def test_lit_buildings_are_brighter_than_dark_ones():
    def brightness(images: list[Image.Image]) -> float:
        return float(np.mean([np.asarray(image.convert("L")).mean() for image in images]))

    lit = brightness(scene_photos("lights", {"lit_fraction": 0.9}, 12, seed=1))
    dark = brightness(scene_photos("lights", {"lit_fraction": 0.1}, 12, seed=1))
    assert lit > dark + 8


@pytest.mark.parametrize(("scene", "few", "many"), [("queue", 1, 16), ("crowd", 5, 75)])
def test_more_people_make_more_structure_where_people_stand(scene, few, many):
    key = "queue" if scene == "queue" else "people"
    sparse = [lower_edge_energy(p) for p in scene_photos(scene, {key: few}, 12, seed=2)]
    dense = [lower_edge_energy(p) for p in scene_photos(scene, {key: many}, 12, seed=2)]
    assert np.mean(dense) > np.mean(sparse) * 1.2


def test_a_simple_classifier_on_tiny_embeddings_beats_chance_on_held_out_photos():
    """Per scene, a ridge classifier on the embeddings of 48 photos (decoys included) predicts
    the state's answer for 24 others: clearly better than chance, and far from perfect."""
    correct = total = 0
    for scene_name, scene in SCENES.items():
        features, labels = [], []
        rng = np.random.default_rng(11)
        for _ in range(72):
            state = scene.draw_state(rng)
            features.append(tiny_embedding(decoded(render(scene_name, state, rng).jpeg)))
            labels.append(1.0 if scene.is_yes(state) else -1.0)
        x = np.c_[np.array(features), np.ones(len(features))]
        y = np.array(labels)
        train, test = slice(0, 48), slice(48, 72)
        weights = np.linalg.solve(
            x[train].T @ x[train] + 0.3 * np.eye(x.shape[1]), x[train].T @ y[train]
        )
        correct += int(((x[test] @ weights > 0) == (y[test] > 0)).sum())
        total += 24
    accuracy = correct / total
    assert 0.65 < accuracy < 0.97, accuracy


def test_outcomes_follow_the_latent_state_up_to_label_noise():
    plans = [_plan(5, index, (0, 0)) for index in range(400)]
    agree = np.mean(
        [(p.outcome == Outcome.YES) == SCENES[p.scenario].is_yes(p.state) for p in plans]
    )
    assert 1 - 2.5 * LABEL_NOISE < agree < 1 - LABEL_NOISE / 3
    assert {p.scenario for p in plans} == set(SCENES)
    assert 0.35 < np.mean([p.outcome == Outcome.YES for p in plans]) < 0.65
    assert _plan(5, 3, (0, 0)) == plans[3]  # the same seed, the same question


@pytest.mark.django_db(transaction=True)  # verification runs on commit
def test_it_generates_resolved_questions_with_evidence_before_they_close():
    with time_machine.travel(timezone.now(), tick=True) as clock:
        waits: list[float] = []

        def sleep(seconds: float) -> None:  # the wait for the last close, on the fake clock
            waits.append(seconds)
            clock.shift(seconds)

        items = generate(
            count=4, photos_per_question=(1, 2), seed=3, grace_seconds=0.5, threads=2, sleep=sleep
        )
    assert len(waits) == 1 and waits[0] > 0  # it waited, once, and not on the real clock

    assert len({item.question.closes_at for item in items}) == len(items)
    for item in items:
        question = item.question
        question.refresh_from_db()
        assert question.status == QuestionStatus.RESOLVED
        assert question.outcome == item.outcome
        assert question.resolution_source == SOURCE
        synthetic = question.evidence_template["metadata"]["synthetic"]
        assert synthetic["state"] == item.state and synthetic["scenario"] == item.scenario
        evidence = list(question.evidence.select_related("submission"))
        assert 1 <= item.photos <= 2 and item.refused == 0
        assert len(evidence) == item.accepted == item.photos  # simulated reviewers approve
        for evidence_item in evidence:
            assert evidence_item.captured_at is not None
            assert evidence_item.captured_at <= question.closes_at
            assert evidence_item.embedding is not None and len(evidence_item.embedding) == 512
            assert evidence_item.embedding_model == TINY_IMAGE_MODEL
            assert evidence_item.submission.facts["embedding_model"] == TINY_IMAGE_MODEL
            assert evidence_item.submission.status == SubmissionStatus.ACCEPTED
            checks = {c["name"]: c["status"] for c in evidence_item.submission.checks}
            assert checks["location"] == checks["time"] == checks["duplicates"] == "passed"
    # The same seed plans the same questions.
    assert [(i.scenario, i.state) for i in items] == [
        (p.scenario, p.state) for p in (_plan(3, index, (1, 2)) for index in range(4))
    ]


@pytest.mark.django_db(transaction=True)
def test_open_questions_get_consistent_photos_for_bounties_posted_from_their_template():
    items = generate(count=2, photos_per_question=(0, 0), seed=4, resolve=False)
    question = items[0].question
    assert question.status == QuestionStatus.OPEN and question.evidence.count() == 0
    assert question.closes_at > timezone.now()
    # What the acquisition loop does: post the template's bounty from the owner's wallet.
    spec = template_spec(question, now=timezone.now())
    wallet_credit_test_funds(agent=question.agent, amount_minor=10_000, idempotency_key="t")
    bounty = bounty_create(agent=question.agent, spec=replace(spec, quantity=3))
    question_attach_bounty(question=question, bounty=bounty, auto_posted=True)

    assert fulfil_open_bounties([item.question for item in items], seed=4) == 3
    bounty.refresh_from_db()
    assert bounty.status == BountyStatus.FULFILLED
    evidence = list(question.evidence.all())
    assert len(evidence) == 3 and all(item.embedding for item in evidence)
    assert items[1].question.evidence.count() == 0  # nothing was posted for it
    assert resolve_closed([item.question for item in items]) == 0  # not closed yet

    out = io.StringIO()  # the same by hand: nothing left to photograph, nothing closed
    call_command("generate_questions", "--fulfil", stdout=out, verbosity=0)
    assert out.getvalue().strip() == (
        "0 photos uploaded to open bounties of synthetic questions; 0 closed questions resolved"
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_generates_and_summarises():
    out = io.StringIO()
    with (
        time_machine.travel(timezone.now(), tick=True) as clock,
        mock.patch("forecasting.synthetic.time.sleep", autospec=True) as sleep,
    ):
        sleep.side_effect = clock.shift  # the wait for the last close, on the fake clock
        call_command(
            "generate_questions", "--count", "2", "--photos", "1", "--seed", "9",
            "--grace-seconds", "1", stdout=out, verbosity=0,
        )  # fmt: skip
    sleep.assert_called_once()
    assert "2 questions resolved" in out.getvalue()
    assert "2 photos uploaded, 2 accepted" in out.getvalue()
    questions = list(Question.objects.order_by("pk"))
    assert len(questions) == 2 and questions[0].closes_at < questions[1].closes_at
    assert all(question.status == QuestionStatus.RESOLVED for question in questions)
