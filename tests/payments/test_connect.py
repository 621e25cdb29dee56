"""Workers set up payouts on Stripe Connect Express, and ask for their earnings."""

import pytest
from django.test import Client

from market.accounts.models import User
from market.payments.models import ConnectedAccount, Payout
from tests.conftest import Actor
from tests.payments.fakes import FakeStripe

pytestmark = pytest.mark.django_db


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_setup_creates_one_express_account_and_sends_the_worker_to_stripe(
    worker: User, fake_stripe: FakeStripe
) -> None:
    client = logged_in(worker)
    first = client.get("/earnings/payouts/setup/")
    second = client.get("/earnings/payouts/setup/")  # came back through refresh_url

    account = ConnectedAccount.objects.get(worker=worker)
    assert first.status_code == second.status_code == 302
    assert first["Location"].startswith(
        f"https://connect.stripe.com/setup/e/{account.stripe_account_id}/"
    )
    assert first["Location"] != second["Location"]  # a fresh single-use link each time
    [created] = fake_stripe.calls("post", "/v1/accounts")
    assert created.idempotency_key == f"connect-{worker.pk}"
    assert created.params["type"] == "express"
    assert created.params["settings[payouts][schedule][interval]"] == "manual"
    links = fake_stripe.calls("post", "/v1/account_links")
    assert len(links) == 2 and links[0].params["account"] == account.stripe_account_id
    assert links[0].params["return_url"].endswith("/earnings/payouts/setup/?returned=1")
    assert not account.payouts_enabled


def test_back_from_stripe_the_worker_sees_where_setup_stands(
    worker: User, fake_stripe: FakeStripe
) -> None:
    client = logged_in(worker)
    client.get("/earnings/payouts/setup/")
    page = client.get("/earnings/payouts/setup/?returned=1")
    assert page.status_code == 200 and b"setup not finished" in page.content


def test_without_stripe_the_setup_page_says_so(worker: User, stripe_off: FakeStripe) -> None:
    page = logged_in(worker).get("/earnings/payouts/setup/")
    assert page.status_code == 503 and b"Stripe is off" in page.content
    assert not ConnectedAccount.objects.exists()


def test_payout_setup_is_for_logged_in_workers_only(owner: Actor, fake_stripe: FakeStripe) -> None:
    assert Client().get("/earnings/payouts/setup/").status_code == 302  # to the login page
    assert logged_in(owner.user).get("/earnings/payouts/setup/").status_code == 403
    assert fake_stripe.requests == []


def test_a_worker_requests_a_payout_from_the_page(
    connected_worker: User, earn, stripe_off: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    client = logged_in(connected_worker)
    earn(connected_worker, 500)
    refused = client.post("/earnings/payouts/request/", follow=True)
    assert b"Payouts start at 10.00 USD" in refused.content
    earn(connected_worker, 5_000)
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post("/earnings/payouts/request/", follow=True)
    payout = Payout.objects.get()
    assert f"Payout #{payout.pk} of 55.00 USD requested".encode() in done.content
    page = client.get("/earnings/payouts/setup/?returned=1")
    assert b"Stripe is not configured" in page.content  # the send ran after commit: it waits
