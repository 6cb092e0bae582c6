from __future__ import annotations

from django.urls import include, path

from . import views, wizard_views

app_name = "integrations"

# The same views serve a tenant's and a project's Settings; `project` is absent for the tenant.
scoped = [
    path("palette/", views.palette_save, name="palette_save"),
    path("palette/use-project-uid/", views.use_project_uid, name="use_project_uid"),
    path("tokens/<slug:kind>/", views.token_save, name="token_save"),
    path("tokens/<slug:kind>/test/", views.token_test, name="token_test"),
    path("check/", views.check_start, name="check_start"),
    path("check/<uuid:check>/", views.check_status, name="check_status"),
    path("yaml/", views.settings_yaml, name="settings_yaml"),
    path("import/", views.settings_import, name="settings_import"),
]


def _named(prefix: str) -> list:
    return [path(p.pattern._route, p.callback, name=f"{prefix}_{p.name}") for p in scoped]


urlpatterns = [
    path("onboarding/", wizard_views.onboarding_home, name="onboarding"),
    path(
        "onboarding/<uuid:session>/check/status/",
        wizard_views.onboarding_check_status,
        name="onboarding_check_status",
    ),
    path("onboarding/<uuid:session>/<slug:step>/", wizard_views.onboarding_step, name="onboarding_step"),
    path("tenants/<slug:tenant>/settings/", views.settings_page, name="tenant_settings"),
    path("tenants/<slug:tenant>/settings/", include(_named("tenant"))),
    path(
        "tenants/<slug:tenant>/projects/<slug:project>/settings/",
        views.settings_page,
        name="project_settings",
    ),
    path("tenants/<slug:tenant>/projects/<slug:project>/settings/", include(_named("project"))),
]
