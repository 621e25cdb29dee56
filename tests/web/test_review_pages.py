"""The website around agents' reviews (issue 13): the worker sees the buyer's deadline and
reason (and appeals), the requester sees each bounty's submissions, and workers see each
buyer's fair-use record beside its bounties."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client, TestCase
from django.utils import timezone

from bounties.models import Bounty, ReviewMode, Submission, SubmissionStatus
from bounties.services import checking, submission_decide
from bounties.services.review import submission_review_decide, submission_review_route
from market.accounts.models import Agent, User
from tests.bounties.helpers import funded_bounty, submit
from tests.bounties.photos import DSCN0010_GPS
from tests.conftest import Actor, make_actor
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

REASON = "The queue is not in the photo, only an empty pavement."
NOTE = "private note: I live round the corner"
HERE = {"lat": f"{DSCN0010_GPS[0]}", "lon": f"{DSCN0010_GPS[1]}", "within_km": "5"}
CHECKS = [
    {"name": "integrity", "status": "passed", "score": None, "reason": ""},
    {"name": "relevance", "status": "skipped", "score": None, "reason": "no model here"},
]


@pytest.fixture
def reviewed(owner: Actor) -> Bounty:
    """The owner's bounty, judged by the owner's agent."""
    lat, lon = DSCN0010_GPS
    return funded_bounty(
        owner.agent, lat=lat, lon=lon, radius_m=100, quantity=4, max_per_worker=4,
        review=ReviewMode.AGENT,
        title="The old town square",
    )  # fmt: skip


def waiting(bounty: Bounty, worker: User | None = None) -> Submission:
    """A photo routed to the bounty's agent as verification routes it, its preview made (the
    after-commit task, eager in tests)."""
    submission = submit(bounty, worker or UserFactory())
    Submission.objects.filter(pk=submission.pk).update(
        checks=CHECKS, status=SubmissionStatus.VERIFYING, note=NOTE,
        captured_at=timezone.now() - timedelta(minutes=2),
    )  # fmt: skip
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        submission_review_route(
            submission=locked,
            reasons=["Photos from new workers are checked by a person."],
            checks_clean=checking.checks_clean(CHECKS),
        )
    submission.refresh_from_db()
    assert submission.awaits_agent and submission.preview
    return submission


def decided(submission: Submission, agent: Agent, *, accept: bool) -> Submission:
    with TestCase.captureOnCommitCallbacks(execute=True):
        submission_review_decide(
            submission=submission, agent=agent, accept=accept, reason="" if accept else REASON
        )
    submission.refresh_from_db()
    return submission


def overturned(submission: Submission, worker_client: Client) -> Submission:
    """The worker appeals the buyer's rejection and operators accept it."""
    response = worker_client.post(f"/submissions/{submission.pk}/appeal/", {"note": "It is"})
    assert response.status_code == 302
    submission.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        submission_decide(
            submission=submission, accept=True, reasons=["Shows the queue."], actor="operator:1"
        )
    submission.refresh_from_db()
    return submission


def test_the_worker_sees_until_when_the_buyer_may_review(worker_client, worker, reviewed):
    submission = waiting(reviewed, worker)

    card = worker_client.get(f"/submissions/{submission.pk}/").content.decode()

    assert "Waiting for the buyer's review, until" in card
    deadline = submission.review_deadline
    assert deadline is not None and deadline.strftime("%-d %b %H:%M") in card
    assert "Appeal (once)" not in card


def test_a_photo_with_operators_says_a_person_reviews_it(worker_client, worker, bounty):
    submission = waiting_for_operators = submit(bounty, worker)
    Submission.objects.filter(pk=submission.pk).update(
        status=SubmissionStatus.NEEDS_REVIEW, review_by="operator"
    )

    card = worker_client.get(f"/submissions/{waiting_for_operators.pk}/").content.decode()

    assert "Waiting for a person's review." in card and "buyer's review" not in card


def test_the_worker_reads_the_buyers_reason_and_appeals(worker_client, worker, owner, reviewed):
    submission = decided(waiting(reviewed, worker), owner.agent, accept=False)

    card = worker_client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "The buyer rejected it:" in card and REASON in card
    assert f'action="/submissions/{submission.pk}/appeal/"' in card

    response = worker_client.post(
        f"/submissions/{submission.pk}/appeal/", {"note": "The queue is on the left."}
    )
    assert response.status_code == 302
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.NEEDS_REVIEW and submission.appealed_at
    card = worker_client.get(f"/submissions/{submission.pk}/").content.decode()
    assert "Appealed" in card and "Appeal (once)" not in card


