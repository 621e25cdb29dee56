"""Shared API plumbing: pagination and per-key throttling."""

from typing import TYPE_CHECKING, Any

from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

if TYPE_CHECKING:
    from rest_framework.views import APIView


class CursorPagination(pagination.CursorPagination):
    """Stable pages over changing data: newest first, ``?cursor=`` to continue."""

    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class APIKeyRateThrottle(SimpleRateThrottle):
    """One budget per API key (``API_THROTTLE_RATE``); unauthenticated calls by client IP."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        api_key: Any = getattr(request, "auth", None)
        ident = f"key:{api_key.prefix}" if api_key is not None else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


def paginated(name: str, item: "type[serializers.Serializer]") -> "serializers.Serializer":
    """The OpenAPI shape of a page: ``{"next", "previous", "results": [item, ...]}``."""
    from drf_spectacular.utils import inline_serializer

    return inline_serializer(
        name,
        {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item(many=True),
        },
    )
