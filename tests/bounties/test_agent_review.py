"""Agents judge what they buy (issue 13): routing to the agent, the queue, the preview, accept
and reject through the API, silence until the deadline, fair use and its cooling period."""

import io
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client, TestCase
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from bounties.models import (
    Bounty,
    BountyStatus,
    Reviewer,
    ReviewMode,
    Submission,
    SubmissionStatus,
    WebhookDelivery,
)
from bounties.selectors import agent_review_stats
from bounties.services import (
    ReportedLocation,
    bounty_cancel,
    checking,
    claim_create,
    submission_create,
)
from bounties.services.review import (
    agents_review_cooling_refresh,
    review_reason_check,
    submission_preview_make,
    submission_review_decide,
    submission_review_route,
    submissions_preview_missing,
)
from bounties.webhooks import webhook_endpoint_create
from market.accounts.models import Scope
from market.accounts.services import api_key_create
from market.core.errors import ApplicationError
from market.ledger.models import AccountKind, LedgerAccount, Transaction, TransactionKind
from market.ledger.services import escrow_owner, wallet_credit_test_funds
from tests.bounties.helpers import funded_bounty, submit
from tests.bounties.photos import DSCN0010_GPS, with_capture_time
from tests.concurrency import run_concurrently
from tests.conftest import Actor, make_actor
from tests.factories import OperatorFactory, UserFactory
from tests.ledger.helpers import assert_books_are_right
from web.services import submission_appeal

pytestmark = pytest.mark.django_db

BOUNTIES = "/api/v1/bounties/"
SUBMISSIONS = "/api/v1/submissions/"
ME = "/api/v1/me/"
REASON = "The queue is not in the photo, only an empty pavement."
WORKER_NOTE = "private note: I live round the corner"


def url(submission: Submission, action: str) -> str:
    return f"{SUBMISSIONS}{submission.pk}/{action}/"


def check(name: str, status: str = "passed", score: float | None = None) -> dict[str, Any]:
    return {"name": name, "status": status, "score": score, "reason": f"{name}: {status}"}


def all_checks(**replaced: dict[str, Any]) -> list[dict[str, Any]]:
    names = ("integrity", "location", "time", "duplicates", "relevance", "safety", "provenance")
    return [replaced.get(name, check(name)) for name in names]


def routed(
    bounty: Bounty, *, checks: list[dict[str, Any]] | None = None, worker: Any = None
) -> Submission:
    """A new worker's photo whose checks ran and need a judgment, routed as verification routes
    it (``checking._apply``'s needs-review branch), its callbacks run."""
    submission = submit(bounty, worker or UserFactory())
    checks = checks or all_checks(relevance=check("relevance", "skipped"))
    Submission.objects.filter(pk=submission.pk).update(
        checks=checks, status=SubmissionStatus.VERIFYING, note=WORKER_NOTE,
        reported_lat=bounty.lat + 0.0003, reported_lon=bounty.lon, reported_accuracy_m=12,
        facts={"gps": {"lat": bounty.lat + 0.0003, "lon": bounty.lon}},
        captured_at=timezone.now() - timedelta(minutes=3),
    )  # fmt: skip
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        locked = Submission.objects.select_for_update().get(pk=submission.pk)
        submission_review_route(
            submission=locked,
            reasons=["Photos from new workers are checked by a person."],
            checks_clean=checking.checks_clean(checks),
        )
    submission.refresh_from_db()
    return submission


