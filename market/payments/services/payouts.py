"""Payouts: a worker's earnings leave through Stripe Connect.

The life of a payout, and the ledger posting each step makes in the same database transaction:
- created (``pending``): earnings -> payouts in transit (``PAYOUT``);
- sent (``in_transit``): a Stripe transfer to the worker's connected account, then a payout from
  it to their bank (both carry ``payout_id`` in metadata; no posting: the money is in transit);
- ``paid`` (Stripe's ``payout.paid``): payouts in transit -> Stripe clearing (``PAYOUT_SETTLED``);
- ``failed`` (refused by Stripe, ``payout.failed`` or ``transfer.reversed``): the money returns
  to the worker's earnings (``PAYOUT_REVERSAL``), the worker is told why by email, and a transfer
  that reached their connected account is reversed back to the platform.

Locking: a transition locks the payout row first, then the ledger locks its accounts (the order
``market.ledger.services`` documents). Sending holds the payout row's lock during the Stripe call,
so a hold and a send cannot cross, and two sends cannot both transfer.
"""

import logging

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from market.accounts.models import User
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.core.states import transition_check
from market.ledger.models import AccountKind, LedgerAccount, TransactionKind
from market.ledger.services import (
    earnings_account,
    lock_accounts,
    platform_account,
    transfer,
)
from market.payments.models import (
    PAYOUT_TRANSITIONS,
    ConnectedAccount,
    Payout,
    PayoutEvent,
    PayoutStatus,
)
from market.payments.stripe_api import (
    is_temporary,
    request_options,
    stripe_configured,
)

logger = logging.getLogger(__name__)

TASK_ACTOR = "task"
WAITING_FOR_KEYS = "Stripe is not configured"
WAITING_FOR_SETUP = "Set up payouts first"
WAITING_FOR_BALANCE = "The platform's Stripe balance is too low; retrying"
WAITING_FOR_STRIPE = "Stripe did not answer; retrying"


# --- Helpers --------------------------------------------------------------------------------


def payout_enqueue_send(payout_id: int) -> None:
    """Send after commit, so the task sees the committed row (and never a rolled-back one)."""
    from market.payments.tasks import payout_send as payout_send_task

    transaction.on_commit(lambda: payout_send_task.delay(payout_id))


def _locked(payout_id: int) -> Payout:
    return Payout.objects.select_for_update(of=("self",)).select_related("worker").get(pk=payout_id)


def _record(payout: Payout, *, actor: str, reason: str) -> None:
    """History without a transition (hold, release, retry, Stripe ids learnt)."""
    PayoutEvent.objects.create(
        payout=payout, old=payout.status, new=payout.status, actor=actor, reason=reason[:500]
    )


def _move(
    payout: Payout, new: PayoutStatus, *, actor: str, reason: str, fields: tuple[str, ...] = ()
) -> None:
    """Apply one allowed transition to a locked payout and write its event."""
    old = payout.status
    transition_check(PAYOUT_TRANSITIONS, old=old, new=new, label=f"Payout #{payout.pk}")
    payout.status = new
    payout.save(update_fields=["status", "updated_at", *fields])
    PayoutEvent.objects.create(payout=payout, old=old, new=new, actor=actor, reason=reason[:500])


def _in_transit_account(currency: str) -> LedgerAccount:
    return platform_account(kind=AccountKind.PAYOUTS_IN_TRANSIT, currency=currency)


def _connected_account(worker: User) -> ConnectedAccount | None:
    return ConnectedAccount.objects.filter(worker=worker).first()


def _waiting_reason(payout: Payout) -> str:
    """Why a pending payout cannot be sent now; empty when it can."""
    if not stripe_configured():
        return WAITING_FOR_KEYS
    account = _connected_account(payout.worker)
    if account is None or not account.payouts_enabled:
        return WAITING_FOR_SETUP
    return ""


# --- Creating -------------------------------------------------------------------------------


