"""Shared API plumbing: pagination and per-key throttling."""

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Field, Model, QuerySet
from django.utils import timezone
from rest_framework import pagination, serializers
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from market.core.bounds import MAX_BIGINT, text_is_storable
from market.core.errors import ApplicationError
from market.core.proxies import client_ip

if TYPE_CHECKING:
    from rest_framework.views import APIView


MAX_PAGE_SIZE = 200
MAX_CURSOR_LENGTH = 1_000
# Cursor positions are our own timestamps: one outside these years was not written by us (and
# PostgreSQL, or the conversion to UTC, cannot take some of them).
_POSITION_YEARS = (1970, 9000)


def _invalid_cursor() -> ApplicationError:
    return ApplicationError(
        "invalid_cursor",
        "The cursor is not one this list gave out; start again without it.",
        extra={"errors": {"cursor": ["Invalid cursor"]}},
    )


class CursorPagination(pagination.CursorPagination):
    """Stable pages over changing data: newest first, ``?cursor=`` to continue.

    A cursor is opaque but not signed: everything in it (its encoding, offset, direction, and
    its position against the type of the first ordering field) is checked before it reaches a
    query. A tampered one answers 400 ``invalid_cursor``."""

    ordering: tuple[str, ...] = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    _model: type[Model] | None = None

    def paginate_queryset(
        self, queryset: "QuerySet[Any]", request: Request, view: "APIView | None" = None
    ) -> list[Any] | None:
        self._model = queryset.model  # decode_cursor checks the position against its field
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and len(encoded) > MAX_CURSOR_LENGTH:
            raise _invalid_cursor()
        try:
            cursor = super().decode_cursor(request)
        except Exception as error:  # NotFound, and whatever else a crafted string provokes
            raise _invalid_cursor() from error
        if cursor is None or cursor.position is None:
            return cursor
        if self._model is None:
            raise _invalid_cursor()
        field = _ordering_field(self._model, self.ordering)
        position = _checked_position(field, str(cursor.position))
        # the stubs type a position as int; DRF's positions are strings from the query
        return pagination.Cursor(cursor.offset, cursor.reverse, position)  # type: ignore[arg-type]

    def get_schema_operation_parameters(self, view: "APIView") -> list[dict[str, Any]]:
        return page_parameter_schemas()


def page_parameter_schemas() -> list[dict[str, Any]]:
    """The OpenAPI query parameters of every cursor-paginated list, with their bounds."""
    return [
        {
            "name": "cursor",
            "required": False,
            "in": "query",
            "description": "The page to continue from: the cursor of a `next` or `previous` link.",
            "schema": {"type": "string", "maxLength": MAX_CURSOR_LENGTH},
        },
        {
            "name": "page_size",
            "required": False,
            "in": "query",
            "description": f"Items per page (default 50, at most {MAX_PAGE_SIZE}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
    ]


def page_parameters() -> list[Any]:
    """``page_parameter_schemas`` for ``@extend_schema(parameters=...)`` on an ``APIView``."""
    from drf_spectacular.utils import OpenApiParameter

    return [
        OpenApiParameter(param["name"], param["schema"], description=param["description"])
        for param in page_parameter_schemas()
    ]


def idempotency_parameter() -> Any:
    """The ``Idempotency-Key`` header of an ``@idempotent`` POST, for its schema."""
    from drf_spectacular.utils import OpenApiParameter

    # idempotency imports DRF's views, which import this module (the throttle) at setup
    from market.core.idempotency import HEADER, MAX_KEY_LENGTH

    return OpenApiParameter(
        HEADER,
        {"type": "string", "maxLength": MAX_KEY_LENGTH},
        OpenApiParameter.HEADER,
        description="Retry safely: the same key and body replay the first response (24 hours).",
    )


def _ordering_field(model: type[Model], ordering: Any) -> "Field[Any, Any]":
    """The model field behind the first ordering term (across relations: ``a__b``)."""
    first = ordering[0] if isinstance(ordering, (list, tuple)) else ordering
    *relations, name = first.lstrip("-").split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model  # type: ignore[assignment]
    return model._meta.get_field(name)  # type: ignore[return-value]


def _checked_position(field: "Field[Any, Any]", position: str) -> str:
    """The position, if the query can use it as it is (DRF compares it, as a string, with the
    positions of the rows it reads: ours pass unchanged); otherwise ``invalid_cursor``."""
    if not text_is_storable(position):
        raise _invalid_cursor()
    try:
        value = field.to_python(position)
    except (DjangoValidationError, ValueError, TypeError, OverflowError) as error:
        raise _invalid_cursor() from error
    if isinstance(value, datetime):
        aware = value if timezone.is_aware(value) else value.replace(tzinfo=UTC)
        try:
            in_utc = aware.astimezone(UTC)
        except (ValueError, OverflowError) as error:  # 9999-12-31T23:59-14:00 is year 10000
            raise _invalid_cursor() from error
        if not _POSITION_YEARS[0] <= in_utc.year <= _POSITION_YEARS[1]:
            raise _invalid_cursor()
        return position if aware is value else str(in_utc)
    if isinstance(value, int) and not -MAX_BIGINT <= value <= MAX_BIGINT:
        raise _invalid_cursor()
    return position


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

    def get_ident(self, request: Request) -> str:
        """The client's address, X-Forwarded-For believed only from ``TRUSTED_PROXIES``."""
        return client_ip(request)

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


def schema_bound_path_ids(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every integer path parameter (an id) is 1 to the
    largest bigint, as the URL converter and the database take it."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") == "path" and schema.get("type") == "integer":
                    schema.setdefault("minimum", 1)
                    schema.setdefault("maximum", MAX_BIGINT)
    return result
