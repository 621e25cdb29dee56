"""Every write to bounties, claims and submissions, atomic with its ledger postings.

Locking order: bounty row, then claim or submission rows, then (inside the ledger) ledger
accounts in id order. Every transition re-checks the state under the lock and writes an event.

Escrow invariant: a bounty's escrow always holds ``slot_cost`` for each slot that is open,
claimed or awaiting a verdict. Publishing holds ``quantity`` slots; an acceptance releases one
(price to the worker, fee to the platform); closing a bounty (cancel, expiry) refunds the slots
nobody is working on, and a verdict on a closed bounty refunds its slot if it was rejected.
"""

from bounties.models import CLAIM_UPLOAD_GRACE
from bounties.services.bounties import (
    BountySpec,
    bounties_expire_due,
    bounty_cancel,
    bounty_create,
    bounty_expire,
    open_slots,
)
from bounties.services.fulfilment import (
    ReportedLocation,
    claim_create,
    claim_release,
    claims_expire_due,
    submission_create,
    submission_decide,
)

__all__ = [
    "CLAIM_UPLOAD_GRACE",
    "BountySpec",
    "ReportedLocation",
    "bounties_expire_due",
    "bounty_cancel",
    "bounty_create",
    "bounty_expire",
    "claim_create",
    "claim_release",
    "claims_expire_due",
    "open_slots",
    "submission_create",
    "submission_decide",
]