@transaction.atomic
def payout_create(
    *,
    worker: User,
    currency: str,
    actor: str,
    reason: str = "",
    retry_of: Payout | None = None,
) -> Payout:
    """Pay out all of the worker's earnings in ``currency``: a pending payout, and its money moved
    from earnings to payouts in transit in the same transaction. Sent after commit.

    Refuses (``below_minimum``) under PAYOUT_MINIMUM_MINOR and (``payout_pending``) while another
    payout in that currency is still pending. Concurrent calls serialise on the earnings account:
    the second finds it empty.
    """
    earnings = earnings_account(worker=worker, currency=currency)
    available_minor = lock_accounts([earnings.pk])[earnings.pk].balance_minor
    minimum_minor = settings.PAYOUT_MINIMUM_MINOR
    if available_minor < minimum_minor:
        raise ApplicationError(
            "below_minimum",
            f"Payouts start at {format_money(minimum_minor, currency)}; "
            f"you have {format_money(available_minor, currency)}.",
            extra={
                "minimum_minor": minimum_minor,
                "available_minor": available_minor,
                "currency": currency,
            },
        )
    if Payout.objects.filter(
        worker=worker, currency=currency, status=PayoutStatus.PENDING
    ).exists():
        raise ApplicationError(
            "payout_pending", "A payout is already waiting to be sent.", status=409
        )
    payout = Payout.objects.create(
        worker=worker, amount_minor=available_minor, currency=currency, retry_of=retry_of
    )
    transfer(
        kind=TransactionKind.PAYOUT,
        idempotency_key=f"payout:{payout.pk}",
        reference=payout.ledger_reference,
        source=earnings,
        destination=_in_transit_account(currency),
        amount_minor=available_minor,
        memo=f"payout #{payout.pk}",
    )
    PayoutEvent.objects.create(
        payout=payout, old="", new=PayoutStatus.PENDING, actor=actor, reason=reason or "created"
    )
    payout_enqueue_send(payout.pk)
    return payout


def payout_request(*, worker: User, currency: str | None = None) -> Payout:
    """A worker asks for their earnings now (see ``payout_create`` for the guarantees)."""
    return payout_create(
        worker=worker,
        currency=currency or settings.SUPPORTED_CURRENCIES[0],
        actor=f"worker:{worker.email}",
        reason="requested by the worker",
    )


def payouts_sweep() -> list[Payout]:
    """The periodic run: a payout for every worker whose earnings reach the minimum (unless one
    is already pending), and every pending payout not on hold is sent again (the ones that
    waited for Stripe keys, the worker's setup or a Stripe outage)."""
    created: list[Payout] = []
    due = list(
        LedgerAccount.objects.filter(
            kind=AccountKind.WORKER_EARNINGS, balance_minor__gte=settings.PAYOUT_MINIMUM_MINOR
        ).values_list("owner", "currency")
    )
    workers = {
        worker.pk: worker
        for worker in User.objects.filter(pk__in=[int(owner.split(":")[1]) for owner, _ in due])
    }
    for owner, currency in due:
        worker = workers[int(owner.split(":")[1])]
        try:
            created.append(payout_create(worker=worker, currency=currency, actor=TASK_ACTOR))
        except ApplicationError as error:  # pending already, or paid out meanwhile
            logger.info("payouts: sweep skipped %s %s: %s", owner, currency, error.code)
    fresh = {payout.pk for payout in created}
    for payout_id in Payout.objects.filter(status=PayoutStatus.PENDING, on_hold=False).values_list(
        "pk", flat=True
    ):
        if payout_id not in fresh:
            payout_enqueue_send(payout_id)
    return created


# --- Sending --------------------------------------------------------------------------------


def payout_send(*, payout_id: int) -> Payout:
    """Send a pending payout: the transfer to the worker's connected account
    (idempotency key ``payout-<id>``), then the payout to their bank (``payout-<id>-bank``).

    Safe to run any number of times, concurrently too: each step locks the row and re-checks the
    state, so the transfer is sent once, and a retry after a lost answer sends the same key, so
    Stripe answers with the same transfer. A held payout is never sent. Without Stripe keys or a
    ready connected account the payout stays pending, its ``waiting_reason`` saying why.
    Temporary Stripe errors propagate with nothing written (the task retries them); permanent
    ones fail the payout and return the money to the worker's earnings.
    """
    payout = _send_transfer(payout_id)
    if payout.status == PayoutStatus.IN_TRANSIT and not payout.stripe_payout_id:
        payout = _send_bank_payout(payout_id)
    return payout


