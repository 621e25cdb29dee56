"""Payouts through Stripe Connect: creation, sending, outcomes from webhooks, holds, waiting."""

import json
from collections.abc import Callable, Iterator

import pytest
import stripe
from django.core import mail
from django.test import Client

from market.accounts.models import User
from market.celery import app as celery_app
from market.core.errors import ApplicationError
from market.ledger.models import AccountKind, Transaction, TransactionKind
from market.ledger.services import earnings_account, platform_account
from market.payments import tasks
from market.payments.models import Payout, PayoutEvent, PayoutStatus
from market.payments.services import (
    payout_create,
    payout_hold,
    payout_release,
    payout_request,
    payout_retry,
)
from market.payments.services.payouts import WAITING_FOR_KEYS, WAITING_FOR_SETUP
from tests.ledger.helpers import assert_books_are_right
from tests.payments.conftest import ready_account
from tests.payments.fakes import (
    FakeStripe,
    bank_payout,
    connect_account,
    deliver,
    stripe_event,
    stripe_transfer,
)

pytestmark = pytest.mark.django_db

Earn = Callable[[User, int], None]


def balance(kind: AccountKind, currency: str = "usd") -> int:
    return platform_account(kind=kind, currency=currency).balance_minor


def earnings(worker: User) -> int:
    return earnings_account(worker=worker, currency="usd").balance_minor


def sent_payout(worker: User, earn: Earn, capture, amount_minor: int = 5_000) -> Payout:
    """A payout requested and sent (transfer and bank payout made)."""
    earn(worker, amount_minor)
    with capture(execute=True):
        payout = payout_request(worker=worker)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.IN_TRANSIT and payout.stripe_payout_id
    return payout


def paid_event(payout: Payout, **fields: object) -> dict:
    assert payout.stripe_payout_id
    obj = bank_payout(
        payout_id=payout.pk,
        stripe_id=payout.stripe_payout_id,
        amount_minor=payout.amount_minor,
        status="paid",
    )
    obj.update(fields)
    return stripe_event("payout.paid", obj, account=f"acct_ready{payout.worker_id}")


def failed_event(payout: Payout) -> dict:
    assert payout.stripe_payout_id
    obj = bank_payout(
        payout_id=payout.pk,
        stripe_id=payout.stripe_payout_id,
        amount_minor=payout.amount_minor,
        status="failed",
        failure_code="account_closed",
        failure_message="The bank account has been closed.",
    )
    return stripe_event("payout.failed", obj, account=f"acct_ready{payout.worker_id}")


def reversed_event(payout: Payout, reversal_id: str) -> dict:
    assert payout.stripe_transfer_id
    transfer = stripe_transfer(
        payout_id=payout.pk,
        stripe_id=payout.stripe_transfer_id,
        amount_minor=payout.amount_minor,
        destination=f"acct_ready{payout.worker_id}",
        reversal_id=reversal_id,
    )
    return stripe_event("transfer.reversed", transfer)


# --- Creating -------------------------------------------------------------------------------


def test_payouts_below_the_minimum_are_refused(
    worker: User, earn: Earn, fake_stripe: FakeStripe, settings
) -> None:
    settings.PAYOUT_MINIMUM_MINOR = 1_000
    earn(worker, 999)
    with pytest.raises(ApplicationError) as refused:
        payout_request(worker=worker)
    assert refused.value.code == "below_minimum"
    assert refused.value.extra == {
        "minimum_minor": 1_000,
        "available_minor": 999,
        "currency": "usd",
    }
    assert "10.00 USD" in refused.value.message and "9.99 USD" in refused.value.message
    assert not Payout.objects.exists()
    assert earnings(worker) == 999


def test_a_payout_moves_all_earnings_to_in_transit_in_one_transaction(
    worker: User, earn: Earn, stripe_off: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    earn(worker, 1_200)
    earn(worker, 800)
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=worker)
    assert (payout.amount_minor, payout.currency, payout.status) == (2_000, "usd", "pending")
    assert earnings(worker) == 0
    assert balance(AccountKind.PAYOUTS_IN_TRANSIT) == 2_000
    posting = Transaction.objects.get(kind=TransactionKind.PAYOUT)
    assert (posting.idempotency_key, posting.reference) == (
        f"payout:{payout.pk}",
        f"payout:{payout.pk}",
    )
    assert list(payout.events.values_list("old", "new")) == [("", "pending")]
    with pytest.raises(ApplicationError) as again:
        payout_request(worker=worker)
    assert again.value.code == "below_minimum"
    assert_books_are_right()


