"""Funding through Stripe Checkout: the page, the session, and the webhook that credits."""

import pytest
from django.test import Client

from market.ledger.models import AccountKind, Transaction, TransactionKind
from market.ledger.services import platform_account, wallet_account
from market.payments.models import CheckoutSession, CheckoutStatus, StripeEvent
from market.payments.services import checkout_session_create
from tests.conftest import Actor
from tests.ledger.helpers import assert_books_are_right
from tests.payments.fakes import FakeStripe, checkout_session, deliver, stripe_event

pytestmark = pytest.mark.django_db


def logged_in(actor: Actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def start_checkout(actor: Actor, amount_minor: int = 2_500) -> CheckoutSession:
    checkout_session_create(
        agent=actor.agent,
        amount_minor=amount_minor,
        success_url="https://sightline.test/ok",
        cancel_url="https://sightline.test/cancel",
    )
    return CheckoutSession.objects.get(agent=actor.agent)


def completed_event(row: CheckoutSession, **fields: object) -> dict:
    assert row.stripe_session_id
    session = checkout_session(
        session_id=row.stripe_session_id,
        reference=row.pk,
        agent_id=row.agent_id,
        amount_minor=row.amount_minor,
    )
    session.update(fields)
    return stripe_event("checkout.session.completed", session)


def test_it_sends_the_requester_to_stripe_checkout(owner: Actor, fake_stripe: FakeStripe) -> None:
    response = logged_in(owner).post(f"/agents/{owner.agent.pk}/add-funds/", {"amount": "25.00"})

    row = CheckoutSession.objects.get(agent=owner.agent)
    assert response.status_code == 302
    assert response["Location"] == f"https://checkout.stripe.com/c/pay/{row.stripe_session_id}"
    assert (row.amount_minor, row.currency, row.status) == (2_500, "usd", CheckoutStatus.OPEN)
    [call] = fake_stripe.calls("post", "/v1/checkout/sessions")
    assert call.idempotency_key == f"checkout-{row.pk}"
    assert call.params["mode"] == "payment"
    assert call.params["line_items[0][price_data][unit_amount]"] == "2500"
    assert call.params["line_items[0][price_data][currency]"] == "usd"
    assert call.params["client_reference_id"] == str(row.pk)
    assert call.params["metadata[agent_id]"] == str(owner.agent.pk)
    assert call.params["success_url"].endswith(
        f"/agents/{owner.agent.pk}/add-funds/?checkout=success"
    )
    assert wallet_account(owner.agent).balance_minor == 0  # nothing until the webhook


def test_the_add_funds_page_renders_for_the_owner(owner: Actor, fake_stripe: FakeStripe) -> None:
    response = logged_in(owner).get(f"/agents/{owner.agent.pk}/add-funds/?checkout=success")
    assert response.status_code == 200
    assert b"Pay with Stripe" in response.content and b"being confirmed" in response.content


def test_an_outsider_cannot_fund_someone_elses_agent(
    owner: Actor, outsider: Actor, fake_stripe: FakeStripe
) -> None:
    client = logged_in(outsider)
    assert client.get(f"/agents/{owner.agent.pk}/add-funds/").status_code == 404
    response = client.post(f"/agents/{owner.agent.pk}/add-funds/", {"amount": "25.00"})
    assert response.status_code == 404
    assert not CheckoutSession.objects.exists()
    assert fake_stripe.requests == []


def test_anonymous_visitors_are_sent_to_log_in(owner: Actor, fake_stripe: FakeStripe) -> None:
    response = Client().post(f"/agents/{owner.agent.pk}/add-funds/", {"amount": "25.00"})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not CheckoutSession.objects.exists()


def test_a_bad_amount_is_refused_on_the_form(owner: Actor, fake_stripe: FakeStripe) -> None:
    for amount in ("0.10", "abc", "25.001", "1000000"):
        response = logged_in(owner).post(f"/agents/{owner.agent.pk}/add-funds/", {"amount": amount})
        assert response.status_code == 400, amount
    assert not CheckoutSession.objects.exists()


def test_without_stripe_keys_funding_is_refused_with_a_reason(
    owner: Actor, stripe_off: FakeStripe
) -> None:
    response = logged_in(owner).post(f"/agents/{owner.agent.pk}/add-funds/", {"amount": "25.00"})
    assert response.status_code == 503
    assert b"Stripe is off" in response.content
    assert stripe_off.requests == []


def test_a_stripe_outage_leaves_no_open_session(owner: Actor, fake_stripe: FakeStripe) -> None:
    fake_stripe.fail("server", path="/v1/checkout/sessions")
    response = logged_in(owner).post(f"/agents/{owner.agent.pk}/add-funds/", {"amount": "25.00"})
    assert response.status_code == 503
    assert CheckoutSession.objects.get().status == CheckoutStatus.EXPIRED


def test_the_same_completed_webhook_five_times_credits_once(
    owner: Actor, fake_stripe: FakeStripe, client: Client
) -> None:
    row = start_checkout(owner)
    event = completed_event(row)

    answers = [deliver(client, event) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [200] * 5
    assert [answer.json()["duplicate"] for answer in answers] == [False] + [True] * 4
    assert wallet_account(owner.agent).balance_minor == 2_500
    funding = Transaction.objects.get(kind=TransactionKind.WALLET_FUNDING)
    assert funding.idempotency_key == f"checkout:{row.stripe_session_id}"
    clearing = platform_account(kind=AccountKind.STRIPE_CLEARING, currency="usd")
    assert clearing.balance_minor == -2_500
    row.refresh_from_db()
    assert row.status == CheckoutStatus.COMPLETED and row.completed_at is not None
    assert row.stripe_payment_intent_id.startswith("pi_")
    assert StripeEvent.objects.get().processed_at is not None
    assert_books_are_right()


def test_the_same_session_in_two_different_events_credits_once(
    owner: Actor, fake_stripe: FakeStripe, client: Client
) -> None:
    row = start_checkout(owner)
    deliver(client, completed_event(row))
    deliver(
        client,
        stripe_event(
            "checkout.session.completed",
            completed_event(row)["data"]["object"],
            event_id="evt_other",
        ),
    )
    assert wallet_account(owner.agent).balance_minor == 2_500
    assert StripeEvent.objects.count() == 2


def test_an_unpaid_completion_waits_for_the_async_payment(
    owner: Actor, fake_stripe: FakeStripe, client: Client
) -> None:
    row = start_checkout(owner)
    deliver(client, completed_event(row, payment_status="unpaid"))
    assert wallet_account(owner.agent).balance_minor == 0
    row.refresh_from_db()
    assert row.status == CheckoutStatus.OPEN

    paid = completed_event(row)["data"]["object"]
    deliver(client, stripe_event("checkout.session.async_payment_succeeded", paid))
    assert wallet_account(owner.agent).balance_minor == 2_500


def test_a_session_found_by_our_reference_when_its_id_was_never_saved(
    owner: Actor, fake_stripe: FakeStripe, client: Client
) -> None:
    row = start_checkout(owner)
    session_id = row.stripe_session_id
    CheckoutSession.objects.filter(pk=row.pk).update(stripe_session_id=None)  # answer lost
    row.stripe_session_id = session_id
    deliver(client, completed_event(row))
    row.refresh_from_db()
    assert row.stripe_session_id == session_id and row.status == CheckoutStatus.COMPLETED
    assert wallet_account(owner.agent).balance_minor == 2_500


def test_an_amount_stripe_did_not_charge_is_not_credited(
    owner: Actor, fake_stripe: FakeStripe, client: Client
) -> None:
    row = start_checkout(owner)
    response = deliver(client, completed_event(row, amount_total=1))
    assert response.status_code == 200
    assert wallet_account(owner.agent).balance_minor == 0
    assert "checkout_amount_mismatch" in StripeEvent.objects.get().error
    row.refresh_from_db()
    assert row.status == CheckoutStatus.OPEN


def test_an_expired_session_is_closed_and_a_late_expiry_changes_nothing(
    owner: Actor, fake_stripe: FakeStripe, client: Client
) -> None:
    first = start_checkout(owner)
    expired = completed_event(first, payment_status="unpaid", status="expired")["data"]["object"]
    deliver(client, stripe_event("checkout.session.expired", expired))
    first.refresh_from_db()
    assert first.status == CheckoutStatus.EXPIRED

    CheckoutSession.objects.all().delete()
    paid_row = start_checkout(owner)
    deliver(client, completed_event(paid_row))
    late = completed_event(paid_row, payment_status="unpaid", status="expired")["data"]["object"]
    deliver(client, stripe_event("checkout.session.expired", late))
    paid_row.refresh_from_db()
    assert paid_row.status == CheckoutStatus.COMPLETED
    assert wallet_account(owner.agent).balance_minor == 2_500
