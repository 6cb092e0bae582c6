from __future__ import annotations

from django.contrib import admin

from .models import AuditEntry, WorkerHeartbeat


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = (
        "created",
        "username",
        "action",
        "verb",
        "object_type",
        "object_repr",
        "tenant_name",
        "outcome",
        "source",
        "source_ip",
    )
    list_filter = ("action", "outcome", "source", "object_type")
    search_fields = ("username", "object_repr", "tenant_name", "verb")
    date_hierarchy = "created"

    # The audit log is evidence: support can read it, nobody edits it.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("created", "status", "worker", "started", "finished")
    list_filter = ("status",)
    readonly_fields = ("uuid",)