@transaction.atomic
def _send_transfer(payout_id: int) -> Payout:
    payout = _locked(payout_id)
    if payout.status != PayoutStatus.PENDING or payout.on_hold:
        return payout
    waiting = _waiting_reason(payout)
    if waiting:
        if waiting != payout.waiting_reason:
            payout.waiting_reason = waiting
            payout.save(update_fields=["waiting_reason", "updated_at"])
        logger.info("payouts: #%s waits: %s", payout.pk, waiting)
        return payout
    account = _connected_account(payout.worker)
    assert account is not None  # _waiting_reason checked it
    try:
        stripe_transfer = stripe.Transfer.create(
            amount=payout.amount_minor,
            currency=payout.currency,
            destination=account.stripe_account_id,
            description=f"Sightline payout #{payout.pk}",
            transfer_group=f"payout-{payout.pk}",
            metadata={"payout_id": str(payout.pk)},
            **request_options(idempotency_key=f"payout-{payout.pk}"),
        )
    except stripe.StripeError as error:
        if is_temporary(error):
            raise
        if error.code == "balance_insufficient":  # ours, not the worker's: wait and retry
            payout.waiting_reason = WAITING_FOR_BALANCE
            payout.save(update_fields=["waiting_reason", "updated_at"])
            return payout
        _fail(payout, code=error.code or "transfer_refused", reason=_stripe_message(error))
        return payout
    payout.stripe_transfer_id = stripe_transfer.id
    payout.waiting_reason = ""
    _move(
        payout,
        PayoutStatus.IN_TRANSIT,
        actor=TASK_ACTOR,
        reason=f"transfer {stripe_transfer.id} to {account.stripe_account_id}",
        fields=("stripe_transfer_id", "waiting_reason"),
    )
    return payout


@transaction.atomic
def _send_bank_payout(payout_id: int) -> Payout:
    payout = _locked(payout_id)
    if payout.status != PayoutStatus.IN_TRANSIT or payout.stripe_payout_id:
        return payout
    account = _connected_account(payout.worker)
    assert account is not None  # the transfer went to it
    try:
        bank_payout = stripe.Payout.create(
            amount=payout.amount_minor,
            currency=payout.currency,
            description=f"Sightline payout #{payout.pk}",
            metadata={"payout_id": str(payout.pk)},
            stripe_account=account.stripe_account_id,
            **request_options(idempotency_key=f"payout-{payout.pk}-bank"),
        )
    except stripe.StripeError as error:
        if is_temporary(error):
            raise
        _fail(payout, code=error.code or "payout_refused", reason=_stripe_message(error))
        return payout
    payout.stripe_payout_id = bank_payout.id
    payout.save(update_fields=["stripe_payout_id", "updated_at"])
    _record(payout, actor=TASK_ACTOR, reason=f"bank payout {bank_payout.id}")
    return payout


def _stripe_message(error: stripe.StripeError) -> str:
    return error.user_message or str(error) or "Stripe refused the payout"


@transaction.atomic
def payout_note_waiting(*, payout_id: int, reason: str = WAITING_FOR_STRIPE) -> None:
    """Show why a pending payout is still waiting (the task gave up retrying for now)."""
    Payout.objects.filter(pk=payout_id, status=PayoutStatus.PENDING).update(
        waiting_reason=reason, updated_at=timezone.now()
    )


# --- Outcomes (from Stripe's webhooks) ------------------------------------------------------


@transaction.atomic
def payout_mark_paid(*, payout_id: int, stripe_payout_id: str, actor: str) -> Payout:
    """Stripe paid the worker's bank: the money leaves our books (in transit -> Stripe
    clearing). Once, however often or late the event comes: a payout that already failed stays
    failed (Stripe never moves a failed payout to paid, so a ``paid`` after it is stale)."""
    payout = _locked(payout_id)
    if payout.status in (PayoutStatus.PAID, PayoutStatus.FAILED):
        logger.info("payouts: #%s already %s; paid event ignored", payout.pk, payout.status)
        return payout
    if payout.stripe_payout_id not in (None, stripe_payout_id):
        raise ApplicationError(
            "payout_mismatch",
            f"Payout #{payout.pk} went out as {payout.stripe_payout_id}, not {stripe_payout_id}",
        )
    payout.stripe_payout_id = stripe_payout_id
    payout.paid_at = timezone.now()
    _move(
        payout,
        PayoutStatus.PAID,
        actor=actor,
        reason=f"bank payout {stripe_payout_id} paid",
        fields=("stripe_payout_id", "paid_at"),
    )
    transfer(
        kind=TransactionKind.PAYOUT_SETTLED,
        idempotency_key=f"payout-settled:{payout.pk}",
        reference=payout.ledger_reference,
        source=_in_transit_account(payout.currency),
        destination=platform_account(kind=AccountKind.STRIPE_CLEARING, currency=payout.currency),
        amount_minor=payout.amount_minor,
        memo=f"payout #{payout.pk} paid",
    )
    return payout


