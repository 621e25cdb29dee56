"""Find, a bounty, claim and release, upload, my submissions, appeal, earnings."""

import io
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from bounties.models import Claim, ClaimStatus, Submission, SubmissionStatus
from bounties.services import claim_create, submission_decide
from tests.bounties.helpers import funded_bounty, jpeg_bytes, submit
from tests.bounties.photos import DSCN0010_GPS, photo_bytes
from tests.conftest import make_actor
from tests.factories import RequesterFactory, UserFactory

pytestmark = pytest.mark.django_db

HERE = {"lat": DSCN0010_GPS[0] + 0.001, "lon": DSCN0010_GPS[1]}


def test_find_asks_for_a_place_before_listing(client) -> None:
    response = client.get("/find/")
    assert response.status_code == 200
    assert b"Use my location" in response.content
    assert b"leaflet.js" not in response.content  # no map, no map script


def test_find_lists_open_bounties_nearest_first_with_pay_distance_and_slots(
    client, owner, bounty
) -> None:
    farther = funded_bounty(
        owner.agent, lat=DSCN0010_GPS[0] + 0.02, lon=DSCN0010_GPS[1], title="Farther"
    )
    page = client.get("/find/", HERE).content.decode()
    assert page.index(bounty.title) < page.index(farther.title)
    assert "4.00 USD" in page and "111 m" in page and "2 of 2 left" in page
    assert "min left" in page or "h " in page
    assert 'id="map"' in page and "vendor/leaflet/leaflet.js" in page


def test_without_a_tile_server_there_is_no_map_but_the_list_stays(client, bounty, settings):
    settings.MAP_TILE_URL = ""
    page = client.get("/find/", HERE).content.decode()
    assert 'id="map"' not in page and "leaflet" not in page
    assert bounty.title in page


