"""The closed loop's training cycle on a database of resolved questions: time-ordered data
with no leakage, a challenger judged on later questions against the champion and both
baselines, promotion only past the margin, versions recorded, rollback, serving."""

from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from forecasting import dataset
from forecasting.models import Forecast, ModelVersion, ModelVersionStatus, Outcome
from forecasting.services import model_version_promote, training
from forecasting.services.forecasts import forecast_compute
from forecasting.services.training import training_cycle
from forecasting.text import get_text_encoder
from tests.factories import OperatorFactory
from tests.forecasting.conftest import World

pytestmark = pytest.mark.django_db


def test_the_dataset_is_time_ordered_and_never_reads_evidence_from_after_the_close(
    world: World, forecasting_settings: Any
) -> None:
    late = world.question(outcome=Outcome.YES, items=1)
    early = world.question(outcome=Outcome.NO, items=0)  # created later, closed earlier
    early.closes_at = early.resolved_at = late.closes_at - timedelta(hours=1)
    early.save(update_fields=["closes_at", "resolved_at"])

    world.evidence(early, -1.0, captured_at=early.closes_at - timedelta(minutes=1))

    world.evidence(late, 5.0, captured_at=late.closes_at + timedelta(minutes=1))  # the answer
    encoder = get_text_encoder()
    data = dataset.build(
        dataset.resolved_questions(), encoder, embedding_model="test-embedding", image_dim=8
    )
    assert [record.question_id for record in data.records] == [early.pk, late.pk]
    assert [len(record.example.images) for record in data.records] == [1, 1]
    assert all(record.example.images[0][0] < 4 for record in data.records)
    assert [record.example.outcome for record in data.records] == [0, 1]
    # an embedding from another model is missing to this dataset, not misread
    other = dataset.build([late], encoder, embedding_model="clip:other", image_dim=8)
    assert other.records[0].example.meta[0][3] == 0.0 and other.data_hash != data.data_hash
    # what the loop knew at a moment: nothing resolved after it
    assert list(dataset.resolved_questions(as_of=early.closes_at)) == [early]


def test_a_split_holds_out_the_latest_questions(world: World, forecasting_settings: Any) -> None:
    world.resolved(20)
    data = dataset.build(
        dataset.resolved_questions(), get_text_encoder(), embedding_model="test-embedding",
        image_dim=8,
    )  # fmt: skip
    split = dataset.time_split(data, holdout=0.2)
    assert (len(split.train), len(split.validation), len(split.test)) == (14, 2, 4)
    ordered = [record.example for record in data.records]
    assert split.test == ordered[-4:] and split.validation == ordered[-6:-4]


def test_too_few_resolved_questions_train_nothing(world: World, forecasting_settings: Any) -> None:
    world.resolved(5)
    result = training_cycle()
    assert result.version is None and "Only 5 resolved questions" in result.reason
    assert not ModelVersion.objects.exists()


def test_a_cycle_trains_judges_records_and_promotes_a_better_model(
    world: World, forecasting_settings: Any
) -> None:
    world.resolved(60, noise=0.05)
    result = training_cycle(seed=1)
    version = result.version
    assert version is not None and result.promoted, result.reason
    assert version.status == ModelVersionStatus.CHAMPION and version.parent is None
    metrics = version.metrics
    held_out = metrics["held_out_questions"]
    assert held_out == 12 and version.data_summary["test"] == 12
    # the evidence is what tells yes from no: the model beats both baselines on later questions
    assert metrics["challenger"]["log_loss"] < metrics["base_rate"]["log_loss"] - 0.1
    assert metrics["challenger"]["brier"] < metrics["without_evidence"]["brier"]
    assert metrics["challenger"]["reliability"] and 0 <= metrics["challenger"]["ece"] <= 1
    assert len(metrics["challenger"]["probabilities"]) == held_out
    assert metrics["comparison"]["incumbent"] == "base-rate-v1"
    assert metrics["comparison"]["p_better"] >= 0.75  # not the luck of the held-out draw
    assert len(version.search) == 2 and version.training_curve
    assert version.hyperparameters in [trial["hyperparameters"] for trial in version.search]
    assert len(version.data_hash) == 64 and version.embedding_model == "test-embedding"
    assert Path(version.artifact_path).is_file() and version.device == "cpu"
    assert (Path(version.artifact_path).parent / "without_evidence.pt").is_file()

    assert version.text_encoder == get_text_encoder().name

    # the champion serves forecasts now, and reads the evidence
    yes = world.question(outcome=None, signal=1.0, closes_in=timedelta(hours=1))
    no = world.question(outcome=None, signal=-1.0, closes_in=timedelta(hours=1))
    forecast_yes, forecast_no = forecast_compute(question=yes), forecast_compute(question=no)
    assert forecast_yes.model_version == version.name and forecast_yes.evidence_count == 3
    assert forecast_yes.probability > 0.6 > 0.4 > forecast_no.probability
    assert forecast_yes.interval_low <= forecast_yes.probability <= forecast_yes.interval_high
    assert forecast_yes.interval_high > forecast_yes.interval_low  # MC-dropout spread


