"""One upload limit (`MAX_UPLOAD_BYTES`) for the web form, the services and the verification
pipeline; and an upload request decodes the photo once."""

import io
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from bounties.models import Bounty, Submission
from bounties.services import claim_create, submission_create
from market.core.errors import ApplicationError
from tests.bounties.photos import DSCN0010_GPS, photo_bytes
from tests.verification.decodes import counting_decodes
from verification.image import ImageRefused, load_image
from verification.pipeline import run_fast_checks
from verification.target import Target

pytestmark = pytest.mark.django_db

PHOTO = photo_bytes("DSCN0010.jpg")  # 158 KB


def _upload(client: Any, bounty: Bounty, data: bytes, name: str = "photo.jpg") -> Any:
    fields = {
        "photo": SimpleUploadedFile(name, data, "image/jpeg"),
        "upload_id": str(uuid.uuid4()),
        "lat": DSCN0010_GPS[0],
        "lon": DSCN0010_GPS[1],
    }
    return client.post(f"/bounties/{bounty.pk}/upload/", fields)


def _integrity(bounty: Bounty, data: bytes) -> dict[str, Any]:
    """The pipeline's integrity result, run as `bounties` runs it: with its default settings."""
    target = Target(
        lat=bounty.lat, lon=bounty.lon, radius_m=bounty.radius_m,
        starts_at=bounty.starts_at, ends_at=bounty.ends_at,
    )  # fmt: skip
    result = run_fast_checks(target=target, received_at=timezone.now(), data=data)
    return result.result("integrity").to_dict()


@pytest.mark.parametrize("limit_kb", [100, 150])
def test_the_form_the_service_and_the_pipeline_refuse_the_same_file(
    settings, worker_client, worker, bounty, limit_kb
):
    settings.MAX_UPLOAD_BYTES = limit_kb * 1024
    claim = claim_create(bounty=bounty, worker=worker)

    response = _upload(worker_client, bounty, PHOTO)
    assert response.status_code == 400
    assert "The file is 0.2 MB; the limit is" in response.content.decode()

    with pytest.raises(ApplicationError) as refused:
        submission_create(
            claim=claim, worker=worker, upload_id=uuid.uuid4(),
            photo=SimpleUploadedFile("photo.jpg", PHOTO), content_type="image/jpeg",
        )  # fmt: skip
    assert (refused.value.code, refused.value.status) == ("photo_too_large", 413)
    assert refused.value.extra == {"field": "photo", "max_bytes": limit_kb * 1024}

    integrity = _integrity(bounty, PHOTO)
    assert integrity["status"] == "failed" and integrity["details"]["code"] == "too_large"
    with pytest.raises(ImageRefused):  # the delivered copy's decode, too
        load_image(PHOTO)
    assert not Submission.objects.exists()


def test_raising_the_limit_raises_it_everywhere(settings, worker_client, worker, bounty):
    settings.MAX_UPLOAD_BYTES = 100 * 1024
    assert _integrity(bounty, PHOTO)["status"] == "failed"
    settings.MAX_UPLOAD_BYTES = 200 * 1024
    assert _integrity(bounty, PHOTO)["status"] == "passed"
    claim_create(bounty=bounty, worker=worker)
    assert _upload(worker_client, bounty, PHOTO).status_code == 302
    assert Submission.objects.get().size_bytes == len(PHOTO)


def test_the_service_counts_the_bytes_rather_than_trusting_the_declared_size(
    settings, worker, bounty
):
    settings.MAX_UPLOAD_BYTES = 100 * 1024
    claim = claim_create(bounty=bounty, worker=worker)
    photo = SimpleUploadedFile("photo.jpg", PHOTO)
    photo.size = 1_000  # a file object that says less than it holds
    with pytest.raises(ApplicationError) as refused:
        submission_create(
            claim=claim, worker=worker, upload_id=uuid.uuid4(), photo=photo,
            content_type="image/jpeg",
        )  # fmt: skip
    assert refused.value.code == "photo_too_large"
    assert not Submission.objects.exists()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((1200, 900), 64).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param(photo_bytes("HMD_Nokia_8.3_5G.jpg"), "image/jpeg", id="9 MP JPEG"),
        pytest.param(_png(), "image/png", id="1 MP PNG"),
    ],
)
def test_an_upload_request_decodes_the_photo_once(
    worker_client, worker, bounty, data, content_type
):
    claim_create(bounty=bounty, worker=worker)
    with counting_decodes() as decodes:
        response = _upload(worker_client, bounty, data)
    assert response.status_code == 302
    assert Submission.objects.get().content_type == content_type
    assert decodes.count == 1
