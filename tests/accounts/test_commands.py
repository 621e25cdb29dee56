import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from bounties.management.commands import seed_demo
from bounties.models import Bounty
from market.accounts.models import Agent, APIKey, Role, User
from market.ledger.models import LedgerAccount

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_agent_creates_the_requester_and_prints_a_working_key() -> None:
    key = run("create_agent", "--owner", "Ada@Example.com", "--name", "scout").strip()
    owner = User.objects.get(email="ada@example.com")
    assert owner.role == Role.REQUESTER
    agent = Agent.objects.get(owner=owner, name="scout")
    assert not agent.is_test and key.startswith("sl_") and not key.startswith("sl_test_")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/me/").json()["agent_name"] == "scout"


def test_create_agent_in_test_mode_with_scopes() -> None:
    key = run(
        "create_agent", "--owner", "b@example.com", "--name", "t", "--test", "--scopes",
        "bounties:read,wallet:read",
    ).strip()  # fmt: skip
    assert key.startswith("sl_test_")
    api_key = APIKey.objects.get(agent__name="t")
    assert api_key.scopes == ["bounties:read", "wallet:read"]
    assert api_key.agent.is_test


def test_create_agent_refuses_bad_input_and_writes_nothing() -> None:
    run("create_agent", "--owner", "c@example.com", "--name", "dup")
    with pytest.raises(CommandError, match="agent_name_taken"):
        run("create_agent", "--owner", "c@example.com", "--name", "dup")
    with pytest.raises(CommandError, match="invalid_scope"):
        run("create_agent", "--owner", "d@example.com", "--name", "x", "--scopes", "root")
    with pytest.raises(CommandError, match="invalid_email"):
        run("create_agent", "--owner", "not-an-email", "--name", "x")
    # the failed runs left no requester, agent or key behind
    assert not User.objects.filter(email__in=["d@example.com", "not-an-email"]).exists()
    assert Agent.objects.count() == 1 and APIKey.objects.count() == 1


def test_create_agent_refuses_an_existing_worker_as_owner() -> None:
    User.objects.create_user("w@example.com", role=Role.WORKER)
    with pytest.raises(CommandError, match="not_a_requester"):
        run("create_agent", "--owner", "w@example.com", "--name", "x")


def snapshot() -> dict:
    return {
        "users": sorted(User.objects.values_list("email", "role", "is_staff")),
        "agents": sorted(Agent.objects.values_list("owner__email", "name", "status")),
        "keys": sorted(APIKey.objects.values_list("prefix", "hashed_key", "scopes")),
        "bounties": sorted(Bounty.objects.values_list("title", "status", "quantity", "lat")),
        "ledger": sorted(LedgerAccount.objects.values_list("kind", "owner", "balance_minor")),
    }


def test_seed_demo_twice_gives_the_same_data_and_a_working_key() -> None:
    first_output = run("seed_demo")
    first = snapshot()
    second_output = run("seed_demo")
    assert snapshot() == first
    assert first_output == second_output
    assert {role for _, role, _ in first["users"]} == {"operator", "requester", "worker"}
    key = next(
        line.split(": ")[-1] for line in first_output.splitlines() if "API key" in line
    ).strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/me/").json()["agent_name"] == seed_demo.AGENT_NAME
    assert len(first["bounties"]) == len(seed_demo.DEMO_BOUNTIES) == 4
    nearby = client.get("/api/v1/bounties/", {"near": "43.4674,11.8851", "within_m": "5000"})
    assert len(nearby.json()["results"]) == 4
    operator = User.objects.get(role=Role.OPERATOR)
    assert operator.is_staff and operator.check_password(seed_demo.OPERATOR_PASSWORD)


def test_create_agent_can_fund_the_new_wallet() -> None:
    from market.ledger.selectors import wallet_summary

    run("create_agent", "--owner", "f@example.com", "--name", "rich", "--fund", "2500")
    assert wallet_summary(Agent.objects.get(name="rich")).available_minor == 2_500


def test_seed_demo_funds_the_demo_agent_once() -> None:
    from market.ledger.selectors import wallet_summary

    run("seed_demo")
    run("seed_demo")
    wallet = wallet_summary(Agent.objects.get(name=seed_demo.AGENT_NAME))
    assert wallet.available_minor + wallet.held_minor == seed_demo.DEMO_FUNDS_MINOR
    assert wallet.held_minor == 4 * 5 * 440  # four bounties, five slots of 4.00 + 0.40 fee
