from __future__ import annotations

from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from core import metrics as core_metrics
from core import views as core_views
from tenancy import login as tenancy_login
from tenancy import oidc_session

admin.site.site_header = "PaletteAI Admin — support"
admin.site.site_title = "PaletteAI Admin support"


def favicon(request):
    # Browsers ask for /favicon.ico where a page names no icon (the admin's pages, JSON, CSV).
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_metrics.metrics, name="metrics"),
    path("login/", tenancy_login.LoginView.as_view(), name="login"),
    path("logout/", oidc_session.sign_out, name="logout"),
    path("django-admin/", admin.site.urls),
    path("", include("tenancy.urls")),
    path("", include("integrations.urls")),
    path("", include("compute.urls")),
    path("", include("notifications.urls")),
]
