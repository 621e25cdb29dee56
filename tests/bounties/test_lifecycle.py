"""The bounty state machine and its money: every transition atomic with its postings."""

import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from bounties.models import (
    CLAIM_UPLOAD_GRACE,
    BountyEvent,
    BountyStatus,
    Claim,
    ClaimStatus,
    SubmissionStatus,
)
from bounties.selectors import with_open_slots
from bounties.services import (
    bounties_expire_due,
    bounty_cancel,
    bounty_create,
    claim_create,
    claim_release,
    open_slots,
    submission_create,
    submission_decide,
)
from market.core.errors import ApplicationError
from market.ledger.models import Transaction, TransactionKind
from market.ledger.selectors import wallet_summary
from market.ledger.services import escrow_account, wallet_credit_test_funds
from tests.bounties.helpers import funded_bounty, jpeg_bytes, spec, submit
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right

pytestmark = pytest.mark.django_db


def escrow_balance(bounty) -> int:
    return escrow_account(agent=bounty.agent, bounty_id=bounty.pk).balance_minor


def test_publishing_holds_quantity_times_price_plus_fee(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, funds=10_000)
    assert bounty.fee_minor == 40 and bounty.status == BountyStatus.OPEN
    assert escrow_balance(bounty) == 5 * 440
    assert wallet_summary(owner.agent).available_minor == 10_000 - 2_200
    assert BountyEvent.objects.get(bounty=bounty).new_status == BountyStatus.OPEN


def test_publishing_beyond_the_balance_creates_nothing(owner: Actor) -> None:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=1_000, idempotency_key="f")
    with pytest.raises(ApplicationError) as error:
        bounty_create(agent=owner.agent, spec=spec())
    assert error.value.code == "insufficient_funds" and error.value.status == 402
    assert not owner.agent.bounties.exists()
    assert wallet_summary(owner.agent).available_minor == 1_000


def test_accepting_pays_the_worker_and_fulfils_the_last_slot(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=2)
    workers = [UserFactory(), UserFactory()]
    for worker in workers:
        submission = submit(bounty, worker)
        submission_decide(submission=submission, accept=True, reasons=[], actor="test")
        # deciding again (a retried task) changes nothing
        submission_decide(submission=submission, accept=True, reasons=[], actor="test")
    bounty.refresh_from_db()
    assert bounty.status == BountyStatus.FULFILLED and bounty.accepted_count == 2
    assert escrow_balance(bounty) == 0
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 2
    assert_books_are_right()


def test_a_rejection_reopens_the_slot_with_its_reasons(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=1)
    worker = UserFactory()
    submission = submit(bounty, worker)
    assert open_slots(bounty) == 0
    submission_decide(
        submission=submission, accept=False, reasons=["taken 2 km away"], actor="test"
    )
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.REJECTED
    assert submission.reasons == ["taken 2 km away"]
    assert open_slots(bounty) == 1
    assert escrow_balance(bounty) == 440
    with pytest.raises(ApplicationError, match="reason"):
        submission_decide(submission=submit(bounty, UserFactory()), accept=False, reasons=[],
                          actor="test")  # fmt: skip


def test_cancel_refunds_unfilled_slots_and_keeps_pending_ones(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, funds=10_000, quantity=5)
    accepted = submit(bounty, UserFactory())
    submission_decide(submission=accepted, accept=True, reasons=[], actor="test")
    pending = submit(bounty, UserFactory())
    claim_create(bounty=bounty, worker=UserFactory())  # an active claim is voided
    bounty = bounty_cancel(bounty=bounty, actor="agent")
    assert bounty.status == BountyStatus.CANCELLED and bounty.closed_at is not None
    assert escrow_balance(bounty) == 440  # the pending submission's slot
    assert wallet_summary(owner.agent).available_minor == 10_000 - 2 * 440
    assert not Claim.objects.filter(bounty=bounty, status=ClaimStatus.ACTIVE).exists()
    # cancelling twice changes nothing
    bounty_cancel(bounty=bounty, actor="agent")
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_REFUND).count() == 1
    # the pending submission is rejected later: its slot is refunded then
    submission_decide(submission=pending, accept=False, reasons=["blurry"], actor="test")
    assert escrow_balance(bounty) == 0
    assert wallet_summary(owner.agent).available_minor == 10_000 - 440
    assert_books_are_right()


