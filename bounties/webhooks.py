"""Outgoing webhooks to agents: register endpoints, emit events, deliver with retries.

Each delivery is signed: ``Sightline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" with the endpoint's secret>``. A failed attempt is retried with exponential backoff
(30 s doubling, at most an hour apart) until 24 hours after the event; every attempt is logged.

Where an endpoint may point is checked twice: at registration (a clear error for the agent) and
at every connection, because DNS can answer differently later (rebinding). The sender resolves
the host itself, refuses if any address is not public (unless ``WEBHOOK_ALLOW_PRIVATE_HOSTS``),
and connects to the address it checked; Host and TLS (SNI, certificate) stay the URL's host.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import random
import secrets
import socket
import time
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from bounties.models import (
    WEBHOOK_EVENT_TYPES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from market.accounts.models import Agent
from market.core.errors import ApplicationError, field_error

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Sightline-Signature"
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_GAP = timedelta(hours=1)
RETRY_FOR = timedelta(hours=24)
SEND_LEASE = timedelta(seconds=60)  # a sender's claim on a delivery while it is being sent
TIMEOUT_SECONDS = 10.0
MAX_ENDPOINTS_PER_AGENT = 10
MAX_URL_LENGTH = 500  # WebhookEndpoint.url's column
MAX_ADDRESSES_TRIED = 4  # of a host's addresses, each checked, in the resolver's order


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _allow_private_hosts() -> bool:
    return bool(settings.WEBHOOK_ALLOW_PRIVATE_HOSTS)


class AddressRefused(Exception):
    """A webhook host we must not (or cannot) connect to; the message says why."""


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order (the DNS boundary)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address.is_global and not address.is_multicast


def checked_addresses(host: str, port: int) -> list[str]:
    """Resolve ``host`` and check every address it gives: any private, loopback, link-local or
    otherwise non-public one refuses the host (unless private hosts are allowed), so a name
    that mixes a public and an internal address cannot be used to reach the internal one.

    Raises ``AddressRefused``; returns the addresses to connect to, at most
    ``MAX_ADDRESSES_TRIED``."""
    try:
        resolved = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:  # gaierror, bad IDNA, NUL in the name
        raise AddressRefused(f"{host} does not resolve") from exc
    addresses = []
    for raw in resolved:
        try:
            address = ipaddress.ip_address(raw.split("%")[0])
        except ValueError as exc:
            raise AddressRefused(f"{host} resolves to an unusable address") from exc
        if not _allow_private_hosts() and not _is_public(address):
            raise AddressRefused(f"{host} resolves to a private address ({address})")
        addresses.append(str(address))
    if not addresses:
        raise AddressRefused(f"{host} does not resolve")
    return addresses[:MAX_ADDRESSES_TRIED]


def _parse_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL, or a validation error: never an exception from
    parsing (a port of 99999, a bracketed non-address, a NUL)."""
    if len(url) > MAX_URL_LENGTH or "\x00" in url:
        raise field_error("url", f"Use an http(s) URL of at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port out of 0-65535 or not a number, a malformed IPv6 host
        raise field_error("url", "The URL's host or port is not valid.") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise field_error("url", "Use an absolute http(s) URL.")
    if port == 0:
        raise field_error("url", "Use a port from 1 to 65535.")
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _validate_url(url: str) -> str:
    """Refuse URLs we must not call: unparseable ones, non-HTTP(S), plain HTTP in production,
    and (unless private hosts are allowed) hosts that resolve to a non-public address. The
    same check runs again at every delivery (``CheckedNetworkBackend``)."""
    scheme, host, port = _parse_url(url)
    if settings.PRODUCTION and scheme != "https":
        raise field_error("url", "Webhook URLs must use https.")
    if _allow_private_hosts():
        return url
    try:
        checked_addresses(host, port)
    except AddressRefused as refused:
        raise field_error("url", f"The host cannot be used: {refused}.") from refused
    return url


class CheckedNetworkBackend(httpcore.NetworkBackend):
    """httpcore's connections, made only to addresses checked at connect time: the host is
    resolved here, every address checked, and the socket opened to a checked address (never
    resolved again). TLS is layered on by httpcore with the URL's host as SNI and for the
    certificate check, and the Host header is the URL's, so only the TCP target changes."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = checked_addresses(host, port)
        except AddressRefused as refused:
            raise httpcore.ConnectError(f"refused: {refused}") from refused
        failures: list[Exception] = []
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )  # fmt: skip
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failures.append(exc)
        raise failures[-1]

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("refused: webhooks go over TCP only")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over ``CheckedNetworkBackend``. httpx 0.28 has no option for the
    network backend, but its pool is httpcore's, which has: the pool is replaced, nothing else."""

    def __init__(self, *, network_backend: httpcore.NetworkBackend | None = None) -> None:
        super().__init__()
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=network_backend or CheckedNetworkBackend(),
        )


def webhook_http_client() -> httpx.Client:
    """The client deliveries use: checked connections, no redirects, no proxies from the
    environment (a proxy would connect to the host without our check)."""
    return httpx.Client(
        transport=CheckedTransport(),
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
    )


