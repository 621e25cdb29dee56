"""Operators follow the money in the admin; nobody else gets in."""

import pytest
from django.test import Client

from market.ledger.models import AccountKind, LedgerAccount, Transaction, TransactionKind
from market.ledger.services import (
    escrow_hold,
    escrow_refund,
    escrow_release,
    wallet_credit_test_funds,
)
from tests.conftest import Actor
from tests.factories import OperatorFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client() -> Client:
    client = Client()
    client.force_login(OperatorFactory())
    return client


def test_an_operator_sees_where_every_cent_of_a_bounty_went(
    owner: Actor, operator_client: Client
) -> None:
    worker = UserFactory(email="ann@example.com")
    wallet_credit_test_funds(agent=owner.agent, amount_minor=5_000, idempotency_key="f")
    escrow_hold(agent=owner.agent, bounty_id=42, amount_minor=1_320, idempotency_key="h")
    escrow_release(
        agent=owner.agent, bounty_id=42, worker=worker, price_minor=400, fee_minor=40,
        submission_id=5,
    )  # fmt: skip
    escrow_refund(agent=owner.agent, bounty_id=42, amount_minor=880, idempotency_key="r")

    escrow = LedgerAccount.objects.get(kind=AccountKind.BOUNTY_ESCROW)
    accounts = operator_client.get("/admin/ledger/ledgeraccount/", {"q": "bounty:42"})
    assert accounts.status_code == 200
    assert f"/admin/ledger/entry/?account__id__exact={escrow.pk}" in accounts.content.decode()

    statement = operator_client.get("/admin/ledger/entry/", {"account__id__exact": escrow.pk})
    html = statement.content.decode()
    assert statement.status_code == 200
    for expected in [
        "13.20 USD",
        "-4.40 USD",
        "-8.80 USD",
        "4.00 USD",
        "0.40 USD",
        f"user:{worker.pk}",
        "platform",
    ]:
        assert expected in html, expected
    assert "Escrow release" in html and "Escrow refund" in html

    release = Transaction.objects.get(kind=TransactionKind.ESCROW_RELEASE)
    detail = operator_client.get(f"/admin/ledger/transaction/{release.pk}/change/")
    assert detail.status_code == 200
    assert "submission:5" in detail.content.decode()


def test_the_books_cannot_be_edited_from_the_admin(owner: Actor, operator_client: Client) -> None:
    txn = wallet_credit_test_funds(agent=owner.agent, amount_minor=100, idempotency_key="f")
    assert operator_client.get("/admin/ledger/transaction/add/").status_code == 403
    response = operator_client.post(f"/admin/ledger/transaction/{txn.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert Transaction.objects.filter(pk=txn.pk).exists()


def test_an_operator_credits_test_funds_once_per_form(
    owner: Actor, operator_client: Client
) -> None:
    url = "/admin/accounts/agent/"
    form = operator_client.post(
        url, {"action": "credit_test_funds", "_selected_action": [owner.agent.pk]}
    )
    assert form.status_code == 200 and b"Credit test funds" in form.content
    nonce = form.context["form"].initial["nonce"]
    submit = {
        "action": "credit_test_funds",
        "_selected_action": [owner.agent.pk],
        "apply": "1",
        "amount_minor": "2500",
        "nonce": nonce,
    }
    assert operator_client.post(url, submit).status_code == 302
    assert operator_client.post(url, submit).status_code == 302  # a double submit
    credits = Transaction.objects.filter(kind=TransactionKind.TEST_CREDIT)
    assert credits.count() == 1
    listing = operator_client.get(url).content.decode()
    assert "25.00 USD available" in listing


def test_a_bad_amount_is_shown_next_to_the_field(owner: Actor, operator_client: Client) -> None:
    response = operator_client.post(
        "/admin/accounts/agent/",
        {
            "action": "credit_test_funds", "_selected_action": [owner.agent.pk], "apply": "1",
            "amount_minor": "-5", "nonce": "n",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert "greater than or equal to 1" in response.content.decode()
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("path", ["/admin/ledger/ledgeraccount/", "/admin/ledger/entry/"])
def test_non_operators_cannot_see_the_books(owner: Actor, path: str) -> None:
    client = Client()
    client.force_login(owner.user)
    response = client.get(path)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
