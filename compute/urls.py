from __future__ import annotations

from django.urls import path

from . import views

app_name = "compute"

prefix = "tenants/<slug:tenant>/projects/<slug:project>/compute/"
urlpatterns = [
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
]
