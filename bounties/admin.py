from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.db.models.functions import Coalesce
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.timesince import timesince

from bounties.models import (
    AWAITING_AGENT,
    Bounty,
    BountyEvent,
    Claim,
    ReviewQueueItem,
    Submission,
    SubmissionEvent,
    SubmissionStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from bounties.services.review import submission_operator_decide
from bounties.tasks import webhook_deliver
from bounties.webhooks import webhook_delivery_retry_now
from market.accounts.actors import operator_actor
from market.core.errors import ApplicationError
from market.core.money import format_money
from market.ledger.models import AccountKind, LedgerAccount
from market.ledger.services import escrow_owner


class EventInline(admin.TabularInline):
    extra = 0
    can_delete = False
    fields = ("created_at", "old_status", "new_status", "actor", "reason")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class BountyEventInline(EventInline):
    model = BountyEvent


class SubmissionEventInline(EventInline):
    model = SubmissionEvent


@admin.register(Bounty)
class BountyAdmin(admin.ModelAdmin):
    list_display = (
        "id", "title", "agent", "status", "price", "quantity", "accepted_count", "ends_at",
        "is_test",
    )  # fmt: skip
    list_filter = ("status", "is_test", "currency")
    search_fields = ("title", "agent__name", "agent__owner__email")
    date_hierarchy = "created_at"
    readonly_fields = ("escrow", "accepted_count", "fee_minor", "created_at", "closed_at")
    inlines = [BountyEventInline]

    @admin.display(description="price", ordering="price_minor")
    def price(self, bounty: Bounty) -> str:
        return format_money(bounty.price_minor, bounty.currency)

    @admin.display(description="escrow (where every cent went)")
    def escrow(self, bounty: Bounty) -> str:
        account = LedgerAccount.objects.filter(
            kind=AccountKind.BOUNTY_ESCROW,
            owner=escrow_owner(agent=bounty.agent, bounty_id=bounty.pk),
        ).first()
        if account is None:
            return "-"
        url = reverse("admin:ledger_entry_changelist") + f"?account__id__exact={account.pk}"
        balance = format_money(account.balance_minor, account.currency)
        return format_html('<a href="{}">{} held; statement</a>', url, balance)


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ("id", "bounty", "worker", "status", "created_at", "expires_at")
    list_filter = ("status",)
    search_fields = ("worker__email", "bounty__title")
    raw_id_fields = ("bounty", "worker")


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ("id", "bounty", "worker", "status", "received_at", "decided_at")
    list_filter = ("status",)
    search_fields = ("worker__email", "bounty__title", "photo_sha256")
    raw_id_fields = ("bounty", "claim", "worker")
    readonly_fields = (
        "photo_sha256",
        "size_bytes",
        "content_type",
        "received_at",
        "decided_at",
        "verify_attempts",
        "verify_error",
    )
    inlines = [SubmissionEventInline]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = ("attempted_at", "status_code", "error", "duration_ms")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ("id", "agent", "url", "events", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("url", "agent__name")
    exclude = ("secret",)
    readonly_fields = ("agent", "created_at")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every event sent to agents, with each attempt's answer."""

    list_display = (
        "id", "event_type", "endpoint", "status", "attempts", "next_attempt_at", "created_at",
        "delivered_at",
    )  # fmt: skip
    list_filter = ("status", "event_type")
    search_fields = ("event_id", "endpoint__url", "endpoint__agent__name")
    readonly_fields = (
        "endpoint", "event_id", "event_type", "payload", "status", "attempts", "next_attempt_at",
        "created_at", "delivered_at",
    )  # fmt: skip
    inlines = [WebhookAttemptInline]
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Retry now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        for delivery in queryset:
            webhook_delivery_retry_now(delivery=delivery)
            webhook_deliver.delay(delivery.pk)


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    reason = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Shown to the worker; required to reject.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "reject" and not data.get("reason", "").strip():
            self.add_error("reason", "Say why the photo is rejected: the worker will read it.")
        return data


# `Submission.review_waiting_since` in SQL: an appeal waits from its appeal.
WAITING_SINCE = Coalesce("appealed_at", "received_at")


@admin.register(ReviewQueueItem)
class ReviewQueueAdmin(admin.ModelAdmin):
    """The photo, every check and the worker's note; approve or reject with a reason."""

    list_display = ("id", "bounty", "worker", "received_at", "appealed", "waiting", "why")
    list_select_related = ("bounty", "worker")
    # The longest wait first. Django takes an expression here; django-stubs says str only.
    ordering = (WAITING_SINCE.asc(), "id")  # type: ignore[assignment]
    change_form_template = "admin/bounties/review_item.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReviewQueueItem]:
        # What waits for its agent's review is the agent's until the deadline (then silence
        # accepts it, or a failed check hands it here); appeals always come here.
        return (
            super()
            .get_queryset(request)
            .filter(status=SubmissionStatus.NEEDS_REVIEW)
            .exclude(AWAITING_AGENT)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="appealed", boolean=True)
    def appealed(self, item: ReviewQueueItem) -> bool:
        return item.appealed_at is not None

    @admin.display(description="waiting for", ordering=WAITING_SINCE)
    def waiting(self, item: ReviewQueueItem) -> str:
        return timesince(item.review_waiting_since)

    @admin.display(description="why it is here")
    def why(self, item: ReviewQueueItem) -> str:
        return "; ".join(item.reasons)[:200]

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:item_id>/photo/",
                self.admin_site.admin_view(self.photo_view),
                name="bounties_reviewqueueitem_photo",
            ),
            *super().get_urls(),
        ]

    def photo_view(self, request: HttpRequest, item_id: int) -> FileResponse:
        """The original upload, for operators only (the admin_view wrapper checks staff)."""
        item = get_object_or_404(Submission, pk=item_id)
        return FileResponse(item.photo.open("rb"), content_type=item.content_type)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        item = get_object_or_404(
            Submission.objects.select_related("bounty", "worker"), pk=object_id
        )
        form = ReviewForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            accept = form.cleaned_data["decision"] == "accept"
            reason = form.cleaned_data["reason"].strip()
            try:
                submission_operator_decide(
                    submission=item,
                    accept=accept,
                    reasons=[reason] if reason else ["Checked by a person."],
                    actor=operator_actor(request.user),
                )
            except ApplicationError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                verdict = "accepted" if accept else "rejected"
                self.message_user(request, f"Submission #{item.pk} {verdict}.")
                return redirect("admin:bounties_reviewqueueitem_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Review submission #{item.pk}",
            "item": item,
            "form": form,
            "opts": self.model._meta,
            "photo_url": reverse("admin:bounties_reviewqueueitem_photo", args=[item.pk]),
            "is_pending": item.status == SubmissionStatus.NEEDS_REVIEW,
        }
        return TemplateResponse(request, self.change_form_template, context)
