"""``Idempotency-Key`` for API POSTs: a retried request never does the work twice.

- The same key with the same body replays the first response (header ``Idempotent-Replayed``).
- The same key with a different body answers 422 ``idempotency_key_reused``.
- A duplicate arriving while the first is still running answers 409
  ``idempotency_request_in_progress`` (retry it shortly).
- The work and the stored response commit in one database transaction, so a crash leaves
  neither: the key is then taken over by the next retry once ``TAKEOVER_AFTER`` has passed.
- Responses with status 5xx are not stored: the key is released so the client can retry.
- Keys are kept for ``RETENTION`` (24 hours).
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder
from rest_framework.views import APIView

from market.core.bounds import text_is_storable
from market.core.errors import ApplicationError
from market.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
RETENTION = timedelta(hours=24)
TAKEOVER_AFTER = timedelta(minutes=2)

View = TypeVar("View", bound=APIView)


def _fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(request.body)  # the raw bytes: a faithful retry sends the same ones
    return digest.hexdigest()


def _claim(*, principal: str, key: str, fingerprint: str) -> IdempotencyRecord | Response:
    """Take the key for this request, or answer as the key's state says."""
    now = timezone.now()
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                principal=principal, key=key, fingerprint=fingerprint, created_at=now, locked_at=now
            )
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.get(principal=principal, key=key)
    if now - record.created_at > RETENTION:
        # An expired key starts afresh (compare-and-swap on the row we read).
        taken = IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).update(
            fingerprint=fingerprint, in_progress=True, status_code=None, response_body=None,
            created_at=now, locked_at=now,
        )  # fmt: skip
        if taken:
            record.refresh_from_db()
            return record
        raise _in_progress()
    if record.fingerprint != fingerprint:
        raise ApplicationError(
            "idempotency_key_reused",
            "This Idempotency-Key was used with a different request; use a new key.",
            status=422,
        )
    if not record.in_progress:
        response = Response(
            record.response_body,
            status=record.status_code,
            content_type=record.content_type or None,
        )
        response["Idempotent-Replayed"] = "true"
        return response
    if now - record.locked_at > TAKEOVER_AFTER:
        # The first attempt died without committing anything: take the key over.
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, in_progress=True, locked_at=record.locked_at
        ).update(locked_at=now)
        if taken:
            record.refresh_from_db()
            return record
    raise _in_progress()


def _in_progress() -> ApplicationError:
    return ApplicationError(
        "idempotency_request_in_progress",
        "A request with this Idempotency-Key is in progress; retry shortly.",
        status=409,
    )


def idempotent(
    handler: Callable[..., Response],
) -> Callable[..., Response]:
    """Decorate an APIView's ``post``: honour ``Idempotency-Key`` when the client sends one."""

    @wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return handler(view, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH or not text_is_storable(key):
            raise ApplicationError(
                "invalid_idempotency_key",
                f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters, without NUL.",
            )
        principal = f"agent:{request.user.pk}" if request.user else "anonymous"
        claimed = _claim(principal=principal, key=key, fingerprint=_fingerprint(request))
        if isinstance(claimed, Response):
            return claimed
        record = claimed
        try:
            with transaction.atomic():
                response = handler(view, request, *args, **kwargs)
                if response.status_code < 500:
                    _store(record, response)
                return response
        except Exception as exc:
            try:
                response = view.handle_exception(exc)  # the problem+json the client gets
            except Exception:
                _release(record)  # a bug (500): let the client retry with the same key
                raise
            if response.status_code < 500:
                _store(record, response)
            else:
                _release(record)
            return response

    return wrapper


def _release(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, in_progress=True).delete()


def _store(record: IdempotencyRecord, response: Response) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        in_progress=False,
        status_code=response.status_code,
        # As the client read it: the JSON the response rendered (datetimes as ISO strings), which
        # a JSONField can hold and a replay gives back unchanged.
        response_body=json.loads(json.dumps(response.data, cls=JSONEncoder)),
        content_type=response.content_type or "",
    )


@transaction.atomic
def idempotency_records_purge() -> int:
    """Delete keys older than the retention period; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - RETENTION
    ).delete()
    return deleted
