from __future__ import annotations

from django.contrib import admin

from .models import (
    ClusterProfile,
    ComputePool,
    DiscoveryPolicy,
    DiscoveryRun,
    EdgeHost,
    HostChange,
    PoolStep,
    ProfileBundle,
    ProfileSync,
)


@admin.register(EdgeHost)
class EdgeHostAdmin(admin.ModelAdmin):
    list_display = (
        "uid",
        "name",
        "project",
        "state",
        "health",
        "architecture",
        "cpu_cores",
        "memory_mib",
        "gpu_total",
        "eligible",
        "gone",
        "last_seen",
    )
    list_filter = ("state", "health", "architecture", "eligible", "gone")
    search_fields = ("uid", "name", "ip", "gpu_models")
    list_select_related = ("project__tenant",)
    readonly_fields = ("uuid", "fingerprint", "first_seen", "last_seen", "changed", "gone_since")


@admin.register(DiscoveryRun)
class DiscoveryRunAdmin(admin.ModelAdmin):
    list_display = ("created", "project", "trigger", "status", *DiscoveryRun.COUNTS, "first_error")
    list_filter = ("status", "trigger")
    search_fields = ("project__name", "first_error")
    list_select_related = ("project__tenant",)
    readonly_fields = ("uuid",)


@admin.register(HostChange)
class HostChangeAdmin(admin.ModelAdmin):
    list_display = ("created", "host", "kind")
    list_filter = ("kind",)
    search_fields = ("host__uid", "host__name")
    list_select_related = ("host",)


@admin.register(DiscoveryPolicy)
class DiscoveryPolicyAdmin(admin.ModelAdmin):
    list_display = ("project", "tag_key", "tag_value")
    list_select_related = ("project__tenant",)


@admin.register(ClusterProfile)
class ClusterProfileAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "profile_type", "cloud_type", "project", "present", "synced")
    list_filter = ("profile_type", "cloud_type", "present")
    search_fields = ("name", "uid")
    list_select_related = ("project__tenant",)


@admin.register(ProfileSync)
class ProfileSyncAdmin(admin.ModelAdmin):
    list_display = ("created", "project", "status", "first_error")
    list_filter = ("status",)
    list_select_related = ("project__tenant",)
    readonly_fields = ("uuid",)


@admin.register(ProfileBundle)
class ProfileBundleAdmin(admin.ModelAdmin):
    list_display = ("name", "namespace", "bundle_type", "version", "updated")
    list_filter = ("bundle_type",)
    search_fields = ("name", "namespace")
    list_select_related = ("project__tenant",)
    readonly_fields = ("uuid", "namespace", "created", "updated")


class PoolStepInline(admin.TabularInline):
    model = PoolStep
    extra = 0
    can_delete = False
    fields = (
        "attempt",
        "name",
        "status",
        "started",
        "finished",
        "retries",
        "first_error",
        "last_error",
        "detail",
    )
    readonly_fields = fields


@admin.register(ComputePool)
class ComputePoolAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "namespace",
        "status",
        "step",
        "attempt",
        "cluster_name",
        "cluster_uid",
        "failure_class",
        "updated",
    )
    list_filter = ("status", "failure_class", "variant", "deletion_policy")
    search_fields = ("name", "namespace", "cluster_name", "cluster_uid", "vip")
    list_select_related = ("project__tenant",)
    inlines = [PoolStepInline]
    # The kubeconfig and the masked profile variable values are credentials: support staff see whether they
    # are stored, never their content.
    exclude = ("kubeconfig", "secret_variables")

    # A pool's state belongs to its provisioning (compute.provisioning, compare-and-set): support staff read
    # it here and change it only through the pool page or a manifest (delete, force delete, retry), never by
    # overwriting a status, which would leave Palette's cluster and the hosts it holds untracked. A pool is
    # never added here, and only a Deleted pool's record can be removed.
    def get_readonly_fields(self, request, obj=None):
        return [
            f.name for f in ComputePool._meta.fields if f.name not in ("id", "kubeconfig", "secret_variables")
        ] + ["kubeconfig_stored", "masked_variables"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status != ComputePool.DELETED:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a bulk delete would take live pools along
        return actions

    @admin.display(description="masked profile variables")
    def masked_variables(self, obj: ComputePool) -> str:
        from .variables import rows

        return ", ".join(f"{r['profile']}.{r['name']}" for r in rows(obj) if r["masked"]) or "none"

    @admin.display(boolean=True, description="kubeconfig stored")
    def kubeconfig_stored(self, obj: ComputePool) -> bool:
        return bool(obj.kubeconfig)
