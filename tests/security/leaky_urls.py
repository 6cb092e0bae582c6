"""A URL conf with the mistakes the security sweep exists to catch; used only to prove the sweep can fail."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path


@login_required
def leaky_read(request, tenant):
    return HttpResponse(f"tenant {tenant}")  # no access check: anyone logged in reads any tenant


@login_required
def leaky_write(request, tenant):
    from core.models import AuditEntry

    if request.method == "POST":  # no role check: a read-only member writes
        AuditEntry.objects.create(action="action", object_type="tenant", object_repr=tenant)
    return HttpResponse("ok")


def open_page(request):
    return HttpResponse("no login needed")  # forgot @login_required


@login_required
def gadget(request, gadget):
    return HttpResponse("gadget")


urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("tenants/<slug:tenant>/leaky/", leaky_read, name="leaky_read"),
    path("tenants/<slug:tenant>/leaky-write/", leaky_write, name="leaky_write"),
    path("open/", open_page, name="open_page"),
    path("gadgets/<slug:gadget>/", gadget, name="gadget"),
]
