import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from bounties.services import claim_create
from forecasting.models import EvidenceItem, Outcome, Question, QuestionStatus
from forecasting.services import (
    evidence_collect,
    question_attach_bounty,
    question_create,
    question_resolve,
)
from market.core.errors import ApplicationError
from tests.bounties.helpers import funded_bounty
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

QUESTIONS = "/api/v1/questions/"


def body(**overrides: Any) -> dict[str, Any]:
    now = timezone.now()
    data: dict[str, Any] = {
        "title": "Will the bakery queue exceed 10 people at 17:30?",
        "resolution_criteria": "Counted on the 17:30 photo.",
        "closes_at": (now + timedelta(hours=1)).isoformat(),
        "resolves_at": (now + timedelta(hours=2)).isoformat(),
        "lat": 51.5072,
        "lon": -0.1276,
        "max_acquisition_spend": 5_000,
    }
    data.update(overrides)
    return data


def make_question(actor: Actor, **overrides: Any) -> Question:
    now = timezone.now()
    fields: dict[str, Any] = {
        "agent": actor.agent, "title": "Q", "resolution_criteria": "C",
        "closes_at": now + timedelta(hours=1), "resolves_at": now + timedelta(hours=2),
    }  # fmt: skip
    fields.update(overrides)
    return question_create(**fields)


def close(question: Question) -> Question:
    Question.objects.filter(pk=question.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    question.refresh_from_db()
    return question


def test_an_agent_asks_a_question_and_gets_a_forecast(owner: Actor) -> None:
    client = owner.client()
    created = client.post(QUESTIONS, body(), format="json")
    assert created.status_code == 201, created.content
    question_id = created.json()["id"]
    assert created.json()["status"] == "open" and created.json()["max_acquisition_spend"] == 5_000
    forecast = client.get(f"{QUESTIONS}{question_id}/forecast").json()
    low, high = forecast["interval"]
    assert low <= forecast["probability"] <= high
    assert forecast["model_version"] == "base-rate-v1" and forecast["evidence_count"] == 0
    assert [q["id"] for q in client.get(QUESTIONS).json()["results"]] == [question_id]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closes_at": "2020-01-01T00:00:00Z"}, "closes_at"),
        ({"resolves_at": (timezone.now() + timedelta(minutes=5)).isoformat()}, "resolves_at"),
        ({"lat": 95}, "lat"),
        ({"title": ""}, "title"),
        ({"max_acquisition_spend": -1}, "max_acquisition_spend"),
        ({"evidence_template": {"price": 400}}, "evidence_template"),  # no verify
        ({"evidence_template": {"verify": "a queue", "price": "lots"}}, "evidence_template"),
        ({"evidence_template": {"verify": "x", "price": 1, "metadata": "x"}}, "evidence_template"),
    ],
)
def test_bad_questions_are_refused(owner: Actor, overrides: dict[str, Any], field: str) -> None:
    response = owner.client().post(QUESTIONS, body(**overrides), format="json")
    assert field in assert_problem(response, 400, "validation_error")["errors"]
    assert not Question.objects.exists()


def test_outsiders_cannot_see_or_resolve_a_question(owner: Actor, outsider: Actor) -> None:
    question = make_question(owner)
    assert_problem(outsider.client().get(f"{QUESTIONS}{question.pk}/"), 404, "not_found")
    response = outsider.client().post(
        f"{QUESTIONS}{question.pk}/resolve/", {"outcome": "yes", "source": "x"}, format="json"
    )
    assert_problem(response, 404, "not_found")
    assert outsider.client().get(QUESTIONS).json()["results"] == []


def test_resolution_is_idempotent_and_final(owner: Actor) -> None:
    question = close(make_question(owner))
    url = f"{QUESTIONS}{question.pk}/resolve/"
    client = owner.client()
    first = client.post(url, {"outcome": "yes", "source": "city camera"}, format="json")
    again = client.post(url, {"outcome": "yes", "source": "city camera"}, format="json")
    assert first.status_code == again.status_code == 200
    assert first.json()["resolved_at"] == again.json()["resolved_at"]
    assert_problem(
        client.post(url, {"outcome": "no", "source": "changed my mind"}, format="json"), 409,
        "already_resolved",
    )  # fmt: skip
    assert_problem(
        client.post(url, {"outcome": "annul", "source": "x"}, format="json"), 409,
        "already_resolved",
    )  # fmt: skip
    question.refresh_from_db()
    assert question.status == QuestionStatus.RESOLVED and question.outcome == Outcome.YES


def test_a_question_resolves_only_once_closed(owner: Actor) -> None:
    question = make_question(owner)
    with pytest.raises(ApplicationError) as error:
        question_resolve(question=question, outcome=Outcome.NO, source="s", actor="t")
    assert error.value.code == "question_not_closed"
    annulled = owner.client().post(
        f"{QUESTIONS}{question.pk}/resolve/", {"outcome": "annul", "source": "duplicate"},
        format="json",
    )  # fmt: skip
    assert annulled.json()["status"] == "annulled"


def accepted_submission(bounty, captured_at) -> Submission:
    worker = UserFactory()
    return Submission.objects.create(
        bounty=bounty, claim=claim_create(bounty=bounty, worker=worker), worker=worker,
        upload_id=uuid.uuid4(), photo="x", photo_sha256="0" * 64, content_type="image/jpeg",
        size_bytes=1, status=SubmissionStatus.ACCEPTED, decided_at=timezone.now(),
        captured_at=captured_at, embedding=[0.1, 0.2], facts={"gps": {"lat": 51.5, "lon": -0.12}},
    )  # fmt: skip


def test_evidence_captured_after_the_close_never_leaks_in(
    owner: Actor, django_capture_on_commit_callbacks: Any
) -> None:
    question = make_question(owner, lat=51.5072, lon=-0.1276)
    bounty = funded_bounty(owner.agent)
    question_attach_bounty(question=question, bounty=bounty)
    before = accepted_submission(bounty, question.closes_at - timedelta(minutes=5))
    accepted_submission(bounty, question.closes_at + timedelta(minutes=5))  # after the close
    with django_capture_on_commit_callbacks(execute=True):  # the forecast task it enqueues
        collected = evidence_collect(question=question)
    assert [item.submission_id for item in collected] == [before.pk]
    assert evidence_collect(question=question) == []  # once each
    item = EvidenceItem.objects.get()
    assert item.embedding == [0.1, 0.2] and item.verify_text == bounty.verify
    assert item.distance_m is not None and item.distance_m < 2_000
    forecast = owner.client().get(f"{QUESTIONS}{question.pk}/forecast").json()
    assert forecast["evidence_count"] == 1 and not forecast["pending"]  # recomputed on the queue


def test_bounties_attach_once_to_their_own_agents_questions(owner: Actor, outsider: Actor) -> None:
    question = make_question(owner)
    other = make_question(owner)
    bounty = funded_bounty(owner.agent)
    url = f"{QUESTIONS}{question.pk}/bounties/"
    assert owner.client().post(url, {"bounty": bounty.pk}, format="json").json()["bounties"] == [
        bounty.pk
    ]
    assert owner.client().post(url, {"bounty": bounty.pk}, format="json").status_code == 200
    assert_problem(
        owner.client().post(f"{QUESTIONS}{other.pk}/bounties/", {"bounty": bounty.pk},
                            format="json"), 409, "bounty_taken",
    )  # fmt: skip
    foreign = funded_bounty(outsider.agent)
    assert_problem(
        owner.client().post(url, {"bounty": foreign.pk}, format="json"), 404, "not_found"
    )
