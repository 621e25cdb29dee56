"""Simulated workers for test mode: an agent's developer can run the whole flow end to end.

A simulated worker "goes" to a test bounty, takes a photo there (a photo from a folder, stamped
with the bounty's location and the current time, as a phone would stamp it) and uploads it
through the same services and verification pipeline as a person.
"""

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from bounties.models import Bounty, BountyStatus, Submission, SubmissionStatus
from bounties.services import (
    ReportedLocation,
    checking,
    claim_create,
    open_slots,
    submission_create,
    submission_decide,
)
from market.accounts.models import Role, User
from market.accounts.services import user_create
from market.core.errors import ApplicationError

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"}
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011


def _rational(value: float) -> tuple[Fraction, Fraction, Fraction]:
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    seconds = Fraction(round((minutes_float - minutes) * 60 * 10_000), 10_000)
    return Fraction(degrees), Fraction(minutes), seconds


def stamp(photo: bytes, *, lat: float, lon: float, taken_at: datetime) -> bytes:
    """The photo re-saved with EXIF GPS at (lat, lon) and capture time ``taken_at`` (UTC)."""
    image = Image.open(io.BytesIO(photo))
    exif = image.getexif()
    exif_ifd = exif.get_ifd(EXIF_IFD)
    exif_ifd[DATETIME_ORIGINAL] = taken_at.astimezone(UTC).strftime("%Y:%m:%d %H:%M:%S")
    exif_ifd[OFFSET_TIME_ORIGINAL] = "+00:00"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), _rational(abs(lat))
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), _rational(abs(lon))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=92, exif=exif.tobytes())
    return buffer.getvalue()


def photos_in(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in PHOTO_SUFFIXES and path.is_file():
            yield path


def simulated_worker(index: int) -> User:
    email = f"simulated-worker-{index}@sightline.test"
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        return existing
    user = user_create(email=email, role=Role.WORKER, display_name=f"Simulated worker {index}")
    User.objects.filter(pk=user.pk).update(is_test_worker=True)
    user.is_test_worker = True
    return user


@dataclass
class Outcome:
    bounty: Bounty
    photo: Path
    submission: Submission | None
    error: str = ""


def simulate(
    *, folder: Path, bounty_ids: list[int] | None = None, approve_reviews: bool = True
) -> list[Outcome]:
    """Fill the open slots of open test bounties with the folder's photos, one photo per
    submission (a photo is used once: the duplicate check would rightly refuse it again).
    With ``approve_reviews``, submissions the pipeline sends to review are approved as an
    operator would, so the agent sees accepted data."""
    bounties = Bounty.objects.filter(status=BountyStatus.OPEN, is_test=True).order_by("pk")
    if bounty_ids:
        bounties = bounties.filter(pk__in=bounty_ids)
    photos = iter(photos_in(folder))
    outcomes: list[Outcome] = []
    worker_index = 0
    for bounty in bounties:
        while open_slots(bounty) > 0:
            photo = next(photos, None)
            if photo is None:
                return outcomes
            worker_index += 1
            worker = simulated_worker(worker_index)
            outcomes.append(_upload(bounty, worker, photo, approve_reviews=approve_reviews))
            bounty.refresh_from_db()
    return outcomes


def _upload(bounty: Bounty, worker: User, photo: Path, *, approve_reviews: bool) -> Outcome:
    try:
        submission = upload_photo(
            bounty=bounty, worker=worker, photo=photo.read_bytes(), name=photo.name,
            approve_reviews=approve_reviews,
        )  # fmt: skip
    except (ApplicationError, OSError, ValueError) as error:
        return Outcome(bounty, photo, None, error=str(error))
    return Outcome(bounty, photo, submission)


def upload_photo(
    *,
    bounty: Bounty,
    worker: User,
    photo: bytes,
    name: str = "photo.jpg",
    taken_at: datetime | None = None,
    approve_reviews: bool = True,
) -> Submission:
    """``worker`` claims a slot of ``bounty`` and uploads ``photo``, stamped with the bounty's
    location and ``taken_at`` (default: now), through the real services. The submission is
    verified before this returns (in this process if no worker has done it yet: verifying twice
    is harmless), and with ``approve_reviews`` approved if the pipeline sends it to review.
    Raises ``ApplicationError`` when the claim or upload is refused."""
    data = stamp(photo, lat=bounty.lat, lon=bounty.lon, taken_at=taken_at or timezone.now())
    with transaction.atomic():
        submission, _ = submission_create(
            claim=claim_create(bounty=bounty, worker=worker), worker=worker,
            upload_id=uuid.uuid4(), content_type="image/jpeg",
            photo=SimpleUploadedFile(name, data, "image/jpeg"),
            location=ReportedLocation(lat=bounty.lat, lon=bounty.lon, accuracy_m=10.0),
        )  # fmt: skip
    submission.refresh_from_db()
    if submission.status in (SubmissionStatus.RECEIVED, SubmissionStatus.VERIFYING):
        submission = checking.submission_verify(submission_id=submission.pk)
    if approve_reviews and submission.status == SubmissionStatus.NEEDS_REVIEW:
        submission = submission_decide(
            submission=submission, accept=True, reasons=["Approved by the simulated reviewer."],
            actor="simulate_workers",
        )  # fmt: skip
    return submission
