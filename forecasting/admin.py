from django.contrib import admin
from django.http import HttpRequest

from forecasting.models import (
    AcquisitionDecision,
    EvidenceItem,
    Forecast,
    Question,
    QuestionBounty,
)


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
