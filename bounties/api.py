"""The agents' REST API for bounties and their submissions (``/api/v1/``).

Thin views: parse with an input serializer, call one service or selector, render with an
output serializer. Amounts are integers in minor units.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from bounties import disclosure
from bounties.models import (
    MAX_METADATA_BYTES,
    MAX_QUANTITY,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    Bounty,
    BountyStatus,
    Receipt,
    Reviewer,
    ReviewMode,
    Submission,
    SubmissionStatus,
)
from bounties.models.webhooks import WEBHOOK_EVENT_TYPES, WebhookEndpoint
from bounties.receipts import ALGORITHM, public_keys
from bounties.selectors import (
    bounties_for_agent,
    bounty_rows_near,
    submissions_awaiting_review,
    submissions_for_agent,
    with_open_slots,
)
from bounties.services import BountySpec, bounty_cancel, bounty_create
from bounties.services.bounties import (
    MAX_AUTO_APPROVE_AFTER,
    MAX_CLAIM_TTL,
    MAX_PER_WORKER,
    MAX_PRICE_MINOR,
    METADATA_MAX_DEPTH,
    METADATA_MAX_ITEMS,
    METADATA_MAX_NUMBER,
    METADATA_MAX_STRING,
    MIN_AUTO_APPROVE_AFTER,
    MIN_CLAIM_TTL,
    metadata_check,
)
from bounties.services.review import (
    MAX_REASON_LENGTH,
    MIN_REASON_LENGTH,
    submission_review_decide,
)
from bounties.webhooks import webhook_endpoint_create, webhook_endpoint_disable
from market.accounts.authentication import request_agent
from market.accounts.models import APIKey, Scope
from market.core.api import (
    MAX_PAGE_SIZE,
    CursorPagination,
    idempotency_parameter,
    page_parameters,
    paginated,
)
from market.core.bounds import MAX_BIGINT
from market.core.errors import ApplicationError
from market.core.idempotency import idempotent

METADATA_SCHEMA = {
    "type": "object",
    "maxProperties": METADATA_MAX_ITEMS,
    "additionalProperties": True,
    "description": (
        f"Your own JSON object, echoed back: at most {MAX_METADATA_BYTES} bytes, nested at most "
        f"{METADATA_MAX_DEPTH} deep, {METADATA_MAX_ITEMS} keys and items in all, keys and "
        f"strings of at most {METADATA_MAX_STRING} characters without NUL or lone surrogates, "
        f"numbers finite within +/-{METADATA_MAX_NUMBER:.0e}."
    ),
}


@extend_schema_field(METADATA_SCHEMA)
class MetadataField(serializers.JSONField):
    """A bounty's metadata: the bounds are ``metadata_check``'s (the service's)."""

    def to_internal_value(self, data: Any) -> Any:
        return metadata_check(super().to_internal_value(data))


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


@extend_schema_serializer(component_name="BountyCreate")
class BountyInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    instructions = serializers.CharField(max_length=5_000, required=False, allow_blank=True)
    verify = serializers.CharField(max_length=500, help_text="What the photo must show, in words.")
    lat = serializers.FloatField(min_value=-90, max_value=90)
    lon = serializers.FloatField(min_value=-180, max_value=180)
    radius_m = serializers.IntegerField(min_value=MIN_RADIUS_M, max_value=MAX_RADIUS_M)
    starts_at = serializers.DateTimeField(
        required=False,
        help_text=(
            f"Default: now. At most {_seconds(settings.BOUNTY_MAX_START_AGE) // 3600} hours ago."
        ),
    )
    ends_at = serializers.DateTimeField(
        help_text=(
            f"After starts_at and now; at most {settings.BOUNTY_MAX_HORIZON.days} days ahead."
        )
    )
    price = serializers.IntegerField(
        min_value=1, max_value=MAX_PRICE_MINOR, help_text="Per accepted photo, in minor units."
    )
    currency = serializers.CharField(max_length=3)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    claim_ttl_seconds = serializers.IntegerField(
        min_value=_seconds(MIN_CLAIM_TTL), max_value=_seconds(MAX_CLAIM_TTL), default=1_800
    )
    require_gps = serializers.BooleanField(default=True)
    max_per_worker = serializers.IntegerField(min_value=1, max_value=MAX_PER_WORKER, default=1)
    auto_approve_after_seconds = serializers.IntegerField(
        min_value=_seconds(MIN_AUTO_APPROVE_AFTER),
        max_value=_seconds(MAX_AUTO_APPROVE_AFTER),
        default=86_400,
    )
    blur_faces = serializers.BooleanField(default=True)
    review = serializers.ChoiceField(
        choices=ReviewMode.choices,
        required=False,
        help_text=(
            "Who judges photos that pass the checks but need a judgment: `agent` (you: preview, "
            "accept or reject; silence until the deadline accepts), `operator`, or `auto` (the "
            "checks decide, a person only where one failed). Default: `agent` if this key has "
            "the `submissions:review` scope, else `operator`."
        ),
    )
    metadata = MetadataField(required=False, default=dict)

    def validate_currency(self, value: str) -> str:
        value = value.lower()
        if value not in settings.SUPPORTED_CURRENCIES:
            supported = ", ".join(settings.SUPPORTED_CURRENCIES)
            raise serializers.ValidationError(f"Unknown currency; use one of {supported}.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        now = timezone.now()
        starts_at = attrs.setdefault("starts_at", now)
        if attrs["ends_at"] <= starts_at:
            raise serializers.ValidationError({"ends_at": "The window must end after it starts."})
        if attrs["ends_at"] <= now:
            raise serializers.ValidationError({"ends_at": "The window must end in the future."})
        return attrs

    def to_spec(self, *, default_review: str) -> BountySpec:
        data = self.validated_data
        return BountySpec(
            title=data["title"],
            instructions=data.get("instructions", ""),
            verify=data["verify"],
            lat=data["lat"],
            lon=data["lon"],
            radius_m=data["radius_m"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            price_minor=data["price"],
            currency=data["currency"],
            quantity=data["quantity"],
            claim_ttl=timedelta(seconds=data["claim_ttl_seconds"]),
            require_gps=data["require_gps"],
            max_per_worker=data["max_per_worker"],
            auto_approve_after=timedelta(seconds=data["auto_approve_after_seconds"]),
            blur_faces=data["blur_faces"],
            metadata=data["metadata"],
            review=data.get("review") or default_review,
        )


@extend_schema_serializer(component_name="Bounty")
class BountyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=BountyStatus.choices)
    title = serializers.CharField()
    instructions = serializers.CharField()
    verify = serializers.CharField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    radius_m = serializers.IntegerField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    price = serializers.IntegerField(source="price_minor")
    fee = serializers.IntegerField(source="fee_minor")
    currency = serializers.CharField()
    quantity = serializers.IntegerField()
    accepted = serializers.IntegerField(source="accepted_count")
    open_slots = serializers.IntegerField()
    claim_ttl_seconds = serializers.SerializerMethodField()
    require_gps = serializers.BooleanField()
    max_per_worker = serializers.IntegerField()
    auto_approve_after_seconds = serializers.SerializerMethodField()
    blur_faces = serializers.BooleanField()
    review = serializers.ChoiceField(choices=ReviewMode.choices)
    metadata = serializers.JSONField()
    test_mode = serializers.BooleanField(source="is_test")
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    distance_m = serializers.FloatField(required=False)

    def get_claim_ttl_seconds(self, bounty: Bounty) -> int:
        return int(bounty.claim_ttl.total_seconds())

    def get_auto_approve_after_seconds(self, bounty: Bounty) -> int:
        return int(bounty.auto_approve_after.total_seconds())


def bounty_rows_output(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What ``BountyOutputSerializer`` renders, from rows of ``bounty_rows_near``: the nearest
    list's hot path, where the serializer costs about as much as the search (a test holds the
    two equal)."""
    when = serializers.DateTimeField(default_timezone=timezone.get_current_timezone())
    return [_bounty_row_output(row, when.to_representation) for row in rows]


def _bounty_row_output(row: dict[str, Any], when: Callable[[Any], Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "title": row["title"],
        "instructions": row["instructions"],
        "verify": row["verify"],
        "lat": row["lat"],
        "lon": row["lon"],
        "radius_m": row["radius_m"],
        "starts_at": when(row["starts_at"]),
        "ends_at": when(row["ends_at"]),
        "price": row["price_minor"],
        "fee": row["fee_minor"],
        "currency": row["currency"],
        "quantity": row["quantity"],
        "accepted": row["accepted_count"],
        "open_slots": row["open_slots"],
        "claim_ttl_seconds": int(row["claim_ttl"].total_seconds()),
        "require_gps": row["require_gps"],
        "max_per_worker": row["max_per_worker"],
        "auto_approve_after_seconds": int(row["auto_approve_after"].total_seconds()),
        "blur_faces": row["blur_faces"],
        "review": row["review"],
        "metadata": row["metadata"],
        "test_mode": row["is_test"],
        "created_at": when(row["created_at"]),
        "closed_at": when(row["closed_at"]),
        "distance_m": round(row["distance_m"], 1),
    }


class NearQuerySerializer(serializers.Serializer):
    near = serializers.RegexField(
        r"^\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*$",
        required=False,
        max_length=100,
        help_text="lat,lon: nearest first (then page with offset, not cursor).",
        error_messages={"invalid": "Use near=lat,lon, e.g. near=51.5072,-0.1276."},
    )
    within_m = serializers.IntegerField(min_value=1, max_value=20_000_000, default=50_000)
    status = serializers.ChoiceField(choices=BountyStatus.choices, required=False)
    offset = serializers.IntegerField(
        min_value=0, max_value=100_000, default=0, help_text="With near only."
    )
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=50)

    def validate_near(self, value: str) -> tuple[float, float]:
        lat, lon = (float(part) for part in value.split(","))
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise serializers.ValidationError("Latitude must be -90..90 and longitude -180..180.")
        return lat, lon


class BountyPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class BountiesApi(APIView):
    required_scopes = {"GET": Scope.BOUNTIES_READ, "POST": Scope.BOUNTIES_WRITE}

    @extend_schema(
        operation_id="bounties_list",
        parameters=[NearQuerySerializer, page_parameters()[0]],
        responses=paginated("PaginatedBounties", BountyOutputSerializer),
    )
    def get(self, request: Request) -> Response:
        query = NearQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        agent = request_agent(request)
        if "near" not in params:
            paginator = BountyPagination()
            page = paginator.paginate_queryset(
                bounties_for_agent(agent, status=params.get("status")), request, view=self
            )
            return paginator.get_paginated_response(
                BountyOutputSerializer(with_open_slots(page or []), many=True).data
            )
        lat, lon = params["near"]
        size, offset = params["page_size"], params["offset"]
        nearby = bounty_rows_near(
            lat=lat, lon=lon, within_m=params["within_m"], agent=agent, test_mode=agent.is_test,
            limit=size + 1, offset=offset,
        )  # fmt: skip
        url = request.build_absolute_uri()
        return Response(
            {
                "next": replace_query_param(url, "offset", offset + size)
                if len(nearby) > size
                else None,
                "previous": replace_query_param(url, "offset", max(0, offset - size))
                if offset
                else None,
                "results": bounty_rows_output(nearby[:size]),
            }
        )

    @extend_schema(
        operation_id="bounties_create",
        request=BountyInputSerializer,
        responses={201: BountyOutputSerializer},
        parameters=[idempotency_parameter()],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = BountyInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key: APIKey = request.auth  # type: ignore[assignment]
        default_review = (
            ReviewMode.AGENT if api_key.has_scope(Scope.SUBMISSIONS_REVIEW) else ReviewMode.OPERATOR
        )
        bounty = bounty_create(
            agent=request_agent(request), spec=serializer.to_spec(default_review=default_review)
        )
        [bounty] = with_open_slots([bounty])
        return Response(BountyOutputSerializer(bounty).data, status=201)


def _own_bounty(request: Request, bounty_id: int) -> Bounty:
    return get_object_or_404(Bounty, pk=bounty_id, agent=request_agent(request))


class BountyApi(APIView):
    required_scopes = {"GET": Scope.BOUNTIES_READ}

    @extend_schema(operation_id="bounties_retrieve", responses=BountyOutputSerializer)
    def get(self, request: Request, bounty_id: int) -> Response:
        [bounty] = with_open_slots([_own_bounty(request, bounty_id)])
        return Response(BountyOutputSerializer(bounty).data)


class BountyCancelApi(APIView):
    required_scopes = {"POST": Scope.BOUNTIES_WRITE}

    @extend_schema(
        operation_id="bounties_cancel",
        request=None,
        responses=BountyOutputSerializer,
        parameters=[idempotency_parameter()],
    )
    @idempotent
    def post(self, request: Request, bounty_id: int) -> Response:
        bounty = bounty_cancel(
            bounty=_own_bounty(request, bounty_id), actor=f"agent:{request_agent(request).pk}"
        )
        [bounty] = with_open_slots([bounty])
        return Response(BountyOutputSerializer(bounty).data)


@extend_schema_serializer(component_name="Check")
class CheckOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=["passed", "failed", "skipped"])
    score = serializers.FloatField(allow_null=True)
    reason = serializers.CharField()


@extend_schema_serializer(component_name="Submission")
class SubmissionOutputSerializer(serializers.Serializer):
    """What ``bounties.disclosure`` lets the agent read: where and when the worker was (the
    location, the capture time, the location and time checks' details, the note) only once
    the submission is accepted; while it waits for the agent's own review, the capture time,
    the distance from the spot and every check as it is, and a preview."""

    id = serializers.IntegerField()
    bounty = serializers.IntegerField(source="bounty_id")
    status = serializers.ChoiceField(choices=SubmissionStatus.choices)
    review_by = serializers.SerializerMethodField(
        help_text="In review (`needs_review`): who decides, you (`agent`) or operators."
    )
    review_deadline = serializers.SerializerMethodField(
        help_text="In review: when silence accepts it if no check failed (null for an appeal)."
    )
    note = serializers.SerializerMethodField(help_text="The worker's note; once accepted.")
    captured_at = serializers.SerializerMethodField(
        help_text="When the photo was taken: once accepted, or while it waits for your review."
    )
    distance_m = serializers.SerializerMethodField(
        help_text="How far from the bounty's spot it was taken, in metres: once accepted, or "
        "while it waits for your review."
    )
    received_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    reasons = serializers.SerializerMethodField()
    checks = serializers.SerializerMethodField()
    location = serializers.SerializerMethodField(
        help_text="Where the worker's browser placed them; once accepted."
    )
    photo_url = serializers.SerializerMethodField()
    receipt_url = serializers.SerializerMethodField()
    preview_url = serializers.SerializerMethodField(
        help_text="While it waits for your review: a small marked preview, faces blurred."
    )

    def _url(self, submission: Submission, name: str) -> str | None:
        if submission.status != SubmissionStatus.ACCEPTED:
            return None
        return self._absolute(submission, name)

    def _absolute(self, submission: Submission, name: str) -> str:
        request = self.context.get("request")
        path = reverse(f"v1:{name}", args=[submission.pk])
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_preview_url(self, submission: Submission) -> str | None:
        return self._absolute(submission, "submission-preview") if submission.awaits_agent else None

    @extend_schema_field(serializers.ChoiceField(choices=Reviewer.choices, allow_null=True))
    def get_review_by(self, submission: Submission) -> str | None:
        return submission.reviewer

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_review_deadline(self, submission: Submission) -> datetime | None:
        return submission.review_deadline

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_distance_m(self, submission: Submission) -> float | None:
        return disclosure.agent_distance_m(submission)

    def get_photo_url(self, submission: Submission) -> str | None:
        return self._url(submission, "submission-photo")

    def get_receipt_url(self, submission: Submission) -> str | None:
        return self._url(submission, "submission-receipt")

    @extend_schema_field(OpenApiTypes.STR)
    def get_note(self, submission: Submission) -> str:
        return disclosure.agent_note(submission)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_captured_at(self, submission: Submission) -> datetime | None:
        return disclosure.agent_captured_at(submission)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_reasons(self, submission: Submission) -> list[str]:
        return disclosure.agent_reasons(submission)

    @extend_schema_field(CheckOutputSerializer(many=True))
    def get_checks(self, submission: Submission) -> list[dict[str, Any]]:
        return disclosure.agent_checks(submission)

    def get_location(self, submission: Submission) -> dict[str, float | None] | None:
        return disclosure.agent_location(submission)


class SubmissionQuerySerializer(serializers.Serializer):
    bounty = serializers.IntegerField(min_value=1, max_value=MAX_BIGINT, required=False)
    status = serializers.ChoiceField(
        choices=SubmissionStatus.choices,
        required=False,
        help_text="`needs_review`: the submissions waiting for your review, the oldest first "
        "(the order their `review_deadline`s fall in); the others newest first.",
    )


class SubmissionPagination(CursorPagination):
    ordering = ("-received_at", "-id")


class ReviewQueuePagination(CursorPagination):
    ordering = ("review_started_at", "id")


class SubmissionsApi(APIView):
    required_scopes = {"GET": Scope.BOUNTIES_READ}

    @extend_schema(
        operation_id="submissions_list",
        parameters=[SubmissionQuerySerializer, *page_parameters()],
        responses=paginated("PaginatedSubmissions", SubmissionOutputSerializer),
    )
    def get(self, request: Request) -> Response:
        query = SubmissionQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        agent, bounty_id = request_agent(request), query.validated_data.get("bounty")
        status = query.validated_data.get("status")
        submissions: QuerySet[Submission]
        paginator: CursorPagination
        if status == SubmissionStatus.NEEDS_REVIEW:
            submissions = submissions_awaiting_review(agent, bounty_id=bounty_id)
            paginator = ReviewQueuePagination()
        else:
            submissions = submissions_for_agent(agent, bounty_id=bounty_id, status=status)
            paginator = SubmissionPagination()
        page = paginator.paginate_queryset(submissions, request, view=self)
        return paginator.get_paginated_response(
            SubmissionOutputSerializer(page, many=True, context={"request": request}).data
        )


class SubmissionApi(APIView):
    required_scopes = {"GET": Scope.BOUNTIES_READ}

    @extend_schema(operation_id="submissions_retrieve", responses=SubmissionOutputSerializer)
    def get(self, request: Request, submission_id: int) -> Response:
        submission = get_object_or_404(
            submissions_for_agent(request_agent(request)), pk=submission_id
        )
        return Response(SubmissionOutputSerializer(submission, context={"request": request}).data)


# Previews, delivery copies and receipts are made by tasks after commit: about 0.3 s of work
# (bench/review.py), so a client told to come back in 5 s waited out most of its 7.8 s there.
NOT_READY_RETRY_AFTER_S = 1
PREVIEW_ERRORS_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description=(
        "application/problem+json. `not_ready`: the preview is being made (just after the "
        "submission entered review): retry after `retry_after` seconds "
        f"({NOT_READY_RETRY_AFTER_S}). `no_preview`: the submission was never yours to review."
    ),
)
DECISION_ERRORS_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description=(
        "application/problem+json. `already_decided`: decided the other way already (deciding "
        "again the same way answers 200 and changes nothing). `not_awaiting_review`: still "
        "being verified, with operators, or appealed."
    ),
)


def _reviewable(request: Request, submission_id: int) -> Submission:
    return get_object_or_404(submissions_for_agent(request_agent(request)), pk=submission_id)


class SubmissionPreviewApi(APIView):
    required_scopes = {"GET": Scope.SUBMISSIONS_REVIEW}

    @extend_schema(
        operation_id="submissions_preview",
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 409: PREVIEW_ERRORS_RESPONSE},
        description="What to judge a submission waiting for your review by: a JPEG at most 512 "
        "px on its long side, faces blurred, a PREVIEW band across it, no metadata.",
    )
    def get(self, request: Request, submission_id: int) -> FileResponse:
        submission = _reviewable(request, submission_id)
        if submission.review_by != Reviewer.AGENT:
            raise ApplicationError(
                "no_preview",
                "Only a submission sent to you for review has a preview.",
                status=409,
            )
        if not submission.preview:
            raise ApplicationError(
                "not_ready",
                "The preview is being made; retry shortly.",
                status=409,
                extra={"retry_after": NOT_READY_RETRY_AFTER_S},
            )
        return FileResponse(
            submission.preview.open("rb"),
            content_type="image/jpeg",
            as_attachment=False,
            filename=f"submission-{submission.pk}-preview.jpg",
        )


@extend_schema_serializer(component_name="SubmissionReject")
class SubmissionRejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(
        min_length=MIN_REASON_LENGTH,
        max_length=MAX_REASON_LENGTH,
        help_text="Why the photo does not do: shown to the worker, who may appeal to operators.",
    )


class SubmissionAcceptApi(APIView):
    required_scopes = {"POST": Scope.SUBMISSIONS_REVIEW}

    @extend_schema(
        operation_id="submissions_accept",
        request=inline_serializer("SubmissionAccept", {}),
        responses={200: SubmissionOutputSerializer, 409: DECISION_ERRORS_RESPONSE},
        parameters=[idempotency_parameter()],
    )
    @idempotent
    def post(self, request: Request, submission_id: int) -> Response:
        submission = submission_review_decide(
            submission=_reviewable(request, submission_id),
            agent=request_agent(request),
            accept=True,
        )
        return Response(SubmissionOutputSerializer(submission, context={"request": request}).data)


class SubmissionRejectApi(APIView):
    required_scopes = {"POST": Scope.SUBMISSIONS_REVIEW}

    @extend_schema(
        operation_id="submissions_reject",
        request=SubmissionRejectInputSerializer,
        responses={200: SubmissionOutputSerializer, 409: DECISION_ERRORS_RESPONSE},
        parameters=[idempotency_parameter()],
    )
    @idempotent
    def post(self, request: Request, submission_id: int) -> Response:
        submission = _reviewable(request, submission_id)
        serializer = SubmissionRejectInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        submission = submission_review_decide(
            submission=submission,
            agent=request_agent(request),
            accept=False,
            reason=serializer.validated_data["reason"],
        )
        return Response(SubmissionOutputSerializer(submission, context={"request": request}).data)


@extend_schema_serializer(component_name="WebhookEndpoint")
class WebhookEndpointOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="WebhookEndpointCreated")
class WebhookEndpointCreatedSerializer(WebhookEndpointOutputSerializer):
    secret = serializers.CharField(help_text="Shown only now: verify signatures with it.")


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES),
        required=False,
        default=list,
        max_length=len(WEBHOOK_EVENT_TYPES),
    )


class WebhookEndpointsApi(APIView):
    required_scopes = {"GET": Scope.BOUNTIES_READ, "POST": Scope.BOUNTIES_WRITE}

    @extend_schema(
        operation_id="webhook_endpoints_list",
        responses=inline_serializer(
            "WebhookEndpoints", {"results": WebhookEndpointOutputSerializer(many=True)}
        ),
    )
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(agent=request_agent(request), is_active=True)
        return Response({"results": WebhookEndpointOutputSerializer(endpoints, many=True).data})

    @extend_schema(
        operation_id="webhook_endpoints_create",
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointCreatedSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = WebhookEndpointInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = webhook_endpoint_create(
            agent=request_agent(request), **serializer.validated_data
        )
        return Response(WebhookEndpointCreatedSerializer(endpoint).data, status=201)


class WebhookEndpointApi(APIView):
    required_scopes = {"DELETE": Scope.BOUNTIES_WRITE}

    @extend_schema(operation_id="webhook_endpoints_destroy", responses={204: None})
    def delete(self, request: Request, endpoint_id: int) -> Response:
        endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, agent=request_agent(request))
        webhook_endpoint_disable(endpoint=endpoint)
        return Response(status=204)


@extend_schema_serializer(component_name="Receipt")
class ReceiptOutputSerializer(serializers.Serializer):
    receipt = serializers.JSONField(source="document")
    signature = serializers.CharField(help_text="Ed25519 over the canonical JSON, base64")
    key_id = serializers.CharField()
    algorithm = serializers.SerializerMethodField()

    def get_algorithm(self, receipt: Receipt) -> str:
        return ALGORITHM


NOT_RELEASED_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description=(
        "application/problem+json. `not_accepted`: the submission is not accepted, nothing is "
        "released. `not_ready`: accepted, but its photo and receipt are still being prepared "
        f"(seconds after the verdict): retry after `retry_after` seconds "
        f"({NOT_READY_RETRY_AFTER_S}); the `submission.accepted` webhook says when they are "
        "ready."
    ),
)


def _released_receipt(request: Request, submission_id: int) -> Receipt:
    """The receipt of the agent's accepted submission: it exists once the data is released
    (``bounties.delivery``), the photo stored first."""
    submission = get_object_or_404(
        submissions_for_agent(request_agent(request)).select_related("receipt"), pk=submission_id
    )
    if submission.status != SubmissionStatus.ACCEPTED:
        raise ApplicationError(
            "not_accepted",
            f"The submission is {submission.status}: data is released once it is accepted.",
            status=409,
        )
    receipt: Receipt | None = getattr(submission, "receipt", None)
    if receipt is None:
        raise ApplicationError(
            "not_ready",
            "The submission is accepted; its photo and receipt are being prepared.",
            status=409,
            extra={"retry_after": NOT_READY_RETRY_AFTER_S},
        )
    return receipt


class SubmissionPhotoApi(APIView):
    required_scopes = {"GET": Scope.BOUNTIES_READ}

    @extend_schema(
        operation_id="submissions_photo",
        responses={(200, "image/jpeg"): OpenApiTypes.BINARY, 409: NOT_RELEASED_RESPONSE},
    )
    def get(self, request: Request, submission_id: int) -> FileResponse:
        submission = _released_receipt(request, submission_id).submission
        return FileResponse(
            submission.delivered_photo.open("rb"),
            content_type="image/jpeg",
            as_attachment=False,
            filename=f"submission-{submission.pk}.jpg",
        )


class SubmissionReceiptApi(APIView):
    required_scopes = {"GET": Scope.BOUNTIES_READ}

    @extend_schema(
        operation_id="submissions_receipt",
        responses={200: ReceiptOutputSerializer, 409: NOT_RELEASED_RESPONSE},
    )
    def get(self, request: Request, submission_id: int) -> Response:
        return Response(ReceiptOutputSerializer(_released_receipt(request, submission_id)).data)


class PublicKeysApi(APIView):
    """The keys that sign receipts. Public: anyone may verify a receipt."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="keys_list",
        responses=inline_serializer(
            "PublicKeys",
            {
                "keys": inline_serializer(
                    "PublicKey",
                    {
                        "key_id": serializers.CharField(),
                        "algorithm": serializers.CharField(),
                        "public_key": serializers.CharField(help_text="raw 32 bytes, base64"),
                    },
                    many=True,
                )
            },
        ),
    )
    def get(self, request: Request) -> Response:
        return Response({"keys": public_keys()})
