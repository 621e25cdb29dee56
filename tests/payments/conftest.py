"""Fixtures for payments: Stripe switched on with a faked HTTP layer, workers with earnings,
an operator."""

from collections.abc import Callable, Iterator
from itertools import count

import pytest
import stripe
from django.test import Client

from market.accounts.models import Agent, User
from market.ledger.services import escrow_hold, escrow_release, wallet_credit_test_funds
from market.payments.models import ConnectedAccount
from tests.factories import AgentFactory, OperatorFactory, UserFactory
from tests.payments.fakes import SECRET_KEY, WEBHOOK_SECRET, FakeStripe

_bounty_ids = count(1_000)


@pytest.fixture
def fake_stripe(settings, monkeypatch) -> Iterator[FakeStripe]:
    """Stripe on (test keys) and its HTTP layer faked."""
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    fake = FakeStripe()
    monkeypatch.setattr(stripe, "default_http_client", fake)
    yield fake


@pytest.fixture
def stripe_off(settings, monkeypatch) -> FakeStripe:
    """No keys (the embedded default); any request reaching the fake would be a bug."""
    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = ""
    fake = FakeStripe()
    monkeypatch.setattr(stripe, "default_http_client", fake)
    return fake


@pytest.fixture
def worker(db) -> User:
    return UserFactory()


def ready_account(worker: User, *, account_id: str | None = None) -> ConnectedAccount:
    return ConnectedAccount.objects.create(
        worker=worker,
        stripe_account_id=account_id or f"acct_ready{worker.pk}",
        details_submitted=True,
        payouts_enabled=True,
    )


@pytest.fixture
def connected_worker(worker: User) -> User:
    """A worker whose Express account can receive payouts."""
    ready_account(worker)
    return worker


@pytest.fixture
def payer(db) -> Agent:
    """An agent whose bounties pay workers (test money, through the real ledger)."""
    return AgentFactory(daily_spend_cap_minor=10_000_000, is_test=True)


@pytest.fixture
def earn(payer: Agent) -> Callable[[User, int], None]:
    """Give a worker earnings the way the market does: a bounty's escrow released to them."""

    def give(worker: User, amount_minor: int) -> None:
        bounty_id = next(_bounty_ids)
        wallet_credit_test_funds(
            agent=payer, amount_minor=amount_minor, idempotency_key=f"fund-{bounty_id}"
        )
        escrow_hold(
            agent=payer,
            bounty_id=bounty_id,
            amount_minor=amount_minor,
            idempotency_key=f"hold-{bounty_id}",
        )
        escrow_release(
            agent=payer,
            bounty_id=bounty_id,
            worker=worker,
            price_minor=amount_minor,
            fee_minor=0,
            submission_id=bounty_id,
        )

    return give


@pytest.fixture
def operator(db) -> User:
    return OperatorFactory()


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client