@pytest.fixture
def no_webhook_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries are recorded, never sent (no network in tests)."""
    monkeypatch.setattr("bounties.webhooks._enqueue", lambda ids: None)


@pytest.fixture
def reviewing(owner: Actor) -> Bounty:
    """The owner's bounty, reviewed by the owner's agent (as posting it with the scope does)."""
    return funded_bounty(owner.agent, review=ReviewMode.AGENT, quantity=5)


def released_for(submission: Submission) -> int:
    return Transaction.objects.filter(
        kind=TransactionKind.ESCROW_RELEASE, reference=f"submission:{submission.pk}"
    ).count()


def earnings(worker: Any) -> int:
    account = LedgerAccount.objects.filter(
        kind=AccountKind.WORKER_EARNINGS, owner=f"user:{worker.pk}"
    ).first()
    return account.balance_minor if account else 0


def fresh(name: str) -> bytes:
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=2)
    return with_capture_time(name, local)


def upload(bounty: Bounty, data: bytes) -> Submission:
    """An upload by a new worker on the spot, verified in-process (tasks run eagerly)."""
    worker = UserFactory()
    with TestCase.captureOnCommitCallbacks(execute=True):
        submission, _ = submission_create(
            claim=claim_create(bounty=bounty, worker=worker), worker=worker,
            upload_id=uuid.uuid4(), content_type="image/jpeg", note=WORKER_NOTE,
            photo=SimpleUploadedFile("p.jpg", data, "image/jpeg"),
            location=ReportedLocation(lat=DSCN0010_GPS[0], lon=DSCN0010_GPS[1], accuracy_m=20),
        )  # fmt: skip
    submission.refresh_from_db()
    return submission


# --- The whole path through the API -----------------------------------------------------------


def test_the_whole_review_path_through_the_api(owner: Actor, no_webhook_sending: None) -> None:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=100_000, idempotency_key="f")
    webhook_endpoint_create(agent=owner.agent, url="https://agent.example.com/hooks")
    client = owner.client()
    now = timezone.now()
    posted = client.post(
        BOUNTIES,
        {
            "title": "The fountain",
            "verify": "a stone fountain",
            "lat": DSCN0010_GPS[0],
            "lon": DSCN0010_GPS[1],
            "radius_m": 100,
            "price": 400,
            "currency": "usd",
            "quantity": 2,
            "ends_at": (now + timedelta(hours=2)).isoformat(),
        },
        format="json",
    )
    assert posted.status_code == 201, posted.content
    assert posted.json()["review"] == "agent"  # the key has submissions:review
    bounty = Bounty.objects.get(pk=posted.json()["id"])

    first = upload(bounty, fresh("DSCN0010.jpg"))
    second = upload(bounty, fresh("DSCN0012.jpg"))
    for submission in (first, second):
        assert submission.status == SubmissionStatus.NEEDS_REVIEW, submission.reasons
        assert submission.review_by == Reviewer.AGENT and submission.preview  # made by its task

    queue = client.get(SUBMISSIONS, {"status": "needs_review"})
    assert queue.status_code == 200
    listed = queue.json()["results"]
    assert [item["id"] for item in listed] == [first.pk, second.pk]  # the oldest first
    item = listed[0]
    assert item["review_by"] == "agent"
    assert first.review_started_at is not None
    deadline = first.review_started_at + bounty.auto_approve_after
    assert item["review_deadline"] == deadline.isoformat().replace("+00:00", "Z")
    assert 0 <= item["distance_m"] < 100 and item["captured_at"] is not None
    assert {check["name"] for check in item["checks"]} >= {"location", "time", "relevance"}
    location = next(check for check in item["checks"] if check["name"] == "location")
    assert location["score"] is not None  # as stored, not withheld
    assert item["location"] is None and item["note"] == "" and item["photo_url"] is None
    assert item["preview_url"].endswith(url(first, "preview"))
    assert WORKER_NOTE not in queue.content.decode()
    assert first.worker.email not in queue.content.decode()

    preview = client.get(url(first, "preview"))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg"
    streamed = b"".join(preview.streaming_content)  # type: ignore[attr-defined]
    assert max(Image.open(io.BytesIO(streamed)).size) <= 512

    [event] = WebhookDelivery.objects.filter(event_type="submission.needs_review").filter(
        payload__data__object__id=first.pk
    )
    assert event.payload["data"]["object"]["review_deadline"]

    rejected = client.post(url(first, "reject"), {"reason": f"  {REASON}  "}, format="json")
    assert rejected.status_code == 200, rejected.content
    assert rejected.json()["status"] == "rejected" and rejected.json()["reasons"] == [REASON]
    accepted = client.post(url(second, "accept"), {}, format="json")
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "accepted"

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.reasons == [REASON]  # what the worker reads
    assert first.events.get(new_status="rejected").actor == f"agent:{owner.agent.pk}"
    assert (first.agent_verdict, second.agent_verdict) == ("rejected", "accepted")
    assert released_for(first) == 0 and released_for(second) == 1
    assert earnings(second.worker) == bounty.price_minor
    assert client.get(SUBMISSIONS, {"status": "needs_review"}).json()["results"] == []
    assert_books_are_right()


def test_the_queue_is_oldest_first_and_holds_only_what_waits_for_the_agent(
    owner: Actor, reviewing: Bounty
) -> None:
    newer, older, decided = routed(reviewing), routed(reviewing), routed(reviewing)
    Submission.objects.filter(pk=older.pk).update(
        review_started_at=timezone.now() - timedelta(hours=3)
    )
    submission_review_decide(submission=decided, agent=owner.agent, accept=True)
    operators = routed(funded_bounty(owner.agent, review=ReviewMode.OPERATOR))

    response = owner.client().get(SUBMISSIONS, {"status": "needs_review", "page_size": "1"})
    assert [item["id"] for item in response.json()["results"]] == [older.pk]
    following = owner.client().get(response.json()["next"])
    assert [item["id"] for item in following.json()["results"]] == [newer.pk]
    assert following.json()["next"] is None

    # Not the agent's to judge: no distance, no time, the location check withheld, no preview.
    shown = owner.client().get(f"{SUBMISSIONS}{operators.pk}/").json()
    assert shown["review_by"] == "operator" and shown["review_deadline"] is not None
    assert shown["distance_m"] is None and shown["captured_at"] is None
    assert shown["preview_url"] is None
    location = next(check for check in shown["checks"] if check["name"] == "location")
    assert location["score"] is None
    assert owner.client().get(url(operators, "preview")).json()["code"] == "no_preview"


def test_the_default_review_follows_the_scope_of_the_posting_key(owner: Actor) -> None:
    wallet_credit_test_funds(agent=owner.agent, amount_minor=100_000, idempotency_key="f")
    _, plain_key = api_key_create(
        agent=owner.agent, scopes=[Scope.BOUNTIES_READ, Scope.BOUNTIES_WRITE]
    )
    plain = Client(HTTP_AUTHORIZATION=f"Bearer {plain_key}")
    now = timezone.now()
    payload = {
        "title": "t", "verify": "v", "lat": 1.0, "lon": 1.0, "radius_m": 100, "price": 100,
        "currency": "usd", "quantity": 1, "ends_at": (now + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    answer = plain.post(BOUNTIES, payload, content_type="application/json")
    assert answer.status_code == 201 and answer.json()["review"] == "operator"
    chosen = owner.client().post(BOUNTIES, payload | {"review": "auto"}, format="json")
    assert chosen.json()["review"] == "auto"
    assert Bounty.objects.get(pk=chosen.json()["id"]).review == ReviewMode.AUTO
    wrong = owner.client().post(BOUNTIES, payload | {"review": "worker"}, format="json")
    assert wrong.status_code == 400


# --- The preview ------------------------------------------------------------------------------


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _photo_with_everything(size: tuple[int, int], color: Any = None) -> bytes:
    """A large photo with EXIF (GPS, camera), XMP and an ICC profile."""
    if color is None:
        pixels = Image.effect_noise(size, 80).convert("RGB")
    else:
        pixels = Image.new("RGB", size, color)
    exif = Image.open(io.BytesIO(fresh("DSCN0010.jpg"))).getexif()
    buffer = io.BytesIO()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><secret>worker-device</secret></x:xmpmeta>'
    pixels.save(buffer, "JPEG", quality=95, exif=exif.tobytes(), icc_profile=_srgb_icc(), xmp=xmp)
    return buffer.getvalue()


def _with_photo(submission: Submission, data: bytes) -> Submission:
    submission.photo.save(f"{uuid.uuid4()}.jpg", SimpleUploadedFile("p.jpg", data), save=True)
    Submission.objects.filter(pk=submission.pk).update(preview="")
    submission.refresh_from_db()
    return submission


def test_the_preview_has_no_metadata_and_no_full_resolution_pixels(reviewing: Bounty) -> None:
    original = _photo_with_everything((1600, 1200))
    assert b"Exif" in original and b"ICC_PROFILE" in original and b"xmpmeta" in original
    submission = _with_photo(routed(reviewing), original)

    assert submission_preview_make(submission_id=submission.pk) is True
    assert submission_preview_make(submission_id=submission.pk) is False  # made once

    submission.refresh_from_db()
    data = submission.preview.read()
    for marker in (b"Exif", b"ICC_PROFILE", b"xmpmeta", b"http://ns.adobe.com", b"GPS"):
        assert marker not in data, marker
    preview = Image.open(io.BytesIO(data))
    assert preview.format == "JPEG" and max(preview.size) == 512
    assert preview.size == (512, 384)  # the aspect kept, a third of each side
    assert not preview.getexif() and not {"icc_profile", "xmp", "exif"} & set(preview.info)


def test_the_preview_is_visibly_marked(reviewing: Bounty) -> None:
    white = _with_photo(routed(reviewing), _photo_with_everything((1200, 900), (255, 255, 255)))
    submission_preview_make(submission_id=white.pk)
    white.refresh_from_db()
    preview = Image.open(io.BytesIO(white.preview.read())).convert("L")
    height = preview.size[1]

    def gray(xy: tuple[int, int]) -> int:
        value = preview.getpixel(xy)
        assert isinstance(value, int)
        return value

    assert gray((4, 4)) > 240  # untouched away from the band
    assert gray((4, height // 2)) < 180  # the band across the middle


def test_the_preview_blurs_faces_whatever_the_bounty_asks(
    owner: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounty = funded_bounty(owner.agent, review=ReviewMode.AGENT, blur_faces=False)
    submission = _with_photo(routed(bounty), _photo_with_everything((1024, 768)))
    # A "face" in the top-left quarter (the detector's answer is the boundary faked here).
    monkeypatch.setattr(
        "verification.delivery_copy.detect_faces", lambda image: [(40, 40, 300, 200)]
    )
    submission_preview_make(submission_id=submission.pk)
    submission.refresh_from_db()
    preview = Image.open(io.BytesIO(submission.preview.read())).convert("L")

    def spread(box: tuple[int, int, int, int]) -> float:
        values = list(preview.crop(box).getdata())
        mean = sum(values) / len(values)
        return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5

    assert spread((40, 40, 140, 90)) < spread((400, 40, 500, 90)) / 3  # face vs noise


def test_the_preview_answers_not_ready_until_made(owner: Actor, reviewing: Bounty) -> None:
    submission = routed(reviewing)
    Submission.objects.filter(pk=submission.pk).update(preview="")
    response = owner.client().get(url(submission, "preview"))
    assert response.status_code == 409
    assert response.json()["code"] == "not_ready" and response.json()["retry_after"] > 0
    Submission.objects.filter(pk=submission.pk).update(
        review_started_at=timezone.now() - timedelta(minutes=5)
    )
    assert submissions_preview_missing() == [submission.pk]  # the sweep makes it again


# --- Who may ----------------------------------------------------------------------------------


def test_a_key_without_the_review_scope_gets_403(owner: Actor, reviewing: Bounty) -> None:
    submission = routed(reviewing)
    _, key = api_key_create(agent=owner.agent, scopes=[Scope.BOUNTIES_READ, Scope.BOUNTIES_WRITE])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    answers = [
        client.get(url(submission, "preview")),
        client.post(url(submission, "accept"), {}, content_type="application/json"),
        client.post(url(submission, "reject"), {"reason": REASON}, content_type="application/json"),
    ]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert {a.json()["code"] for a in answers} == {"insufficient_scope"}
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW
    assert client.get(ME).json()["review_mode"] == "operator"


def test_another_agent_gets_404(reviewing: Bounty, teammate: Actor, outsider: Actor) -> None:
    submission = routed(reviewing)
    for other in (teammate, outsider):
        client = other.client()
        assert client.get(url(submission, "preview")).status_code == 404
        assert client.post(url(submission, "accept"), {}, format="json").status_code == 404
        assert (
            client.post(url(submission, "reject"), {"reason": REASON}, format="json").status_code
            == 404
        )
        assert client.get(SUBMISSIONS, {"status": "needs_review"}).json()["results"] == []
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW
    assert released_for(submission) == 0


# --- Deciding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": "   no  "}, {"reason": "x" * 501}, {"reason": "bad\x00text"}],
    ids=["missing", "empty", "short-after-strip", "too-long", "nul"],
)
def test_a_rejection_needs_a_clean_reason(
    owner: Actor, reviewing: Bounty, body: dict[str, str]
) -> None:
    submission = routed(reviewing)
    response = owner.client().post(url(submission, "reject"), body, format="json")
    assert response.status_code == 400, response.content
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW


@hypothesis_settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")), deadline=None)
@given(st.text(max_size=600))
def test_a_reason_is_either_clean_and_bounded_or_refused(reason: str) -> None:
    try:
        kept = review_reason_check(reason)
    except ApplicationError as error:
        assert error.extra["errors"].keys() == {"reason"}
        return
    assert kept == reason.strip() and 5 <= len(kept) <= 500
    assert "\x00" not in kept
    kept.encode("utf-8")  # no lone surrogate


def test_deciding_twice_the_same_way_changes_nothing_and_the_other_way_is_409(
    owner: Actor, reviewing: Bounty
) -> None:
    submission = routed(reviewing)
    client = owner.client()
    first = client.post(url(submission, "accept"), {}, format="json")
    again = client.post(url(submission, "accept"), {}, format="json")
    other = client.post(url(submission, "reject"), {"reason": REASON}, format="json")
    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 409)
    assert other.json()["code"] == "already_decided"
    assert released_for(submission) == 1
    assert submission.events.filter(new_status=SubmissionStatus.ACCEPTED).count() == 1


def test_an_idempotency_key_replays_the_decision(owner: Actor, reviewing: Bounty) -> None:
    submission = routed(reviewing)
    client = owner.client()
    headers = {"Idempotency-Key": "decide-1"}
    first = client.post(
        url(submission, "reject"), {"reason": REASON}, format="json", headers=headers
    )
    replay = client.post(
        url(submission, "reject"), {"reason": REASON}, format="json", headers=headers
    )
    assert first.status_code == replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert submission.events.filter(new_status=SubmissionStatus.REJECTED).count() == 1


def test_an_idempotency_key_replays_an_acceptance_with_its_dates(
    owner: Actor, reviewing: Bounty
) -> None:
    """An accepted submission's answer carries datetimes: stored as rendered, replayed the same."""
    submission = routed(reviewing)
    client = owner.client()
    headers = {"Idempotency-Key": "accept-1"}
    first = client.post(url(submission, "accept"), {}, format="json", headers=headers)
    replay = client.post(url(submission, "accept"), {}, format="json", headers=headers)
    assert first.status_code == replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true" and replay.json() == first.json()
    assert released_for(submission) == 1


