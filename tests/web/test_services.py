"""submission_appeal: REJECTED -> NEEDS_REVIEW once, by the worker, while a slot is open."""

import pytest

from bounties.models import SubmissionEvent, SubmissionStatus
from bounties.services import bounty_cancel, claim_create, submission_decide
from market.core.errors import ApplicationError
from tests.bounties.helpers import funded_bounty, submit
from tests.factories import UserFactory
from web.services import submission_appeal

pytestmark = pytest.mark.django_db


@pytest.fixture
def rejected(bounty, worker):
    submission = submit(bounty, worker)
    return submission_decide(submission=submission, accept=False, reasons=["Dark."], actor="t")


def test_it_sends_a_rejected_photo_to_review_and_records_the_event(rejected, worker) -> None:
    submission = submission_appeal(submission=rejected, worker=worker, note=" please look ")
    assert submission.status == SubmissionStatus.NEEDS_REVIEW
    assert submission.appeal_note == "please look" and submission.appealed_at is not None
    event = SubmissionEvent.objects.filter(submission=submission).latest("id")
    assert (event.old_status, event.new_status) == ("rejected", "needs_review")
    assert event.actor == f"user:{worker.pk}"


def test_it_refuses_a_second_appeal(rejected, worker) -> None:
    appealed = submission_appeal(submission=rejected, worker=worker, note="once")
    submission_decide(submission=appealed, accept=False, reasons=["Still dark."], actor="op")
    with pytest.raises(ApplicationError) as refused:
        submission_appeal(submission=appealed, worker=worker, note="twice")
    assert refused.value.code == "already_appealed"


def test_it_refuses_when_the_bounty_has_no_open_slot(owner, worker) -> None:
    bounty = funded_bounty(owner.agent, quantity=1)
    rejected = submit(bounty, worker)
    submission_decide(submission=rejected, accept=False, reasons=["Dark."], actor="t")
    claim_create(bounty=bounty, worker=UserFactory())  # the reopened slot is taken
    with pytest.raises(ApplicationError) as refused:
        submission_appeal(submission=rejected, worker=worker, note="look again")
    assert refused.value.code == "no_open_slots"
    rejected.refresh_from_db()
    assert rejected.status == SubmissionStatus.REJECTED and rejected.appealed_at is None


def test_it_refuses_when_the_bounty_has_closed(rejected, bounty, worker) -> None:
    bounty_cancel(bounty=bounty, actor="test")
    with pytest.raises(ApplicationError) as refused:
        submission_appeal(submission=rejected, worker=worker, note="look again")
    assert refused.value.code == "no_open_slots"


def test_it_refuses_other_workers_and_unrejected_photos(rejected, bounty, worker) -> None:
    with pytest.raises(ApplicationError) as stranger:
        submission_appeal(submission=rejected, worker=UserFactory(), note="mine")
    assert stranger.value.status == 404
    pending = submit(bounty, UserFactory(email="other@example.com"))
    with pytest.raises(ApplicationError) as not_rejected:
        submission_appeal(submission=pending, worker=pending.worker, note="early")
    assert not_rejected.value.code == "not_rejected"


def test_it_needs_a_note(rejected, worker) -> None:
    with pytest.raises(ApplicationError) as refused:
        submission_appeal(submission=rejected, worker=worker, note="   ")
    assert refused.value.extra == {"field": "note"}
