"""Random sequences of money operations never break the books (hypothesis, stateful)."""

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from market.core.errors import ApplicationError
from market.ledger.models import Transaction
from market.ledger.services import (
    escrow_account,
    escrow_hold,
    escrow_refund,
    escrow_release,
    platform_fee_minor,
    transaction_reverse,
    wallet_credit_test_funds,
)
from tests.conftest import make_actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right

amounts = st.integers(min_value=1, max_value=50_000)
prices = st.integers(min_value=1, max_value=5_000)


class LedgerMachine(RuleBasedStateMachine):
    """Each example runs inside a savepoint rolled back at teardown. After every step the
    database's deferred rules are checked too (the test transaction itself never commits)."""

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        self.bounties: dict[int, dict[str, int]] = {}
        self.next_bounty = 1
        self.next_submission = 1
        self.replayable: list[tuple[str, int]] = []
        self.posted_count = 0

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    @initialize()
    def actors(self) -> None:
        self.actor = make_actor(daily_spend_cap_minor=200_000)
        self.workers = [UserFactory(), UserFactory()]

    def _count(self) -> int:
        return Transaction.objects.count()

    @rule(amount=amounts)
    def fund(self, amount: int) -> None:
        key = f"fund-{self._count()}"
        wallet_credit_test_funds(agent=self.actor.agent, amount_minor=amount, idempotency_key=key)
        self.replayable.append((key, amount))

    @rule(price=prices, slots=st.integers(min_value=1, max_value=5))
    def hold(self, price: int, slots: int) -> None:
        bounty_id = self.next_bounty
        fee = platform_fee_minor(price)
        try:
            escrow_hold(
                agent=self.actor.agent, bounty_id=bounty_id, amount_minor=slots * (price + fee),
                idempotency_key=f"hold-{bounty_id}",
            )  # fmt: skip
        except ApplicationError as error:
            assert error.code in ("insufficient_funds", "spending_cap_exceeded")
            return
        self.next_bounty += 1
        self.bounties[bounty_id] = {"price": price, "fee": fee, "open": slots}

    @precondition(lambda self: any(b["open"] for b in self.bounties.values()))
    @rule(data=st.data(), worker_index=st.integers(min_value=0, max_value=1))
    def release(self, data: st.DataObject, worker_index: int) -> None:
        open_ids = sorted(bounty_id for bounty_id, b in self.bounties.items() if b["open"])
        bounty_id = data.draw(st.sampled_from(open_ids))
        bounty = self.bounties[bounty_id]
        submission_id = self.next_submission
        for _ in range(data.draw(st.integers(min_value=1, max_value=2))):  # retried task
            escrow_release(
                agent=self.actor.agent, bounty_id=bounty_id, worker=self.workers[worker_index],
                price_minor=bounty["price"], fee_minor=bounty["fee"], submission_id=submission_id,
            )  # fmt: skip
        self.next_submission += 1
        bounty["open"] -= 1

    @precondition(lambda self: any(b["open"] for b in self.bounties.values()))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        open_ids = sorted(bounty_id for bounty_id, b in self.bounties.items() if b["open"])
        bounty_id = data.draw(st.sampled_from(open_ids))
        bounty = self.bounties.pop(bounty_id)
        escrow = escrow_account(agent=self.actor.agent, bounty_id=bounty_id)
        amount = bounty["open"] * (bounty["price"] + bounty["fee"])
        assert escrow.balance_minor == amount
        escrow_refund(
            agent=self.actor.agent, bounty_id=bounty_id, amount_minor=amount,
            idempotency_key=f"refund-{bounty_id}",
        )  # fmt: skip

    @precondition(lambda self: self.replayable)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        key, amount = data.draw(st.sampled_from(self.replayable))
        before = self._count()
        wallet_credit_test_funds(agent=self.actor.agent, amount_minor=amount, idempotency_key=key)
        assert self._count() == before

    @precondition(lambda self: self.replayable)
    @rule(data=st.data())
    def reverse_funding(self, data: st.DataObject) -> None:
        key, _ = data.draw(st.sampled_from(self.replayable))
        txn = Transaction.objects.get(idempotency_key=key)
        try:
            transaction_reverse(txn=txn)
        except ApplicationError as error:  # the money was already spent
            assert error.code == "insufficient_funds"

    @invariant()
    def books_are_right(self) -> None:
        with connection.cursor() as cursor:  # fire the deferred triggers now, then defer again
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        assert_books_are_right()


@pytest.mark.django_db
def test_random_money_operations_keep_the_books_right() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
