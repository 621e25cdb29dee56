"""Every write to the ledger goes through ``post_transaction``.

Locking order (documented, and the reason concurrent postings cannot deadlock): a posting locks
all the accounts it touches with ``SELECT ... FOR UPDATE`` in ascending account id, in one
statement, before it reads a balance or writes an entry. Callers that also lock their own rows
(a bounty, a payout) lock those first, then post.
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from market.accounts.models import Agent, User
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.ledger.models import (
    PROTECTED_KINDS,
    AccountKind,
    Entry,
    LedgerAccount,
    Transaction,
    TransactionKind,
)

logger = logging.getLogger(__name__)

PLATFORM = "platform"


@dataclass(frozen=True)
class Leg:
    """One side of a posting: ``amount_minor`` is added to ``account``'s balance."""

    account: LedgerAccount
    amount_minor: int


class InsufficientFunds(ApplicationError):
    def __init__(self, account: LedgerAccount, needed_minor: int) -> None:
        super().__init__(
            "insufficient_funds",
            f"Not enough money in {account}: "
            f"{format_money(needed_minor, account.currency)} more is needed.",
            status=402,
            extra={"needed_minor": needed_minor, "currency": account.currency},
        )


# --- Accounts -------------------------------------------------------------------------------


def account_get(*, kind: AccountKind, currency: str, owner: str) -> LedgerAccount:
    """The account for (kind, currency, owner), created on first use (safe under concurrency)."""
    currency = currency.lower()
    if currency not in settings.SUPPORTED_CURRENCIES:
        raise ApplicationError(
            "unsupported_currency",
            f"{currency!r} is not supported; use one of {', '.join(settings.SUPPORTED_CURRENCIES)}",
            extra={"field": "currency"},
        )
    account = LedgerAccount.objects.filter(kind=kind, currency=currency, owner=owner).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return LedgerAccount.objects.create(
                kind=kind, currency=currency, owner=owner, protected=kind in PROTECTED_KINDS
            )
    except IntegrityError:  # created concurrently: use that one
        return LedgerAccount.objects.get(kind=kind, currency=currency, owner=owner)


def agent_owner(agent: Agent) -> str:
    return f"agent:{agent.pk}"


def escrow_owner(*, agent: Agent, bounty_id: int) -> str:
    """Escrow accounts name their agent, so an agent's escrow can be summed without a join."""
    return f"{agent_owner(agent)}:bounty:{bounty_id}"


def wallet_account(agent: Agent) -> LedgerAccount:
    return account_get(
        kind=AccountKind.AGENT_WALLET, currency=agent.currency, owner=agent_owner(agent)
    )


def escrow_account(*, agent: Agent, bounty_id: int) -> LedgerAccount:
    return account_get(
        kind=AccountKind.BOUNTY_ESCROW,
        currency=agent.currency,
        owner=escrow_owner(agent=agent, bounty_id=bounty_id),
    )


def earnings_account(*, worker: User, currency: str) -> LedgerAccount:
    return account_get(
        kind=AccountKind.WORKER_EARNINGS, currency=currency, owner=f"user:{worker.pk}"
    )


def platform_account(*, kind: AccountKind, currency: str) -> LedgerAccount:
    """The platform's own accounts: revenue, Stripe clearing, payouts in transit, test funding."""
    return account_get(kind=kind, currency=currency, owner=PLATFORM)


# --- Posting --------------------------------------------------------------------------------


def _validate(legs: Sequence[Leg]) -> None:
    if len(legs) < 2:
        raise ValueError("a transaction needs at least two entries")
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        if not isinstance(leg.amount_minor, int) or isinstance(leg.amount_minor, bool):
            raise TypeError("amounts are integer minor units")
        if leg.amount_minor == 0:
            raise ValueError("an entry cannot be zero")
        totals[leg.account.currency] += leg.amount_minor
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise ValueError(f"entries must sum to zero per currency, got {unbalanced}")


def lock_accounts(account_ids: Sequence[int]) -> dict[int, LedgerAccount]:
    """Lock accounts FOR UPDATE in ascending id order (the documented order), fresh from the
    database. Call inside a transaction."""
    return {
        account.pk: account
        for account in LedgerAccount.objects.select_for_update()
        .filter(pk__in=sorted(set(account_ids)))
        .order_by("pk")
    }