def test_find_takes_a_typed_place_and_filters_by_distance_and_pay(client, owner, bounty) -> None:
    rich = funded_bounty(owner.agent, lat=DSCN0010_GPS[0], lon=DSCN0010_GPS[1] + 0.05,
                         price_minor=2_000, title="Far and rich")  # fmt: skip
    place = f"{HERE['lat']}, {HERE['lon']}"
    near_only = client.get("/find/", {"place": place, "within_km": 1}).content.decode()
    assert bounty.title in near_only and rich.title not in near_only
    rich_only = client.get("/find/", {"place": place, "min_pay": "10"}).content.decode()
    assert rich.title in rich_only and bounty.title not in rich_only


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"place": "somewhere nice"}, "Type a latitude and longitude"),
        ({"place": "91, 0"}, "Type a latitude and longitude"),
        ({"lat": "10", "lon": "10", "within_km": "500"}, "less than or equal to 50"),
        ({"lat": "10", "lon": "10", "min_pay": "-1"}, "greater than or equal to 0"),
    ],
)
def test_find_explains_bad_input(client, query, message) -> None:
    response = client.get("/find/", query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_test_workers_see_only_test_bounties_and_others_only_live(client, bounty) -> None:
    test_agent = make_actor(is_test=True).agent
    test_bounty = funded_bounty(test_agent, lat=HERE["lat"], lon=HERE["lon"], title="Test one")
    client.force_login(UserFactory(is_test_worker=True))
    page = client.get("/find/", HERE).content.decode()
    assert test_bounty.title in page and bounty.title not in page
    assert client.get(f"/bounties/{bounty.pk}/").status_code == 404
    client.force_login(UserFactory())
    page = client.get("/find/", HERE).content.decode()
    assert bounty.title in page and test_bounty.title not in page
    assert client.get(f"/bounties/{test_bounty.pk}/").status_code == 404


def test_the_bounty_page_shows_what_to_shoot_and_asks_to_log_in(client, bounty) -> None:
    page = client.get(f"/bounties/{bounty.pk}/").content.decode()
    assert bounty.verify in page and "4.00 USD" in page and "2 of 2 left" in page
    assert "Log in</a> or" in page


def test_a_worker_claims_then_releases(worker_client, worker, bounty) -> None:
    assert (
        "holds a slot for you for 30 minutes"
        in worker_client.get(f"/bounties/{bounty.pk}/").content.decode()
    )
    response = worker_client.post(f"/bounties/{bounty.pk}/claim/")
    assert response.status_code == 302 and response["Location"] == f"/bounties/{bounty.pk}/upload/"
    claim = Claim.objects.get(bounty=bounty, worker=worker)
    page = worker_client.get(f"/bounties/{bounty.pk}/").content.decode()
    assert 'id="countdown"' in page and "Release the slot" in page
    worker_client.post(f"/bounties/{bounty.pk}/release/")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.RELEASED


def test_a_refused_claim_says_why(worker_client, worker, owner) -> None:
    full = funded_bounty(owner.agent, lat=HERE["lat"], lon=HERE["lon"], quantity=1)
    claim_create(bounty=full, worker=UserFactory())
    response = worker_client.post(f"/bounties/{full.pk}/claim/", follow=True)
    assert "Every slot of this bounty is taken" in response.content.decode()
    assert not Claim.objects.filter(worker=worker).exists()


def test_requesters_cannot_claim(client, bounty) -> None:
    client.force_login(RequesterFactory())
    assert client.post(f"/bounties/{bounty.pk}/claim/").status_code == 403


def _upload(client, bounty, data: bytes, *, upload_id: uuid.UUID | None = None, **extra: Any):
    fields = {
        "photo": SimpleUploadedFile("photo.jpg", data, "image/jpeg"),
        "upload_id": str(upload_id or uuid.uuid4()),
        **HERE,
        "accuracy_m": "12",
        **extra,
    }
    return client.post(f"/bounties/{bounty.pk}/upload/", fields)


def test_the_upload_page_needs_a_claim(worker_client, bounty) -> None:
    response = worker_client.get(f"/bounties/{bounty.pk}/upload/")
    assert response.status_code == 302 and response["Location"] == f"/bounties/{bounty.pk}/"


def test_the_upload_form_opens_the_camera(worker_client, worker, bounty) -> None:
    claim_create(bounty=bounty, worker=worker)
    page = worker_client.get(f"/bounties/{bounty.pk}/upload/").content.decode()
    assert 'capture="environment"' in page and 'accept="image/*,.heic,.heif"' in page
    assert 'name="upload_id"' in page and "<progress" in page


def test_an_upload_creates_one_submission_even_when_retried(worker_client, worker, bounty) -> None:
    claim_create(bounty=bounty, worker=worker)
    upload_id = uuid.uuid4()
    first = _upload(worker_client, bounty, photo_bytes("DSCN0010.jpg"), upload_id=upload_id)
    assert first.status_code == 302 and first["Location"].startswith("/submissions/#submission-")
    again = _upload(worker_client, bounty, photo_bytes("DSCN0010.jpg"), upload_id=upload_id)
    assert again.status_code == 302 and again["Location"] == first["Location"]
    submission = Submission.objects.get(worker=worker)
    assert submission.upload_id == upload_id and submission.content_type == "image/jpeg"
    assert submission.reported_accuracy_m == 12
    assert submission.reported_lat == pytest.approx(HERE["lat"])
    assert submission.claim.status == ClaimStatus.SUBMITTED


def test_an_upload_by_script_gets_json(worker_client, worker, bounty) -> None:
    claim_create(bounty=bounty, worker=worker)
    upload_id = uuid.uuid4()
    headers = {"HTTP_ACCEPT": "application/json"}
    first = worker_client.post(
        f"/bounties/{bounty.pk}/upload/",
        {"photo": SimpleUploadedFile("p.jpg", jpeg_bytes()), "upload_id": str(upload_id)},
        **headers,
    )
    assert first.status_code == 201 and first.json()["redirect"].startswith("/submissions/")
    retry = worker_client.post(
        f"/bounties/{bounty.pk}/upload/",
        {"photo": SimpleUploadedFile("p.jpg", jpeg_bytes()), "upload_id": str(upload_id)},
        **headers,
    )
    assert retry.status_code == 200 and retry.json() == first.json()
    assert Submission.objects.filter(worker=worker).count() == 1
    bad = worker_client.post(
        f"/bounties/{bounty.pk}/upload/",
        {
            "photo": SimpleUploadedFile("p.jpg", b"GIF89a" + b"\0" * 64),
            "upload_id": str(uuid.uuid4()),
        },
        **headers,
    )
    assert bad.status_code == 400
    assert "not a photo we accept" in bad.json()["errors"]["photo"][0]["message"]


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"%PDF-1.7 not a photo at all", "not a photo we accept"),
        (photo_bytes("corrupted.jpg"), "The JPEG file is damaged"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "damaged"),
        (_png(8_000, 7_000), "megapixels; the limit for PNG and WebP images is 16"),
    ],
)
def test_bad_files_get_a_message_next_to_the_field(worker_client, worker, bounty, data, message):
    claim_create(bounty=bounty, worker=worker)
    response = _upload(worker_client, bounty, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Submission.objects.exists()


def test_a_file_over_the_size_limit_gets_a_message(worker_client, worker, bounty, settings):
    settings.MAX_UPLOAD_BYTES = 100 * 1024
    claim_create(bounty=bounty, worker=worker)
    response = _upload(worker_client, bounty, photo_bytes("DSCN0010.jpg"))
    assert response.status_code == 400
    assert "The file is 0.2 MB; the limit is 0.1 MB." in response.content.decode()


def test_heif_is_accepted(worker_client, worker, bounty) -> None:
    claim_create(bounty=bounty, worker=worker)
    response = _upload(worker_client, bounty, photo_bytes("HMD_Nokia_8.3_5G.heif"))
    assert response.status_code == 302
    assert Submission.objects.get(worker=worker).content_type == "image/heif"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"upload_id": "not-a-uuid"}, "upload id is damaged"),
        ({"lat": "95"}, "impossible position"),
        ({"note": "x" * 1001}, "at most 1000 characters"),
    ],
)
def test_bad_fields_get_messages(worker_client, worker, bounty, extra, message) -> None:
    claim_create(bounty=bounty, worker=worker)
    response = _upload(worker_client, bounty, jpeg_bytes(), **extra)
    assert response.status_code == 400 and message in response.content.decode()


