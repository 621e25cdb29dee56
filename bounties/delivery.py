"""What an agent receives for an accepted submission: a derived photo and a signed receipt.

The original never leaves the server. The derived copy has the orientation applied, bystanders'
faces blurred when the bounty asks for it, and no metadata (EXIF, GPS, XMP, ICC) but the capture
time; the verified location is stated in the signed receipt instead.

Made after the verdict has committed, by a task (``bounties.tasks.submission_deliver``), never
under the bounty's lock: decoding, blurring, encoding, the storage write and the signature take
a second or more on a large photo, and claims on the bounty must not wait for them. The data is
*released* when the receipt exists: the photo and receipt endpoints answer ``not_ready`` until
then, and the ``submission.accepted`` webhook is sent at that moment.
"""

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from bounties.disclosure import submission_event_data
from bounties.models import Receipt, Submission, SubmissionStatus
from bounties.receipts import sign
from bounties.webhooks import webhook_event_emit
from verification.image import load_image

logger = logging.getLogger(__name__)

RECEIPT_VERSION = 1
# An accepted submission still without its receipt this long after the verdict lost its task
# (the broker was down at commit, or the retries ran out during a storage outage): the sweep
# enqueues it again. Longer than a task's whole chain of retries (`DELIVERY_TASK`), so a chain
# still running is not doubled.
DELIVERY_STUCK_AFTER = timedelta(minutes=10)
DELIVERY_SWEEP_BATCH = 500


class StorageUnavailable(Exception):
    """Reading the original or writing the copy failed: temporary, the task retries."""


def delivered_photo_name(submission: Submission) -> str:
    """The copy's one storage name: every attempt writes here, so a retry replaces what an
    earlier attempt left instead of adding a second file."""
    return f"submissions/delivered/{submission.upload_id}.jpg"


def _receipt_document(submission: Submission) -> dict[str, Any]:
    facts = submission.facts or {}
    bounty = submission.bounty

    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "version": RECEIPT_VERSION,
        "issuer": settings.SITE_URL,
        "issued_at": timezone.now().isoformat(),
        "submission": submission.pk,
        "bounty": bounty.pk,
        "agent": bounty.agent_id,
        "verdict": submission.status,
        "photo": {
            "sha256": submission.delivered_sha256,
            "original_sha256": submission.photo_sha256,
            "width": facts.get("width"),
            "height": facts.get("height"),
        },
        "captured_at": iso(submission.captured_at),
        "received_at": iso(submission.received_at),
        "decided_at": iso(submission.decided_at),
        "location": {
            "target": {"lat": bounty.lat, "lon": bounty.lon, "radius_m": bounty.radius_m},
            "exif": facts.get("gps"),
            "reported": (
                {
                    "lat": submission.reported_lat,
                    "lon": submission.reported_lon,
                    "accuracy_m": submission.reported_accuracy_m,
                }
                if submission.reported_lat is not None
                else None
            ),
        },
        "checks": submission.checks,
        "model_version": facts.get("model_version"),
    }


def delivery_release(*, submission_id: int) -> Receipt | None:
    """Make the derived photo, then issue the signed receipt and send ``submission.accepted``:
    the data is released. Returns the receipt (None for a submission that is not accepted).

    Safe to run again at any point, concurrently too: one file per submission (written under
    one name, then recorded), one receipt (a one-to-one row, created under the submission's
    lock), one webhook event (emitted with the receipt, in its transaction). Nothing here
    touches the verdict or the ledger: a failure leaves the acceptance and the payment as they
    are, and the task retries. Storage failures raise ``StorageUnavailable``.
    """
    submission = Submission.objects.select_related("bounty").get(pk=submission_id)
    if submission.status != SubmissionStatus.ACCEPTED:
        return None
    existing = Receipt.objects.filter(submission=submission).first()
    if existing is not None:
        return existing
    if not submission.delivered_photo:
        submission = _copy_store(submission)
    return _release(submission)


def _copy_store(submission: Submission) -> Submission:
    """Write the derived copy, then record it on the submission (first record wins)."""
    # OpenCV (face blurring) loads here, where a copy is made, not in every process that
    # imports the services (the web must not carry it).
    from verification.delivery_copy import delivery_jpeg

    try:
        with submission.photo.open("rb") as original:
            data = original.read()
    except Exception as exc:  # each storage backend raises its own types (OSError, botocore)
        raise StorageUnavailable(f"reading the original: {type(exc).__name__}: {exc}") from exc
    derived = delivery_jpeg(
        load_image(data).image,
        blur_faces_in_copy=submission.bounty.blur_faces,
        captured_at=submission.captured_at,
    )
    name = delivered_photo_name(submission)
    _write_replacing(submission.delivered_photo.storage, name, derived)
    Submission.objects.filter(pk=submission.pk, delivered_photo="").update(
        delivered_photo=name, delivered_sha256=hashlib.sha256(derived).hexdigest()
    )
    submission.refresh_from_db(fields=["delivered_photo", "delivered_sha256"])
    return submission


def _write_replacing(storage: Storage, name: str, data: bytes) -> None:
    """Store ``data`` under exactly ``name``, replacing an earlier attempt's file. Storages
    never overwrite (they pick a free name instead), hence the delete first; the copy is a
    pure function of the original, so whichever attempt's bytes end up there are the same."""
    try:
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, ContentFile(data))
        if saved != name:  # a concurrent attempt wrote `name` between our delete and save
            storage.delete(saved)
    except Exception as exc:  # each storage backend raises its own types (OSError, botocore)
        raise StorageUnavailable(f"writing {name}: {type(exc).__name__}: {exc}") from exc


def _release(submission: Submission) -> Receipt:
    document = _receipt_document(submission)
    signature, key_id = sign(document)  # before the lock: the lock only guards the one row
    with transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        existing = Receipt.objects.filter(submission=locked).first()
        if existing is not None:  # a concurrent attempt released it first
            return existing
        receipt = Receipt.objects.create(
            submission=locked, document=document, signature=signature, key_id=key_id
        )
        webhook_event_emit(
            agent=submission.bounty.agent,
            event_type="submission.accepted",
            data=submission_event_data(locked),
        )
    logger.info("submission %s released to agent %s", submission.pk, submission.bounty.agent_id)
    return receipt


def deliveries_unfinished() -> list[int]:
    """Accepted submissions whose data was never released, `DELIVERY_STUCK_AFTER` after the
    verdict: the sweep enqueues their delivery again."""
    cutoff = timezone.now() - DELIVERY_STUCK_AFTER
    return list(
        Submission.objects.filter(
            status=SubmissionStatus.ACCEPTED, receipt__isnull=True, decided_at__lt=cutoff
        )
        .order_by("decided_at")
        .values_list("pk", flat=True)[:DELIVERY_SWEEP_BATCH]
    )
