from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from market.accounts.models import Agent, AgentStatus, APIKey, User
from market.accounts.services import agent_set_status, api_key_create, api_key_revoke


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "display_name", "role", "is_active", "date_joined")
    list_filter = ("role", "is_active")
    search_fields = ("email", "display_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("display_name", "role")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"fields": ("email", "role", "password1", "password2")}),)


class APIKeyInline(admin.TabularInline):
    model = APIKey
    extra = 0
    can_delete = False
    fields = (
        "display_prefix",
        "name",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # keys are made by the "Create an API key" action, which shows them once


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display: tuple[str, ...] = (
        "name",
        "owner",
        "status",
        "is_test",
        "currency",
        "daily_spend_cap_minor",
    )
    list_filter = ("status", "is_test")
    search_fields = ("name", "owner__email")
    readonly_fields = ("created_at",)
    inlines = [APIKeyInline]
    actions = ["create_api_key", "suspend", "reactivate"]

    @admin.action(description="Create an API key (shown once)")
    def create_api_key(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            _, full_key = api_key_create(agent=agent, name=f"admin:{request.user}")
            self.message_user(
                request,
                f"New key for {agent.name} (copy it now): {full_key}",
                messages.WARNING,
            )

    @admin.action(description="Suspend")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            agent_set_status(agent=agent, status=AgentStatus.SUSPENDED)

    @admin.action(description="Reactivate")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Agent]) -> None:
        for agent in queryset:
            agent_set_status(agent=agent, status=AgentStatus.ACTIVE)


@admin.register(APIKey)
class APIKeyAdmin(admin.ModelAdmin):
    list_display = (
        "display_prefix",
        "agent",
        "name",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "agent__name", "agent__owner__email")
    readonly_fields = (
        "agent",
        "prefix",
        "scopes",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    exclude = ("hashed_key",)
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # revoke instead: the row is the audit trail

    @admin.action(description="Revoke")
    def revoke(self, request: HttpRequest, queryset: QuerySet[APIKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
