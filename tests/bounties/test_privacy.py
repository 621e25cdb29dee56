"""Where and when a worker was, and who they are, reach an agent only with accepted data, and
only what the receipt states: the submissions API (list and detail) and webhook payloads."""

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus, WebhookDelivery
from bounties.services import submission_decide
from bounties.services.fulfilment import submission_transition
from bounties.webhooks import webhook_endpoint_create
from tests.bounties.helpers import accept, funded_bounty, submit
from tests.conftest import Actor
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SUBMISSIONS = "/api/v1/submissions/"
WHERE = (51.50731, -0.12779, 7.5)  # the worker's browser: lat, lon, accuracy in metres
NOTE = "I live at 12 Baker Street, came from home."
LOCATION_REASON = "Your phone placed you 1234 m from the spot; you must be within 150 m."
TIME_REASON = "The photo was taken at 2026-03-01 06:12 +0100, outside the window 07:00 to 08:00."
CHECKS = [
    {"name": "integrity", "status": "passed", "score": None, "reason": "Readable."},
    {"name": "location", "status": "failed", "score": 0.42, "reason": LOCATION_REASON},
    {"name": "time", "status": "failed", "score": None, "reason": TIME_REASON},
    {"name": "relevance", "status": "passed", "score": 0.91, "reason": "It matches."},
]
# What must never reach an agent before acceptance, as it would appear in JSON.
SECRETS = ("51.50731", "-0.12779", "1234 m", "06:12", "Baker Street")


def uploaded(owner: Actor) -> Submission:
    worker = UserFactory(email="worker.private@example.com")
    submission = submit(funded_bounty(owner.agent, quantity=2), worker)
    Submission.objects.filter(pk=submission.pk).update(
        reported_lat=WHERE[0], reported_lon=WHERE[1], reported_accuracy_m=WHERE[2], note=NOTE,
        captured_at=timezone.now() - timedelta(minutes=3), checks=CHECKS,
        facts={"gps": {"lat": WHERE[0], "lon": WHERE[1]}, "camera": "Pixel 8 of J. Doe"},
    )  # fmt: skip
    submission.refresh_from_db()
    return submission


def verifying(submission: Submission) -> Submission:
    return submission_transition(submission, SubmissionStatus.VERIFYING, actor="verification")


def needs_review(submission: Submission) -> Submission:
    Submission.objects.filter(pk=submission.pk).update(reasons=[LOCATION_REASON])
    submission.refresh_from_db()
    return submission_transition(submission, SubmissionStatus.NEEDS_REVIEW, actor="verification")


def rejected(submission: Submission) -> Submission:
    return submission_decide(
        submission=submission, accept=False, reasons=[LOCATION_REASON, TIME_REASON], actor="v"
    )


def appealed_then_pending(submission: Submission) -> Submission:
    from web.services import submission_appeal

    rejected(submission)
    return submission_appeal(submission=submission, worker=submission.worker, note="Look again")


UNPAID: dict[str, Callable[[Submission], Submission]] = {
    "received": lambda submission: submission,
    "verifying": verifying,
    "needs_review": needs_review,
    "rejected": rejected,
    "appealed": appealed_then_pending,
}


def accepted(submission: Submission) -> Submission:
    return accept(submission, actor="operator")  # and released: the receipt is made after commit


def read_both(owner: Actor, submission: Submission) -> list[dict]:
    client = owner.client()
    detail = client.get(f"{SUBMISSIONS}{submission.pk}/")
    listing = client.get(SUBMISSIONS, {"bounty": submission.bounty_id})
    assert detail.status_code == listing.status_code == 200
    [listed] = listing.json()["results"]
    return [detail.json(), listed]


@pytest.mark.parametrize("state", UNPAID)
def test_an_agent_never_reads_where_or_when_the_worker_was_before_acceptance(
    owner: Actor, state: str
) -> None:
    submission = UNPAID[state](uploaded(owner))

    for body in read_both(owner, submission):
        assert body["location"] is None
        assert body["captured_at"] is None
        assert body["note"] == ""
        checks = {check["name"]: check for check in body["checks"]}
        assert checks["location"] == {
            "name": "location", "status": "failed", "score": None,
            "reason": "The photo was not taken inside the bounty's area.",
        }  # fmt: skip
        assert checks["time"]["reason"] == (
            "The photo was not taken inside the bounty's time window."
        )
        assert checks["relevance"]["score"] == 0.91  # nothing personal: left as it is
        text = json.dumps(body)
        assert not [secret for secret in SECRETS if secret in text]
        assert "worker" not in text and "Pixel" not in text and "J. Doe" not in text


def test_a_rejection_gives_the_agent_its_reasons_without_the_workers_position(
    owner: Actor,
) -> None:
    submission = rejected(uploaded(owner))

    [detail, _] = read_both(owner, submission)

    assert detail["reasons"] == [
        "The photo was not taken inside the bounty's area.",
        "The photo was not taken inside the bounty's time window.",
    ]


def test_accepted_data_carries_what_the_receipt_states(owner: Actor) -> None:
    submission = accepted(uploaded(owner))
    receipt = submission.receipt.document

    for body in read_both(owner, submission):
        assert body["location"] == {"lat": WHERE[0], "lon": WHERE[1], "accuracy_m": WHERE[2]}
        assert body["location"] == receipt["location"]["reported"]
        assert body["captured_at"] is not None
        assert body["captured_at"].replace("Z", "+00:00") == receipt["captured_at"]
        assert body["checks"] == receipt["checks"] == CHECKS
        assert body["note"] == NOTE
        text = json.dumps(body)
        assert "worker.private@example.com" not in text and "Pixel" not in text


def test_webhook_payloads_withhold_the_workers_position_until_acceptance(
    owner: Actor,
) -> None:
    webhook_endpoint_create(agent=owner.agent, url="https://agent.example.com/hooks")
    rejected(uploaded(owner))
    [payload] = [
        d.payload for d in WebhookDelivery.objects.filter(event_type="submission.rejected")
    ]
    text = json.dumps(payload)
    assert not [secret for secret in SECRETS if secret in text]
    assert payload["data"]["object"]["reasons"] == [
        "The photo was not taken inside the bounty's area.",
        "The photo was not taken inside the bounty's time window.",
    ]

    accepted(uploaded(owner))
    [payload] = [
        d.payload for d in WebhookDelivery.objects.filter(event_type="submission.accepted")
    ]
    assert "worker.private@example.com" not in json.dumps(payload)
    assert set(payload["data"]["object"]) == {
        "id", "object", "bounty", "status", "reasons", "decided_at"
    }  # fmt: skip


def test_photo_and_receipt_stay_closed_before_acceptance(owner: Actor) -> None:
    submission = needs_review(uploaded(owner))
    client = owner.client()
    for endpoint in ("photo", "receipt"):
        response = client.get(f"{SUBMISSIONS}{submission.pk}/{endpoint}/")
        assert response.status_code == 409 and response.json()["code"] == "not_accepted"
