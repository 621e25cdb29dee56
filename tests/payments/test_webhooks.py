"""The Stripe webhook endpoint: signature first, each event once, unknown types ignored."""

import json
import time

import pytest
from django.db import OperationalError
from django.test import Client

from market.ledger.models import Transaction
from market.ledger.services import wallet_account
from market.payments.models import CheckoutSession, ConnectedAccount, StripeEvent
from market.payments.services import checkout_session_create, webhooks
from tests.conftest import Actor
from tests.payments.conftest import ready_account
from tests.payments.fakes import (
    FakeStripe,
    checkout_session,
    connect_account,
    deliver,
    signature,
    stripe_event,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_event(owner: Actor, fake_stripe: FakeStripe) -> dict:
    checkout_session_create(
        agent=owner.agent, amount_minor=5_000, success_url="https://x/ok", cancel_url="https://x/no"
    )
    row = CheckoutSession.objects.get()
    assert row.stripe_session_id
    return stripe_event(
        "checkout.session.completed",
        checkout_session(
            session_id=row.stripe_session_id,
            reference=row.pk,
            agent_id=owner.agent.pk,
            amount_minor=5_000,
        ),
    )


def nothing_written(owner: Actor) -> bool:
    return (
        not StripeEvent.objects.exists()
        and not Transaction.objects.exists()
        and wallet_account(owner.agent).balance_minor == 0
    )


def test_a_bad_signature_answers_400_and_changes_nothing(
    owner: Actor, paid_event: dict, client: Client
) -> None:
    response = deliver(client, paid_event, secret="whsec_someone_else")
    assert response.status_code == 400
    assert nothing_written(owner)


def test_a_tampered_body_answers_400(owner: Actor, paid_event: dict, client: Client) -> None:
    payload = json.dumps(paid_event)
    header = signature(payload)
    tampered = payload.replace("5000", "500000")
    response = client.post(
        "/webhooks/stripe/", tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    assert nothing_written(owner)


def test_a_missing_signature_or_an_old_one_answers_400(
    owner: Actor, paid_event: dict, client: Client
) -> None:
    payload = json.dumps(paid_event)
    assert (
        client.post("/webhooks/stripe/", payload, content_type="application/json").status_code
        == 400
    )
    replayed = signature(payload, timestamp=int(time.time()) - 3_600)  # outside the tolerance
    response = client.post(
        "/webhooks/stripe/",
        payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=replayed,
    )
    assert response.status_code == 400
    assert nothing_written(owner)


def test_without_a_webhook_secret_every_delivery_is_refused(
    owner: Actor, paid_event: dict, client: Client, settings
) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert deliver(client, paid_event).status_code == 400
    assert nothing_written(owner)


def test_events_signed_by_the_connect_endpoint_are_accepted_too(
    owner: Actor, paid_event: dict, client: Client, settings
) -> None:
    settings.STRIPE_CONNECT_WEBHOOK_SECRET = "whsec_connect_endpoint"
    assert deliver(client, paid_event, secret="whsec_connect_endpoint").status_code == 200
    assert wallet_account(owner.agent).balance_minor == 5_000


def test_an_unknown_event_type_answers_200_and_is_stored(
    fake_stripe: FakeStripe, client: Client
) -> None:
    event = stripe_event("customer.created", {"id": "cus_123", "object": "customer"})
    response = deliver(client, event)
    assert response.status_code == 200
    stored = StripeEvent.objects.get()
    assert (stored.stripe_id, stored.type, stored.error) == (event["id"], "customer.created", "")
    assert stored.payload == event and stored.processed_at is not None


def test_a_temporary_failure_answers_503_and_the_retry_is_applied(
    owner: Actor, paid_event: dict, client: Client, monkeypatch
) -> None:
    def database_went_away(obj: dict, event: dict) -> None:
        raise OperationalError("could not obtain lock")

    with monkeypatch.context() as patched:
        patched.setitem(webhooks.HANDLERS, "checkout.session.completed", database_went_away)
        assert deliver(client, paid_event).status_code == 503
    assert nothing_written(owner)  # the event was not stored: Stripe's retry must apply it

    assert deliver(client, paid_event).status_code == 200
    assert wallet_account(owner.agent).balance_minor == 5_000


def test_an_event_for_a_session_we_do_not_know_is_kept_with_its_error(
    fake_stripe: FakeStripe, client: Client
) -> None:
    session = checkout_session(
        session_id="cs_unknown", reference=999_999, agent_id=1, amount_minor=1
    )
    response = deliver(client, stripe_event("checkout.session.completed", session))
    assert response.status_code == 200
    assert StripeEvent.objects.get().error.startswith("unknown_checkout")
    assert not Transaction.objects.exists()


def test_account_updates_apply_in_stripe_order_whatever_the_delivery_order(
    worker, fake_stripe: FakeStripe, client: Client
) -> None:
    account = ready_account(worker)
    ConnectedAccount.objects.filter(pk=account.pk).update(payouts_enabled=False)
    now = int(time.time())
    enabled = stripe_event(
        "account.updated",
        connect_account(account_id=account.stripe_account_id, payouts_enabled=True),
        account=account.stripe_account_id,
        created=now,
    )
    older = stripe_event(
        "account.updated",
        connect_account(
            account_id=account.stripe_account_id, payouts_enabled=False, details_submitted=False
        ),
        account=account.stripe_account_id,
        created=now - 120,
    )
    deliver(client, enabled)
    deliver(client, older)  # arrives late: ignored
    account.refresh_from_db()
    assert account.payouts_enabled and account.details_submitted
