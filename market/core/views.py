"""The agents' guide (/llms.txt) and the health endpoint."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from market.accounts.authentication import APIKeyAuthentication
from market.core.selectors import HEALTH_DEGRADED, HEALTH_UP, system_health


def llms_txt(request: HttpRequest) -> HttpResponse:
    """A Markdown guide to the API, written for agents."""
    body = render_to_string("llms.txt", {"site_url": settings.SITE_URL}, request=request)
    return HttpResponse(body, content_type="text/markdown; charset=utf-8")


class HealthApi(APIView):
    """``up`` (200) or ``degraded`` (503) for anyone: load balancers probe it. Each component's
    details (versions, hosts, errors) only for operators (a staff session) or with an API key;
    a bad key is answered like no key, so the probe itself never fails."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def perform_authentication(self, request: Request) -> None:
        """Nothing to require: anyone may call. (Reading ``request.user`` here would replace
        the session's user, which `_may_read_details` looks at, with the anonymous one.)"""

    @extend_schema(
        operation_id="health_retrieve",
        responses=inline_serializer(
            "Health",
            {
                "status": serializers.ChoiceField(choices=[HEALTH_UP, HEALTH_DEGRADED]),
                "components": serializers.DictField(
                    required=False,
                    help_text="Database, broker, workers and vision model: operators or an "
                    "API key only.",
                ),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        health = system_health()
        body: dict[str, Any] = {"status": health["status"]}
        if _may_read_details(request):
            body["components"] = health["components"]
        return Response(body, status=200 if health["status"] == HEALTH_UP else 503)


def _may_read_details(request: Request) -> bool:
    # Django's session user (AuthenticationMiddleware): this view skips DRF authentication.
    session_user = getattr(request._request, "user", None)
    if session_user is not None and session_user.is_active and session_user.is_staff:
        return True
    try:
        return APIKeyAuthentication().authenticate(request) is not None
    except AuthenticationFailed:
        return False