def test_an_upload_without_a_live_claim_is_refused_with_a_message(
    worker_client, worker, bounty
) -> None:
    response = _upload(worker_client, bounty, jpeg_bytes())
    assert response.status_code == 409
    assert "Claim this bounty before uploading" in response.content.decode()
    claim = claim_create(bounty=bounty, worker=worker)
    Claim.objects.filter(pk=claim.pk).update(status=ClaimStatus.RELEASED)
    response = _upload(worker_client, bounty, jpeg_bytes())
    assert response.status_code == 409 and "claim the bounty again" in response.content.decode()


def test_my_submissions_poll_while_checking_and_show_checks_and_reasons(
    worker_client, worker, bounty
) -> None:
    pending = submit(bounty, worker)
    page = worker_client.get("/submissions/").content.decode()
    assert f'hx-get="/submissions/{pending.pk}/"' in page and 'hx-trigger="every 3s"' in page
    assert "django_htmx/htmx-2.min.js" in page
    Submission.objects.filter(pk=pending.pk).update(
        checks=[{"name": "location", "status": "failed", "score": None,
                 "reason": "The photo was taken 900 m from the spot."}],
    )  # fmt: skip
    submission_decide(submission=pending, accept=False, reasons=["Too far."], actor="test")
    card = worker_client.get(f"/submissions/{pending.pk}/").content.decode()
    assert "hx-trigger" not in card
    assert "Rejected" in card and "Too far." in card and "900 m from the spot" in card
    assert "Appeal (once)" in card


