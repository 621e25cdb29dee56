"""Every API error as RFC 9457 ``application/problem+json``, with a stable ``code``.

One DRF exception handler renders application errors, DRF's own errors (validation,
authentication, permission, throttling, parsing) and Django's 404/500 for ``/api/`` paths, so an
agent parses one format whatever went wrong.
"""

import logging
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from market.core.errors import ApplicationError

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "https://sightline.dev/problems/"

# DRF exception class -> our stable code (DRF's own codes are not all stable or specific).
DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "validation_error",
}


def problem(
    *,
    status: int,
    code: str,
    detail: str,
    title: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The problem document for one error."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def _field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested validation detail into ``{"field.sub": ["message", ...]}``."""
    errors: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" else str(key)
            errors.update(_field_errors(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            errors[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                errors.update(_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        errors[prefix or "non_field_errors"] = [str(detail)]
    return errors


def _problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    set_rollback()  # nothing a failed request wrote inside an atomic block survives
    response = Response(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: render every known error as problem+json."""
    request = context.get("request")
    instance = request.path if request is not None else None

    if isinstance(exc, ApplicationError):
        return _problem_response(
            problem(
                status=exc.status,
                code=exc.code,
                detail=exc.message,
                instance=instance,
                **exc.extra,
            )
        )
    if isinstance(exc, RequestDataTooBig):
        return _problem_response(_too_large(instance))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: Django's 500 handler answers (problem+json under /api/)

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    retry_after = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if retry_after is not None:
        headers["Retry-After"] = str(int(retry_after))

    code = _code_for(exc)
    if isinstance(exc, exceptions.ValidationError):
        errors = _field_errors(exc.detail)
        body = problem(
            status=exc.status_code,
            code=code,
            detail="The request has invalid fields: " + ", ".join(sorted(errors)) + ".",
            instance=instance,
            errors=errors,
        )
    else:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        extra: dict[str, Any] = {}
        if retry_after is not None:
            extra["retry_after"] = int(retry_after)
        body = problem(
            status=exc.status_code,
            code=code,
            detail=str(detail),
            instance=instance,
            **extra,
        )
    return _problem_response(body, headers)


def _code_for(exc: exceptions.APIException) -> str:
    explicit = getattr(exc, "problem_code", None)
    if explicit:
        return str(explicit)
    for cls in type(exc).__mro__:
        if cls in DRF_CODES:
            return DRF_CODES[cls]
    return "error"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: problem+json for API paths, the site's page elsewhere."""
    if _is_api(request):
        body = problem(
            status=404,
            code="not_found",
            detail="No such endpoint.",
            instance=request.path,
        )
        return JsonResponse(body, status=404, content_type=PROBLEM_CONTENT_TYPE)
    return render(request, "404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler: the bug is logged by Django; the client gets a clean answer."""
    if _is_api(request):
        body = problem(
            status=500,
            code="internal_error",
            detail="Something went wrong on our side. It has been logged; retry later.",
            instance=request.path,
        )
        return JsonResponse(body, status=500, content_type=PROBLEM_CONTENT_TYPE)
    return render(request, "500.html", status=500)


def _too_large(instance: str | None) -> dict[str, Any]:
    """Past Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB): the answer of the JSON parser's
    smaller limit (``market.core.parsers``), so every oversized body gets one answer."""
    limit = settings.API_MAX_JSON_BYTES
    return problem(
        status=413,
        code="too_large",
        detail=f"The request body is over {limit} bytes.",
        instance=instance,
        max_bytes=limit,
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request) and isinstance(exception, RequestDataTooBig):
        return JsonResponse(_too_large(request.path), status=413, content_type=PROBLEM_CONTENT_TYPE)
    if _is_api(request):
        body = problem(
            status=400,
            code="bad_request",
            detail="The request is malformed.",
            instance=request.path,
        )
        return JsonResponse(body, status=400, content_type=PROBLEM_CONTENT_TYPE)
    return render(request, "400.html", status=400)
