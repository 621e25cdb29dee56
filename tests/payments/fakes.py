"""A fake of Stripe's HTTP API (only the boundary: the real stripe library runs on top of it),
and Stripe webhook events signed for real.

``FakeStripe`` is a ``stripe.HTTPClient``: installed as ``stripe.default_http_client``, it
receives exactly what the library would send over the wire, records each request (method, path,
form parameters, the Idempotency-Key and Stripe-Account headers), answers with Stripe-shaped
JSON, replays the first answer for a repeated idempotency key as Stripe does, and can be told
to fail (connection error, 500, 402 card error, 400 invalid request).
"""

import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

WEBHOOK_SECRET = "whsec_test_5ightl1ne"
SECRET_KEY = "sk_test_fake_sightline"
API_VERSION = "2025-10-29.clover"


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    idempotency_key: str | None
    stripe_account: str | None


@dataclass
class Failure:
    kind: str  # "connection", "lost" (done, answer lost), "server", "card", "invalid"
    path: str
    times: int
    code: str = ""


@dataclass
class FakeStripe(stripe.HTTPClient):
    name = "fake"
    requests: list[Request] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    balance_transactions: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 100
    replies: dict[str, tuple[str, int]] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        super().__init__()

    # --- what tests use ---------------------------------------------------------------------

    def fail(self, kind: str, *, path: str = "", times: int = 1, code: str = "") -> None:
        """The next ``times`` requests whose path starts with ``path`` fail this way."""
        self.failures.append(Failure(kind=kind, path=path, times=times, code=code))

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path, r.path)]

    # --- stripe.HTTPClient ------------------------------------------------------------------

    def _should_retry(self, *args: Any, **kwargs: Any) -> bool:
        return False  # one library call, one request: tests count them

    def close(self) -> None:
        pass

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: Any = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        headers = headers or {}
        parts = urlsplit(url)
        body = post_data.decode() if isinstance(post_data, bytes) else (post_data or "")
        params = dict(parse_qsl(body or parts.query, keep_blank_values=True))
        key = headers.get("Idempotency-Key") if method == "post" else None
        self.requests.append(
            Request(
                method=method,
                path=parts.path,
                params=params,
                idempotency_key=key,
                stripe_account=headers.get("Stripe-Account"),
            )
        )
        response_headers = {"Request-Id": f"req_{next(self.ids)}"}
        failure = self._take_failure(parts.path)
        if failure is not None and failure.kind != "lost":
            return self._error(failure, response_headers)
        if key is not None and key in self.replies:
            text, status = self.replies[key]
            return text, status, {**response_headers, "Idempotent-Replayed": "true"}
        status, payload = self._route(method, parts.path, params, headers.get("Stripe-Account"))
        text = json.dumps(payload)
        if key is not None and status < 500:
            self.replies[key] = (text, status)
        if failure is not None:  # "lost": Stripe did it, but the answer never reached us
            raise stripe.APIConnectionError("Connection reset while reading the response (fake)")
        return text, status, response_headers

    # --- internals --------------------------------------------------------------------------

    def _take_failure(self, path: str) -> Failure | None:
        for failure in self.failures:
            if path.startswith(failure.path) and failure.times > 0:
                failure.times -= 1
                return failure
        return None

    def _error(
        self, failure: Failure, headers: dict[str, str]
    ) -> tuple[str, int, Mapping[str, str]]:
        if failure.kind == "connection":
            raise stripe.APIConnectionError("Could not connect to Stripe (fake network error)")
        status, error = {
            "server": (500, {"type": "api_error", "message": "An unknown error occurred"}),
            "card": (
                402,
                {
                    "type": "card_error",
                    "code": failure.code or "card_declined",
                    "message": "Your card was declined.",
                },
            ),
            "invalid": (
                400,
                {
                    "type": "invalid_request_error",
                    "code": failure.code or "account_invalid",
                    "message": "The destination account cannot receive transfers.",
                },
            ),
        }[failure.kind]
        return json.dumps({"error": error}), status, headers

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self.ids):08d}FAKE"

    def _route(
        self, method: str, path: str, params: dict[str, str], account: str | None
    ) -> tuple[int, dict[str, Any]]:
        now = int(time.time())
        metadata = {
            k[len("metadata[") : -1]: v for k, v in params.items() if k.startswith("metadata[")
        }
        if (method, path) == ("post", "/v1/checkout/sessions"):
            session_id = self._id("cs_test")
            amount = int(params["line_items[0][price_data][unit_amount]"])
            return 200, {
                "id": session_id,
                "object": "checkout.session",
                "amount_total": amount,
                "currency": params["line_items[0][price_data][currency]"],
                "client_reference_id": params.get("client_reference_id"),
                "metadata": metadata,
                "mode": params["mode"],
                "payment_status": "unpaid",
                "status": "open",
                "success_url": params["success_url"],
                "cancel_url": params["cancel_url"],
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "created": now,
                "livemode": False,
            }
        if (method, path) == ("post", "/v1/accounts"):
            return 200, {
                "id": self._id("acct"),
                "object": "account",
                "type": params["type"],
                "email": params.get("email"),
                "details_submitted": False,
                "payouts_enabled": False,
                "charges_enabled": False,
                "metadata": metadata,
                "created": now,
            }
        if (method, path) == ("post", "/v1/account_links"):
            return 200, {
                "object": "account_link",
                "created": now,
                "expires_at": now + 300,
                "url": f"https://connect.stripe.com/setup/e/{params['account']}/{next(self.ids)}",
            }
        if (method, path) == ("post", "/v1/transfers"):
            transfer_id = self._id("tr")
            return 200, {
                "id": transfer_id,
                "object": "transfer",
                "amount": int(params["amount"]),
                "amount_reversed": 0,
                "currency": params["currency"],
                "destination": params["destination"],
                "metadata": metadata,
                "reversed": False,
                "reversals": {
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/transfers/{transfer_id}/reversals",
                },
                "transfer_group": params.get("transfer_group"),
                "created": now,
                "livemode": False,
            }
        match = re.fullmatch(r"/v1/transfers/(tr_\w+)/reversals", path)
        if method == "post" and match:
            return 200, {
                "id": self._id("trr"),
                "object": "transfer_reversal",
                "amount": int(params.get("amount", 0)),
                "currency": "usd",
                "transfer": match.group(1),
                "metadata": metadata,
                "created": now,
            }
        if (method, path) == ("post", "/v1/payouts"):
            return 200, {
                "id": self._id("po"),
                "object": "payout",
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "arrival_date": now + 86_400,
                "automatic": False,
                "metadata": metadata,
                "status": "pending",
                "type": "bank_account",
                "created": now,
                "livemode": False,
            }
        if (method, path) == ("get", "/v1/balance_transactions"):
            return 200, self._balance_page(params)
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method.upper()}: {path})",
            }
        }

    def _balance_page(self, params: dict[str, str]) -> dict[str, Any]:
        rows = [
            row
            for row in self.balance_transactions
            if int(params.get("created[gte]", 0)) <= row["created"]
            and row["created"] < int(params.get("created[lt]", 2**40))
        ]
        after = params.get("starting_after")
        if after:
            rows = rows[[row["id"] for row in rows].index(after) + 1 :]
        page = rows[: self.page_size]
        return {
            "object": "list",
            "data": page,
            "has_more": len(rows) > len(page),
            "url": "/v1/balance_transactions",
        }


