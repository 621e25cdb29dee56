"""The website in a real browser against the live server (PostgreSQL, tasks in-process):
sign up, find, claim, upload, verdict, earnings; rejections; bad files; API keys; axe-core."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.utils import timezone

from bounties.models import Bounty, Submission, SubmissionStatus
from market.accounts.models import User
from tests.bounties.helpers import LONDON, funded_bounty, submit
from tests.bounties.photos import DSCN0010_GPS, PHOTOS, with_capture_time
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.helpers import emailed_link
from tests.web.browser import browser_page, in_thread, only_tiles, serious_violations, shot

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple"
NEAR_PHOTO = {"latitude": DSCN0010_GPS[0], "longitude": DSCN0010_GPS[1], "accuracy": 15}
IN_LONDON = {"latitude": LONDON[0], "longitude": LONDON[1], "accuracy": 15}


@pytest.fixture
def fresh_photo(tmp_path: Path) -> Path:
    """DSCN0010.jpg (GPS at DSCN0010_GPS) with its capture time rewritten to a minute ago."""
    local = timezone.now().astimezone(timezone.get_fixed_timezone(120)) - timedelta(minutes=1)
    path = tmp_path / "DSCN0010-fresh.jpg"
    path.write_bytes(with_capture_time("DSCN0010.jpg", local))
    return path


def give_history(worker: User, bounty_agent: Any, accepted: int = 3) -> None:
    """Past accepted photos, so a new photo is trusted without a person (policy min_history)."""
    with mock.patch("bounties.services.fulfilment._enqueue_verification", autospec=True):
        for _ in range(accepted):
            old = funded_bounty(bounty_agent, title=f"Earlier {uuid.uuid4().hex[:6]}")
            past = submit(old, worker)
            Submission.objects.filter(pk=past.pk).update(
                status=SubmissionStatus.ACCEPTED, decided_at=timezone.now() - timedelta(days=2)
            )


def log_in(page: Any, email: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def find_and_claim(page: Any, bounty: Bounty, prefix: str) -> None:
    page.goto("/find/")
    page.get_by_role("button", name="Use my location").click()
    page.wait_for_url("**/find/?*")
    page.get_by_role("link", name=bounty.title).wait_for()
    shot(page, f"{prefix}-1-find")
    page.get_by_role("link", name=bounty.title).click()
    page.get_by_role("button", name="Claim a slot").click()
    page.wait_for_url(f"**/bounties/{bounty.pk}/upload/")


def upload(page: Any, path: Path, *, previewed: bool = False) -> None:
    page.locator("#geo-status").filter(has_text="will be attached").wait_for()
    page.get_by_label("Photo").set_input_files(path)
    if previewed:
        page.get_by_role("img", name="Preview of the photo you chose").wait_for()
        shot(page, "flow1-2-preview")
    page.get_by_role("button", name="Send the photo").click()


def test_a_worker_signs_up_finds_claims_uploads_and_is_paid(
    live_server: Any, owner: Actor, fresh_photo: Path, settings: Any
) -> None:
    settings.VERIFY_ACCEPT_WITHOUT_RELEVANCE = True
    bounty = funded_bounty(owner.agent, lat=DSCN0010_GPS[0], lon=DSCN0010_GPS[1], radius_m=100,
                           quantity=2, title="The square by the fountain")  # fmt: skip
    with browser_page(live_server.url, geolocation=NEAR_PHOTO) as (page, outside):
        page.goto("/signup/")
        page.get_by_label("Email address").fill("new.worker@example.com")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password again").fill(PASSWORD)
        shot(page, "flow1-0-signup")
        page.get_by_role("button", name="Create my account").click()
        page.get_by_role("heading", name="Check your email").wait_for()
        page.goto(emailed_link(mail.outbox[-1]))
        page.get_by_role("button", name="Confirm my account").click()
        page.wait_for_url("**/find/")
        worker = in_thread(User.objects.get, email="new.worker@example.com")
        in_thread(give_history, worker, owner.agent)

        find_and_claim(page, bounty, "flow1")
        assert page.locator("#countdown").inner_text().endswith(" s")
        upload(page, fresh_photo, previewed=True)
        page.wait_for_url("**/submissions/**")
        submission = in_thread(Submission.objects.get, bounty=bounty)
        card = page.locator(f"#submission-{submission.pk}")
        card.locator(".status", has_text="Accepted").wait_for(timeout=60_000)
        assert "Location: passed" in card.inner_text()
        shot(page, "flow1-3-accepted")

        page.get_by_role("link", name="Earnings").click()
        assert page.get_by_test_id("available-usd").inner_text() == "4.00 USD"
        shot(page, "flow1-4-earnings")
    assert only_tiles(outside) == []


def test_a_photo_from_outside_the_radius_is_rejected_and_the_slot_reopens(
    live_server: Any, owner: Actor, fresh_photo: Path
) -> None:
    bounty = funded_bounty(owner.agent, lat=LONDON[0], lon=LONDON[1], radius_m=100, quantity=1,
                           title="Trafalgar Square fountain")  # fmt: skip
    UserFactory(email="far@example.com")
    with browser_page(live_server.url, geolocation=IN_LONDON) as (page, _outside):
        log_in(page, "far@example.com")
        find_and_claim(page, bounty, "flow2")
        upload(page, fresh_photo)
        page.wait_for_url("**/submissions/**")
        card = page.locator("li.submission").first
        card.locator(".status", has_text="Rejected").wait_for(timeout=60_000)
        assert "m from the spot" in card.locator(".reasons").inner_text()
        shot(page, "flow2-3-rejected")
        page.goto(f"/bounties/{bounty.pk}/")
        assert "1 of 1 left" in page.locator(".facts").inner_text()
        shot(page, "flow2-4-slot-reopened")


def test_bad_files_get_clear_messages_next_to_the_field(
    live_server: Any, owner: Actor, tmp_path: Path
) -> None:
    bounty = funded_bounty(owner.agent, lat=DSCN0010_GPS[0], lon=DSCN0010_GPS[1], radius_m=100,
                           title="The town hall")  # fmt: skip
    UserFactory(email="files@example.com")
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * (30 * 2**20))
    with browser_page(live_server.url, geolocation=NEAR_PHOTO) as (page, _outside):
        log_in(page, "files@example.com")
        find_and_claim(page, bounty, "flow3")
        error = page.locator('[data-error-for="photo"]')
        upload(page, PHOTOS / "corrupted.jpg")
        error.filter(has_text="The JPEG file is damaged").wait_for()
        shot(page, "flow3-2-corrupted")
        page.get_by_label("Photo").set_input_files(huge)
        error.filter(has_text="The file is 30 MB; the limit is 20 MB.").wait_for()
        page.get_by_role("button", name="Send the photo").click()
        assert error.is_visible()
        shot(page, "flow3-3-too-large")
    assert not Submission.objects.exists()


def test_a_requester_creates_an_api_key_and_sees_it_once(live_server: Any, owner: Actor) -> None:
    with browser_page(live_server.url) as (page, _outside):
        log_in(page, owner.user.email)
        page.wait_for_url("**/agents/")  # requesters land on their agents
        page.get_by_role("link", name=owner.agent.name).click()
        page.get_by_label("Key name").fill("laptop")
        page.get_by_role("button", name="Create the key").click()
        key = page.get_by_role("textbox", name="API key").input_value()
        assert key.startswith("sl_")
        page.get_by_role("button", name="Copy").click()
        shot(page, "flow4-1-key-shown")
        page.goto(f"/agents/{owner.agent.pk}/")
        assert key not in page.content()
        assert "laptop" in page.content()


def test_the_main_pages_have_no_serious_accessibility_violations(
    live_server: Any, owner: Actor, fresh_photo: Path
) -> None:
    bounty = funded_bounty(owner.agent, lat=DSCN0010_GPS[0], lon=DSCN0010_GPS[1], radius_m=100,
                           title="The bell tower")  # fmt: skip
    worker = UserFactory(email="axe@example.com")
    with mock.patch("bounties.services.fulfilment._enqueue_verification", autospec=True):
        waiting = submit(funded_bounty(owner.agent, title="Waiting"), worker)
    found: dict[str, list[str]] = {}
    with browser_page(live_server.url, geolocation=NEAR_PHOTO) as (page, outside):
        page.goto("/")
        found["home"] = serious_violations(page)
        log_in(page, worker.email)
        find_and_claim(page, bounty, "axe")
        found["upload"] = serious_violations(page)
        page.goto(f"/find/?lat={DSCN0010_GPS[0]}&lon={DSCN0010_GPS[1]}")
        page.wait_for_load_state("load")
        found["find"] = serious_violations(page)
        page.goto(f"/bounties/{bounty.pk}/")
        page.wait_for_load_state("load")
        found["bounty"] = serious_violations(page)
        shot(page, "axe-bounty")
        page.goto("/submissions/")
        page.locator(f"#submission-{waiting.pk}").wait_for()
        found["submissions"] = serious_violations(page)
        shot(page, "axe-submissions")
        page.goto("/earnings/")
        found["earnings"] = serious_violations(page)
        page.goto("/profile/")
        found["profile"] = serious_violations(page)
        page.get_by_role("button", name="Log out").click()
        log_in(page, owner.user.email)
        page.goto("/agents/")
        found["agents"] = serious_violations(page)
        shot(page, "axe-agents")
        page.goto(f"/agents/{owner.agent.pk}/")
        found["agent"] = serious_violations(page)
        shot(page, "axe-agent")
    assert {name: problems for name, problems in found.items() if problems} == {}
    assert only_tiles(outside) == []
