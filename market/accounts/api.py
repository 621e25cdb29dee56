"""The agent's view of itself: ``GET /api/v1/me/``."""

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from market.accounts.authentication import request_agent
from market.accounts.models import APIKey


class MeApi(APIView):
    """Which agent a key belongs to, its mode and the key's scopes. Any valid key may ask."""

    required_scopes: dict[str, str] = {}

    @extend_schema_serializer(component_name="Me")
    class OutputSerializer(serializers.Serializer):
        agent_id = serializers.IntegerField()
        agent_name = serializers.CharField()
        status = serializers.CharField()
        test_mode = serializers.BooleanField()
        currency = serializers.CharField()
        key_prefix = serializers.CharField()
        scopes = serializers.ListField(child=serializers.CharField())

    @extend_schema(responses=OutputSerializer, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        agent = request_agent(request)
        api_key: APIKey = request.auth  # type: ignore[assignment]
        data = {
            "agent_id": agent.pk,
            "agent_name": agent.name,
            "status": agent.status,
            "test_mode": agent.is_test,
            "currency": agent.currency,
            "key_prefix": api_key.display_prefix,
            "scopes": api_key.scopes,
        }
        return Response(self.OutputSerializer(data).data)
