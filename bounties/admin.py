from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from bounties.models import (
    Bounty,
    BountyEvent,
    Claim,
    Submission,
    SubmissionEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from bounties.tasks import webhook_deliver
from bounties.webhooks import webhook_delivery_retry_now
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
    readonly_fields = ("photo_sha256", "size_bytes", "content_type", "received_at", "decided_at")
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