def test_the_sweep_pays_out_everyone_at_the_minimum_and_no_one_twice(
    earn: Earn, stripe_off: FakeStripe, settings, django_capture_on_commit_callbacks
) -> None:
    settings.PAYOUT_MINIMUM_MINOR = 1_000
    rich, poor = (
        User.objects.create_user("rich@example.com"),
        User.objects.create_user("poor@example.com"),
    )
    earn(rich, 1_000)
    earn(poor, 999)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.payouts_sweep.delay()
    assert list(Payout.objects.values_list("worker__email", "amount_minor")) == [
        ("rich@example.com", 1_000)
    ]
    earn(rich, 5_000)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.payouts_sweep.delay()  # the first is still pending: no second payout
    assert Payout.objects.count() == 1
    assert earnings(rich) == 5_000


@pytest.fixture
def retries_in_process() -> Iterator[None]:
    """Eager tasks run their Celery retries at once, in-process, instead of raising ``Retry``."""
    celery_app.conf.task_eager_propagates = False
    try:
        yield
    finally:
        celery_app.conf.task_eager_propagates = True


# --- Sending --------------------------------------------------------------------------------


def test_a_payout_is_sent_as_a_transfer_then_a_bank_payout(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)

    [sent] = fake_stripe.calls("post", "/v1/transfers")
    assert sent.idempotency_key == f"payout-{payout.pk}"
    assert sent.params["amount"] == "5000" and sent.params["currency"] == "usd"
    assert sent.params["destination"] == f"acct_ready{connected_worker.pk}"
    assert sent.params["metadata[payout_id]"] == str(payout.pk)
    [bank] = fake_stripe.calls("post", "/v1/payouts")
    assert bank.idempotency_key == f"payout-{payout.pk}-bank"
    assert bank.stripe_account == f"acct_ready{connected_worker.pk}"
    assert bank.params["metadata[payout_id]"] == str(payout.pk)
    assert payout.stripe_transfer_id and payout.stripe_transfer_id.startswith("tr_")
    assert [(e.old, e.new) for e in payout.events.all()] == [
        ("", "pending"), ("pending", "in_transit"), ("in_transit", "in_transit")
    ]  # fmt: skip


def test_the_payout_task_run_twice_pays_once(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    tasks.payout_send.delay(payout.pk)
    tasks.payout_send(payout.pk)

    transfers = fake_stripe.calls("post", "/v1/transfers")
    assert len(transfers) == 1 and transfers[0].idempotency_key == f"payout-{payout.pk}"
    assert len(fake_stripe.calls("post", "/v1/payouts")) == 1


def test_a_lost_answer_is_resent_with_the_same_key_and_stripe_replays_it(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, django_capture_on_commit_callbacks,
    retries_in_process: None,
) -> None:  # fmt: skip
    """Stripe made the transfer but its answer was lost: the retry sends the same key and
    Stripe answers with the same transfer, so one transfer exists."""
    earn(connected_worker, 5_000)
    fake_stripe.fail("connection", path="/v1/transfers")
    fake_stripe.fail("lost", path="/v1/transfers")
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=connected_worker)  # the task retries (eagerly)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.IN_TRANSIT
    calls = fake_stripe.calls("post", "/v1/transfers")
    assert len(calls) == 3 and {call.idempotency_key for call in calls} == {f"payout-{payout.pk}"}
    made, _ = fake_stripe.replies[f"payout-{payout.pk}"]  # what Stripe did the first time
    assert json.loads(made)["id"] == payout.stripe_transfer_id


def test_stripe_down_for_good_leaves_the_payout_waiting_with_a_reason(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, django_capture_on_commit_callbacks,
    retries_in_process: None,
) -> None:  # fmt: skip
    earn(connected_worker, 5_000)
    fake_stripe.fail("server", path="/v1/transfers", times=100)
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=connected_worker)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PENDING
    assert payout.waiting_reason == "Stripe did not answer; retrying"
    assert len(fake_stripe.calls("post", "/v1/transfers")) == tasks.MAX_RETRIES + 1
    assert balance(AccountKind.PAYOUTS_IN_TRANSIT) == 5_000


def test_without_stripe_keys_payouts_wait_and_go_once_keys_exist(
    connected_worker: User,
    earn: Earn,
    stripe_off: FakeStripe,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
    operator_client: Client,
) -> None:
    earn(connected_worker, 5_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=connected_worker)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PENDING and payout.waiting_reason == WAITING_FOR_KEYS
    assert stripe_off.requests == []
    page = operator_client.get("/admin/payments/payout/")
    assert WAITING_FOR_KEYS in page.content.decode()

    settings.STRIPE_SECRET_KEY = "sk_test_now_configured"
    with django_capture_on_commit_callbacks(execute=True):
        tasks.payouts_sweep.delay()
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.IN_TRANSIT and payout.waiting_reason == ""
    assert len(stripe_off.calls("post", "/v1/transfers")) == 1


