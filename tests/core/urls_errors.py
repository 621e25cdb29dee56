"""The real URL conf plus two views that exist only to exercise error rendering."""

from django.urls import path
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from market.core.errors import ApplicationError
from market.urls import handler400, handler404, handler500
from market.urls import urlpatterns as market_urlpatterns


class EchoApi(APIView):
    required_scopes: dict[str, str] = {}

    class InputSerializer(serializers.Serializer):
        lat = serializers.FloatField(min_value=-90, max_value=90)
        tags = serializers.ListField(child=serializers.CharField(max_length=3))
        window = serializers.DictField(child=serializers.IntegerField())

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if serializer.validated_data["lat"] == 0:
            raise ApplicationError(
                "insufficient_funds", "Not enough money", status=402, extra={"needed_minor": 5}
            )
        return Response(serializer.validated_data)


class BoomApi(APIView):
    required_scopes: dict[str, str] = {}

    def get(self, request: Request) -> Response:
        raise RuntimeError("a bug")


urlpatterns = [
    path("api/v1/test/echo/", EchoApi.as_view()),
    path("api/v1/test/boom/", BoomApi.as_view()),
    *market_urlpatterns,
]

__all__ = ["handler400", "handler404", "handler500", "urlpatterns"]
