"""Races on PostgreSQL with real threads: duplicate deliveries and duplicate sends at once."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client

from market.accounts.models import User
from market.ledger.models import Transaction, TransactionKind
from market.ledger.services import wallet_account
from market.payments.models import CheckoutSession, Payout, PayoutStatus, StripeEvent
from market.payments.services import checkout_session_create, payout_request, payout_send
from tests.conftest import Actor
from tests.payments.fakes import FakeStripe, checkout_session, deliver, stripe_event

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def all_at_once(work: Callable[[], object]) -> list[object]:
    """Run ``work`` in THREADS threads released together; return results or exceptions."""
    barrier = threading.Barrier(THREADS)
    results: list[object] = []

    def run() -> None:
        barrier.wait()
        try:
            results.append(work())
        except Exception as error:  # reported to the test, which asserts there are none
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_the_same_event_delivered_concurrently_credits_once(
    owner: Actor, fake_stripe: FakeStripe
) -> None:
    checkout_session_create(
        agent=owner.agent, amount_minor=4_000, success_url="https://x", cancel_url="https://x"
    )
    row = CheckoutSession.objects.get()
    assert row.stripe_session_id
    event = stripe_event(
        "checkout.session.completed",
        checkout_session(
            session_id=row.stripe_session_id,
            reference=row.pk,
            agent_id=owner.agent.pk,
            amount_minor=4_000,
        ),
    )

    answers = all_at_once(lambda: deliver(Client(), event).status_code)

    assert answers == [200] * THREADS
    assert wallet_account(owner.agent).balance_minor == 4_000
    assert Transaction.objects.filter(kind=TransactionKind.WALLET_FUNDING).count() == 1
    assert StripeEvent.objects.count() == 1


def test_concurrent_sends_of_one_payout_transfer_once(
    connected_worker: User, earn, fake_stripe: FakeStripe, settings
) -> None:
    settings.STRIPE_SECRET_KEY = ""  # created while Stripe is off: it waits
    earn(connected_worker, 6_000)
    payout = payout_request(worker=connected_worker)
    settings.STRIPE_SECRET_KEY = "sk_test_on_again"

    results = all_at_once(lambda: payout_send(payout_id=payout.pk).status)

    assert results == [PayoutStatus.IN_TRANSIT] * THREADS
    assert len(fake_stripe.calls("post", "/v1/transfers")) == 1
    assert len(fake_stripe.calls("post", "/v1/payouts")) == 1
    assert (
        Payout.objects.get().events.filter(new=PayoutStatus.IN_TRANSIT, old="pending").count() == 1
    )