def test_a_worker_without_a_ready_account_is_asked_to_set_up_payouts(
    worker: User,
    earn: Earn,
    fake_stripe: FakeStripe,
    django_capture_on_commit_callbacks,
    client: Client,
) -> None:
    earn(worker, 5_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=worker)
    payout.refresh_from_db()
    assert payout.waiting_reason == WAITING_FOR_SETUP
    assert fake_stripe.calls("post", "/v1/transfers") == []

    account = ready_account(worker)
    account.payouts_enabled = False
    account.save()
    event = stripe_event(
        "account.updated",
        connect_account(account_id=account.stripe_account_id, payouts_enabled=True),
        account=account.stripe_account_id,
    )
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, event)  # onboarding done: the waiting payout goes
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.IN_TRANSIT


def test_a_held_payout_is_never_sent_until_released(
    connected_worker: User, earn: Earn, stripe_off: FakeStripe, settings,
    django_capture_on_commit_callbacks, operator,
) -> None:  # fmt: skip
    earn(connected_worker, 5_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=connected_worker)  # waits: no keys
    payout_hold(payout=payout, actor="operator:ops@example.com", reason="fraud check")
    settings.STRIPE_SECRET_KEY = "sk_test_now_configured"
    with django_capture_on_commit_callbacks(execute=True):
        tasks.payout_send.delay(payout.pk)
        tasks.payouts_sweep.delay()
    assert stripe_off.calls("post", "/v1/transfers") == []
    payout.refresh_from_db()
    assert payout.on_hold and payout.status == PayoutStatus.PENDING

    with django_capture_on_commit_callbacks(execute=True):
        payout_release(payout=payout, actor="operator:ops@example.com")
    payout.refresh_from_db()
    assert not payout.on_hold and payout.status == PayoutStatus.IN_TRANSIT
    reasons = list(payout.events.values_list("reason", flat=True))
    assert "hold: fraud check" in reasons and "hold released" in reasons


