"""Appeals and auto-approval: an appeal, and a photo a check failed, always reach a person."""

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from bounties.services import checking, submission_decide
from bounties.services.fulfilment import submission_transition
from market.core.errors import ApplicationError
from market.ledger.models import Transaction, TransactionKind
from tests.bounties.helpers import funded_bounty, submit
from tests.conftest import Actor
from tests.factories import OperatorFactory, UserFactory
from web.services import submission_appeal

pytestmark = pytest.mark.django_db

QUEUE = "/admin/bounties/reviewqueueitem/"
OFF_TOPIC = "The photo does not look like 'a queue'; it looks more like 'an empty street'."


def check(name: str, status: str = "passed", score: float | None = None, **extra: Any) -> dict:
    return {"name": name, "status": status, "score": score, "reason": f"{name}: {status}"} | extra


def all_checks(**failed: dict[str, Any]) -> list[dict[str, Any]]:
    names = ("integrity", "location", "time", "duplicates", "relevance", "safety", "provenance")
    return [failed.get(name, check(name)) for name in names]


def waiting(owner: Actor, checks: list[dict[str, Any]]) -> Submission:
    """A fully checked submission waiting for a person, uploaded long before its deadline."""
    submission = submit(funded_bounty(owner.agent), UserFactory())
    Submission.objects.filter(pk=submission.pk).update(
        checks=checks, received_at=timezone.now() - timedelta(days=3)
    )
    submission.refresh_from_db()
    return submission_transition(submission, SubmissionStatus.NEEDS_REVIEW, actor="verification")


def appealed(owner: Actor, *, appealed_ago: timedelta) -> Submission:
    """Rejected on relevance after every other check passed, then appealed by its worker."""
    relevance = check("relevance", "failed", 0.08, reason=OFF_TOPIC)
    submission = submit(funded_bounty(owner.agent), UserFactory())
    Submission.objects.filter(pk=submission.pk).update(
        checks=all_checks(relevance=relevance), received_at=timezone.now() - timedelta(days=3)
    )
    submission_decide(submission=submission, accept=False, reasons=[OFF_TOPIC], actor="t")
    submission = submission_appeal(
        submission=submission, worker=submission.worker, note="It is the queue, look left."
    )
    Submission.objects.filter(pk=submission.pk).update(appealed_at=timezone.now() - appealed_ago)
    submission.refresh_from_db()
    return submission


def released() -> int:
    return Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count()


def test_it_never_auto_approves_an_appeal_of_a_relevance_rejection(owner: Actor) -> None:
    submission = appealed(owner, appealed_ago=timedelta(minutes=5))
    assert submission.received_at + submission.bounty.auto_approve_after < timezone.now()

    assert checking.submissions_auto_approve_due() == 0

    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.NEEDS_REVIEW
    assert released() == 0
    assert not submission.events.filter(actor="auto-approve").exists()


def test_an_appeal_past_its_own_deadline_still_waits_and_is_logged(
    owner: Actor, caplog: pytest.LogCaptureFixture
) -> None:
    submission = appealed(owner, appealed_ago=timedelta(days=2))
    assert submission.review_waiting_since == submission.appealed_at

    with caplog.at_level(logging.WARNING, logger="bounties.services.checking"):
        assert checking.submissions_auto_approve_due() == 0

    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW
    assert released() == 0
    assert "1 appeal(s) waited past their deadline" in caplog.text


@pytest.mark.parametrize(
    "failed",
    [
        {"relevance": check("relevance", "failed", 0.5)},  # the review band
        {"relevance": check("relevance", "failed", 0.05)},
        {"safety": check("safety", "failed", 0.6, needs_review=True)},
    ],
    ids=["relevance-review-band", "relevance-off-topic", "safety-review-band"],
)
def test_it_never_auto_approves_a_relevance_or_safety_failure(
    owner: Actor, failed: dict[str, Any]
) -> None:
    submission = waiting(owner, all_checks(**failed))

    assert checking.submissions_auto_approve_due() == 0

    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW
    assert released() == 0


def test_it_still_accepts_a_photo_every_check_passed_past_its_deadline(owner: Actor) -> None:
    skipped = check("relevance", "skipped")  # no model: the bounty's own rule lets it through
    submission = waiting(owner, all_checks(relevance=skipped))

    assert checking.submissions_auto_approve_due() == 1

    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED
    assert submission.events.get(new_status=SubmissionStatus.ACCEPTED).actor == "auto-approve"
    assert released() == 1


def test_the_deadline_of_an_appeal_counts_from_the_appeal(owner: Actor) -> None:
    submission = appealed(owner, appealed_ago=timedelta(minutes=5))
    # Received three days ago, appealed five minutes ago: five minutes in the queue.
    assert submission.review_waiting_since == submission.appealed_at
    assert not checking.auto_approvable(submission, timezone.now())
    later = timezone.now() + submission.bounty.auto_approve_after + timedelta(days=1)
    assert not checking.auto_approvable(submission, later)  # an appeal: never, at any time


def test_a_submission_appealed_after_the_sweep_read_it_is_left_alone(owner: Actor) -> None:
    """The sweep judges each candidate again under its locks: decided and appealed meanwhile
    (the sweep's read is stale), it is not accepted."""
    submission = waiting(owner, all_checks())
    stale = Submission.objects.select_related("bounty").get(pk=submission.pk)
    assert checking.auto_approvable(stale, timezone.now())
    submission_decide(submission=submission, accept=False, reasons=["Blurry."], actor="operator")
    submission_appeal(submission=submission, worker=submission.worker, note="It is sharp.")

    assert checking.submissions_auto_approve_due() == 0

    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW
    assert released() == 0


def test_the_review_queue_shows_how_long_an_appeal_has_waited_oldest_first(
    owner: Actor,
) -> None:
    recent = appealed(owner, appealed_ago=timedelta(minutes=5))
    older = waiting(owner, all_checks(relevance=check("relevance", "failed", 0.5)))
    Submission.objects.filter(pk=older.pk).update(received_at=timezone.now() - timedelta(hours=7))
    operator = Client()
    operator.force_login(OperatorFactory())

    listing = operator.get(QUEUE).content.decode()

    assert "Waiting for" in listing
    # The appeal waits from its appeal (5 minutes), not from its upload (3 days).
    assert "5\xa0minutes" in listing and "3\xa0days" not in listing
    assert "7\xa0hours" in listing
    assert listing.index(f"{QUEUE}{older.pk}/change/") < listing.index(
        f"{QUEUE}{recent.pk}/change/"
    )
    page = operator.get(f"{QUEUE}{recent.pk}/change/").content.decode()
    assert "5\xa0minutes ago" in page and "look left" in page


def test_an_appeal_note_that_cannot_be_stored_is_refused(owner: Actor) -> None:
    submission = submit(funded_bounty(owner.agent), UserFactory())
    submission_decide(submission=submission, accept=False, reasons=["Dark."], actor="t")
    for note in ("look\x00again", "look \ud800 again"):
        with pytest.raises(ApplicationError) as refused:
            submission_appeal(submission=submission, worker=submission.worker, note=note)
        assert refused.value.code == "invalid_note"
    assert Submission.objects.get(pk=submission.pk).appealed_at is None
