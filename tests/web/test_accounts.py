"""Sign up, log in, password reset, profile."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bounties.models import Submission, SubmissionStatus
from market.accounts.models import Role, User
from tests.bounties.helpers import submit
from tests.factories import RequesterFactory, UserFactory
from tests.helpers import emailed_link

pytestmark = pytest.mark.django_db

PASSWORD = "a long and unusual passphrase"


def test_it_renders_the_home_page_without_shadowing_other_routes(client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert b"Find bounties near you" in response.content
    assert client.get("/llms.txt").status_code == 200
    assert client.get("/api/v1/health/").status_code in (200, 503)
    assert client.get("/admin/login/").status_code == 200


def test_it_signs_up_a_worker_who_confirms_by_email_and_is_logged_in(client) -> None:
    response = client.post(
        "/signup/",
        {
            "email": "New@Example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "role": "worker",
        },
    )
    assert response.status_code == 200 and "Check your email" in response.content.decode()
    user = User.objects.get(email="new@example.com")
    assert user.role == Role.WORKER and user.check_password(PASSWORD) and not user.is_active
    assert client.get("/profile/").status_code == 302  # not logged in before confirming
    [message] = mail.outbox
    assert message.to == ["new@example.com"]
    link = emailed_link(message)
    assert "Confirm my account" in client.get(link).content.decode()
    response = client.post(link)
    assert response.status_code == 302 and response["Location"] == "/find/"
    user.refresh_from_db()
    assert user.is_active and not user.awaiting_confirmation
    assert client.get("/profile/").status_code == 200
    client.post("/accounts/logout/")
    assert client.post(link).status_code == 400  # the link works once


def test_it_signs_up_a_requester_who_lands_on_agents(client) -> None:
    response = client.post(
        "/signup/",
        {
            "email": "r@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "role": "requester",
        },
    )
    assert response.status_code == 200
    assert User.objects.get(email="r@example.com").role == Role.REQUESTER
    assert client.post(emailed_link(mail.outbox[0]))["Location"] == "/agents/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD + "!"},
         "The two passwords differ."),
        ({"email": "x@example.com", "password1": "123", "password2": "123"}, "too short"),
        ({"email": "not-an-email", "password1": PASSWORD, "password2": PASSWORD},
         "Enter a valid email address."),
        ({"email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD,
          "role": "operator"}, "Select a valid choice."),
    ],
)  # fmt: skip
def test_it_explains_bad_sign_ups_next_to_the_field(client, data, message) -> None:
    UserFactory(email="taken@example.com")
    response = client.post("/signup/", {"role": "worker", **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(email="x@example.com").exists()


def test_it_logs_in_with_email_and_password(client) -> None:
    UserFactory(email="w@example.com")
    response = client.post(
        "/accounts/login/",
        {"username": "w@example.com", "password": "correct horse battery staple"},
    )
    assert response.status_code == 302 and response["Location"] == "/find/"
    bad = client.post("/accounts/login/", {"username": "w@example.com", "password": "nope"})
    assert bad.status_code == 200 and "Please enter a correct" in bad.content.decode()


def test_requesters_land_on_their_agents_after_logging_in(client) -> None:
    RequesterFactory(email="r@example.com")
    credentials = {"username": "r@example.com", "password": "correct horse battery staple"}
    response = client.post("/accounts/login/", credentials)
    assert response.status_code == 302 and response["Location"] == "/agents/"


def test_login_required_pages_send_to_the_website_login(client) -> None:
    response = client.get("/earnings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_it_mails_a_password_reset_link(client) -> None:
    UserFactory(email="forgetful@example.com")
    response = client.post("/accounts/password_reset/", {"email": "forgetful@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert "/accounts/reset/" in mail.outbox[0].body
    assert client.get(response["Location"]).status_code == 200


def test_it_logs_out_with_a_post(client, worker) -> None:
    client.force_login(worker)
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/profile/").status_code == 302


def test_the_profile_shows_reputation_and_acceptance_rate(worker_client, worker, bounty) -> None:
    accepted, rejected = submit(bounty, worker), submit(bounty, UserFactory())
    Submission.objects.filter(pk=accepted.pk).update(
        status=SubmissionStatus.ACCEPTED, decided_at=timezone.now() - timedelta(days=1)
    )
    Submission.objects.filter(pk=rejected.pk).update(worker=worker)
    Submission.objects.filter(pk=rejected.pk).update(
        status=SubmissionStatus.REJECTED, decided_at=timezone.now()
    )
    page = worker_client.get("/profile/").content.decode()
    assert "1 of 2 decided photos" in page
    assert "50%" in page  # acceptance rate
    assert "49%" in page  # reputation: the older acceptance weighs a little less


def test_requesters_have_no_worker_profile(client) -> None:
    client.force_login(RequesterFactory())
    assert client.get("/profile/").status_code == 403
