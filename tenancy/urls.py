from __future__ import annotations

from django.urls import path

from . import access_views, audit_views, oidc, views

app_name = "tenancy"

urlpatterns = [
    path("", views.home, name="home"),
    path("oidc/login/", oidc.oidc_login, name="oidc_login"),
    path("oidc/callback/", oidc.oidc_callback, name="oidc_callback"),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("access/", access_views.my_access, name="my_access"),
    path("tenants/", views.tenant_list, name="tenant_list"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/<slug:tenant>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<slug:tenant>/edit/", views.tenant_edit, name="tenant_edit"),
    path("tenants/<slug:tenant>/delete/", views.tenant_delete, name="tenant_delete"),
    path("tenants/<slug:tenant>/groups/", views.tenant_groups, name="tenant_groups"),
    path("projects/", views.project_list, name="project_list"),
    path("tenants/<slug:tenant>/projects/new/", views.project_create, name="project_create"),
    path("tenants/<slug:tenant>/projects/<slug:project>/", views.project_detail, name="project_detail"),
    path("tenants/<slug:tenant>/projects/<slug:project>/edit/", views.project_edit, name="project_edit"),
    path(
        "tenants/<slug:tenant>/projects/<slug:project>/delete/", views.project_delete, name="project_delete"
    ),
    path(
        "tenants/<slug:tenant>/projects/<slug:project>/groups/", views.project_groups, name="project_groups"
    ),
    path(
        "tenants/<slug:tenant>/projects/<slug:project>/access/",
        access_views.project_access,
        name="project_access",
    ),
    path("tenants/<slug:tenant>/projects/<slug:project>/members/", views.member_add, name="member_add"),
    path(
        "tenants/<slug:tenant>/projects/<slug:project>/members/<uuid:membership>/remove/",
        views.member_remove,
        name="member_remove",
    ),
]
