"""Questions through the agents' API: ask, attach bounties, resolve or annul, read forecasts."""

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from bounties.api import METADATA_SCHEMA
from bounties.models import Bounty
from forecasting.models import AcquisitionDecision, Outcome, Question, QuestionStatus
from forecasting.selectors import forecast_current, questions_for_agent
from forecasting.services import (
    question_annul,
    question_attach_bounty,
    question_create,
    question_resolve,
)
from forecasting.services.questions import (
    QUESTION_MAX_HORIZON,
    TEMPLATE_FLAGS,
    TEMPLATE_TEXTS,
    template_numbers,
)
from market.accounts.authentication import request_agent
from market.accounts.models import Scope
from market.core.api import (
    CursorPagination,
    idempotency_parameter,
    page_parameters,
    paginated,
)
from market.core.bounds import MAX_BIGINT
from market.core.idempotency import idempotent


def _template_schema() -> dict[str, Any]:
    """``evidence_template`` in OpenAPI, from the bounds ``evidence_template_check`` holds."""
    properties: dict[str, Any] = {
        key: {
            "type": "integer" if bound.integer else "number",
            "minimum": bound.minimum,
            "maximum": bound.maximum,
        }
        for key, bound in template_numbers().items()
    }
    properties.update(
        {key: {"type": "string", "maxLength": length} for key, length in TEMPLATE_TEXTS.items()}
    )
    properties.update({key: {"type": "boolean"} for key in TEMPLATE_FLAGS})
    properties["metadata"] = METADATA_SCHEMA
    return {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "description": (
            "The bounty to post for evidence, in the bounty's field names and bounds "
            "(`verify` and `price` at least); the window runs from posting to `closes_at`, or "
            "`window_seconds` if sooner; `lat`/`lon` default to the question's."
        ),
    }


@extend_schema_field(_template_schema())
class EvidenceTemplateField(serializers.DictField):
    """Checked whole by ``evidence_template_check`` in ``question_create``."""


class QuestionInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300)
    resolution_criteria = serializers.CharField(max_length=5_000)
    closes_at = serializers.DateTimeField(help_text="In the future.")
    resolves_at = serializers.DateTimeField(
        help_text=f"At or after closes_at; within {QUESTION_MAX_HORIZON.days} days."
    )
    lat = serializers.FloatField(min_value=-90, max_value=90, required=False)
    lon = serializers.FloatField(min_value=-180, max_value=180, required=False)
    evidence_template = EvidenceTemplateField(required=False, default=dict)
    stake = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    max_acquisition_spend = serializers.IntegerField(min_value=0, max_value=10**9, default=0)


@extend_schema_serializer(component_name="Forecast")
class ForecastOutputSerializer(serializers.Serializer):
    probability = serializers.FloatField()
    interval = serializers.SerializerMethodField()
    model_version = serializers.CharField()
    evidence_count = serializers.IntegerField()
    computed_at = serializers.DateTimeField()
    pending = serializers.SerializerMethodField(
        help_text="True while a fresher forecast is computed on the queue (the question was "
        "just asked, evidence arrived, or a new model was promoted). Before the first one is "
        "stored this is the base rate of resolved questions (`model_version` `base-rate-v1`)."
    )

    def get_interval(self, forecast: Any) -> list[float]:
        return [forecast.interval_low, forecast.interval_high]

    def get_pending(self, forecast: Any) -> bool:
        return bool(self.context.get("pending", False))


