"""Typed errors: one class per way a call can fail, all subclasses of ``SightlineError``.

The API answers every error with RFC 9457 ``application/problem+json`` carrying a stable
``code``; ``error_from_response`` turns that body into the matching class. Branch on the
class or on ``.code``, never on ``.detail`` (which is written for people).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

IDEMPOTENCY_CODES = frozenset({"idempotency_key_reused", "idempotency_request_in_progress"})
FUNDS_CODES = frozenset({"insufficient_funds", "spending_cap_exceeded"})
NOT_READY_CODE = "not_ready"
REQUEST_ID_HEADERS = ("Request-Id", "X-Request-Id")
NO_API_KEY = "no_api_key"  # raised by the client itself, before any request


class SightlineError(Exception):
    """Base class of every error this package raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        detail: str | None = None,
        body: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail = detail if detail is not None else message
        self.body: Mapping[str, Any] = body if body is not None else {}
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [str(self.status)] if self.status is not None else []
        if self.code:
            parts.append(self.code)
        prefix = " ".join(parts)
        text = f"{prefix}: {self.message}" if prefix else self.message
        return f"{text} (request id {self.request_id})" if self.request_id else text


class AuthenticationError(SightlineError):
    """401: no API key, or an invalid or revoked one."""


class PermissionDenied(SightlineError):
    """403: the key lacks a scope, or the agent is suspended."""


class NotFound(SightlineError):
    """404: no such object, or not yours."""


class ValidationError(SightlineError):
    """400/422: the request has invalid fields; ``.errors`` maps each field to its messages."""

    def __init__(
        self, message: str, *, errors: Mapping[str, list[str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors: dict[str, list[str]] = dict(errors or {})

    def __str__(self) -> str:
        text = super().__str__()
        if not self.errors:
            return text
        fields = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in sorted(self.errors.items())
        )
        return f"{text} [{fields}]"


class InsufficientFunds(SightlineError):
    """402: the wallet cannot cover the escrow, or today's spending cap is used up."""


class RateLimited(SightlineError):
    """429: over the key's request budget; ``.retry_after`` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class IdempotencyError(SightlineError):
    """409/422: the key was used with another body, or the first request is still running."""


class APIError(SightlineError):
    """Any other error answer: 5xx after the retries, unexpected statuses, non-JSON bodies."""


class Conflict(APIError):
    """409: the object's state forbids the call (``already_decided``: a submission you decided
    the other way; ``not_awaiting_review``; ``not_accepted``). Branch on ``.code``."""


class NotReady(Conflict):
    """409 ``not_ready``: what you asked for (a preview, an accepted photo, its receipt) is
    still being made, seconds away; ``.retry_after`` says when to ask again. Retried
    automatically unless you opt out."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class APIConnectionError(SightlineError):
    """The server could not be reached, or did not answer in time, after the retries."""


class SignatureVerificationError(SightlineError):
    """A webhook or receipt signature is missing, malformed, expired or wrong."""


def _request_id(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        if name in headers:
            return headers[name]
    return None


def retry_after_seconds(response: httpx.Response, body: Mapping[str, Any]) -> float | None:
    """``Retry-After`` in seconds (the header, else the body's ``retry_after``), if given."""
    for value in (response.headers.get("Retry-After"), body.get("retry_after")):
        try:
            seconds = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue  # absent, or an HTTP date, which the API does not send
        if seconds >= 0:
            return seconds
    return None


def problem_body(response: httpx.Response) -> dict[str, Any] | None:
    """The problem+json (or any JSON object) body of an error response, else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _field_errors(value: Any) -> dict[str, list[str]]:
    if not isinstance(value, Mapping):
        return {}
    errors: dict[str, list[str]] = {}
    for name, messages in value.items():
        if isinstance(messages, list):
            errors[str(name)] = [str(message) for message in messages]
        else:
            errors[str(name)] = [str(messages)]
    return errors


def error_from_response(response: httpx.Response) -> SightlineError:
    """The typed error for a non-2xx response."""
    status = response.status_code
    request_id = _request_id(response.headers)
    body = problem_body(response)
    if body is None:
        snippet = response.text[:200].strip() or response.reason_phrase
        return APIError(
            f"Unexpected {status} response that is not JSON: {snippet}",
            status=status,
            request_id=request_id,
        )
    code = str(body["code"]) if body.get("code") is not None else None
    detail = str(body.get("detail") or body.get("title") or response.reason_phrase)
    common: dict[str, Any] = {
        "status": status,
        "code": code,
        "detail": detail,
        "body": body,
        "request_id": request_id,
    }
    if code in IDEMPOTENCY_CODES:
        return IdempotencyError(detail, **common)
    if status == 402 or code in FUNDS_CODES:
        return InsufficientFunds(detail, **common)
    if status == 401:
        return AuthenticationError(detail, **common)
    if status == 403:
        return PermissionDenied(detail, **common)
    if status == 404:
        return NotFound(detail, **common)
    if status in (400, 422):
        return ValidationError(detail, errors=_field_errors(body.get("errors")), **common)
    if status == 429:
        return RateLimited(detail, retry_after=retry_after_seconds(response, body), **common)
    if status == 409 and code == NOT_READY_CODE:
        return NotReady(detail, retry_after=retry_after_seconds(response, body), **common)
    if status == 409:
        return Conflict(detail, **common)
    return APIError(detail, **common)
