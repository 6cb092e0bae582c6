from __future__ import annotations

from django.urls import path

from . import pool_wizard, pools_views, views

app_name = "compute"

prefix = "tenants/<slug:tenant>/projects/<slug:project>/compute/"
urlpatterns = [
    path("compute/", views.home, name="home"),
    path("tenants/<slug:tenant>/capacity/", views.capacity, name="capacity"),
    path(prefix, views.inventory, name="inventory"),
    path(prefix + "discover/", views.discover, name="discover"),
    path(prefix + "discover/status/", views.discovery_status, name="discovery_status"),
    path(prefix + "policy/", views.policy_save, name="policy_save"),
    path(prefix + "hosts/<uuid:host>/", views.host_detail, name="host_detail"),
    path(prefix + "tags/preview/", views.tags_preview, name="tags_preview"),
    path(prefix + "tags/apply/", views.tags_apply, name="tags_apply"),
    path(prefix + "tags/<uuid:edit>/", views.tag_edit, name="tag_edit"),
    path(prefix + "profiles/", views.profiles, name="profiles"),
    path(prefix + "profiles/sync/", views.profiles_sync, name="profiles_sync"),
    path(prefix + "pools/", pools_views.pools, name="pools"),
    path(prefix + "bundles/create/", pools_views.bundle_create, name="bundle_create"),
    path(prefix + "bundles/<uuid:bundle>/delete/", pools_views.bundle_delete, name="bundle_delete"),
    path(prefix + "pools/new/", pools_views.pool_create, name="pool_create"),
    path(prefix + "pools/new/counts/", pool_wizard.pool_wizard_counts, name="pool_wizard_counts"),
    path(prefix + "pools/new/bundle/create/", pool_wizard.pool_wizard_bundle, name="pool_wizard_bundle"),
    path(prefix + "pools/new/reset/", pool_wizard.pool_wizard_reset, name="pool_wizard_reset"),
    path(prefix + "pools/new/<slug:step>/", pool_wizard.pool_wizard, name="pool_wizard"),
    path(prefix + "pools/<uuid:pool>/", pools_views.pool_detail, name="pool_detail"),
    path(prefix + "pools/<uuid:pool>/retry/", pools_views.pool_retry, name="pool_retry"),
    path(prefix + "pools/<uuid:pool>/delete/", pools_views.pool_delete, name="pool_delete"),
    path(prefix + "pools/<uuid:pool>/force-delete/", pools_views.pool_force_delete, name="pool_force_delete"),
]
