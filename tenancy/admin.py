from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import actions
from django.contrib.auth import get_permission_codename
from django.db import models, transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from . import deletion
from .models import Membership, Project, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)
    fields = ("user", "role", "created")
    readonly_fields = ("created",)


@admin.action(permissions=["delete"], description=actions.delete_selected.short_description)
def delete_selected(modeladmin, request, queryset):
    # Django's own action (confirmation page included); a refusal met while deleting rolls all of it back.
    try:
        with transaction.atomic():
            return actions.delete_selected(modeladmin, request, queryset)
    except deletion.DeletionRefused as refused:
        modeladmin.message_user(request, refused.html(), messages.ERROR)
        return None


def _rows_going_with(obj) -> dict:
    """{model: rows} that go when `obj` goes (its projects aside), found through reverse foreign keys, not by
    app name.

    PROTECT keys count too: the deletion's cleanups remove those rows. SET_NULL ones (audit entries) stay.
    """
    found = {}
    for relation in obj._meta.get_fields(include_hidden=True):
        if not (
            relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)
        ):
            continue
        model = relation.related_model
        if model is Project or relation.on_delete not in (models.CASCADE, models.PROTECT):
            continue
        count = model._base_manager.filter(**{relation.field.name: obj}).count()
        if count:
            found[model] = found.get(model, 0) + count
    return found


class OwnerAdmin(admin.ModelAdmin):
    """Deleting a tenant or project here takes the one deletion path (tenancy.deletion), as the web pages
    do."""

    actions = [delete_selected]

    def get_deleted_objects(self, objs, request):
        # Django's collector would list the PROTECT-ed Secrets, Settings and bundles as blocking; here only
        # what tenancy.deletion refuses blocks, and the rest is listed as going with the owner.
        owners = [
            o for obj in objs for o in ([obj, *obj.projects.all()] if isinstance(obj, Tenant) else [obj])
        ]
        protected = [
            format_html("{}: {}", obj, blocker.html()) for obj in objs for blocker in deletion.blockers(obj)
        ]
        listed, counts, perms_needed = [], {}, set()
        for owner in owners:
            rows = _rows_going_with(owner)
            listed += [
                f"{owner._meta.verbose_name.capitalize()}: {owner}",
                [f"{model._meta.verbose_name_plural.capitalize()}: {n}" for model, n in rows.items()],
            ]
            for model, n in {type(owner): 1, **rows}.items():
                counts[model._meta.verbose_name_plural] = counts.get(model._meta.verbose_name_plural, 0) + n
                codename = get_permission_codename("delete", model._meta)
                if not request.user.has_perm(f"{model._meta.app_label}.{codename}"):
                    perms_needed.add(model._meta.verbose_name)
        return listed, counts, perms_needed, protected

    def delete_model(self, request, obj):
        deletion.delete(obj, request=request, source="admin")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            deletion.delete(obj, request=request, source="admin")

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except deletion.DeletionRefused as refused:
            # Blocked between the confirmation page and the POST: say why, delete nothing (the view's
            # transaction).
            self.message_user(request, refused.html(), messages.ERROR)
            return redirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[object_id])
            )


@admin.register(Tenant)
class TenantAdmin(OwnerAdmin):
    list_display = ("name", "display_name", "namespace", "gpu_limit", "created")
    search_fields = ("name", "display_name")
    readonly_fields = ("uuid", "created", "updated")
    inlines = [MembershipInline]


@admin.register(Project)
class ProjectAdmin(OwnerAdmin):
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