def test_a_submission_not_waiting_for_the_agent_is_409(owner: Actor) -> None:
    bounty = funded_bounty(owner.agent, review=ReviewMode.OPERATOR)
    with_operators = routed(bounty)
    verifying = submit(bounty, UserFactory())
    for submission in (with_operators, verifying):
        answer = owner.client().post(url(submission, "accept"), {}, format="json")
        assert answer.status_code == 409 and answer.json()["code"] == "not_awaiting_review"


@pytest.mark.django_db(transaction=True)
def test_concurrent_accept_and_reject_give_one_decision_and_one_posting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Committed at once here: the upload's own verification is left out (`routed` stands in).
    monkeypatch.setattr("bounties.services.fulfilment._enqueue_verification", lambda pk: None)
    actor = make_actor()
    bounty = funded_bounty(actor.agent, review=ReviewMode.AGENT, quantity=1)
    submission = routed(bounty)
    # A closed bounty: either verdict moves the slot's money once (a release or a refund).
    bounty_cancel(bounty=bounty, actor="test")

    def decide(index: int) -> tuple[str, int]:
        client = actor.client()
        if index % 2:
            return "reject", client.post(
                url(submission, "reject"), {"reason": REASON}, format="json"
            ).status_code
        return "accept", client.post(url(submission, "accept"), {}, format="json").status_code

    results, errors = run_concurrently(decide, threads=10)
    assert not errors, errors
    submission.refresh_from_db()
    winner = "accept" if submission.status == SubmissionStatus.ACCEPTED else "reject"
    assert all(code == (200 if kind == winner else 409) for kind, code in results), results
    decisions = submission.events.filter(new_status__in=["accepted", "rejected"])
    assert decisions.count() == 1
    postings = Transaction.objects.filter(reference=f"submission:{submission.pk}").count()
    refunds = Transaction.objects.filter(
        kind=TransactionKind.ESCROW_REFUND, idempotency_key=f"refund:submission:{submission.pk}"
    ).count()
    assert postings + refunds == 1
    assert_books_are_right()


