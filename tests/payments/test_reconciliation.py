"""Daily reconciliation of Stripe's balance transactions against the ledger."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from market.accounts.models import User
from market.payments import tasks
from market.payments.models import CheckoutSession, Payout, ReconciliationReport
from market.payments.services import checkout_session_create, payout_request
from tests.conftest import Actor
from tests.payments.fakes import FakeStripe, checkout_session, deliver, stripe_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def fund(owner: Actor, client: Client, amount_minor: int) -> CheckoutSession:
    checkout_session_create(
        agent=owner.agent,
        amount_minor=amount_minor,
        success_url="https://x",
        cancel_url="https://x",
    )
    row = CheckoutSession.objects.filter(agent=owner.agent).latest("id")
    assert row.stripe_session_id
    session = checkout_session(
        session_id=row.stripe_session_id,
        reference=row.pk,
        agent_id=owner.agent.pk,
        amount_minor=amount_minor,
    )
    deliver(client, stripe_event("checkout.session.completed", session))
    row.refresh_from_db()
    return row


def charge(row: CheckoutSession, *, amount_minor: int | None = None, at: int) -> dict:
    return {
        "id": f"txn_{row.pk}",
        "object": "balance_transaction",
        "amount": row.amount_minor if amount_minor is None else amount_minor,
        "currency": row.currency,
        "created": at,
        "fee": 30,
        "net": row.amount_minor - 30,
        "reporting_category": "charge",
        "source": {
            "id": f"ch_{row.pk}",
            "object": "charge",
            "payment_intent": row.stripe_payment_intent_id,
        },
        "status": "available",
        "type": "charge",
    }


def transfer_txn(payout: Payout, *, at: int) -> dict:
    return {
        "id": f"txn_tr_{payout.pk}",
        "object": "balance_transaction",
        "amount": -payout.amount_minor,
        "currency": payout.currency,
        "created": at,
        "fee": 0,
        "net": -payout.amount_minor,
        "reporting_category": "transfer",
        "source": {"id": payout.stripe_transfer_id, "object": "transfer"},
        "status": "available",
        "type": "transfer",
    }


def test_matching_books_give_a_clean_report_read_page_by_page(
    owner: Actor, connected_worker: User, earn, fake_stripe: FakeStripe, client: Client, today,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    start, end = today
    now = int(timezone.now().timestamp())
    first, second = fund(owner, client, 2_500), fund(owner, client, 7_500)
    earn(connected_worker, 4_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=connected_worker)
    payout.refresh_from_db()
    fake_stripe.balance_transactions = [
        charge(first, at=now),
        charge(second, at=now),
        transfer_txn(payout, at=now),
        {**charge(first, at=now), "id": "txn_fee", "type": "stripe_fee", "source": None},
    ]
    fake_stripe.page_size = 2

    tasks.reconcile_stripe.delay(start.date().isoformat())

    report = ReconciliationReport.objects.get(period_start=start, period_end=end)
    assert report.differences == [] and report.difference_count == 0
    assert report.counts == {
        "stripe_charges": 2,
        "ledger_funding": 2,
        "stripe_transfers": 1,
        "ledger_payouts": 1,
        "stripe_other": 1,
    }
    assert report.totals["stripe_charges"] == {"usd": 10_000}
    assert report.totals["ledger_funding"] == {"usd": 10_000}
    assert report.totals["ledger_payouts"] == {"usd": -4_000}
    pages = fake_stripe.calls("get", "/v1/balance_transactions")
    assert len(pages) == 2 and pages[1].params["starting_after"] == f"txn_{second.pk}"
    assert pages[0].params["expand[0]"] == "data.source"


def test_every_difference_is_listed_with_a_reason(
    owner: Actor, fake_stripe: FakeStripe, client: Client, today
) -> None:
    start, _ = today
    now = int(timezone.now().timestamp())
    credited = fund(owner, client, 2_500)
    short = fund(owner, client, 1_000)
    unmatched_charge = {
        **charge(credited, at=now),
        "id": "txn_stray",
        "source": {"id": "ch_stray", "object": "charge", "payment_intent": "pi_stray"},
    }
    fake_stripe.balance_transactions = [
        unmatched_charge,
        charge(short, amount_minor=900, at=now),
    ]

    tasks.reconcile_stripe.delay(start.date().isoformat())

    report = ReconciliationReport.objects.get()

    reasons = sorted(difference["reason"] for difference in report.differences)
    assert report.difference_count == 3
    assert reasons == sorted(
        [
            "Stripe charge txn_stray (25.00 USD) has no funding credit here",
            f"Stripe charge txn_{short.pk} is 9.00 USD, the funding credit is 10.00 USD",
            f"the funding credit {credited.stripe_session_id} (25.00 USD) has no Stripe charge",
        ]
    )


def test_reconciliation_does_nothing_without_stripe(stripe_off: FakeStripe) -> None:
    tasks.reconcile_stripe.delay()
    assert not ReconciliationReport.objects.exists()
    assert stripe_off.requests == []
