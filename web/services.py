"""Writes the website needs that no other app offers yet."""

import logging

from django.db import transaction
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from bounties.services.bounties import bounty_lock, claims_lapse_stale, open_slots
from bounties.services.fulfilment import submission_transition
from market.accounts.models import User
from market.core.errors import ApplicationError

logger = logging.getLogger(__name__)

MAX_APPEAL_NOTE = 1_000


@transaction.atomic
def submission_appeal(*, submission: Submission, worker: User, note: str) -> Submission:
    """The worker asks a person to look again at a rejected photo: REJECTED -> NEEDS_REVIEW.

    Once per submission, only by its worker, and only while the bounty is open with a slot to
    hold for it (the appealed photo holds a slot again until the verdict). Locks the bounty,
    then the submission, the order every bounty service uses.
    """
    bounty = bounty_lock(submission.bounty_id)
    locked = Submission.objects.select_for_update().filter(pk=submission.pk, worker=worker).first()
    if locked is None:
        raise ApplicationError("not_found", "No such submission", status=404)
    if locked.appealed_at is not None:
        raise ApplicationError(
            "already_appealed", "This photo has been appealed already.", status=409
        )
    if locked.status != SubmissionStatus.REJECTED:
        raise ApplicationError("not_rejected", "Only a rejected photo can be appealed.", status=409)
    claims_lapse_stale(bounty, timezone.now())
    if open_slots(bounty) <= 0:
        raise ApplicationError(
            "no_open_slots",
            "This bounty has no open slot left, so the photo can no longer be appealed.",
            status=409,
        )
    note = note.strip()
    if not note:
        raise ApplicationError(
            "note_required", "Say why the photo should be accepted.", extra={"field": "note"}
        )
    if not _storable(note):
        raise ApplicationError(
            "invalid_note",
            "The note has characters that cannot be stored.",
            extra={"field": "note"},
        )
    locked.appealed_at = timezone.now()
    locked.appeal_note = note[:MAX_APPEAL_NOTE]
    locked.save(update_fields=["appealed_at", "appeal_note"])
    submission_transition(
        locked, SubmissionStatus.NEEDS_REVIEW, actor=f"user:{worker.pk}", reason="appealed"
    )
    logger.info("submission %s appealed by user %s", locked.pk, worker.pk)
    return locked


def _storable(text: str) -> bool:
    """PostgreSQL stores neither a NUL nor a lone surrogate (which is not UTF-8)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
