from __future__ import annotations

from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = []
for scope, prefix in (
    ("tenant", "tenants/<slug:tenant>/"),
    ("project", "tenants/<slug:tenant>/projects/<slug:project>/"),
):
    base = prefix + "notifications/"
    urlpatterns += [
        path(base, views.rules_page, name=f"{scope}_rules"),
        path(base + "<slug:rule>/", views.rule_edit, name=f"{scope}_rule"),
        path(base + "<slug:rule>/delete/", views.rule_delete, name=f"{scope}_rule_delete"),
        path(base + "<slug:rule>/test/", views.rule_test, name=f"{scope}_rule_test"),
        path(base + "<slug:rule>/mute/", views.rule_mute, name=f"{scope}_rule_mute"),
    ]
