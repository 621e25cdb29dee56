"""Log-in, sign-up and password reset are throttled per account and per address, lockouts
expire, and neither sign-up nor reset tells whether an email has an account."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client

from market.accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # the factory's
NEW_PASSWORD = "a long and unusual passphrase"
LIMIT = 5


@pytest.fixture(autouse=True)
def small_limits(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.AUTH_ATTEMPTS_PER_ADDRESS_PER_HOUR = LIMIT
    settings.AUTH_MAILS_PER_EMAIL_PER_HOUR = 2


def log_in(client: Client, email: str, password: str, **extra: Any) -> Any:
    return client.post("/accounts/login/", {"username": email, "password": password}, **extra)


def test_it_locks_an_account_after_repeated_wrong_passwords_even_for_the_right_one(
    client: Client,
) -> None:
    UserFactory(email="victim@example.com")
    answers = [log_in(client, "victim@example.com", f"guess {n}").status_code for n in range(30)]
    assert answers[: LIMIT - 1] == [200] * (LIMIT - 1)  # "wrong password", the form again
    assert set(answers[LIMIT - 1 :]) == {429}
    right = log_in(client, "victim@example.com", PASSWORD)
    assert right.status_code == 429
    assert "Too many failed log-ins" in right.content.decode()
    assert 'name="username"' in right.content.decode()  # the form, with the reason above it
    assert "_auth_user_id" not in client.session


def test_the_account_stays_locked_from_another_address(client: Client) -> None:
    UserFactory(email="victim@example.com")
    for n in range(LIMIT):
        log_in(client, "victim@example.com", f"guess {n}", REMOTE_ADDR="203.0.113.1")
    # Spelled differently, from elsewhere: the same account.
    elsewhere = log_in(client, " Victim@Example.com", PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert elsewhere.status_code == 429


def test_one_address_is_locked_out_across_accounts(client: Client) -> None:
    UserFactory(email="someone@example.com")
    for n in range(LIMIT):
        log_in(client, f"sprayed{n}@example.com", "password1", REMOTE_ADDR="203.0.113.9")
    same_address = log_in(client, "someone@example.com", PASSWORD, REMOTE_ADDR="203.0.113.9")
    assert same_address.status_code == 429
    other_address = log_in(client, "someone@example.com", PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert other_address.status_code == 302


def test_a_lockout_expires_after_the_cool_off(client: Client) -> None:
    UserFactory(email="victim@example.com")
    with time_machine.travel("2026-06-01 12:00Z", tick=False) as clock:
        for n in range(LIMIT):
            log_in(client, "victim@example.com", f"guess {n}")
        clock.shift(timedelta(minutes=10))
        # Still locked; trying while locked does not extend the lockout.
        assert log_in(client, "victim@example.com", "guess again").status_code == 429
        clock.shift(timedelta(minutes=6))
        assert log_in(client, "victim@example.com", PASSWORD).status_code == 302


def test_the_admin_login_is_locked_too_with_a_page_not_a_bare_status(client: Client) -> None:
    UserFactory(email="victim@example.com")
    for n in range(LIMIT):
        response = client.post(
            "/admin/login/", {"username": "victim@example.com", "password": f"guess {n}"}
        )
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()


def sign_up(client: Client, email: str, **extra: Any) -> Any:
    data = {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    return client.post("/signup/", {**data, "role": "worker"}, **extra)


def page_text(response: Any, email: str) -> str:
    """The page with the email typed in taken out (the rest must not depend on it)."""
    return response.content.decode().replace(email, "EMAIL")


def test_sign_up_answers_the_same_for_a_taken_email_and_mails_its_owner_a_notice(
    client: Client,
) -> None:
    owner = UserFactory(email="taken@example.com")
    taken = sign_up(client, "taken@example.com")
    fresh = sign_up(client, "fresh@example.com")
    assert taken.status_code == fresh.status_code == 200
    assert page_text(taken, "taken@example.com") == page_text(fresh, "fresh@example.com")
    notice, confirmation = mail.outbox
    assert notice.to == ["taken@example.com"] and "already has an account" in notice.body
    assert "/signup/confirm/" not in notice.body
    assert confirmation.to == ["fresh@example.com"] and "/signup/confirm/" in confirmation.body
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD) and owner.is_active  # nothing changed for the owner


def test_a_deactivated_account_is_not_revived_by_signing_up_again(client: Client) -> None:
    banned = UserFactory(email="banned@example.com", is_active=False)
    assert sign_up(client, "banned@example.com").status_code == 200
    banned.refresh_from_db()
    assert not banned.is_active and banned.check_password(PASSWORD)
    assert "already has an account" in mail.outbox[0].body


def test_signing_up_again_before_confirming_sends_a_new_link_and_kills_the_old(
    client: Client,
) -> None:
    sign_up(client, "slow@example.com")
    sign_up(client, "slow@example.com")
    first, second = (message.body for message in mail.outbox)
    old_link = "/" + first.split("://", 1)[1].split("/", 1)[1].split()[0]
    new_link = "/" + second.split("://", 1)[1].split("/", 1)[1].split()[0]
    assert client.post(old_link).status_code == 400
    assert client.post(new_link).status_code == 302
    assert User.objects.get(email="slow@example.com").is_active


def test_a_tampered_confirmation_link_is_a_clear_400(client: Client) -> None:
    for path in [
        "/signup/confirm/MQ/nope/",
        "/signup/confirm/%FF%FE/x-y/",
        "/signup/confirm/!!/a/",
    ]:
        response = client.post(path)
        assert response.status_code == 400 and "This link is not valid" in response.content.decode()


def test_sign_ups_are_limited_per_address_and_mails_per_email(client: Client) -> None:
    assert sign_up(client, "a@example.com").status_code == 200
    assert sign_up(client, "a@example.com").status_code == 200
    third = sign_up(client, "a@example.com")  # a third mail to one address within the hour
    assert third.status_code == 429 and "already sent several emails" in third.content.decode()
    assert len(mail.outbox) == 2
    for n in range(LIMIT - 3):
        assert sign_up(client, f"b{n}@example.com").status_code == 200
    refused = sign_up(client, "c@example.com")
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    assert not User.objects.filter(email="c@example.com").exists()
    assert sign_up(client, "c@example.com", REMOTE_ADDR="198.51.100.7").status_code == 200


def reset(client: Client, email: str, **extra: Any) -> Any:
    return client.post("/accounts/password_reset/", {"email": email}, **extra)


def test_reset_answers_the_same_whether_or_not_the_email_has_an_account(client: Client) -> None:
    UserFactory(email="known@example.com")
    known, unknown = reset(client, "known@example.com"), reset(client, "unknown@example.com")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert [message.to for message in mail.outbox] == [["known@example.com"]]


def test_reset_links_point_at_the_site_whatever_host_was_sent(client: Client, settings) -> None:
    settings.SITE_URL = "https://sightline.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    UserFactory(email="known@example.com")
    reset(client, "known@example.com", HTTP_HOST="attacker.example.net")
    assert "https://sightline.example.com/accounts/reset/" in mail.outbox[0].body


def test_reset_requests_are_limited_per_address_and_per_email(client: Client) -> None:
    UserFactory(email="known@example.com")
    assert reset(client, "known@example.com").status_code == 302
    assert reset(client, "known@example.com").status_code == 302
    flooded = reset(client, "known@example.com")
    assert flooded.status_code == 429 and "already sent several emails" in flooded.content.decode()
    assert len(mail.outbox) == 2
    for n in range(LIMIT - 3):
        reset(client, f"other{n}@example.com")
    refused = reset(client, "someone@example.com")
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
