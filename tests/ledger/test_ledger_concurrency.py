"""Real threads on PostgreSQL: concurrent postings neither double-pay nor overdraw."""

import pytest

from market.core.errors import ApplicationError
from market.ledger.models import AccountKind, LedgerAccount, Transaction, TransactionKind
from market.ledger.services import (
    escrow_account,
    escrow_hold,
    escrow_release,
    transfer,
    wallet_account,
    wallet_credit_test_funds,
)
from tests.concurrency import run_concurrently
from tests.conftest import make_actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def test_twenty_threads_releasing_the_same_slot_release_it_once() -> None:
    actor = make_actor()
    worker = UserFactory()
    wallet_credit_test_funds(agent=actor.agent, amount_minor=1_000, idempotency_key="f")
    escrow_hold(agent=actor.agent, bounty_id=1, amount_minor=880, idempotency_key="h")

    results, errors = run_concurrently(
        lambda _: escrow_release(
            agent=actor.agent, bounty_id=1, worker=worker, price_minor=400, fee_minor=40,
            submission_id=77,
        ).pk
    )  # fmt: skip
    assert not errors, errors
    assert len(set(results)) == 1  # every caller got the one and only release
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 1
    assert escrow_account(agent=actor.agent, bounty_id=1).balance_minor == 440
    earnings = LedgerAccount.objects.get(
        kind=AccountKind.WORKER_EARNINGS, owner=f"user:{worker.pk}"
    )
    assert earnings.balance_minor == 400
    assert_books_are_right()


def test_twenty_threads_spending_one_wallet_never_overdraw_it() -> None:
    actor = make_actor()
    wallet_credit_test_funds(agent=actor.agent, amount_minor=7_000, idempotency_key="f")

    def spend(index: int) -> int:
        return escrow_hold(
            agent=actor.agent, bounty_id=index, amount_minor=1_000, idempotency_key=f"h{index}"
        ).pk

    results, errors = run_concurrently(spend)
    assert len(results) == 7
    assert len(errors) == THREADS - 7
    assert all(isinstance(e, ApplicationError) and e.code == "insufficient_funds" for e in errors)
    assert wallet_account(actor.agent).balance_minor == 0
    assert_books_are_right()


def test_concurrent_holds_never_exceed_the_daily_cap() -> None:
    actor = make_actor(daily_spend_cap_minor=5_000)
    wallet_credit_test_funds(agent=actor.agent, amount_minor=100_000, idempotency_key="f")

    results, errors = run_concurrently(
        lambda index: (
            escrow_hold(
                agent=actor.agent, bounty_id=index, amount_minor=1_000, idempotency_key=f"h{index}"
            ).pk
        )
    )
    assert len(results) == 5
    assert all(
        isinstance(e, ApplicationError) and e.code == "spending_cap_exceeded" for e in errors
    )
    assert wallet_account(actor.agent).balance_minor == 95_000
    assert_books_are_right()


def test_transfers_in_opposite_directions_do_not_deadlock() -> None:
    """Half the threads move A to B, half B to A: locks are taken in id order, not leg order."""
    first, second = make_actor(), make_actor()
    wallets = []
    for actor in (first, second):
        wallet_credit_test_funds(
            agent=actor.agent, amount_minor=100_000, idempotency_key=f"f{actor.agent.pk}"
        )
        wallets.append(wallet_account(actor.agent))

    def work(index: int) -> int:
        source, destination = wallets if index % 2 else reversed(wallets)
        return transfer(
            kind=TransactionKind.REVERSAL, idempotency_key=f"t{index}", reference="test",
            source=source, destination=destination, amount_minor=index + 1,
        ).pk  # fmt: skip

    results, errors = run_concurrently(work)
    assert not errors, errors
    assert len(results) == THREADS
    moved = sum(i + 1 for i in range(THREADS) if i % 2) - sum(
        i + 1 for i in range(THREADS) if not i % 2
    )
    assert wallet_account(second.agent).balance_minor == 100_000 + moved
    assert_books_are_right()
