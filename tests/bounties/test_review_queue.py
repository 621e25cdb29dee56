"""The operators' review queue: the photo, every check, approve or reject with a reason."""

import pytest
from django.test import Client

from bounties.models import Submission, SubmissionStatus
from bounties.services.fulfilment import submission_transition
from market.ledger.models import Transaction, TransactionKind
from tests.bounties.helpers import funded_bounty, jpeg_bytes, submit
from tests.conftest import Actor
from tests.factories import OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db

QUEUE = "/admin/bounties/reviewqueueitem/"


@pytest.fixture
def operator() -> Client:
    client = Client()
    client.force_login(OperatorFactory())
    return client


@pytest.fixture
def waiting(owner: Actor) -> Submission:
    submission = submit(funded_bounty(owner.agent), UserFactory())
    submission.checks = [
        {"name": "location", "status": "passed", "score": None, "reason": "Taken 12 m away."}
    ]
    submission.reasons = ["Photos from new workers are checked by a person."]
    submission.save()
    return submission_transition(submission, SubmissionStatus.NEEDS_REVIEW, actor="test")


def test_the_queue_lists_waiting_submissions_with_their_photo_and_checks(
    operator: Client, waiting: Submission
) -> None:
    listing = operator.get(QUEUE)
    assert listing.status_code == 200 and f"{QUEUE}{waiting.pk}/change/" in listing.content.decode()
    page = operator.get(f"{QUEUE}{waiting.pk}/change/").content.decode()
    assert "Taken 12 m away." in page and "checked by a person" in page
    photo = operator.get(f"{QUEUE}{waiting.pk}/photo/")
    assert photo.status_code == 200 and photo.getvalue() == jpeg_bytes()


def test_a_submission_out_of_verification_attempts_shows_its_last_error(
    operator: Client, waiting: Submission
) -> None:
    Submission.objects.filter(pk=waiting.pk).update(
        verify_attempts=6, verify_error="TimeoutError: the relevance model did not answer"
    )
    page = operator.get(f"{QUEUE}{waiting.pk}/change/").content.decode()
    assert "after 6 runs" in page
    assert "TimeoutError: the relevance model did not answer" in page


def test_an_operator_accepts_and_the_money_moves(operator: Client, waiting: Submission) -> None:

    response = operator.post(f"{QUEUE}{waiting.pk}/change/", {"decision": "accept", "reason": ""})
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.ACCEPTED
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 1
    last_event = waiting.events.last()
    assert last_event is not None and last_event.actor.startswith("operator:")
    assert operator.get(QUEUE).content.decode().count(f"{QUEUE}{waiting.pk}/change/") == 0


def test_a_rejection_needs_a_reason_shown_next_to_the_field(
    operator: Client, waiting: Submission
) -> None:
    response = operator.post(f"{QUEUE}{waiting.pk}/change/", {"decision": "reject", "reason": ""})
    assert (
        response.status_code == 200 and "Say why the photo is rejected" in response.content.decode()
    )
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.NEEDS_REVIEW
    operator.post(f"{QUEUE}{waiting.pk}/change/", {"decision": "reject", "reason": "Blurry."})
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.REJECTED and waiting.reasons == ["Blurry."]


def test_non_operators_cannot_review(owner: Actor, waiting: Submission) -> None:
    client = Client()
    client.force_login(owner.user)
    assert client.get(f"{QUEUE}{waiting.pk}/photo/").status_code == 302
    client.post(f"{QUEUE}{waiting.pk}/change/", {"decision": "accept"})
    waiting.refresh_from_db()
    assert waiting.status == SubmissionStatus.NEEDS_REVIEW
