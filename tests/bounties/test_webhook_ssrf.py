"""Webhook URLs are parsed safely, and every delivery resolves the host, checks each address and
connects to the one it checked (DNS rebinding cannot reach internal hosts)."""

import os
from collections.abc import Iterable
from typing import Any
from unittest import mock

import httpcore
import httpx
import pytest
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bounties import webhooks
from bounties.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bounties.webhooks import (
    CheckedNetworkBackend,
    CheckedTransport,
    webhook_delivery_attempt,
    webhook_endpoint_create,
)
from market.core.errors import ApplicationError
from tests.conftest import Actor
from tests.helpers import Receiver, assert_problem

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))


@pytest.fixture
def guarded(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False


def delivery_for(endpoint: WebhookEndpoint) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="00000000-0000-0000-0000-0000000000aa",
        event_type="bounty.expired", payload={"x": 1}, next_attempt_at=timezone.now(),
    )  # fmt: skip


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com:99999/x",
        "https://hooks.example.com:-1/x",
        "https://hooks.example.com:0/x",
        "https://[not-an-address]/x",
        "https://hooks.example.com:8a/x",
        "https://" + "a" * 600 + ".example.com/x",
    ],
)
def test_unparseable_urls_are_a_400_not_a_500(owner: Actor, guarded: None, url: str) -> None:
    response = owner.client().post("/api/v1/webhook-endpoints/", {"url": url}, format="json")
    errors = assert_problem(response, 400, "validation_error")["errors"]
    assert "url" in errors
    assert not WebhookEndpoint.objects.exists()


@hypothesis_settings(max_examples=EXAMPLES, deadline=None)
@given(
    url=st.one_of(st.text(max_size=80), st.from_regex(r"https?://[^/]{0,40}(:\d{0,7})?/.{0,10}"))
)
def test_any_url_is_accepted_or_refused_with_a_reason(url: str) -> None:
    with (
        override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=False),
        mock.patch.object(webhooks, "resolve", autospec=True, return_value=[PUBLIC]),
    ):
        try:
            webhooks._validate_url(url)
        except ApplicationError as refused:
            assert refused.code == "validation_error"


def test_registration_refuses_a_host_with_any_private_address(owner: Actor, guarded: None) -> None:
    with (
        mock.patch.object(webhooks, "resolve", autospec=True, return_value=[PUBLIC, "10.0.0.5"]),
        pytest.raises(ApplicationError) as refused,
    ):
        webhook_endpoint_create(agent=owner.agent, url="https://mixed.example.com/hooks")
    assert "private address (10.0.0.5)" in str(refused.value.extra)


def test_a_host_that_rebinds_to_loopback_after_registration_is_refused_at_delivery(
    owner: Actor,
    guarded: None,
    receiver: Receiver,
) -> None:
    url = f"http://rebind.example.com:{receiver.server.server_port}/hooks"
    with mock.patch.object(webhooks, "resolve", autospec=True, return_value=[PUBLIC]):
        endpoint = webhook_endpoint_create(agent=owner.agent, url=url)
    delivery = delivery_for(endpoint)
    with mock.patch.object(webhooks, "resolve", autospec=True, return_value=["127.0.0.1"]) as dns:
        assert webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.PENDING
    dns.assert_called_with("rebind.example.com", receiver.server.server_port)
    assert receiver.requests == []  # nothing reached the internal listener
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "refused: rebind.example.com resolves to a private address (127.0.0.1)" in attempt.error


def test_delivery_connects_to_the_address_it_resolved_with_the_url_host_in_the_request(
    owner: Actor,
    receiver: Receiver,
) -> None:
    port = receiver.server.server_port
    url = f"http://hooks.invalid:{port}/hooks"  # .invalid never resolves for real
    endpoint = webhook_endpoint_create(agent=owner.agent, url=url)
    delivery = delivery_for(endpoint)
    with mock.patch.object(webhooks, "resolve", autospec=True, return_value=["127.0.0.1"]):
        assert webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.SUCCEEDED
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"hooks.invalid:{port}"


class RecordingStream(httpcore.NetworkStream):
    """A connection that records what was sent and answers 204."""

    def __init__(self, log: dict[str, Any]) -> None:
        self.log = log
        self.answer = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        answer, self.answer = self.answer, b""
        return answer

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.log["sent"] = self.log.get("sent", b"") + buffer

    def close(self) -> None:
        pass

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self.log["sni"] = server_hostname
        return self

    def get_extra_info(self, info: str) -> Any:
        return None


class RecordingBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self.log: dict[str, Any] = {}

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.log["connected_to"] = (host, port)
        return RecordingStream(self.log)


def test_https_goes_to_the_checked_address_with_the_hostname_for_sni_and_host(
    guarded: None,
) -> None:
    socket_layer = RecordingBackend()
    transport = CheckedTransport(network_backend=CheckedNetworkBackend(inner=socket_layer))
    with (
        mock.patch.object(webhooks, "resolve", autospec=True, return_value=[PUBLIC]),
        httpx.Client(transport=transport) as client,
    ):
        response = client.post("https://hooks.example.com/in", content=b"{}")
    assert response.status_code == 204
    assert socket_layer.log["connected_to"] == (PUBLIC, 443)
    assert socket_layer.log["sni"] == "hooks.example.com"
    assert b"\r\nHost: hooks.example.com\r\n" in socket_layer.log["sent"]


def test_a_mixed_answer_never_connects_anywhere(guarded: None) -> None:
    socket_layer = RecordingBackend()
    transport = CheckedTransport(network_backend=CheckedNetworkBackend(inner=socket_layer))
    with (
        mock.patch.object(
            webhooks, "resolve", autospec=True, return_value=[PUBLIC, "169.254.169.254"]
        ),
        httpx.Client(transport=transport) as client,
        pytest.raises(httpx.ConnectError, match="private address"),
    ):
        client.post("https://hooks.example.com/in", content=b"{}")
    assert "connected_to" not in socket_layer.log