@transaction.atomic
def webhook_endpoint_create(
    *, agent: Agent, url: str, events: list[str] | None = None
) -> WebhookEndpoint:
    """Register an endpoint; its secret is returned on the row (show it once)."""
    events = list(dict.fromkeys(events or []))
    unknown = sorted(set(events) - set(WEBHOOK_EVENT_TYPES))
    if unknown:
        raise field_error("events", f"Unknown event types: {', '.join(unknown)}.")
    if (
        WebhookEndpoint.objects.filter(agent=agent, is_active=True).count()
        >= MAX_ENDPOINTS_PER_AGENT
    ):
        raise ApplicationError(
            "too_many_endpoints", f"An agent has at most {MAX_ENDPOINTS_PER_AGENT} endpoints."
        )
    return WebhookEndpoint.objects.create(
        agent=agent, url=_validate_url(url), events=events, secret=f"whsec_{secrets.token_hex(24)}"
    )


@transaction.atomic
def webhook_endpoint_disable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop sending to an endpoint (its delivery log stays). Disabling twice is harmless."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(is_active=False)
    endpoint.is_active = False
    return endpoint


def webhook_event_emit(*, agent: Agent, event_type: str, data: dict[str, Any]) -> list[int]:
    """Queue ``event_type`` for every endpoint of ``agent`` that wants it, inside the caller's
    transaction (so an event exists exactly when the change it reports does); sending starts
    after commit."""
    assert event_type in WEBHOOK_EVENT_TYPES, event_type
    endpoints = [e for e in WebhookEndpoint.objects.filter(agent=agent) if e.wants(event_type)]
    if not endpoints:
        return []
    now = timezone.now()
    event_id = uuid.uuid4()
    payload = json.loads(
        json.dumps(
            {
                "id": str(event_id),
                "type": event_type,
                "created": int(now.timestamp()),
                "livemode": not agent.is_test,
                "data": {"object": data},
            },
            cls=DjangoJSONEncoder,
        )
    )
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint, event_id=event_id, event_type=event_type, payload=payload,
            next_attempt_at=now,
        )
        for endpoint in endpoints
    )  # fmt: skip
    ids = [delivery.pk for delivery in deliveries]
    transaction.on_commit(lambda: _enqueue(ids))
    return ids


def _enqueue(delivery_ids: list[int]) -> None:
    from bounties.tasks import webhook_deliver

    for delivery_id in delivery_ids:
        webhook_deliver.delay(delivery_id)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 30 s doubling, capped at an hour, +-10%."""
    base = min(FIRST_RETRY * (2 ** max(0, attempts - 1)), MAX_RETRY_GAP)
    return base * random.uniform(0.9, 1.1)  # noqa: S311 (jitter, not security)


def webhook_delivery_attempt(*, delivery_id: int, client: httpx.Client | None = None) -> str:
    """Send one delivery if it is due, and record the attempt. Returns the delivery's status.

    Safe to run concurrently and repeatedly: a sender first takes a short lease on the row
    (compare-and-swap on ``next_attempt_at``), so only one sends at a time.
    """
    now = timezone.now()
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    if delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at > now:
        return delivery.status
    leased = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, next_attempt_at=delivery.next_attempt_at
    ).update(next_attempt_at=now + SEND_LEASE)
    if not leased:
        return delivery.status
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.GAVE_UP)
        return DeliveryStatus.GAVE_UP

    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Sightline-Webhooks/1",
        SIGNATURE_HEADER: sign(secret=endpoint.secret, body=body, timestamp=timestamp),
        "Sightline-Event-Id": str(delivery.event_id),
    }
    status_code, error = None, ""
    started = time.monotonic()
    try:
        http = client or webhook_http_client()
        try:
            response = http.post(endpoint.url, content=body, headers=headers)
        finally:
            if client is None:
                http.close()
        status_code = response.status_code
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)

    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery, status_code=status_code, error=error, duration_ms=duration_ms
        )
        attempts = delivery.attempts + 1
        if status_code is not None and 200 <= status_code < 300:
            WebhookDelivery.objects.filter(pk=delivery.pk).update(
                status=DeliveryStatus.SUCCEEDED, attempts=attempts, delivered_at=timezone.now()
            )
            return DeliveryStatus.SUCCEEDED
        next_at = timezone.now() + backoff(attempts)
        gave_up = next_at > delivery.created_at + RETRY_FOR
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=attempts,
            next_attempt_at=next_at,
            status=DeliveryStatus.GAVE_UP if gave_up else DeliveryStatus.PENDING,
        )
    outcome = "gave up" if gave_up else f"retry at {next_at:%H:%M:%S}"
    logger.info(
        "webhook %s to endpoint %s failed (%s); %s",
        delivery.pk, endpoint.pk, status_code or error, outcome,
    )  # fmt: skip
    return DeliveryStatus.GAVE_UP if gave_up else DeliveryStatus.PENDING


def webhook_deliveries_due() -> list[int]:
    """Pending deliveries whose next attempt is due (for the beat sweeper)."""
    return list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
        ).values_list("pk", flat=True)[:1000]
    )


@transaction.atomic
def webhook_delivery_retry_now(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """An operator's retry: make the delivery due now (a given-up one is tried again too)."""
    WebhookDelivery.objects.filter(pk=delivery.pk).exclude(status=DeliveryStatus.SUCCEEDED).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
    )
    delivery.refresh_from_db()
    return delivery
