"""Forecasts are computed on the queue (when a question is asked, when evidence arrives, when a
model is promoted); the API serves the stored one, or the base rate marked pending."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from forecasting.models import (
    EvidenceItem,
    Forecast,
    ModelVersion,
    ModelVersionStatus,
    Question,
    QuestionStatus,
)
from forecasting.services import model_version_promote
from forecasting.tasks import forecast_question
from tests.bounties.helpers import funded_bounty, submit
from tests.conftest import Actor
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

QUESTIONS = "/api/v1/questions/"


def ask(owner: Actor) -> int:
    now = timezone.now()
    created = owner.client().post(
        QUESTIONS,
        {
            "title": "Will the bakery queue exceed 10 people at 17:30?",
            "resolution_criteria": "Counted on the 17:30 photo.",
            "closes_at": (now + timedelta(hours=1)).isoformat(),
            "resolves_at": (now + timedelta(hours=2)).isoformat(),
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    return int(created.json()["id"])


def forecast_of(owner: Actor, question_id: int) -> dict[str, Any]:
    response = owner.client().get(f"{QUESTIONS}{question_id}/forecast")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_it_serves_the_base_rate_marked_pending_until_the_queue_stores_a_forecast(
    owner: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as enqueued:
        question_id = ask(owner)
    assert len(enqueued) == 1  # the forecast task, not a forecast
    assert not Forecast.objects.exists()

    pending = forecast_of(owner, question_id)
    assert pending["pending"] is True
    assert pending["model_version"] == "base-rate-v1" and pending["evidence_count"] == 0
    assert pending["interval"][0] <= pending["probability"] <= pending["interval"][1]
    assert not Forecast.objects.exists()  # the GET computed nothing to store

    enqueued[0]()  # the worker runs the task (eagerly here)
    stored = Forecast.objects.get(question_id=question_id)
    served = forecast_of(owner, question_id)
    assert served["pending"] is False
    assert served["probability"] == stored.probability
    assert served["computed_at"].replace("Z", "+00:00") == stored.computed_at.isoformat()


def test_new_evidence_makes_it_pending_until_recomputed_on_the_queue(
    owner: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        question_id = ask(owner)
    assert forecast_of(owner, question_id)["pending"] is False
    photo = submit(funded_bounty(owner.agent), UserFactory())
    EvidenceItem.objects.create(
        question_id=question_id, submission=photo, verify_text="a queue",
        captured_at=timezone.now(),
    )  # fmt: skip
    assert forecast_of(owner, question_id)["pending"] is True
    assert Forecast.objects.filter(question_id=question_id).count() == 1

    forecast_question.delay(question_id)  # what evidence_collect enqueues
    served = forecast_of(owner, question_id)
    assert served["pending"] is False and served["evidence_count"] == 1


def test_a_promotion_makes_open_questions_pending_and_re_forecasts_them_on_the_queue(
    owner: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        question_id = ask(owner)
    version = ModelVersion.objects.create(
        name="v1", status=ModelVersionStatus.REJECTED, artifact_path="/nonexistent/model.pt"
    )
    with django_capture_on_commit_callbacks() as enqueued:
        model_version_promote(version=version, actor="operator@example.com")
    assert forecast_of(owner, question_id)["pending"] is True

    for callback in enqueued:  # refresh_forecasts: the artifact is missing, so the base rate
        callback()
    assert forecast_of(owner, question_id)["pending"] is False
    assert Forecast.objects.filter(question_id=question_id).count() == 2


def test_a_resolved_question_has_nothing_pending(owner: Actor) -> None:
    question_id = ask(owner)
    Question.objects.filter(pk=question_id).update(status=QuestionStatus.ANNULLED)
    assert forecast_of(owner, question_id)["pending"] is False