# --- Silence until the deadline ---------------------------------------------------------------


def test_silence_until_the_deadline_accepts(owner: Actor, reviewing: Bounty) -> None:
    submission = routed(reviewing)
    # Uploaded long ago, in review only now: the agent's deadline counts from its review.
    Submission.objects.filter(pk=submission.pk).update(
        received_at=timezone.now() - timedelta(days=3)
    )
    assert checking.submissions_auto_approve_due() == 0
    assert Submission.objects.get(pk=submission.pk).status == SubmissionStatus.NEEDS_REVIEW

    Submission.objects.filter(pk=submission.pk).update(
        review_started_at=timezone.now() - reviewing.auto_approve_after - timedelta(seconds=1)
    )
    assert checking.submissions_auto_approve_due() == 1
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.ACCEPTED
    assert submission.events.get(new_status="accepted").actor == "auto-approve"
    assert "did not review it in time" in submission.reasons[0]
    assert released_for(submission) == 1
    assert submission.agent_verdict == ""  # silence is no decision of the agent's
    answer = owner.client().post(url(submission, "accept"), {}, format="json")
    assert answer.status_code == 200 and released_for(submission) == 1


def test_silence_never_accepts_a_failed_check_it_goes_to_operators(
    reviewing: Bounty,
) -> None:
    unsafe = check("safety", "failed", 0.6)
    submission = routed(reviewing, checks=all_checks(safety=unsafe))
    assert submission.review_by == Reviewer.AGENT  # safety in its band: the agent judges first
    Submission.objects.filter(pk=submission.pk).update(
        review_started_at=timezone.now() - reviewing.auto_approve_after - timedelta(seconds=1)
    )
    assert checking.submissions_auto_approve_due() == 0
    submission.refresh_from_db()
    assert submission.status == SubmissionStatus.NEEDS_REVIEW
    assert submission.review_by == Reviewer.OPERATOR and released_for(submission) == 0


