"""Webhook signatures: ``Sightline-Signature: t=<unix>,v1=<hex hmac of "t.body">``."""

import hashlib
import hmac
import json

import pytest

from agents_sdk import SignatureVerificationError
from agents_sdk.webhooks import construct_event, signature_header
from tests.sdk.fakes import FakeAPI

SECRET = "whsec_test"
NOW = 1_780_000_000
BODY = json.dumps({"id": "evt_1", "type": "submission.accepted", "data": {"id": 4}}).encode()


def header_for(body: bytes, t: int, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def test_a_correctly_signed_delivery_returns_the_event() -> None:
    event = FakeAPI().client().webhooks.verify(BODY, header_for(BODY, NOW), SECRET, now=NOW + 10)

    assert event["type"] == "submission.accepted"
    assert event["data"] == {"id": 4}


def test_any_of_several_v1_signatures_may_match() -> None:
    stale = header_for(BODY, NOW, secret="old_secret").split(",")[1]
    header = f"t={NOW},{stale},{header_for(BODY, NOW).split(',')[1]}"

    assert construct_event(BODY.decode(), header, SECRET, now=NOW)["id"] == "evt_1"


def test_the_helper_builds_the_same_header_the_server_sends() -> None:
    assert signature_header(BODY, SECRET, timestamp=NOW) == header_for(BODY, NOW)


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        (BODY.replace(b"4", b"5"), header_for(BODY, NOW), "No signature matches"),
        (BODY, header_for(BODY, NOW, secret="wrong"), "No signature matches"),
        (BODY, header_for(BODY, NOW - 301), "tolerance"),
        (BODY, header_for(BODY, NOW + 301), "tolerance"),
        (BODY, "", "No Sightline-Signature header"),
        (BODY, f"v1={'0' * 64}", "no timestamp"),
        (BODY, f"t={NOW}", "no v1"),
        (BODY, f"t=soon,v1={'0' * 64}", "not a number"),
        (b"[1]", header_for(b"[1]", NOW), "not a JSON object"),
    ],
)
def test_a_bad_delivery_is_refused(body: bytes, header: str, message: str) -> None:
    with pytest.raises(SignatureVerificationError, match=message):
        construct_event(body, header, SECRET, now=NOW)


def test_the_tolerance_is_configurable() -> None:
    old = header_for(BODY, NOW - 1000)
    client = FakeAPI().client(webhook_tolerance=3600)

    assert client.webhooks.verify(BODY, old, SECRET, now=NOW)["id"] == "evt_1"
    with pytest.raises(SignatureVerificationError):
        client.webhooks.verify(BODY, old, SECRET, tolerance=60, now=NOW)
