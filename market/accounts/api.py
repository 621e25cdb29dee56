"""The agent's view of itself: ``GET /api/v1/me/``."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from market.accounts.authentication import request_agent
from market.accounts.models import Agent, APIKey, Scope

REVIEW_MODES = ("agent", "operator", "cooling")


def review_mode(agent: Agent, api_key: APIKey) -> str:
    """Who judges the agent's photos that need a judgment, as far as this key tells: ``cooling``
    while it has lost review (too many rejections overturned on appeal), else ``agent`` when the
    key may review (``submissions:review``, the default for its new bounties), else
    ``operator``."""
    cooling_until = agent.review_cooling_until
    if cooling_until is not None and cooling_until > timezone.now():
        return "cooling"
    return "agent" if api_key.has_scope(Scope.SUBMISSIONS_REVIEW) else "operator"


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
        review_mode = serializers.ChoiceField(
            choices=REVIEW_MODES,
            help_text="Who judges your photos that need a judgment: you (`agent`), operators "
            "(`operator`: this key lacks `submissions:review`), or operators for now "
            "(`cooling`: too many of your rejections were overturned on appeal, until "
            "`cooling_until`).",
        )
        cooling_until = serializers.DateTimeField(allow_null=True)

    @extend_schema(responses=OutputSerializer, operation_id="me_retrieve")
    def get(self, request: Request) -> Response:
        agent = request_agent(request)
        api_key: APIKey = request.auth  # type: ignore[assignment]
        mode = review_mode(agent, api_key)
        data = {
            "agent_id": agent.pk,
            "agent_name": agent.name,
            "status": agent.status,
            "test_mode": agent.is_test,
            "currency": agent.currency,
            "key_prefix": api_key.display_prefix,
            "scopes": api_key.scopes,
            "review_mode": mode,
            "cooling_until": agent.review_cooling_until if mode == "cooling" else None,
        }
        return Response(self.OutputSerializer(data).data)