def test_auto_review_accepts_clean_checks_and_sends_a_failed_one_to_operators(
    owner: Actor,
) -> None:
    bounty = funded_bounty(owner.agent, review=ReviewMode.AUTO)
    clean = routed(bounty)
    assert clean.status == SubmissionStatus.ACCEPTED and released_for(clean) == 1
    unsafe = routed(bounty, checks=all_checks(safety=check("safety", "failed", 0.6)))
    assert unsafe.status == SubmissionStatus.NEEDS_REVIEW
    assert unsafe.review_by == Reviewer.OPERATOR


# --- Fair use ---------------------------------------------------------------------------------


@pytest.fixture
def operator_client() -> Client:
    client = Client()
    client.force_login(OperatorFactory())
    return client


def overturn(operator_client: Client, submission: Submission) -> Submission:
    """The worker appeals the agent's rejection and an operator accepts it in the admin."""
    appealed = submission_appeal(
        submission=submission, worker=submission.worker, note="It is there, on the left."
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = operator_client.post(
            f"/admin/bounties/reviewqueueitem/{appealed.pk}/change/",
            {"decision": "accept", "reason": "The queue is on the left."},
        )
    assert response.status_code == 302, response.content
    appealed.refresh_from_db()
    return appealed


def test_an_overturned_rejection_pays_the_worker_and_counts_against_the_agent(
    owner: Actor, reviewing: Bounty, operator_client: Client
) -> None:
    submission = routed(reviewing)
    kept = routed(reviewing)
    submission_review_decide(submission=kept, agent=owner.agent, accept=True)
    submission_review_decide(submission=submission, agent=owner.agent, accept=False, reason=REASON)
    assert earnings(submission.worker) == 0

    overturned = overturn(operator_client, submission)

    assert overturned.status == SubmissionStatus.ACCEPTED
    assert overturned.agent_verdict == SubmissionStatus.REJECTED  # the agent's own, kept
    assert released_for(overturned) == 1
    assert earnings(overturned.worker) == reviewing.price_minor
    stats = agent_review_stats(owner.agent)
    assert stats["decisions"] == 2 and stats["rejection_rate"] == 0.5
    assert stats["overturned"] == 1 and stats["overturned_share"] == 1.0
    assert stats["cooling_until"] is None  # one overturn is under the minimum count
    assert_books_are_right()


def test_an_overturn_after_the_bounty_closed_still_pays_from_the_escrow(
    owner: Actor, reviewing: Bounty, operator_client: Client
) -> None:
    submission = routed(reviewing)
    submission_review_decide(submission=submission, agent=owner.agent, accept=False, reason=REASON)
    appealed = submission_appeal(
        submission=submission, worker=submission.worker, note="Look again, please."
    )
    bounty_cancel(bounty=reviewing, actor="test")  # refunds every slot but the appealed one

    with TestCase.captureOnCommitCallbacks(execute=True):
        operator_client.post(
            f"/admin/bounties/reviewqueueitem/{appealed.pk}/change/", {"decision": "accept"}
        )

    appealed.refresh_from_db()
    assert appealed.status == SubmissionStatus.ACCEPTED
    assert earnings(appealed.worker) == reviewing.price_minor
    escrow = LedgerAccount.objects.get(
        kind=AccountKind.BOUNTY_ESCROW,
        owner=escrow_owner(agent=reviewing.agent, bounty_id=reviewing.pk),
    )
    assert escrow.balance_minor == 0
    assert_books_are_right()


def test_a_rejection_refunded_with_its_closed_bounty_cannot_be_appealed(
    owner: Actor, reviewing: Bounty
) -> None:
    submission = routed(reviewing)
    bounty_cancel(bounty=reviewing, actor="test")
    submission_review_decide(submission=submission, agent=owner.agent, accept=False, reason=REASON)
    refund = Transaction.objects.filter(idempotency_key=f"refund:submission:{submission.pk}")
    assert refund.count() == 1  # the slot's money went back to the agent
    with pytest.raises(ApplicationError) as refused:
        submission_appeal(submission=submission, worker=submission.worker, note="Please look.")
    assert refused.value.code == "no_open_slots"
    assert "can no longer be appealed" in refused.value.message
    assert released_for(submission) == 0 and earnings(submission.worker) == 0
    assert_books_are_right()


@pytest.fixture
def strict_fair_use(settings: Any) -> Iterator[None]:
    settings.REVIEW_OVERTURN_MIN_COUNT = 2
    settings.REVIEW_OVERTURN_THRESHOLD = 0.2
    settings.REVIEW_COOLING_DAYS = 7
    yield


def test_the_cooling_period_routes_to_operators(
    owner: Actor, reviewing: Bounty, operator_client: Client, strict_fair_use: None
) -> None:
    assert owner.client().get(ME).json()["review_mode"] == "agent"
    overturned = []
    for _ in range(2):
        submission = routed(reviewing)
        submission_review_decide(
            submission=submission, agent=owner.agent, accept=False, reason=REASON
        )
        overturned.append(overturn(operator_client, submission))
    last_overturn = overturned[-1].decided_at
    assert last_overturn is not None
    expected = last_overturn + timedelta(days=settings.REVIEW_COOLING_DAYS)
    assert agent_review_stats(owner.agent)["cooling_until"] == expected

    me = owner.client().get(ME).json()  # stored with the operator's verdict, before any sweep
    assert me["review_mode"] == "cooling"
    assert me["cooling_until"] == expected.isoformat().replace("+00:00", "Z")
    assert agents_review_cooling_refresh() == 1  # the sweep agrees

    later = routed(reviewing)
    assert later.status == SubmissionStatus.NEEDS_REVIEW
    assert later.review_by == Reviewer.OPERATOR
    assert "paused until" in later.events.get(new_status="needs_review").reason
    answer = owner.client().post(url(later, "accept"), {}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "not_awaiting_review"
    assert not WebhookDelivery.objects.filter(
        event_type="submission.needs_review", payload__data__object__id=later.pk
    ).exists()


def test_review_comes_back_when_the_cooling_period_ends(
    owner: Actor, reviewing: Bounty, strict_fair_use: None
) -> None:
    past = timezone.now() - timedelta(days=8)
    owner.agent.review_cooling_until = past + timedelta(days=7)
    owner.agent.save(update_fields=["review_cooling_until"])
    assert owner.client().get(ME).json()["review_mode"] == "agent"
    assert routed(reviewing).review_by == Reviewer.AGENT


def test_a_closed_bounty_still_routes_its_waiting_photos(owner: Actor, reviewing: Bounty) -> None:
    submission = routed(reviewing)
    bounty_cancel(bounty=reviewing, actor="test")
    assert Bounty.objects.get(pk=reviewing.pk).status == BountyStatus.CANCELLED
    answer = owner.client().post(url(submission, "accept"), {}, format="json")
    assert answer.status_code == 200 and released_for(submission) == 1


def test_the_operators_queue_leaves_the_agents_waiting_photos_to_the_agent(
    owner: Actor, reviewing: Bounty
) -> None:
    for_the_agent = routed(reviewing)
    appealed = routed(reviewing)
    Submission.objects.filter(pk=appealed.pk).update(appealed_at=timezone.now())
    operator = Client()
    operator.force_login(OperatorFactory())
    listing = operator.get("/admin/bounties/reviewqueueitem/").content.decode()
    queue = "/admin/bounties/reviewqueueitem/"
    assert f"{queue}{appealed.pk}/change/" in listing
    assert f"{queue}{for_the_agent.pk}/change/" not in listing
