import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from market.core.errors import ApplicationError
from market.ledger.models import AccountKind, Entry, LedgerAccount, Transaction, TransactionKind
from market.ledger.services import (
    InsufficientFunds,
    Leg,
    escrow_account,
    escrow_hold,
    escrow_refund,
    escrow_release,
    platform_account,
    platform_fee_minor,
    post_transaction,
    transaction_reverse,
    wallet_account,
    wallet_credit_test_funds,
)
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.ledger.helpers import assert_books_are_right

pytestmark = pytest.mark.django_db


@pytest.fixture
def funded(owner: Actor) -> Actor:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=10_000, idempotency_key="fund-1")
    return owner


def immediate_constraints() -> None:
    """Check deferred constraints now: the test's transaction never commits."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_test_funds_reach_the_wallet_with_a_running_balance(owner: Actor) -> None:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=2_500, idempotency_key="a")
    wallet_credit_test_funds(agent=owner.agent, amount_minor=500, idempotency_key="b")
    wallet = wallet_account(owner.agent)
    wallet.refresh_from_db()
    assert wallet.balance_minor == 3_000
    assert list(wallet.entries.order_by("id").values_list("balance_after_minor", flat=True)) == [
        2_500,
        3_000,
    ]
    assert_books_are_right()


def test_the_same_idempotency_key_posts_once(owner: Actor) -> None:
    first = wallet_credit_test_funds(agent=owner.agent, amount_minor=100, idempotency_key="k")
    again = wallet_credit_test_funds(agent=owner.agent, amount_minor=100, idempotency_key="k")
    assert first.pk == again.pk
    assert Transaction.objects.count() == 1
    assert wallet_account(owner.agent).balance_minor == 100


def test_a_reused_key_for_another_transaction_is_refused(funded: Actor) -> None:
    with pytest.raises(ApplicationError) as error:
        escrow_hold(agent=funded.agent, bounty_id=1, amount_minor=10, idempotency_key="fund-1")
    assert error.value.code == "idempotency_key_reused"


def test_overdrawing_a_wallet_is_refused_and_writes_nothing(funded: Actor) -> None:
    before = Entry.objects.count()
    with pytest.raises(InsufficientFunds) as error:
        escrow_hold(agent=funded.agent, bounty_id=1, amount_minor=10_001, idempotency_key="h")
    assert error.value.status == 402 and error.value.extra["needed_minor"] == 1
    assert Entry.objects.count() == before
    assert wallet_account(funded.agent).balance_minor == 10_000


def test_hold_release_refund_moves_every_cent(funded: Actor) -> None:
    price = 400
    fee = platform_fee_minor(price)
    assert fee == 40
    escrow_hold(
        agent=funded.agent, bounty_id=7, amount_minor=3 * (price + fee), idempotency_key="h7"
    )
    worker = UserFactory()
    for submission_id in (1, 2):
        escrow_release(
            agent=funded.agent, bounty_id=7, worker=worker, price_minor=price, fee_minor=fee,
            submission_id=submission_id,
        )  # fmt: skip
    escrow_refund(agent=funded.agent, bounty_id=7, amount_minor=price + fee, idempotency_key="r7")

    def balance(account: LedgerAccount) -> int:
        account.refresh_from_db()
        return account.balance_minor

    assert balance(wallet_account(funded.agent)) == 10_000 - 2 * (price + fee)
    assert balance(escrow_account(agent=funded.agent, bounty_id=7)) == 0
    revenue = platform_account(kind=AccountKind.PLATFORM_REVENUE, currency="usd")
    assert balance(revenue) == 2 * fee
    earnings = LedgerAccount.objects.get(
        kind=AccountKind.WORKER_EARNINGS, owner=f"user:{worker.pk}"
    )
    assert earnings.balance_minor == 2 * price
    assert_books_are_right()


def test_a_release_happens_once_per_submission(funded: Actor) -> None:
    escrow_hold(agent=funded.agent, bounty_id=1, amount_minor=880, idempotency_key="h")
    worker = UserFactory()
    for _ in range(3):
        escrow_release(
            agent=funded.agent, bounty_id=1, worker=worker, price_minor=400, fee_minor=40,
            submission_id=9,
        )  # fmt: skip
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 1
    assert escrow_account(agent=funded.agent, bounty_id=1).balance_minor == 440


def test_the_daily_cap_refuses_a_hold_and_holds_nothing(owner: Actor) -> None:
    owner.agent.daily_spend_cap_minor = 1_000
    owner.agent.save()
    wallet_credit_test_funds(agent=owner.agent, amount_minor=5_000, idempotency_key="f")
    escrow_hold(agent=owner.agent, bounty_id=1, amount_minor=600, idempotency_key="h1")
    with pytest.raises(ApplicationError) as error:
        escrow_hold(agent=owner.agent, bounty_id=2, amount_minor=500, idempotency_key="h2")
    assert error.value.code == "spending_cap_exceeded" and error.value.status == 402
    assert error.value.extra["used_today_minor"] == 600
    assert not Transaction.objects.filter(idempotency_key="h2").exists()
    # A refund frees the cap again.
    escrow_refund(agent=owner.agent, bounty_id=1, amount_minor=600, idempotency_key="r1")
    escrow_hold(agent=owner.agent, bounty_id=2, amount_minor=500, idempotency_key="h2")


def test_a_reversal_negates_and_happens_once(funded: Actor) -> None:
    txn = Transaction.objects.get(idempotency_key="fund-1")
    reversal = transaction_reverse(txn=txn)
    assert transaction_reverse(txn=txn).pk == reversal.pk
    assert reversal.reverses == txn
    assert wallet_account(funded.agent).balance_minor == 0
    assert_books_are_right()


def test_unbalanced_postings_are_refused_by_the_service(funded: Actor) -> None:
    wallet = wallet_account(funded.agent)
    revenue = platform_account(kind=AccountKind.PLATFORM_REVENUE, currency="usd")
    with pytest.raises(ValueError, match="sum to zero"):
        post_transaction(
            kind=TransactionKind.REVERSAL, idempotency_key="x", reference="x",
            legs=[Leg(wallet, -100), Leg(revenue, 99)],
        )  # fmt: skip


# --- The database's own rules: writes that bypass the service -------------------------------


def raw_entry(
    account: LedgerAccount,
    amount: int,
    txn: Transaction,
    currency: str | None = None,
    balance_after: int | None = None,
) -> Entry:
    return Entry.objects.create(
        transaction=txn,
        account=account,
        amount_minor=amount,
        currency=currency or account.currency,
        balance_after_minor=account.balance_minor + amount
        if balance_after is None
        else balance_after,
    )


def new_txn(key: str) -> Transaction:
    return Transaction.objects.create(
        kind=TransactionKind.REVERSAL, idempotency_key=key, reference="raw"
    )


def test_the_database_refuses_an_unbalanced_transaction(funded: Actor) -> None:
    wallet = wallet_account(funded.agent)
    revenue = platform_account(kind=AccountKind.PLATFORM_REVENUE, currency="usd")
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        txn = new_txn("raw-1")
        raw_entry(wallet, -100, txn)
        raw_entry(revenue, 90, txn)
        immediate_constraints()


def test_the_database_refuses_a_transaction_without_entries(db: None) -> None:
    with pytest.raises(IntegrityError, match="no entries"), transaction.atomic():
        new_txn("raw-empty")
        immediate_constraints()


def test_the_database_refuses_a_negative_protected_balance(funded: Actor) -> None:
    wallet = wallet_account(funded.agent)
    refused = pytest.raises(IntegrityError, match="ledger_protected_balance_not_negative")
    with refused, transaction.atomic():
        raw_entry(wallet, -10_001, new_txn("raw-2"))


def test_the_database_refuses_a_wrong_running_balance_or_currency(funded: Actor) -> None:
    wallet = wallet_account(funded.agent)
    with pytest.raises(IntegrityError, match="states balance"), transaction.atomic():
        raw_entry(wallet, 5, new_txn("raw-3"), balance_after=1)
    with pytest.raises(IntegrityError, match="entry in eur"), transaction.atomic():
        raw_entry(wallet, 5, new_txn("raw-4"), currency="eur")


def test_entries_and_transactions_are_append_only(funded: Actor) -> None:
    entry = Entry.objects.first()
    assert entry is not None
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount_minor=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Transaction.objects.filter(pk=entry.transaction_id).update(memo="edited")


def test_balances_change_only_through_entries(funded: Actor) -> None:
    wallet = wallet_account(funded.agent)
    with pytest.raises(DatabaseError, match="only through entries"), transaction.atomic():
        LedgerAccount.objects.filter(pk=wallet.pk).update(balance_minor=1_000_000)
    with pytest.raises(DatabaseError, match="identity"), transaction.atomic():
        LedgerAccount.objects.filter(pk=wallet.pk).update(owner="agent:999")
