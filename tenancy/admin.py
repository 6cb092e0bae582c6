from __future__ import annotations

from django.contrib import admin

from .models import Membership, Project, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "created")
    readonly_fields = ("created",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "namespace", "gpu_limit", "created")
    search_fields = ("name", "display_name")
    readonly_fields = ("uuid", "created", "updated")
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "display_name", "namespace", "gpu_limit", "created")
    list_filter = ("tenant",)
    search_fields = ("name", "display_name", "namespace", "tenant__name")
    list_select_related = ("tenant",)
    readonly_fields = ("uuid", "created", "updated")
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "tenant", "project", "created")
    list_filter = ("role", "tenant")
    search_fields = ("user__username", "tenant__name", "project__name")
    list_select_related = ("user", "tenant", "project__tenant")
    autocomplete_fields = ("user",)