def _replayed(existing: Transaction, *, kind: TransactionKind, reference: str) -> Transaction:
    """The transaction a retried posting already made, if the retry really is the same one."""
    if existing.kind != kind or existing.reference != reference:
        raise ApplicationError(
            "idempotency_key_reused",
            f"Ledger key {existing.idempotency_key!r} was used for a different transaction",
            status=409,
        )
    return existing


@transaction.atomic
def post_transaction(
    *,
    kind: TransactionKind,
    idempotency_key: str,
    reference: str,
    legs: Sequence[Leg],
    memo: str = "",
    reverses: Transaction | None = None,
) -> Transaction:
    """Post a balanced transaction exactly once per ``idempotency_key``.

    Guarantees: all entries or none; a retried call with the same key returns the first
    transaction and writes nothing; protected balances never go below zero (an attempt raises
    ``InsufficientFunds`` and writes nothing); concurrent postings serialise on the touched
    accounts, locked in ascending id order.
    """
    _validate(legs)
    existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is None:
        locked = lock_accounts([leg.account.pk for leg in legs])
        # Re-read under the locks: a concurrent duplicate has committed by now.
        existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replayed(existing, kind=kind, reference=reference)

    balances = {pk: account.balance_minor for pk, account in locked.items()}
    entries = []
    for leg in legs:
        account = locked[leg.account.pk]
        balances[account.pk] += leg.amount_minor
        entries.append(
            Entry(
                account=account,
                amount_minor=leg.amount_minor,
                currency=account.currency,
                balance_after_minor=balances[account.pk],
            )
        )
    for pk, balance in balances.items():
        if locked[pk].protected and balance < 0:
            raise InsufficientFunds(locked[pk], needed_minor=-balance)

    txn = Transaction.objects.create(
        kind=kind,
        idempotency_key=idempotency_key,
        reference=reference,
        memo=memo,
        reverses=reverses,
    )
    for entry in entries:
        entry.transaction = txn
    Entry.objects.bulk_create(entries)
    logger.info("ledger: posted %s %s (%s)", kind, txn.pk, reference)
    return txn


def transfer(
    *,
    kind: TransactionKind,
    idempotency_key: str,
    reference: str,
    source: LedgerAccount,
    destination: LedgerAccount,
    amount_minor: int,
    memo: str = "",
) -> Transaction:
    """Move ``amount_minor`` from ``source`` to ``destination`` (a two-entry posting)."""
    if amount_minor <= 0:
        raise ValueError("a transfer moves a positive amount")
    return post_transaction(
        kind=kind,
        idempotency_key=idempotency_key,
        reference=reference,
        memo=memo,
        legs=[Leg(source, -amount_minor), Leg(destination, amount_minor)],
    )


@transaction.atomic
def transaction_reverse(*, txn: Transaction, memo: str = "") -> Transaction:
    """A new transaction with every entry of ``txn`` negated. Reversing twice returns the first
    reversal. Refused (``InsufficientFunds``) if the money has moved on in the meantime."""
    legs = [
        Leg(entry.account, -entry.amount_minor) for entry in txn.entries.select_related("account")
    ]
    return post_transaction(
        kind=TransactionKind.REVERSAL,
        idempotency_key=f"reversal:{txn.pk}",
        reference=txn.reference,
        legs=legs,
        memo=memo or f"reverses #{txn.pk}",
        reverses=txn,
    )


# --- Operations -----------------------------------------------------------------------------


def platform_fee_minor(price_minor: int) -> int:
    """The platform's fee on one accepted submission: PLATFORM_FEE_BPS of the price, rounded
    half up to a whole minor unit (integer arithmetic only)."""
    return (price_minor * settings.PLATFORM_FEE_BPS + 5_000) // 10_000