def test_a_challenger_no_better_than_the_champion_is_never_promoted(
    world: World, forecasting_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A known answer, not the rule recomputed: fine-tuned from the champion at a learning rate
    of zero, the challenger is the champion weight for weight, so on any held-out questions it
    gains exactly nothing and wins no bootstrap resample."""
    world.resolved(60, noise=0.05)
    champion = training_cycle(seed=1).version
    assert champion is not None and champion.status == ModelVersionStatus.CHAMPION
    world.resolved(20, noise=0.05)
    monkeypatch.setitem(training.SEARCH_SPACE, "learning_rate", (0.0,))
    monkeypatch.setitem(training.SEARCH_SPACE, "weight_decay", (0.0,))

    result = training_cycle(seed=2)
    challenger = result.version
    assert challenger is not None and challenger.parent == champion  # fine-tuned from it
    metrics = challenger.metrics
    assert metrics["challenger"]["probabilities"] == metrics["champion"]["probabilities"]
    assert metrics["comparison"]["incumbent"] == champion.name
    assert metrics["comparison"]["gain"] == 0 and metrics["comparison"]["p_better"] == 0
    assert not result.promoted and challenger.status == ModelVersionStatus.REJECTED
    assert result.reason.startswith("Rejected")
    # nor with no margin and no confidence asked: no gain is not more than nothing
    even = training_cycle(seed=3, margin=0.0, confidence=0.0)
    assert even.version is not None and not even.promoted
    assert even.version.status == ModelVersionStatus.REJECTED
    assert ModelVersion.objects.get(status=ModelVersionStatus.CHAMPION) == champion


def test_an_operator_rolls_back_to_an_earlier_version(
    world: World, forecasting_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    world.resolved(60, noise=0.05)
    first = training_cycle(seed=1).version
    second = training_cycle(seed=2, margin=-1.0, confidence=0.0).version  # any passes
    assert first is not None and second is not None
    assert second.status == ModelVersionStatus.CHAMPION
    first.refresh_from_db()
    assert first.status == ModelVersionStatus.RETIRED
    question = world.question(outcome=None, closes_in=timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        model_version_promote(version=first, actor="operator@example.com")
    model_version_promote(version=first, actor="operator@example.com")  # twice: no change
    second.refresh_from_db()
    first.refresh_from_db()
    assert (first.status, second.status) == (ModelVersionStatus.CHAMPION, "retired")
    # open questions were re-forecast by the restored champion
    assert Forecast.objects.filter(question=question, model_version=first.name).exists()


def test_only_one_cycle_runs_at_a_time(world: World, forecasting_settings: Any) -> None:
    world.resolved(25)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [training.LOCK_KEY])
        result = training_cycle()
        assert result.version is None and "Another training cycle" in result.reason
    finally:
        other.close()
    assert connection.vendor == "postgresql"


def test_train_forecaster_command_reports_the_decision(
    world: World, forecasting_settings: Any
) -> None:
    world.resolved(40, noise=0.05)
    out = StringIO()
    call_command("train_forecaster", "--trials", "1", "--seed", "4", stdout=out, stderr=StringIO())
    version = ModelVersion.objects.get()
    assert version.name in out.getvalue() and version.decision in out.getvalue()
    assert timezone.now() - version.created_at < timedelta(minutes=5)


def test_operators_see_versions_with_charts_and_roll_back_in_the_admin(
    world: World, forecasting_settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    world.resolved(40, noise=0.05)
    first = training_cycle(seed=1).version
    second = training_cycle(seed=2, margin=-1.0, confidence=0.0).version
    assert first is not None and second is not None
    client = Client()
    client.force_login(OperatorFactory())
    listing = client.get("/admin/forecasting/modelversion/")
    assert listing.status_code == 200
    assert first.name in listing.content.decode() and second.name in listing.content.decode()
    for url in (
        reverse("admin:forecasting_modelversion_chart", args=[second.pk, "calibration"]),
        reverse("admin:forecasting_modelversion_chart", args=[second.pk, "training"]),
        reverse("admin:forecasting_modelversion_history"),
    ):
        chart = client.get(url)
        assert chart.status_code == 200 and chart["Content-Type"] == "image/png"
        assert chart.content.startswith(b"\x89PNG")
    assert (
        client.get(f"/admin/forecasting/modelversion/{second.pk}/chart/nope.png").status_code == 404
    )
    detail = client.get(f"/admin/forecasting/modelversion/{second.pk}/change/").content.decode()

    assert "base rate" in detail and "model without evidence" in detail and "Calibration" in detail
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/forecasting/modelversion/",
            {"action": "make_champion", "_selected_action": [first.pk]},
            follow=True,
        )
    assert "is the champion" in response.content.decode()
    first.refresh_from_db()
    assert first.status == ModelVersionStatus.CHAMPION
    assert Client().get("/admin/forecasting/modelversion/").status_code == 302  # operators only
