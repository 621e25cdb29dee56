"""Outgoing webhooks, delivered over real HTTP to a server on 127.0.0.1."""

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from bounties.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bounties.services import submission_decide
from bounties.webhooks import webhook_delivery_attempt, webhook_endpoint_create
from tests.bounties.helpers import funded_bounty, submit
from tests.concurrency import run_concurrently
from tests.conftest import Actor
from tests.factories import UserFactory
from tests.helpers import Receiver, assert_problem

pytestmark = pytest.mark.django_db


def verify(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    fields = dict(
        part.split("=", 1) for part in request["headers"]["Sightline-Signature"].split(",")
    )
    expected = hmac.new(
        secret.encode(), f"{fields['t']}.".encode() + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    return json.loads(request["body"])


def test_an_agent_registers_an_endpoint_and_sees_the_secret_once(
    owner: Actor, receiver: Receiver
) -> None:
    client = owner.client()
    created = client.post(
        "/api/v1/webhook-endpoints/",
        {"url": receiver.url, "events": ["submission.accepted"]},
        format="json",
    )
    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhook-endpoints/").json()["results"]
    assert [row["url"] for row in listed] == [receiver.url] and "secret" not in listed[0]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"url": "ftp://example.com/x"}, "url"), ({"url": "http://x.test/", "events": ["nope"]},
     "events"), ({}, "url")],
)  # fmt: skip
def test_bad_endpoints_are_refused(owner: Actor, payload: dict[str, Any], field: str) -> None:
    response = owner.client().post("/api/v1/webhook-endpoints/", payload, format="json")
    errors = assert_problem(response, 400, "validation_error")["errors"]
    assert any(key.split(".")[0] == field for key in errors), errors
    assert not WebhookEndpoint.objects.exists()


def test_an_accepted_submission_is_delivered_signed(
    owner: Actor, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = webhook_endpoint_create(agent=owner.agent, url=receiver.url)
    bounty = funded_bounty(owner.agent, quantity=1)
    submission = submit(bounty, UserFactory())
    with django_capture_on_commit_callbacks(execute=True):
        submission_decide(submission=submission, accept=True, reasons=[], actor="test")
    events = [verify(endpoint.secret, request) for request in receiver.requests]
    # The bounty is fulfilled at the verdict; the submission's data is released after it.
    assert [event["type"] for event in events] == ["bounty.fulfilled", "submission.accepted"]
    assert events[0]["data"]["object"]["status"] == "fulfilled"
    assert events[1]["data"]["object"]["id"] == submission.pk
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2


def test_a_failing_endpoint_is_retried_with_backoff_then_succeeds(
    owner: Actor, receiver: Receiver
) -> None:
    webhook_endpoint_create(agent=owner.agent, url=receiver.url, events=["submission.rejected"])
    bounty = funded_bounty(owner.agent)
    submission_decide(
        submission=submit(bounty, UserFactory()), accept=False, reasons=["blurry"], actor="t"
    )
    delivery = WebhookDelivery.objects.get()
    receiver.status = 500
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.PENDING
    delivery.refresh_from_db()
    assert delivery.attempts == 1
    wait = delivery.next_attempt_at - timezone.now()
    assert timedelta(seconds=25) < wait < timedelta(seconds=35)
    # not due yet: nothing is sent
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.PENDING
    assert len(receiver.requests) == 1
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    receiver.status = 204
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.SUCCEEDED
    assert list(WebhookAttempt.objects.values_list("status_code", flat=True)) == [500, 204]


def test_it_gives_up_after_24_hours(owner: Actor) -> None:
    endpoint = webhook_endpoint_create(agent=owner.agent, url="http://127.0.0.1:9/unreachable")
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="00000000-0000-0000-0000-000000000001",
        event_type="bounty.expired", payload={}, next_attempt_at=timezone.now(),
    )  # fmt: skip
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(hours=24)
    )
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == DeliveryStatus.GAVE_UP
    assert "ConnectError" in WebhookAttempt.objects.get().error


def test_outsiders_cannot_remove_an_endpoint(owner: Actor, outsider: Actor) -> None:
    endpoint = webhook_endpoint_create(agent=owner.agent, url="http://127.0.0.1:9/x")
    assert_problem(
        outsider.client().delete(f"/api/v1/webhook-endpoints/{endpoint.pk}/"), 404, "not_found"
    )
    assert owner.client().delete(f"/api/v1/webhook-endpoints/{endpoint.pk}/").status_code == 204
    endpoint.refresh_from_db()
    assert not endpoint.is_active


@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_send_once(receiver: Receiver) -> None:
    from tests.conftest import make_actor

    endpoint = webhook_endpoint_create(agent=make_actor().agent, url=receiver.url)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="00000000-0000-0000-0000-000000000002",
        event_type="bounty.expired", payload={"x": 1}, next_attempt_at=timezone.now(),
    )  # fmt: skip
    _, errors = run_concurrently(
        lambda _: webhook_delivery_attempt(delivery_id=delivery.pk), threads=8
    )
    assert not errors and len(receiver.requests) == 1
    assert WebhookAttempt.objects.count() == 1