def test_expiry_refunds_and_waits_for_running_claims(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=3)
    claim = claim_create(bounty=bounty, worker=UserFactory())
    type(bounty).objects.filter(pk=bounty.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert bounties_expire_due() == 0  # the claim still holds
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bounties_expire_due() == 0  # an upload may still be under way
    Claim.objects.filter(pk=claim.pk).update(
        expires_at=timezone.now() - CLAIM_UPLOAD_GRACE - timedelta(seconds=1)
    )
    assert bounties_expire_due() == 1
    bounty.refresh_from_db()
    assert bounty.status == BountyStatus.EXPIRED
    assert escrow_balance(bounty) == 0
    assert_books_are_right()


def test_claims_never_exceed_open_slots(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=2)
    claim_create(bounty=bounty, worker=UserFactory())
    claim_create(bounty=bounty, worker=UserFactory())
    with pytest.raises(ApplicationError) as error:
        claim_create(bounty=bounty, worker=UserFactory())
    assert error.value.code == "no_open_slots"


def test_a_lapsed_claim_frees_its_slot_and_cannot_upload(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=1)
    worker = UserFactory()
    claim = claim_create(bounty=bounty, worker=worker)
    Claim.objects.filter(pk=claim.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    [listed] = with_open_slots([bounty])
    assert listed.open_slots == 1  # type: ignore[attr-defined]  # checked on read
    other = claim_create(bounty=bounty, worker=UserFactory())
    assert other.status == ClaimStatus.ACTIVE
    claim.refresh_from_db()
    with pytest.raises(ApplicationError) as error:
        submit(bounty, worker, claim=claim)
    assert error.value.code == "claim_not_active"


def test_released_claims_reopen_the_slot_and_claiming_twice_is_one_claim(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=1)
    worker = UserFactory()
    first = claim_create(bounty=bounty, worker=worker)
    assert claim_create(bounty=bounty, worker=worker).pk == first.pk
    claim_release(claim=first, worker=worker)
    claim_release(claim=first, worker=worker)
    assert open_slots(bounty) == 1


def test_max_per_worker_is_enforced(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, quantity=3, max_per_worker=1)
    worker = UserFactory()
    submit(bounty, worker)
    with pytest.raises(ApplicationError) as error:
        claim_create(bounty=bounty, worker=worker)
    assert error.value.code == "max_per_worker_reached"


def test_a_retried_upload_returns_the_first_submission(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent)
    worker = UserFactory()
    claim = claim_create(bounty=bounty, worker=worker)
    upload_id = uuid.uuid4()

    def upload():
        return submission_create(
            claim=claim, worker=worker, upload_id=upload_id, content_type="image/jpeg",
            photo=SimpleUploadedFile("a.jpg", jpeg_bytes(), "image/jpeg"),
        )  # fmt: skip

    first, created = upload()
    again, created_again = upload()
    assert created and not created_again and first.pk == again.pk
    assert first.photo.read() == jpeg_bytes()
    assert len(first.photo_sha256) == 64


def test_test_bounties_are_only_for_test_workers(db: None) -> None:
    from tests.conftest import make_actor

    tester = make_actor(is_test=True)
    bounty = funded_bounty(tester.agent)
    assert bounty.is_test
    with pytest.raises(ApplicationError):
        claim_create(bounty=bounty, worker=UserFactory())
    assert claim_create(bounty=bounty, worker=UserFactory(is_test_worker=True))