def test_only_pending_payouts_can_be_held(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    with pytest.raises(ApplicationError) as refused:
        payout_hold(payout=payout, actor="operator:x")
    assert refused.value.code == "not_holdable"


# --- Outcomes -------------------------------------------------------------------------------


def test_a_paid_payout_settles_the_ledger_once(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, client: Client,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    event = paid_event(payout)
    deliver(client, event)
    deliver(client, event)
    deliver(client, paid_event(payout) | {"id": "evt_same_payout_again"})

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PAID and payout.paid_at is not None
    assert Transaction.objects.filter(kind=TransactionKind.PAYOUT_SETTLED).count() == 1
    assert balance(AccountKind.PAYOUTS_IN_TRANSIT) == 0
    assert balance(AccountKind.STRIPE_CLEARING) == 5_000
    assert_books_are_right()


def test_a_failed_payout_reverses_the_ledger_records_why_and_emails_the_worker(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, client: Client,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(client, failed_event(payout)).status_code == 200

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert payout.failure_code == "account_closed"
    assert payout.failure_reason == "The bank account has been closed."
    reversal = Transaction.objects.get(kind=TransactionKind.PAYOUT_REVERSAL)
    assert reversal.idempotency_key == f"payout-reversal:{payout.pk}"
    assert earnings(connected_worker) == 5_000
    assert balance(AccountKind.PAYOUTS_IN_TRANSIT) == 0
    [message] = mail.outbox
    assert message.to == [connected_worker.email]
    assert "50.00 USD" in message.subject and "The bank account has been closed." in message.body
    # The transfer that reached the worker's Stripe account is brought back.
    [back] = fake_stripe.calls("post", rf"/v1/transfers/{payout.stripe_transfer_id}/reversals")
    assert back.idempotency_key == f"payout-{payout.pk}-reversal"
    assert payout.stripe_transfer_reversal_id.startswith("trr_")
    assert_books_are_right()


def test_a_transfer_refused_by_stripe_fails_the_payout_and_returns_the_money(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    earn(connected_worker, 5_000)
    fake_stripe.fail("invalid", path="/v1/transfers", code="account_invalid")
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=connected_worker)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED and payout.failure_code == "account_invalid"
    assert earnings(connected_worker) == 5_000
    assert len(mail.outbox) == 1
    assert fake_stripe.calls("post", r"/v1/transfers/.*/reversals") == []  # nothing to bring back


def test_out_of_order_payout_events_are_harmless(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, client: Client,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    """Failed, then a stale paid, then the failure again, then our own transfer reversal."""
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, failed_event(payout))
        deliver(client, paid_event(payout))
        deliver(client, failed_event(payout) | {"id": "evt_failed_again"})
    payout.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, reversed_event(payout, payout.stripe_transfer_reversal_id))

    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert Transaction.objects.filter(kind=TransactionKind.PAYOUT_SETTLED).count() == 0
    assert Transaction.objects.filter(kind=TransactionKind.PAYOUT_REVERSAL).count() == 1
    assert earnings(connected_worker) == 5_000
    assert len(mail.outbox) == 1
    assert len(fake_stripe.calls("post", r"/v1/transfers/.*/reversals")) == 1
    assert_books_are_right()


def test_a_bank_return_after_paid_gives_the_money_back_once(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, client: Client,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, paid_event(payout))
        deliver(client, failed_event(payout))
        deliver(client, paid_event(payout) | {"id": "evt_paid_late"})
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED
    assert earnings(connected_worker) == 5_000
    assert balance(AccountKind.STRIPE_CLEARING) == 0
    assert_books_are_right()


def test_a_transfer_reversed_in_the_stripe_dashboard_fails_the_payout(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, client: Client,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, reversed_event(payout, "trr_by_dashboard"))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED and payout.failure_code == "transfer_reversed"
    assert payout.stripe_transfer_reversal_id == "trr_by_dashboard"
    assert earnings(connected_worker) == 5_000
    assert fake_stripe.calls("post", r"/v1/transfers/.*/reversals") == []  # already back
    assert len(mail.outbox) == 1


def test_a_paid_event_for_a_payout_we_did_not_make_is_ignored(
    fake_stripe: FakeStripe, client: Client
) -> None:
    obj = bank_payout(payout_id=0, stripe_id="po_automatic", amount_minor=100, status="paid")
    obj["metadata"] = {}
    response = deliver(client, stripe_event("payout.paid", obj, account="acct_someone"))
    assert response.status_code == 200
    assert not Transaction.objects.exists()


# --- Retrying -------------------------------------------------------------------------------


def test_a_failed_payout_is_retried_as_a_new_payout_of_the_returned_money(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, client: Client,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(client, failed_event(payout))
    payout.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        retry = payout_retry(payout=payout, actor="operator:ops@example.com")
    retry.refresh_from_db()
    assert retry.pk != payout.pk and retry.retry_of == payout
    assert retry.status == PayoutStatus.IN_TRANSIT and retry.amount_minor == 5_000
    assert earnings(connected_worker) == 0
    assert {c.idempotency_key for c in fake_stripe.calls("post", "/v1/transfers")} == {
        f"payout-{payout.pk}",
        f"payout-{retry.pk}",
    }
    assert_books_are_right()


def test_a_failed_payout_whose_transfer_is_not_back_is_not_retried(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, client: Client,
    django_capture_on_commit_callbacks,
) -> None:  # fmt: skip
    payout = sent_payout(connected_worker, earn, django_capture_on_commit_callbacks)
    fake_stripe.fail(
        "invalid",
        path=f"/v1/transfers/{payout.stripe_transfer_id}/reversals",
        code="insufficient_funds",
    )
    with (
        pytest.raises(stripe.InvalidRequestError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        deliver(client, failed_event(payout))  # the reversal task raises (eager): an operator looks
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.FAILED and not payout.stripe_transfer_reversal_id
    with pytest.raises(ApplicationError) as refused:
        payout_retry(payout=payout, actor="operator:x")
    assert refused.value.code == "transfer_not_reversed"


def test_payout_create_refuses_a_second_pending_payout(
    worker: User, earn: Earn, stripe_off: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    earn(worker, 5_000)
    with django_capture_on_commit_callbacks(execute=True):
        payout_request(worker=worker)
    earn(worker, 5_000)
    with pytest.raises(ApplicationError) as refused:
        payout_create(worker=worker, currency="usd", actor="task")
    assert refused.value.code == "payout_pending"
    assert PayoutEvent.objects.count() == 1


def test_a_platform_balance_too_low_keeps_the_payout_waiting_not_failed(
    connected_worker: User, earn: Earn, fake_stripe: FakeStripe, django_capture_on_commit_callbacks
) -> None:
    earn(connected_worker, 5_000)
    fake_stripe.fail("invalid", path="/v1/transfers", code="balance_insufficient")
    with django_capture_on_commit_callbacks(execute=True):
        payout = payout_request(worker=connected_worker)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.PENDING
    assert payout.waiting_reason == "The platform's Stripe balance is too low; retrying"
    assert mail.outbox == [] and balance(AccountKind.PAYOUTS_IN_TRANSIT) == 5_000
    with django_capture_on_commit_callbacks(execute=True):
        tasks.payouts_sweep.delay()  # the balance is back: the next sweep sends it
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.IN_TRANSIT
