from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from forecasting import plots
from forecasting.models import (
    AcquisitionDecision,
    EvidenceItem,
    Forecast,
    ModelVersion,
    Question,
    QuestionBounty,
)
from forecasting.services import model_version_promote
from market.accounts.actors import operator_actor
from market.core.errors import ApplicationError


class QuestionBountyInline(admin.TabularInline):
    model = QuestionBounty
    extra = 0
    raw_id_fields = ("bounty",)
    readonly_fields = ("auto_posted", "created_at")


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "agent", "status", "outcome", "closes_at", "resolves_at")
    list_filter = ("status", "outcome")
    search_fields = ("title", "agent__name")
    readonly_fields = ("acquisition_spent_minor", "resolved_at", "resolved_by", "created_at")
    inlines = [QuestionBountyInline]


@admin.register(EvidenceItem)
class EvidenceItemAdmin(admin.ModelAdmin):
    list_display = ("id", "question", "submission", "captured_at", "distance_m")
    raw_id_fields = ("question", "submission")


@admin.register(Forecast)
class ForecastAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "question",
        "probability",
        "model_version",
        "evidence_count",
        "computed_at",
    )
    list_filter = ("model_version",)


@admin.register(AcquisitionDecision)
class AcquisitionDecisionAdmin(admin.ModelAdmin):
    """The audit trail of what active acquisition spent on owners' behalf: read-only."""

    list_display = (
        "id",
        "question",
        "action",
        "reason",
        "value_minor",
        "cost_minor",
        "bounty",
        "model_version",
        "created_at",
    )
    list_filter = ("action", "model_version")
    search_fields = ("reason", "question__title")
    list_select_related = ("question", "bounty")
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Every trained forecaster: its scores against the champion and baselines, calibration,
    training curve, search, data; operators can make an earlier version the champion again."""

    list_display = (
        "name", "status", "held_out_log_loss", "held_out_brier", "held_out_ece", "parent",
        "created_at", "promoted_at",
    )  # fmt: skip
    list_filter = ("status",)
    actions = ("make_champion",)
    change_list_template = "admin/forecasting/modelversion/change_list.html"
    fields = (
        "name", "status", "decision", "charts", "metrics_table", "parent", "promoted_at",
        "hyperparameters", "model_config", "search", "data_hash", "data_summary",
        "text_encoder", "embedding_model", "artifact_path", "device", "training_seconds",
        "created_at",
    )  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return self.fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _metric(self, obj: ModelVersion, name: str) -> str:
        value = (obj.metrics.get("challenger") or {}).get(name)
        return "" if value is None else f"{value:.4f}"

    @admin.display(description="log loss")
    def held_out_log_loss(self, obj: ModelVersion) -> str:
        return self._metric(obj, "log_loss")

    @admin.display(description="Brier")
    def held_out_brier(self, obj: ModelVersion) -> str:
        return self._metric(obj, "brier")

    @admin.display(description="ECE")
    def held_out_ece(self, obj: ModelVersion) -> str:
        return self._metric(obj, "ece")

    @admin.display(description="Held-out scores")
    def metrics_table(self, obj: ModelVersion) -> str:
        rows = [
            (label, obj.metrics[key])
            for key, label in (
                ("challenger", obj.name),
                ("champion", "champion at the time"),
                ("base_rate", "base rate"),
                ("without_evidence", "model without evidence"),
            )
            if key in obj.metrics
        ]
        return format_html(
            "<table><tr><th>model</th><th>log loss</th><th>Brier</th><th>ECE</th></tr>{}</table>",
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (label, f"{m['log_loss']:.4f}", f"{m['brier']:.4f}", f"{m['ece']:.4f}")
                    for label, m in rows
                ),
            ),
        )  # fmt: skip

    @admin.display(description="Charts")
    def charts(self, obj: ModelVersion) -> str:
        return format_html(
            '<img src="{}" alt="Calibration of {}" width="400"> '
            '<img src="{}" alt="Training curve of {}" width="480">',
            reverse("admin:forecasting_modelversion_chart", args=[obj.pk, "calibration"]),
            obj.name,
            reverse("admin:forecasting_modelversion_chart", args=[obj.pk, "training"]),
            obj.name,
        )

    @admin.action(description="Make champion (promote or roll back to this version)")
    def make_champion(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one version.", messages.ERROR)
            return
        version = queryset.get()
        try:
            model_version_promote(version=version, actor=operator_actor(request.user))
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(request, f"{version.name} is the champion; open questions re-forecast.")

    def get_urls(self) -> list[Any]:
        chart = self.admin_site.admin_view(self.chart_view)
        history = self.admin_site.admin_view(self.metric_history_view)
        return [
            path("<int:pk>/chart/<str:kind>.png", chart, name="forecasting_modelversion_chart"),
            path("history.png", history, name="forecasting_modelversion_history"),
            *super().get_urls(),
        ]

    def chart_view(self, request: HttpRequest, pk: int, kind: str) -> HttpResponse:
        version = get_object_or_404(ModelVersion, pk=pk)
        if kind == "calibration":
            png = plots.calibration_png(version.name, version.metrics)
        elif kind == "training":
            png = plots.training_curve_png(version.name, version.training_curve)
        else:
            raise Http404("No such chart")
        return HttpResponse(png, content_type="image/png")

    def metric_history_view(self, request: HttpRequest) -> HttpResponse:
        versions = [
            {"metrics": v.metrics, "promoted": v.promoted_at is not None}
            for v in ModelVersion.objects.exclude(status="failed").order_by("created_at", "id")
        ]
        return HttpResponse(plots.history_png(versions), content_type="image/png")