@transaction.atomic
def payout_mark_failed(*, payout_id: int, code: str, reason: str, actor: str) -> Payout:
    """Stripe could not pay the worker (or the transfer was reversed): see ``_fail``.
    Idempotent: a payout that already failed is left as it is."""
    payout = _locked(payout_id)
    if payout.status == PayoutStatus.FAILED:
        return payout
    _fail(payout, code=code, reason=reason, actor=actor)
    return payout


def _fail(payout: Payout, *, code: str, reason: str, actor: str = TASK_ACTOR) -> None:
    """On a locked payout: mark it failed, return its money to the worker's earnings (from in
    transit, or from Stripe clearing if it had been paid), then, after commit, email the worker
    and reverse a transfer that reached their connected account."""
    old = payout.status
    payout.failure_code = code[:100]
    payout.failure_reason = reason[:500]
    payout.waiting_reason = ""
    _move(
        payout,
        PayoutStatus.FAILED,
        actor=actor,
        reason=reason,
        fields=("failure_code", "failure_reason", "waiting_reason"),
    )
    source_kind = (
        AccountKind.STRIPE_CLEARING if old == PayoutStatus.PAID else AccountKind.PAYOUTS_IN_TRANSIT
    )
    transfer(
        kind=TransactionKind.PAYOUT_REVERSAL,
        idempotency_key=f"payout-reversal:{payout.pk}",
        reference=payout.ledger_reference,
        source=platform_account(kind=source_kind, currency=payout.currency),
        destination=earnings_account(worker=payout.worker, currency=payout.currency),
        amount_minor=payout.amount_minor,
        memo=f"payout #{payout.pk} failed: {reason}"[:500],
    )
    from market.payments.tasks import payout_failure_notify, payout_transfer_reverse

    payout_id = payout.pk
    transaction.on_commit(lambda: payout_failure_notify.delay(payout_id))
    if payout.stripe_transfer_id and not payout.stripe_transfer_reversal_id:
        transaction.on_commit(lambda: payout_transfer_reverse.delay(payout_id))


def payout_failure_notify(*, payout_id: int) -> None:
    """Tell the worker their payout failed, why, and that the money is back in their
    earnings."""
    from django.core.mail import send_mail

    payout = Payout.objects.select_related("worker").get(pk=payout_id)
    amount = format_money(payout.amount_minor, payout.currency)
    send_mail(
        subject=f"Your Sightline payout of {amount} failed",
        message=(
            f"Your payout #{payout.pk} of {amount} could not be completed.\n\n"
            f"Reason: {payout.failure_reason or 'unknown'}\n\n"
            "The money is back in your Sightline earnings. Check your payout details at "
            f"{settings.SITE_URL}/earnings/payouts/setup/ and request the payout again.\n"
        ),
        from_email=None,
        recipient_list=[payout.worker.email],
    )


@transaction.atomic
def payout_transfer_reverse(*, payout_id: int) -> Payout:
    """Bring a failed payout's transfer back from the worker's connected account to the
    platform (idempotency key ``payout-<id>-reversal``), since the ledger has already returned
    that money to their earnings. Temporary and permanent Stripe errors both propagate: a
    reversal that cannot be made needs an operator (the admin lists it)."""
    payout = _locked(payout_id)
    if (
        payout.status != PayoutStatus.FAILED
        or not payout.stripe_transfer_id
        or payout.stripe_transfer_reversal_id
    ):
        return payout
    reversal = stripe.Transfer.create_reversal(
        payout.stripe_transfer_id,
        metadata={"payout_id": str(payout.pk)},
        **request_options(idempotency_key=f"payout-{payout.pk}-reversal"),
    )
    payout_record_reversal(payout=payout, reversal_id=reversal.id, actor=TASK_ACTOR)
    return payout


