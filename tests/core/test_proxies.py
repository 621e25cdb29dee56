"""X-Forwarded-For is believed only from TRUSTED_PROXIES, by every throttle that counts by
address: the API's, the log-in lockout's, the sign-up limit's."""

import ipaddress
import os
from typing import Any

import pytest
import time_machine
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from market.core.api import APIKeyRateThrottle
from market.core.proxies import client_ip
from tests.factories import UserFactory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))


def request_from(peer: str, forwarded: str | None = None) -> Any:
    extra: dict[str, Any] = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_it_ignores_x_forwarded_for_from_an_untrusted_peer(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request_from("203.0.113.5", "1.2.3.4")) == "203.0.113.5"


def test_it_believes_trusted_proxies_and_stops_at_the_first_untrusted_hop(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.0.2.1"]
    # The client forged the left part; our proxies appended the rest.
    request = request_from("10.0.0.2", "6.6.6.6, 198.51.100.23, 192.0.2.1")
    assert client_ip(request) == "198.51.100.23"
    assert client_ip(request_from("10.0.0.2")) == "10.0.0.2"  # no header: the proxy itself
    assert client_ip(request_from("10.0.0.2", "garbage, 10.1.1.1")) == "10.1.1.1"
    assert client_ip(request_from("10.0.0.2", "::ffff:198.51.100.9")) == "198.51.100.9"


def test_with_no_trusted_proxies_the_header_means_nothing(settings: Any) -> None:
    settings.TRUSTED_PROXIES = []
    assert client_ip(request_from("127.0.0.1", "198.51.100.23")) == "127.0.0.1"
    assert client_ip(request_from("not an address")) == ""


@hypothesis_settings(max_examples=EXAMPLES, deadline=None)
@given(
    forwarded=st.one_of(
        st.text(max_size=300),
        st.lists(st.ip_addresses().map(str), max_size=40).map(", ".join),
    ),
    peer=st.one_of(st.ip_addresses().map(str), st.text(max_size=50)),
)
def test_it_always_answers_an_address_or_nothing(forwarded: str, peer: str) -> None:
    with override_settings(TRUSTED_PROXIES=["10.0.0.0/8", "::1"]):
        answer = client_ip(request_from(peer, forwarded))
    assert answer == "" or ipaddress.ip_address(answer)


@pytest.mark.django_db
@time_machine.travel("2026-06-01 12:00:10Z", tick=False)  # one throttle window throughout
def test_the_api_throttle_cannot_be_dodged_by_forging_the_header(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    monkeypatch.setattr(APIKeyRateThrottle, "THROTTLE_RATES", {"api_key": "3/min"})
    client = APIClient()
    forged = [
        client.get("/api/v1/keys/", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"1.1.1.{n}")
        for n in range(5)
    ]
    assert [response.status_code for response in forged] == [200, 200, 200, 429, 429]
    # Behind a trusted proxy, each client has its own budget.
    behind = client.get("/api/v1/keys/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1")
    assert behind.status_code == 200


@pytest.mark.django_db
def test_log_in_lockouts_count_the_address_the_proxies_vouch_for(
    client: Any, settings: Any
) -> None:
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(email="someone@example.com")
    for n in range(3):  # one attacker, rotating a forged header and the accounts it tries
        client.post(
            "/accounts/login/",
            {"username": f"guess{n}@example.com", "password": "x"},
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"1.1.1.{n}",
        )
    credentials = {"username": "someone@example.com", "password": "correct horse battery staple"}
    attacker = client.post("/accounts/login/", credentials, REMOTE_ADDR="203.0.113.5")
    assert attacker.status_code == 429
    proxied = client.post(
        "/accounts/login/", credentials, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1"
    )
    assert proxied.status_code == 302