@transaction.atomic
def wallet_credit_test_funds(
    *, agent: Agent, amount_minor: int, idempotency_key: str, memo: str = ""
) -> Transaction:
    """Credit free money to an agent's wallet. Development and test mode only."""
    if settings.PRODUCTION and not agent.is_test:
        raise ApplicationError(
            "test_funds_refused", "Test funds cannot be credited to a live agent in production"
        )
    if amount_minor <= 0:
        raise ApplicationError("invalid_amount", "The amount must be positive")
    return transfer(
        kind=TransactionKind.TEST_CREDIT,
        idempotency_key=idempotency_key,
        reference=agent_owner(agent),
        source=platform_account(kind=AccountKind.TEST_FUNDING, currency=agent.currency),
        destination=wallet_account(agent),
        amount_minor=amount_minor,
        memo=memo or "test funds",
    )


def spend_today_minor(agent: Agent) -> int:
    """What the agent committed to escrow today (UTC), net of today's refunds."""
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    total = Entry.objects.filter(
        account__kind=AccountKind.AGENT_WALLET,
        account__owner=agent_owner(agent),
        transaction__kind__in=[TransactionKind.ESCROW_HOLD, TransactionKind.ESCROW_REFUND],
        transaction__created_at__gte=start,
    ).aggregate(total=Sum("amount_minor"))["total"]
    return max(0, -(total or 0))


@transaction.atomic
def escrow_hold(
    *, agent: Agent, bounty_id: int, amount_minor: int, idempotency_key: str
) -> Transaction:
    """Move a bounty's full cost from the agent's wallet into its escrow.

    Refuses with 402 ``spending_cap_exceeded`` past the agent's daily cap, or
    ``insufficient_funds`` past its balance; in both cases nothing is held. The wallet is locked
    before the cap is read, so concurrent holds cannot overshoot the cap together.
    """
    if amount_minor <= 0:
        raise ValueError("a hold is positive")
    wallet = wallet_account(agent)
    escrow = escrow_account(agent=agent, bounty_id=bounty_id)
    lock_accounts([wallet.pk, escrow.pk])  # before reading the cap
    existing = Transaction.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replayed(
            existing, kind=TransactionKind.ESCROW_HOLD, reference=f"bounty:{bounty_id}"
        )
    used = spend_today_minor(agent)
    if used + amount_minor > agent.daily_spend_cap_minor:
        raise ApplicationError(
            "spending_cap_exceeded",
            f"This would commit {format_money(used + amount_minor, agent.currency)} today; the "
            f"agent's daily cap is {format_money(agent.daily_spend_cap_minor, agent.currency)}.",
            status=402,
            extra={
                "daily_cap_minor": agent.daily_spend_cap_minor,
                "used_today_minor": used,
                "requested_minor": amount_minor,
            },
        )
    return transfer(
        kind=TransactionKind.ESCROW_HOLD,
        idempotency_key=idempotency_key,
        reference=f"bounty:{bounty_id}",
        source=wallet,
        destination=escrow,
        amount_minor=amount_minor,
    )


@transaction.atomic
def escrow_release(
    *,
    agent: Agent,
    bounty_id: int,
    worker: User,
    price_minor: int,
    fee_minor: int,
    submission_id: int,
) -> Transaction:
    """Pay one accepted submission out of escrow: the price to the worker's earnings, the fee to
    platform revenue. Once per submission, however often it is called."""
    escrow = escrow_account(agent=agent, bounty_id=bounty_id)
    legs = [
        Leg(escrow, -(price_minor + fee_minor)),
        Leg(earnings_account(worker=worker, currency=escrow.currency), price_minor),
    ]
    if fee_minor:
        legs.append(
            Leg(
                platform_account(kind=AccountKind.PLATFORM_REVENUE, currency=escrow.currency),
                fee_minor,
            )
        )
    return post_transaction(
        kind=TransactionKind.ESCROW_RELEASE,
        idempotency_key=f"release:submission:{submission_id}",
        reference=f"submission:{submission_id}",
        legs=legs,
    )


@transaction.atomic
def escrow_refund(
    *, agent: Agent, bounty_id: int, amount_minor: int, idempotency_key: str
) -> Transaction:
    """Return unspent escrow (unfilled slots on cancel or expiry) to the agent's wallet."""
    return transfer(
        kind=TransactionKind.ESCROW_REFUND,
        idempotency_key=idempotency_key,
        reference=f"bounty:{bounty_id}",
        source=escrow_account(agent=agent, bounty_id=bounty_id),
        destination=wallet_account(agent),
        amount_minor=amount_minor,
    )
