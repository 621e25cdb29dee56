"""`make run`'s story on SQLite: migrate, `seed_demo`, an agent posts a bounty through the API,
the nearest search (API and website), a worker logs in, claims and uploads through the website,
the verdict (tasks in-process), an operator's review, the ledger balances; the duplicate lookup,
the ledger's SQLite triggers and the training lock, each on the branch SQLite takes."""

import io
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from bounties.management.commands import seed_demo
from bounties.models import Bounty, Submission, SubmissionStatus
from market.accounts.models import Agent, User
from market.ledger.models import AccountKind, Entry, LedgerAccount, Transaction, TransactionKind
from market.ledger.selectors import wallet_summary
from market.ledger.services import (
    Leg,
    earnings_account,
    platform_account,
    platform_fee_minor,
    post_transaction,
    wallet_account,
)
from tests.bounties.photos import DSCN0010_GPS, with_capture_time
from tests.ledger.helpers import assert_books_are_right
from tests.verification.corpus import reencoded
from verification.checks import CheckName

pytestmark = pytest.mark.django_db

BOUNTIES = "/api/v1/bounties/"
# 51 m north of where DSCN0010.jpg was taken: inside a 150 m radius, between the demo's bakery
# (at the photo's spot) and its market (63 m away); the rest of the demo is over 400 m away.
NEAR_PHOTO = (43.467, 11.885)
PRICE_MINOR = 400


def demo_key() -> str:
    """`seed_demo`'s output, read as a developer reads it: the demo agent's API key."""
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    line = next(line for line in out.getvalue().splitlines() if "API key" in line)
    return line.rsplit(": ", 1)[1].strip()


