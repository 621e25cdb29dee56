"""Real threads on PostgreSQL against the bounty state machine."""

import pytest
from rest_framework.test import APIClient

from bounties.models import Bounty, Claim, ClaimStatus
from bounties.services import claim_create
from market.core.errors import ApplicationError
from market.ledger.models import Transaction, TransactionKind
from tests.bounties.helpers import BOUNTIES, body, funded_bounty
from tests.concurrency import run_concurrently
from tests.conftest import make_actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_concurrent_claims_for_the_last_three_slots_give_exactly_three() -> None:
    actor = make_actor()
    bounty = funded_bounty(actor.agent, quantity=5)
    for _ in range(2):  # two slots already taken
        claim_create(bounty=bounty, worker=UserFactory())
    workers = [UserFactory() for _ in range(50)]

    results, errors = run_concurrently(
        lambda index: claim_create(bounty=bounty, worker=workers[index]).pk, threads=50
    )
    assert len(results) == 3, errors
    assert all(isinstance(e, ApplicationError) and e.code == "no_open_slots" for e in errors)
    assert Claim.objects.filter(bounty=bounty, status=ClaimStatus.ACTIVE).count() == 5


def test_concurrent_posts_with_one_idempotency_key_create_one_bounty() -> None:
    actor = make_actor()
    from market.ledger.services import wallet_credit_test_funds

    wallet_credit_test_funds(agent=actor.agent, amount_minor=100_000, idempotency_key="f")
    payload = body()

    def post(_: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {actor.key}")
        return client.post(
            BOUNTIES, payload, format="json", HTTP_IDEMPOTENCY_KEY="same"
        ).status_code

    results, errors = run_concurrently(post, threads=10)
    assert not errors, errors
    assert set(results) <= {201, 409} and 201 in results
    assert Bounty.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_HOLD).count() == 1
    assert_books_are_right()
