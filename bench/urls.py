"""The real URL conf plus ``/bench/bare/``: a bare DRF view reading 20 rows, the baseline."""

from typing import Any

from django.urls import path
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bounties.models import Bounty
from market.urls import urlpatterns as market_urlpatterns


class BareSerializer(serializers.ModelSerializer[Bounty]):
    class Meta:
        model = Bounty
        fields = ("id", "title", "lat", "lon", "price_minor", "currency", "status")


class BareApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []

    def get(self, request: Request) -> Response:
        return Response(BareSerializer(Bounty.objects.order_by("id")[:20], many=True).data)


urlpatterns = [path("bench/bare/", BareApi.as_view()), *market_urlpatterns]
