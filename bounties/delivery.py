"""What an agent receives for an accepted submission: a derived photo and a signed receipt.

The original never leaves the server. The derived copy has the orientation applied, bystanders'
faces blurred when the bounty asks for it, and no metadata (EXIF, GPS, XMP, ICC) but the capture
time; the verified location is stated in the signed receipt instead.
"""

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from bounties.models import Receipt, Submission
from bounties.receipts import sign
from verification.image import load_image

RECEIPT_VERSION = 1


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


@transaction.atomic
def delivery_prepare(*, submission: Submission) -> Receipt:
    """Make the derived photo and issue the signed receipt, once per submission (a retried call
    returns the existing receipt)."""
    submission = (
        Submission.objects.select_for_update().select_related("bounty").get(pk=submission.pk)
    )
    existing = Receipt.objects.filter(submission=submission).first()
    if existing is not None:
        return existing
    if not submission.delivered_photo:
        # OpenCV (face blurring) loads here, where a copy is made, not in every process that
        # imports the services (the web must not carry it).
        from verification.delivery_copy import delivery_jpeg

        with submission.photo.open("rb") as original:
            loaded = load_image(original.read())
        derived = delivery_jpeg(
            loaded.image,
            blur_faces_in_copy=submission.bounty.blur_faces,
            captured_at=submission.captured_at,
        )
        submission.delivered_sha256 = hashlib.sha256(derived).hexdigest()
        submission.delivered_photo.save(
            f"{submission.upload_id}.jpg", ContentFile(derived), save=False
        )
        submission.save(update_fields=["delivered_photo", "delivered_sha256"])
    document = _receipt_document(submission)
    signature, key_id = sign(document)
    return Receipt.objects.create(
        submission=submission, document=document, signature=signature, key_id=key_id
    )