@extend_schema_serializer(component_name="Question")
class QuestionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=QuestionStatus.choices)
    title = serializers.CharField()
    resolution_criteria = serializers.CharField()
    closes_at = serializers.DateTimeField()
    resolves_at = serializers.DateTimeField()
    lat = serializers.FloatField(allow_null=True)
    lon = serializers.FloatField(allow_null=True)
    evidence_template = serializers.JSONField()
    stake = serializers.IntegerField(source="stake_minor")
    max_acquisition_spend = serializers.IntegerField(source="max_acquisition_spend_minor")
    acquisition_spent = serializers.IntegerField(source="acquisition_spent_minor")
    outcome = serializers.CharField(allow_blank=True)
    resolution_source = serializers.CharField(allow_blank=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    bounties = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_bounties(self, question: Question) -> list[int]:
        return [link.bounty_id for link in question.links.all()]


class QuestionPagination(CursorPagination):
    ordering = ("-created_at", "-id")


class QuestionsApi(APIView):
    required_scopes = {"GET": Scope.QUESTIONS_READ, "POST": Scope.QUESTIONS_WRITE}

    @extend_schema(
        operation_id="questions_list",
        parameters=[
            OpenApiParameter("status", str, enum=QuestionStatus.values),
            *page_parameters(),
        ],
        responses=paginated("PaginatedQuestions", QuestionOutputSerializer),
    )
    def get(self, request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status is not None and status not in QuestionStatus.values:
            raise serializers.ValidationError({"status": f"Use one of {QuestionStatus.values}."})
        paginator = QuestionPagination()
        page = paginator.paginate_queryset(
            questions_for_agent(request_agent(request), status=status).prefetch_related("links"),
            request,
            view=self,
        )
        return paginator.get_paginated_response(QuestionOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="questions_create",
        parameters=[idempotency_parameter()],
        request=QuestionInputSerializer,
        responses={201: QuestionOutputSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        serializer = QuestionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        question = question_create(
            agent=request_agent(request), title=data["title"],
            resolution_criteria=data["resolution_criteria"], closes_at=data["closes_at"],
            resolves_at=data["resolves_at"], lat=data.get("lat"), lon=data.get("lon"),
            evidence_template=data["evidence_template"], stake_minor=data["stake"],
            max_acquisition_spend_minor=data["max_acquisition_spend"],
        )  # fmt: skip
        return Response(QuestionOutputSerializer(question).data, status=201)


def _own_question(request: Request, question_id: int) -> Question:
    return get_object_or_404(Question, pk=question_id, agent=request_agent(request))


class QuestionApi(APIView):
    required_scopes = {"GET": Scope.QUESTIONS_READ}

    @extend_schema(operation_id="questions_retrieve", responses=QuestionOutputSerializer)
    def get(self, request: Request, question_id: int) -> Response:
        return Response(QuestionOutputSerializer(_own_question(request, question_id)).data)


class AttachInputSerializer(serializers.Serializer):
    bounty = serializers.IntegerField(min_value=1, max_value=MAX_BIGINT)


class QuestionBountiesApi(APIView):
    required_scopes = {"POST": Scope.QUESTIONS_WRITE}

    @extend_schema(
        operation_id="questions_attach_bounty",
        parameters=[idempotency_parameter()],
        request=AttachInputSerializer,
        responses=QuestionOutputSerializer,
    )
    @idempotent
    def post(self, request: Request, question_id: int) -> Response:
        question = _own_question(request, question_id)
        serializer = AttachInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bounty = get_object_or_404(
            Bounty, pk=serializer.validated_data["bounty"], agent=request_agent(request)
        )
        question_attach_bounty(question=question, bounty=bounty)
        return Response(QuestionOutputSerializer(question).data)


class ResolveInputSerializer(serializers.Serializer):
    # A field named "source" would shadow Field.source as a class attribute: declare it here.
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            "outcome": serializers.ChoiceField(choices=[*Outcome.values, "annul"]),
            "source": serializers.CharField(max_length=1_000),
        }


class QuestionResolveApi(APIView):
    required_scopes = {"POST": Scope.QUESTIONS_WRITE}

    @extend_schema(
        operation_id="questions_resolve",
        parameters=[idempotency_parameter()],
        request=ResolveInputSerializer,
        responses=QuestionOutputSerializer,
    )
    @idempotent
    def post(self, request: Request, question_id: int) -> Response:
        question = _own_question(request, question_id)
        serializer = ResolveInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome, source = serializer.validated_data["outcome"], serializer.validated_data["source"]
        actor = f"agent:{request_agent(request).pk}"
        if outcome == "annul":
            question = question_annul(question=question, reason=source, actor=actor)
        else:
            question = question_resolve(
                question=question, outcome=Outcome(outcome), source=source, actor=actor
            )
        return Response(QuestionOutputSerializer(question).data)


class QuestionForecastApi(APIView):
    required_scopes = {"GET": Scope.QUESTIONS_READ}

    @extend_schema(
        operation_id="questions_forecast",
        description="The latest forecast the queue stored for the question (it computes one when "
        "the question is asked, when evidence arrives and when a new model is promoted); never "
        "computed in the request. See `pending`.",
        responses=ForecastOutputSerializer,
    )
    def get(self, request: Request, question_id: int) -> Response:
        current = forecast_current(_own_question(request, question_id))
        context = {"pending": current.pending}
        return Response(ForecastOutputSerializer(current.forecast, context=context).data)


@extend_schema_serializer(component_name="AcquisitionDecision")
class AcquisitionDecisionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.ChoiceField(choices=AcquisitionDecision.Action.choices)
    reason = serializers.CharField(help_text="Starts with a stable code, e.g. `confident:`.")
    probability = serializers.FloatField(allow_null=True)
    uncertainty = serializers.FloatField(
        allow_null=True,
        help_text="The chance the forecast is wrong, at worst across its interval (0 to 0.5).",
    )
    value = serializers.IntegerField(
        source="value_minor", allow_null=True, help_text="Uncertainty x stake, minor units."
    )
    cost = serializers.IntegerField(source="cost_minor", help_text="One bounty's full escrow.")
    bounty = serializers.IntegerField(source="bounty_id", allow_null=True)
    model_version = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()


class QuestionAcquisitionsApi(APIView):
    """The audit trail of active acquisition for one of the agent's questions."""

    required_scopes = {"GET": Scope.QUESTIONS_READ}

    @extend_schema(
        operation_id="questions_acquisitions",
        parameters=page_parameters(),
        responses=paginated("PaginatedAcquisitionDecisions", AcquisitionDecisionOutputSerializer),
    )
    def get(self, request: Request, question_id: int) -> Response:
        question = _own_question(request, question_id)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(question.acquisition_decisions.all(), request, view=self)
        return paginator.get_paginated_response(
            AcquisitionDecisionOutputSerializer(page, many=True).data
        )
