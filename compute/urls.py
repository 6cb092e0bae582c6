from __future__ import annotations

from django.urls import path

from .views import across, bundles, capacity, day2, inventory, pools, profiles, tags, upgrade, wizard

app_name = "compute"

prefix = "tenants/<slug:tenant>/projects/<slug:project>/compute/"
urlpatterns = [
    path("compute/", across.compute_overview, name="home"),
    path("tenants/<slug:tenant>/capacity/", capacity.capacity, name="capacity"),
    path(prefix, inventory.inventory, name="inventory"),
    path(prefix + "discover/", inventory.discover, name="discover"),
    path(prefix + "discover/status/", inventory.discovery_status, name="discovery_status"),
    path(prefix + "policy/", inventory.policy_save, name="policy_save"),
    path(prefix + "hosts/<uuid:host>/", inventory.host_detail, name="host_detail"),
    path(prefix + "tags/preview/", tags.tags_preview, name="tags_preview"),
    path(prefix + "tags/apply/", tags.tags_apply, name="tags_apply"),
    path(prefix + "tags/<uuid:edit>/", tags.tag_edit, name="tag_edit"),
    path(prefix + "profiles/", profiles.profiles, name="profiles"),
    path(prefix + "profiles/sync/", profiles.profiles_sync, name="profiles_sync"),
    path(prefix + "pools/", pools.pools, name="pools"),
    path(prefix + "bundles/create/", bundles.bundle_create, name="bundle_create"),
    path(prefix + "bundles/form/", bundles.bundle_form, name="bundle_form"),
    path(prefix + "bundles/<uuid:bundle>/delete/", bundles.bundle_delete, name="bundle_delete"),
    path(prefix + "pools/new/", pools.pool_create, name="pool_create"),
    path(prefix + "pools/new/counts/", wizard.pool_wizard_counts, name="pool_wizard_counts"),
    path(prefix + "pools/new/bundle/create/", wizard.pool_wizard_bundle, name="pool_wizard_bundle"),
    path(prefix + "pools/new/reset/", wizard.pool_wizard_reset, name="pool_wizard_reset"),
    path(prefix + "pools/new/<slug:step>/", wizard.pool_wizard, name="pool_wizard"),
    path(prefix + "pools/<uuid:pool>/", pools.pool_detail, name="pool_detail"),
    path(prefix + "pools/<uuid:pool>/retry/", pools.pool_retry, name="pool_retry"),
    path(prefix + "pools/<uuid:pool>/delete/", pools.pool_delete, name="pool_delete"),
    path(prefix + "pools/<uuid:pool>/force-delete/", pools.pool_force_delete, name="pool_force_delete"),
    path(prefix + "pools/<uuid:pool>/kubeconfig/", pools.pool_kubeconfig, name="pool_kubeconfig"),
    path(prefix + "pools/<uuid:pool>/scale/", day2.pool_scale, name="pool_scale"),
    path(prefix + "pools/<uuid:pool>/replace/", day2.pool_replace, name="pool_replace"),
    path(prefix + "pools/<uuid:pool>/upgrade/", upgrade.pool_upgrade, name="pool_upgrade"),
    path(prefix + "pools/<uuid:pool>/events/", upgrade.pool_events, name="pool_events"),
    path(
        prefix + "pools/<uuid:pool>/events/refresh/", upgrade.pool_events_refresh, name="pool_events_refresh"
    ),
]