def test_an_overturned_rejection_shows_as_accepted_on_appeal(
    worker_client, worker, owner, reviewed
):
    submission = overturned(
        decided(waiting(reviewed, worker), owner.agent, accept=False), worker_client
    )

    card = worker_client.get(f"/submissions/{submission.pk}/").content.decode()

    assert submission.status == SubmissionStatus.ACCEPTED
    assert "Accepted on appeal" in card


def test_the_agent_page_links_each_bounty_with_its_submissions_by_state(
    owner_client, owner, reviewed
):
    waiting(reviewed)
    decided(waiting(reviewed), owner.agent, accept=False)
    decided(waiting(reviewed), owner.agent, accept=True)

    page = owner_client.get(f"/agents/{owner.agent.pk}/").content.decode()

    link = f'href="/agents/{owner.agent.pk}/bounties/{reviewed.pk}/"'
    assert f"<a {link}>{reviewed.title}</a>" in page
    assert "1 waiting for review · 0 being checked · 1 accepted · 1 rejected" in page


def test_the_bounty_page_lists_every_submission_and_nothing_of_the_workers(
    owner_client, owner, reviewed
):
    worker = UserFactory(email="someone@example.com")
    pending = waiting(reviewed, worker)
    rejected = decided(waiting(reviewed, worker), owner.agent, accept=False)
    accepted = decided(waiting(reviewed, worker), owner.agent, accept=True)
    assert accepted.delivered_photo  # delivered after commit, by the task

    response = owner_client.get(f"/agents/{owner.agent.pk}/bounties/{reviewed.pk}/")

    page = response.content.decode()
    assert response.status_code == 200
    for submission in (pending, rejected, accepted):
        assert f'id="submission-{submission.pk}"' in page
    assert "Waiting for your agent's review until" in page
    assert f'src="/previews/{pending.pk}/"' in page
    assert "Your agent rejected it:" in page and REASON in page
    assert f'href="/photos/{accepted.pk}/"' in page
    assert "no model here" in page  # the checks, as the agent reads them
    assert NOTE not in page and worker.email not in page


def test_the_owner_sees_the_preview_its_agent_judges_and_no_one_else_does(
    owner_client, owner, outsider, reviewed, client
):
    submission = waiting(reviewed)

    response = owner_client.get(f"/previews/{submission.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"

    client.force_login(outsider.user)
    assert client.get(f"/previews/{submission.pk}/").status_code == 404
    client.force_login(owner.user)
    decided(submission, owner.agent, accept=False)
    assert client.get(f"/previews/{submission.pk}/").status_code == 404  # decided: no preview


def test_another_requesters_bounty_page_is_not_found(owner, outsider, reviewed, client):
    teammate = make_actor(owner=owner.user)
    client.force_login(outsider.user)
    assert client.get(f"/agents/{owner.agent.pk}/bounties/{reviewed.pk}/").status_code == 404
    assert client.get(f"/agents/{outsider.agent.pk}/bounties/{reviewed.pk}/").status_code == 404
    client.force_login(owner.user)  # the bounty, under another of the owner's agents
    assert client.get(f"/agents/{teammate.agent.pk}/bounties/{reviewed.pk}/").status_code == 404


def test_workers_see_the_buyers_record_on_the_bounty_and_in_find(
    client, worker_client, worker, owner, reviewed
):
    before = client.get(f"/bounties/{reviewed.pk}/").content.decode()
    assert "The buyer has not reviewed a photo yet." in before
    assert "The buyer judges photos the checks cannot settle" in before

    decided(waiting(reviewed), owner.agent, accept=True)
    overturned(decided(waiting(reviewed, worker), owner.agent, accept=False), worker_client)
    decided(waiting(reviewed), owner.agent, accept=False)

    record = "The buyer rejected 67% of its last 3 reviews; 1 of its rejections was overturned"
    assert record in client.get(f"/bounties/{reviewed.pk}/").content.decode()
    assert record in client.get("/find/", HERE).content.decode()


def test_the_agent_page_says_why_review_is_paused(owner_client, owner) -> None:
    until = timezone.now() + timedelta(days=3)
    Agent.objects.filter(pk=owner.agent.pk).update(review_cooling_until=until)

    page = owner_client.get(f"/agents/{owner.agent.pk}/").content.decode()

    assert "Review paused until" in page and until.strftime("%-d %b %Y") in page
    assert 'review_mode: "cooling"' in page


def test_the_agent_page_gives_its_review_record(owner_client, owner, reviewed) -> None:
    decided(waiting(reviewed), owner.agent, accept=False)
    decided(waiting(reviewed), owner.agent, accept=True)

    page = owner_client.get(f"/agents/{owner.agent.pk}/").content.decode()

    assert "Over its last 2 reviews this agent rejected 50%; 0 rejections were overturned" in page