def payout_record_reversal(*, payout: Payout, reversal_id: str, actor: str) -> None:
    """On a locked payout: remember the Stripe transfer reversal (once)."""
    if payout.stripe_transfer_reversal_id:
        return
    payout.stripe_transfer_reversal_id = reversal_id
    payout.save(update_fields=["stripe_transfer_reversal_id", "updated_at"])
    _record(payout, actor=actor, reason=f"transfer reversed ({reversal_id})")


@transaction.atomic
def payout_transfer_reversed(
    *, payout_id: int, reversal_id: str, fully_reversed: bool, actor: str
) -> Payout:
    """Stripe reports the payout's transfer reversed (by us after a failure, or by someone in
    the Stripe dashboard). A full reversal of a live payout fails it (the money returns to the
    worker's earnings); a partial one is left to an operator."""
    payout = _locked(payout_id)
    if reversal_id:
        payout_record_reversal(payout=payout, reversal_id=reversal_id, actor=actor)
    if payout.status == PayoutStatus.FAILED:
        return payout
    if not fully_reversed:
        raise ApplicationError(
            "partial_transfer_reversal",
            f"The transfer of payout #{payout.pk} was partly reversed: an operator must decide",
        )
    _fail(
        payout,
        code="transfer_reversed",
        reason="The transfer to your Stripe account was reversed.",
        actor=actor,
    )
    return payout


# --- Operators ------------------------------------------------------------------------------


@transaction.atomic
def payout_hold(*, payout: Payout, actor: str, reason: str = "") -> Payout:
    """Stop a pending payout from being sent until it is released. Only pending payouts can be
    held: once the transfer is made, the money is gone."""
    payout = _locked(payout.pk)
    if payout.status != PayoutStatus.PENDING:
        raise ApplicationError(
            "not_holdable",
            f"Payout #{payout.pk} is {payout.get_status_display().lower()}: only pending "
            "payouts can be held.",
            status=409,
        )
    if payout.on_hold:
        return payout
    payout.on_hold = True
    payout.hold_reason = (reason or "held by an operator")[:500]
    payout.save(update_fields=["on_hold", "hold_reason", "updated_at"])
    _record(payout, actor=actor, reason=f"hold: {payout.hold_reason}")
    return payout


@transaction.atomic
def payout_release(*, payout: Payout, actor: str) -> Payout:
    """Lift a hold; the payout is sent after commit."""
    payout = _locked(payout.pk)
    if not payout.on_hold:
        return payout
    payout.on_hold = False
    payout.hold_reason = ""
    payout.save(update_fields=["on_hold", "hold_reason", "updated_at"])
    _record(payout, actor=actor, reason="hold released")
    payout_enqueue_send(payout.pk)
    return payout


@transaction.atomic
def payout_retry(*, payout: Payout, actor: str) -> Payout:
    """Try again. A pending payout is sent again (after commit). A failed one is final, and its
    money is back in the worker's earnings, so a retry is a new payout of those earnings, once
    its transfer (if any) is back from the worker's connected account. Returns the payout that
    will be sent."""
    payout = _locked(payout.pk)
    if payout.status == PayoutStatus.PENDING:
        if payout.on_hold:
            raise ApplicationError(
                "payout_on_hold", f"Payout #{payout.pk} is on hold: release it first.", status=409
            )
        _record(payout, actor=actor, reason="retry requested")
        payout_enqueue_send(payout.pk)
        return payout
    if payout.status != PayoutStatus.FAILED:
        raise ApplicationError(
            "not_retryable",
            f"Payout #{payout.pk} is {payout.get_status_display().lower()}: nothing to retry.",
            status=409,
        )
    if payout.stripe_transfer_id and not payout.stripe_transfer_reversal_id:
        raise ApplicationError(
            "transfer_not_reversed",
            f"Payout #{payout.pk}'s transfer has not come back from the worker's Stripe account "
            "yet; retrying now would pay twice.",
            status=409,
        )
    return payout_create(
        worker=payout.worker,
        currency=payout.currency,
        actor=actor,
        reason=f"retry of payout #{payout.pk}",
        retry_of=payout,
    )
