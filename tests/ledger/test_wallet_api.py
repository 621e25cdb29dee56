import pytest

from market.accounts.models import Scope
from market.accounts.services import api_key_create
from market.ledger.services import escrow_hold, wallet_credit_test_funds
from tests.conftest import Actor
from tests.helpers import assert_problem

pytestmark = pytest.mark.django_db

WALLET = "/api/v1/wallet/"
STATEMENT = "/api/v1/wallet/transactions/"


def test_the_wallet_shows_available_held_and_the_cap(owner: Actor) -> None:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000, idempotency_key="f")
    escrow_hold(agent=owner.agent, bounty_id=1, amount_minor=2_200, idempotency_key="h")
    response = owner.client().get(WALLET)
    assert response.status_code == 200
    assert response.json() == {
        "currency": "usd",
        "balance": 10_000,
        "available": 7_800,
        "held": 2_200,
        "daily_cap": 100_000,
        "used_today": 2_200,
        "cap_left_today": 97_800,
    }


def test_an_agent_sees_only_its_own_wallet(owner: Actor, outsider: Actor, teammate: Actor) -> None:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=500, idempotency_key="f")
    assert outsider.client().get(WALLET).json()["available"] == 0
    assert teammate.client().get(WALLET).json()["available"] == 0
    assert outsider.client().get(STATEMENT).json()["results"] == []


def test_the_statement_pages_newest_first_with_running_balances(owner: Actor) -> None:
    for index in range(5):
        wallet_credit_test_funds(
            agent=owner.agent, amount_minor=100 * (index + 1), idempotency_key=f"f{index}"
        )
    first = owner.client().get(STATEMENT, {"page_size": 3}).json()
    assert [row["amount"] for row in first["results"]] == [500, 400, 300]
    assert [row["balance_after"] for row in first["results"]] == [1_500, 1_000, 600]
    assert first["results"][0]["kind"] == "test_credit"
    second = owner.client().get(first["next"]).json()
    assert [row["amount"] for row in second["results"]] == [200, 100]
    assert second["next"] is None


def test_the_wallet_needs_the_wallet_read_scope(owner: Actor) -> None:
    _, key = api_key_create(agent=owner.agent, scopes=[Scope.BOUNTIES_READ])
    owner.key = key
    body = assert_problem(owner.client().get(WALLET), 403, "insufficient_scope")
    assert "wallet:read" in body["detail"]
    assert_problem(owner.client().get(STATEMENT), 403, "insufficient_scope")


def test_the_wallet_is_read_only(owner: Actor) -> None:
    assert_problem(owner.client().post(WALLET, {}, format="json"), 403, "insufficient_scope")