# --- Webhook events, signed as Stripe signs them --------------------------------------------


def stripe_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    account: str | None = None,
    created: int | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """A v1 snapshot event as Stripe sends it."""
    digest = hashlib.sha256(json.dumps([event_type, obj, created]).encode()).hexdigest()
    event: dict[str, Any] = {
        "id": event_id or f"evt_{digest[:24]}",
        "object": "event",
        "api_version": API_VERSION,
        "created": created or int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account is not None:
        event["account"] = account
    return event


def signature(payload: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """``Stripe-Signature``: ``t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">``."""
    timestamp = timestamp or int(time.time())
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def deliver(client: Any, event: dict[str, Any], *, secret: str = WEBHOOK_SECRET) -> Any:
    """POST the event to our webhook endpoint, signed with ``secret``."""
    payload = json.dumps(event)
    return client.post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(payload, secret=secret),
    )


def checkout_session(
    *, session_id: str, reference: int, agent_id: int, amount_minor: int, currency: str = "usd",
    payment_status: str = "paid", status: str = "complete",
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_subtotal": amount_minor,
        "amount_total": amount_minor,
        "client_reference_id": str(reference),
        "currency": currency,
        "customer_details": {"email": "buyer@example.com"},
        "livemode": False,
        "metadata": {"checkout_session_id": str(reference), "agent_id": str(agent_id)},
        "mode": "payment",
        "payment_intent": f"pi_{session_id[-12:]}",
        "payment_status": payment_status,
        "status": status,
        "created": int(time.time()) - 60,
    }


def bank_payout(
    *, payout_id: int, stripe_id: str, amount_minor: int, status: str, currency: str = "usd",
    failure_code: str | None = None, failure_message: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": stripe_id,
        "object": "payout",
        "amount": amount_minor,
        "arrival_date": int(time.time()),
        "automatic": False,
        "currency": currency,
        "failure_code": failure_code,
        "failure_message": failure_message,
        "livemode": False,
        "metadata": {"payout_id": str(payout_id)},
        "method": "standard",
        "status": status,
        "type": "bank_account",
        "created": int(time.time()) - 3600,
    }


def stripe_transfer(
    *, payout_id: int, stripe_id: str, amount_minor: int, destination: str,
    reversal_id: str | None = None, currency: str = "usd",
) -> dict[str, Any]:  # fmt: skip
    reversals = (
        [{"id": reversal_id, "object": "transfer_reversal", "amount": amount_minor}]
        if reversal_id
        else []
    )
    return {
        "id": stripe_id,
        "object": "transfer",
        "amount": amount_minor,
        "amount_reversed": amount_minor if reversal_id else 0,
        "currency": currency,
        "destination": destination,
        "metadata": {"payout_id": str(payout_id)},
        "reversed": bool(reversal_id),
        "reversals": {"object": "list", "data": reversals, "has_more": False},
        "livemode": False,
        "created": int(time.time()) - 3600,
    }


def connect_account(
    *, account_id: str, payouts_enabled: bool, details_submitted: bool = True
) -> dict[str, Any]:
    return {
        "id": account_id,
        "object": "account",
        "type": "express",
        "charges_enabled": False,
        "details_submitted": details_submitted,
        "payouts_enabled": payouts_enabled,
        "capabilities": {"transfers": "active" if payouts_enabled else "inactive"},
    }
