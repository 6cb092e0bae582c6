"""Support views of integrations. Secret values are never shown: only which keys a Secret holds."""

from __future__ import annotations

from django.contrib import admin

from .models import OnboardingSession, PaletteCheck, Secret, Settings


@admin.register(Settings)
class SettingsAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "namespace",
        "tenant",
        "project",
        "palette_secret",
        "huggingface_secret",
        "ngc_secret",
        "updated",
    )
    search_fields = ("name", "namespace", "palette_secret")
    list_select_related = ("tenant", "project__tenant")
    readonly_fields = ("uuid", "created", "updated")


@admin.register(Secret)
class SecretAdmin(admin.ModelAdmin):
    list_display = ("name", "namespace", "keys", "kube_synced_at", "kube_error", "updated")
    list_filter = ("namespace",)
    search_fields = ("name", "namespace")
    # The encrypted data never appears: not in lists, not in forms. Support edits values through
    # the Settings page or manifests, where they are validated and audited.
    fields = (
        "uuid",
        "name",
        "namespace",
        "tenant",
        "project",
        "keys",
        "labels",
        "kube_resource_version",
        "kube_synced_at",
        "kube_error",
        "created",
        "updated",
    )
    readonly_fields = fields

    @admin.display(description="keys")
    def keys(self, obj: Secret) -> str:
        try:
            return ", ".join(sorted(obj.get_data()))
        except ValueError:
            return "(cannot be decrypted with the current key)"

    def has_add_permission(self, request):
        return False


@admin.register(PaletteCheck)
class PaletteCheckAdmin(admin.ModelAdmin):
    list_display = ("created", "tenant", "project", "trigger", "status", "outcome", "first_error")
    list_filter = ("status", "outcome", "trigger")
    search_fields = ("first_error", "tenant__name", "project__name")
    list_select_related = ("tenant", "project__tenant")
    readonly_fields = ("uuid", "stages", "progress", "log")


@admin.register(OnboardingSession)
class OnboardingSessionAdmin(admin.ModelAdmin):
    list_display = ("created", "user", "tenant", "project", "current_step", "skipped_check", "finished")
    list_filter = ("current_step", "skipped_check")
    search_fields = ("user__username", "tenant__name", "project__name")
    list_select_related = ("user", "tenant", "project__tenant")
    readonly_fields = ("uuid", "created", "updated")
