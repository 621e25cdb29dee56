from django.contrib import admin

from market.core.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("queue", "hostname", "seen_at")
    list_filter = ("queue",)
    readonly_fields = ("queue", "hostname", "seen_at")