def agent_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def logged_in(email: str, password: str) -> Client:
    """A browser session through the login form (django-axes and the password hasher included)."""
    client = Client()
    response = client.post("/accounts/login/", {"username": email, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def post_bounty(key: str, *, lat: float, lon: float, quantity: int = 2, **fields: Any) -> dict:
    now = timezone.now()
    body = {
        "title": "The old town square, now",
        "verify": "a town square with old buildings",
        "lat": lat,
        "lon": lon,
        "radius_m": 150,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "price": PRICE_MINOR,
        "currency": "usd",
        "quantity": quantity,
        **fields,
    }
    response = agent_client(key).post(BOUNTIES, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def fresh_photo() -> bytes:
    """DSCN0010.jpg (GPS on the demo's bakery) with its capture time rewritten to a minute ago."""
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    return with_capture_time("DSCN0010.jpg", local)


def claim_and_upload(
    worker: Client, bounty_id: int, photo: bytes, capture: Callable[..., Any]
) -> Submission:
    """The worker's two website steps; the verification task runs in-process after commit."""
    claimed = worker.post(f"/bounties/{bounty_id}/claim/")
    assert claimed.status_code == 302 and claimed["Location"] == f"/bounties/{bounty_id}/upload/"
    with capture(execute=True):
        uploaded = worker.post(
            f"/bounties/{bounty_id}/upload/",
            {
                "photo": SimpleUploadedFile("photo.jpg", photo, "image/jpeg"),
                "upload_id": str(uuid.uuid4()),
                "lat": DSCN0010_GPS[0],
                "lon": DSCN0010_GPS[1],
                "accuracy_m": "12",
            },
        )
    assert uploaded.status_code == 302, uploaded.content.decode()[:500]
    return Submission.objects.get(bounty_id=bounty_id)


def check(submission: Submission, name: CheckName) -> dict[str, Any]:
    return next(row for row in submission.checks if row["name"] == name)


def test_migrate_installs_the_ledger_triggers_on_sqlite() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        triggers = {row[0] for row in cursor.fetchall()}
    assert {
        "ledger_entry_apply",
        "ledger_entry_no_update",
        "ledger_entry_no_delete",
        "ledger_transaction_no_update",
        "ledger_transaction_no_delete",
    } <= triggers


def test_an_agent_posts_a_worker_uploads_an_operator_accepts_and_the_books_balance(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    key = demo_key()
    agent = Agent.objects.get(name=seed_demo.AGENT_NAME)
    before = wallet_summary(agent)
    assert before.available_minor + before.held_minor == seed_demo.DEMO_FUNDS_MINOR

    posted = post_bounty(key, lat=NEAR_PHOTO[0], lon=NEAR_PHOTO[1], quantity=2)
    fee = platform_fee_minor(PRICE_MINOR)
    assert posted["open_slots"] == 2 and posted["fee"] == fee
    after_post = wallet_summary(agent)
    assert after_post.held_minor == before.held_minor + 2 * (PRICE_MINOR + fee)
    assert after_post.available_minor == before.available_minor - 2 * (PRICE_MINOR + fee)

    # The nearest search (SQLite: a bounding box, exact distances in Python), API and website.
    near = f"{DSCN0010_GPS[0]},{DSCN0010_GPS[1]}"
    listed = agent_client(key).get(BOUNTIES, {"near": near, "within_m": "300"}).json()["results"]
    bakery, market = seed_demo.DEMO_BOUNTIES[0][0], seed_demo.DEMO_BOUNTIES[1][0]
    assert [row["title"] for row in listed] == [bakery, posted["title"], market]
    assert listed[0]["distance_m"] < 1 and 45 < listed[1]["distance_m"] < 57
    assert listed[1]["open_slots"] == 2
    page = Client().get("/find/", {"place": near, "within_km": "1"}).content.decode()
    assert posted["title"] in page and page.index(bakery) < page.index(posted["title"])

    worker = logged_in(seed_demo.WORKER_EMAIL, seed_demo.WORKER_PASSWORD)
    submission = claim_and_upload(
        worker, posted["id"], fresh_photo(), django_capture_on_commit_callbacks
    )
    # No vision model and a worker with no history (the embedded default): a person decides.
    assert submission.status == SubmissionStatus.NEEDS_REVIEW, submission.reasons
    for name in (CheckName.LOCATION, CheckName.TIME, CheckName.DUPLICATES):
        assert check(submission, name)["status"] == "passed", submission.checks
    reserved = agent_client(key).get(BOUNTIES, {"near": near, "within_m": "300"}).json()
    assert reserved["results"][1]["open_slots"] == 1  # the photo awaiting its verdict holds one

    operator = logged_in(seed_demo.OPERATOR_EMAIL, seed_demo.OPERATOR_PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        reviewed = operator.post(
            f"/admin/bounties/reviewqueueitem/{submission.pk}/change/",
            {"decision": "accept", "reason": ""},
        )
    assert reviewed.status_code == 302
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED

    worker_user = User.objects.get(email=seed_demo.WORKER_EMAIL)
    assert earnings_account(worker=worker_user, currency="usd").balance_minor == PRICE_MINOR
    revenue = platform_account(kind=AccountKind.PLATFORM_REVENUE, currency="usd")
    assert revenue.balance_minor == fee
    assert wallet_summary(agent).held_minor == after_post.held_minor - (PRICE_MINOR + fee)
    assert Bounty.objects.get(pk=posted["id"]).accepted_count == 1
    assert Transaction.objects.filter(kind=TransactionKind.ESCROW_RELEASE).count() == 1
    assert_books_are_right()
    earnings = worker.get("/earnings/").content.decode()
    assert "4.00 USD" in earnings


def test_the_duplicate_lookup_catches_exact_and_near_copies_on_sqlite(
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    key = demo_key()
    worker = logged_in(seed_demo.WORKER_EMAIL, seed_demo.WORKER_PASSWORD)
    original = fresh_photo()
    bounties = [
        post_bounty(key, lat=NEAR_PHOTO[0], lon=NEAR_PHOTO[1], title=f"Square {n}")["id"]
        for n in range(3)
    ]
    first = claim_and_upload(worker, bounties[0], original, django_capture_on_commit_callbacks)
    assert check(first, CheckName.DUPLICATES)["status"] == "passed", first.checks

    exact = claim_and_upload(worker, bounties[1], original, django_capture_on_commit_callbacks)
    near = claim_and_upload(
        worker, bounties[2], reencoded(original), django_capture_on_commit_callbacks
    )
    for copy in (exact, near):
        assert check(copy, CheckName.DUPLICATES)["status"] == "failed", copy.checks
        assert copy.status == SubmissionStatus.REJECTED, copy.reasons


# --- The ledger's SQLite triggers: writes that bypass the service -----------------------------


@pytest.fixture
def funded_wallet() -> LedgerAccount:
    demo_key()
    return wallet_account(Agent.objects.get(name=seed_demo.AGENT_NAME))


def raw_entry(account: LedgerAccount, amount: int, **overrides: Any) -> Entry:
    account.refresh_from_db()
    txn = Transaction.objects.create(
        kind=TransactionKind.REVERSAL, idempotency_key=uuid.uuid4().hex, reference="raw"
    )
    fields: dict[str, Any] = {
        "currency": account.currency,
        "balance_after_minor": account.balance_minor + amount,
        **overrides,
    }
    return Entry.objects.create(transaction=txn, account=account, amount_minor=amount, **fields)


def test_the_triggers_keep_entries_consistent_with_their_account(
    funded_wallet: LedgerAccount,
) -> None:
    raw_entry(funded_wallet, 5)  # a consistent entry passes the trigger and moves the balance
    funded_wallet.refresh_from_db()
    balance = funded_wallet.balance_minor
    with pytest.raises(IntegrityError, match="wrong balance"), transaction.atomic():
        raw_entry(funded_wallet, 5, balance_after_minor=1)
    with pytest.raises(IntegrityError, match="currency differs"), transaction.atomic():
        raw_entry(funded_wallet, 5, currency="eur")
    funded_wallet.refresh_from_db()
    assert funded_wallet.balance_minor == balance


def test_a_protected_balance_cannot_go_negative(funded_wallet: LedgerAccount) -> None:
    overdraft = -(funded_wallet.balance_minor + 1)
    refused = pytest.raises(IntegrityError, match="ledger_protected_balance_not_negative")
    with refused, transaction.atomic():
        raw_entry(funded_wallet, overdraft)


def test_entries_and_transactions_are_append_only(funded_wallet: LedgerAccount) -> None:
    entry = Entry.objects.filter(account=funded_wallet).first()
    assert entry is not None
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount_minor=1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Transaction.objects.filter(pk=entry.transaction_id).update(memo="edited")
    # (the ORM's PROTECT would refuse this one first: the trigger is what refuses raw SQL)
    delete = f"DELETE FROM {Transaction._meta.db_table} WHERE id = %s"  # noqa: S608
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(delete, [entry.transaction_id])


def test_an_unbalanced_posting_is_refused_and_writes_nothing(
    funded_wallet: LedgerAccount,
) -> None:
    """SQLite has no deferred triggers: the service is what checks a transaction sums to zero."""
    revenue = platform_account(kind=AccountKind.PLATFORM_REVENUE, currency="usd")
    entries = Entry.objects.count()
    with pytest.raises(ValueError, match="sum to zero"):
        post_transaction(
            kind=TransactionKind.REVERSAL, idempotency_key="unbalanced", reference="x",
            legs=[Leg(funded_wallet, -100), Leg(revenue, 99)],
        )  # fmt: skip
    assert Entry.objects.count() == entries
    assert_books_are_right()


def test_a_training_cycle_takes_the_lock_on_sqlite() -> None:
    """No advisory locks on SQLite: tasks run in-process, one at a time, so the cycle runs (and
    finds too few questions) instead of saying another cycle holds the lock."""
    from forecasting.services.training import training_cycle  # loads torch: only here

    result = training_cycle()
    assert result.version is None and result.reason.startswith("Only 0 resolved questions")
