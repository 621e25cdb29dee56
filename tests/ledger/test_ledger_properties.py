"""Random sequences of money operations never break the books (hypothesis, stateful).

Payouts run through the real payments services, Stripe's HTTP layer faked and its webhooks
delivered signed to the real endpoint, in any order and any number of times.
"""

import itertools

import pytest
import stripe
from django.db import connection, transaction
from django.test import Client, override_settings
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
from market.ledger.models import Transaction, TransactionKind
from market.ledger.services import (
    escrow_account,
    escrow_hold,
    escrow_refund,
    escrow_release,
    platform_fee_minor,
    transaction_reverse,
    wallet_credit_test_funds,
)
from market.payments.models import Payout, PayoutStatus, StripeEvent
from market.payments.services import payout_request, payout_send
from tests.conftest import make_actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right
from tests.payments.conftest import ready_account
from tests.payments.fakes import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    bank_payout,
    deliver,
    stripe_event,
)

amounts = st.integers(min_value=1, max_value=50_000)
prices = st.integers(min_value=1, max_value=5_000)
seed_prices = st.integers(min_value=500, max_value=5_000)  # at the payout minimum or above


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
        self.payouts: list[int] = []
        self.delivered: list[dict] = []
        self.event_ids = itertools.count(1)
        self.client = Client()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    @initialize(seed_earnings=st.lists(seed_prices, min_size=2, max_size=2))
    def actors(self, seed_earnings: list[int]) -> None:
        self.actor = make_actor(daily_spend_cap_minor=200_000)
        self.workers = [UserFactory(), UserFactory()]
        # Workers start with some earnings (a settled bounty 0), so payouts happen early.
        wallet_credit_test_funds(
            agent=self.actor.agent, amount_minor=sum(seed_earnings), idempotency_key="seed"
        )
        escrow_hold(
            agent=self.actor.agent, bounty_id=0, amount_minor=sum(seed_earnings),
            idempotency_key="hold-0",
        )  # fmt: skip
        for index, (worker, price) in enumerate(zip(self.workers, seed_earnings, strict=True)):
            ready_account(worker)
            escrow_release(
                agent=self.actor.agent, bounty_id=0, worker=worker, price_minor=price,
                fee_minor=0, submission_id=-1 - index,
            )  # fmt: skip

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

    @rule(worker_index=st.integers(min_value=0, max_value=1))
    def payout(self, worker_index: int) -> None:
        try:
            payout = payout_request(worker=self.workers[worker_index])
        except ApplicationError as error:
            assert error.code in ("below_minimum", "payout_pending")
            return
        payout_send(payout_id=payout.pk)  # what the task does after commit
        payout.refresh_from_db()
        assert payout.status == PayoutStatus.IN_TRANSIT
        self.payouts.append(payout.pk)

    def _deliver_outcome(self, data: st.DataObject, status: str) -> None:
        payout = Payout.objects.get(pk=data.draw(st.sampled_from(self.payouts)))
        assert payout.stripe_payout_id
        event = stripe_event(
            f"payout.{status}",
            bank_payout(
                payout_id=payout.pk,
                stripe_id=payout.stripe_payout_id,
                amount_minor=payout.amount_minor,
                status=status,
                failure_code="account_closed" if status == "failed" else None,
                failure_message="The bank account has been closed." if status == "failed" else None,
            ),
            event_id=f"evt_machine_{next(self.event_ids)}",
        )
        assert deliver(self.client, event).status_code == 200
        self.delivered.append(event)

    @precondition(lambda self: self.payouts)
    @rule(data=st.data())
    def payout_paid(self, data: st.DataObject) -> None:
        self._deliver_outcome(data, "paid")

    @precondition(lambda self: self.payouts)
    @rule(data=st.data())
    def payout_fails(self, data: st.DataObject) -> None:
        self._deliver_outcome(data, "failed")

    @precondition(lambda self: self.delivered)
    @rule(data=st.data())
    def webhook_replay(self, data: st.DataObject) -> None:
        event = data.draw(st.sampled_from(self.delivered))
        before = (Transaction.objects.count(), StripeEvent.objects.count())
        response = deliver(self.client, event)
        assert response.status_code == 200 and response.json()["duplicate"]
        assert (Transaction.objects.count(), StripeEvent.objects.count()) == before

    @invariant()
    def payouts_match_their_postings(self) -> None:
        for payout in Payout.objects.filter(pk__in=self.payouts):
            kinds = set(
                Transaction.objects.filter(reference=f"payout:{payout.pk}").values_list(
                    "kind", flat=True
                )
            )
            expected = {TransactionKind.PAYOUT}
            if payout.status == PayoutStatus.PAID:
                expected.add(TransactionKind.PAYOUT_SETTLED)
            if payout.status == PayoutStatus.FAILED:
                expected.add(TransactionKind.PAYOUT_REVERSAL)
            assert kinds >= expected and (
                TransactionKind.PAYOUT_REVERSAL not in kinds or payout.status == PayoutStatus.FAILED
            ), (payout.status, kinds)

    @invariant()
    def books_are_right(self) -> None:
        with connection.cursor() as cursor:  # fire the deferred triggers now, then defer again
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        assert_books_are_right()


@pytest.mark.django_db
def test_random_money_operations_keep_the_books_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe, "default_http_client", FakeStripe())
    stripe_on = override_settings(
        STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, PAYOUT_MINIMUM_MINOR=500
    )
    with stripe_on:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=20,
                stateful_step_count=20,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            ),
        )