def test_other_workers_submissions_are_not_found(client, worker, bounty) -> None:
    theirs = submit(bounty, worker)
    client.force_login(UserFactory())
    assert client.get(f"/submissions/{theirs.pk}/").status_code == 404
    assert client.post(f"/submissions/{theirs.pk}/appeal/", {"note": "mine"}).status_code == 404
    assert str(theirs.bounty.title) not in client.get("/submissions/").content.decode()


def test_an_appeal_sends_a_rejected_photo_to_review_once(worker_client, worker, bounty) -> None:
    submission = submit(bounty, worker)
    submission_decide(submission=submission, accept=False, reasons=["Blurry."], actor="test")
    response = worker_client.post(
        f"/submissions/{submission.pk}/appeal/",
        {"note": "It is sharp on my phone"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Appeal sent" in response.content.decode()
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.NEEDS_REVIEW
    assert submission.appeal_note == "It is sharp on my phone" and submission.appealed_at
    assert submission.events.latest("id").new_status == SubmissionStatus.NEEDS_REVIEW


def test_a_bad_appeal_is_explained(worker_client, worker, bounty) -> None:
    submission = submit(bounty, worker)
    submission_decide(submission=submission, accept=False, reasons=["Blurry."], actor="test")
    empty = worker_client.post(
        f"/submissions/{submission.pk}/appeal/", {"note": ""}, HTTP_HX_REQUEST="true"
    )
    assert empty.status_code == 400 and "Say why" in empty.content.decode()
    followed = worker_client.post(
        f"/submissions/{submission.pk}/appeal/", {"note": ""}, follow=True
    )
    assert "Say why" in followed.content.decode()


def test_earnings_show_available_pending_and_paid(worker_client, worker, bounty) -> None:
    accepted = submit(bounty, worker)
    submission_decide(submission=accepted, accept=True, reasons=["ok"], actor="test")
    other = funded_bounty(bounty.agent, lat=HERE["lat"], lon=HERE["lon"], price_minor=700)
    submit(other, worker)
    page = worker_client.get("/earnings/").content.decode()
    assert "4.00 USD" in page  # available
    assert "7.00 USD" in page  # pending
    assert "Payouts start at 10.00 USD" in page and "Pay me now" not in page
    assert "/earnings/payouts/setup/" in page


def test_pay_me_now_below_the_minimum_says_so(worker_client, worker, bounty) -> None:
    response = worker_client.post("/earnings/pay-now/", {"currency": "usd"}, follow=True)
    assert "Payouts start at 10.00 USD" in response.content.decode()
    response = worker_client.post("/earnings/pay-now/", {"currency": "xyz"}, follow=True)
    assert "not supported" in response.content.decode()


def test_pay_me_now_requests_a_payout_above_the_minimum(
    worker_client, worker, owner, settings
) -> None:
    settings.PAYOUT_MINIMUM_MINOR = 300
    rich = funded_bounty(owner.agent, lat=HERE["lat"], lon=HERE["lon"], price_minor=500)
    submission_decide(submission=submit(rich, worker), accept=True, reasons=["ok"], actor="t")
    assert "Pay me now" in worker_client.get("/earnings/").content.decode()
    response = worker_client.post("/earnings/pay-now/", {"currency": "usd"}, follow=True)
    page = response.content.decode()
    assert "Payout of 5.00 USD requested." in page
    assert worker.payouts.count() == 1 and "Pending" in page


def test_worker_pages_are_for_workers(client) -> None:
    client.force_login(RequesterFactory())
    for url in ("/submissions/", "/earnings/"):
        assert client.get(url).status_code == 403
    assert client.post("/earnings/pay-now/").status_code == 403
