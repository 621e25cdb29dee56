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
    """One budget per API key (``API_THROTTLE_RATE``); unauthenticated calls by client IP.

    A counter per fixed window of the rate's period (one cache increment per request), not
    DRF's log of request times, which every request reads and writes whole: its cost grows
    with the rate. A key may spend up to twice its budget across a window's edge."""

    scope = "api_key"
    num_requests: int  # set by SimpleRateThrottle from the rate
    duration: int

    def get_cache_key(self, request: Request, view: "APIView") -> str | None:
        api_key: Any = getattr(request, "auth", None)
        ident = f"key:{api_key.prefix}" if api_key is not None else f"ip:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: "APIView") -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_ends_at = (window + 1) * self.duration
        counter = f"{key}:{window}"
        try:
            count = self.cache.incr(counter)
        except ValueError:  # the window's first request (or its counter was evicted)
            if self.cache.add(counter, 1, timeout=self.duration):
                count = 1
            else:  # another request started the window meanwhile
                count = self.cache.incr(counter)
        return count <= self.num_requests

    def wait(self) -> float:
        return max(0.0, self.window_ends_at - self.now)


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
