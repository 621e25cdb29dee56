"""The agents' guide (/llms.txt) and the health endpoint."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from market.core.selectors import system_health


def llms_txt(request: HttpRequest) -> HttpResponse:
    """A Markdown guide to the API, written for agents."""
    body = render_to_string("llms.txt", {"site_url": settings.SITE_URL}, request=request)
    return HttpResponse(body, content_type="text/markdown; charset=utf-8")


class HealthApi(APIView):
    """Database, broker, workers and vision model. 200 when all is well, else 503."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    @extend_schema(
        operation_id="health_retrieve",
        responses=inline_serializer(
            "Health",
            {"status": serializers.CharField(), "components": serializers.DictField()},
        ),
    )
    def get(self, request: Request) -> Response:
        health = system_health()
        return Response(health, status=200 if health["status"] == "ok" else 503)
