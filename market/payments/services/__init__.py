"""Every write of the payments app. One module per concern; import from here."""

from market.payments.services.checkout import (
    checkout_session_complete,
    checkout_session_create,
    checkout_session_expire,
)
from market.payments.services.connect import (
    connected_account_get_or_create,
    connected_account_onboarding_link,
    connected_account_sync,
)
from market.payments.services.payouts import (
    payout_create,
    payout_failure_notify,
    payout_hold,
    payout_mark_failed,
    payout_mark_paid,
    payout_note_waiting,
    payout_release,
    payout_request,
    payout_retry,
    payout_send,
    payout_transfer_reverse,
    payouts_sweep,
)
from market.payments.services.reconciliation import reconcile_stripe
from market.payments.services.webhooks import stripe_event_process

__all__ = [
    "checkout_session_complete",
    "checkout_session_create",
    "checkout_session_expire",
    "connected_account_get_or_create",
    "connected_account_onboarding_link",
    "connected_account_sync",
    "payout_create",
    "payout_failure_notify",
    "payout_hold",
    "payout_mark_failed",
    "payout_mark_paid",
    "payout_note_waiting",
    "payout_release",
    "payout_request",
    "payout_retry",
    "payout_send",
    "payout_transfer_reverse",
    "payouts_sweep",
    "reconcile_stripe",
    "stripe_event_process",
]
