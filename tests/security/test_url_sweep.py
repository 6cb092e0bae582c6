"""Every URL of the project, requested by everyone who must not get in.

The URL conf is enumerated (tests/security/sweep.py), so a new view is swept as soon as it is
routed: anonymous users are sent to the login page, an outsider from another tenant gets 404 for
acme's objects (GET and POST), a read-only member of acme gets 403 when writing (405 for views
that only read), and none of these requests changes a row. Also: CSRF on every POST, login
throttling, security headers and cookies with SECURE=true, password validators.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client, override_settings
from django.urls import reverse

from tests.conftest import PASSWORD

from .sweep import HOSTILE_BODY, AcmeObjects, Case, UnknownKwarg, routes

ROOT = Path(__file__).resolve().parents[2]
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def acme(world):
    return AcmeObjects(world)


def _request(client: Client, method: str, url: str, **extra):
    """The response, or a stand-in 500 carrying the traceback when the view raised."""
    try:
        if method == "POST":
            return client.post(url, HOSTILE_BODY, **extra)
        return client.get(url, **extra)
    except Exception:  # the sweep reports every crash, then goes on

        class Crash:
            status_code = 500
            content = traceback.format_exc().encode()
            headers: dict = {}

            def __getitem__(self, key):
                return ""

        return Crash()


def _row_counts() -> dict[str, int]:
    return {
        m._meta.label: m._default_manager.count()
        for m in apps.get_models()
        if m._meta.app_label in ("core", "tenancy", "integrations", "compute", "auth")
    }


def _pool_state(acme: AcmeObjects) -> tuple:
    acme.pool.refresh_from_db()
    return (acme.pool.status, acme.pool.delete_requested, acme.pool.force_delete_requested, acme.pool.attempt)


def sweep_problems(acme: AcmeObjects, world) -> list[str]:
    """Run the whole sweep; return one line per broken expectation (empty when every view is guarded)."""
    login = reverse("login")
    anonymous = Client()
    outsider, viewer, editor = (
        world.client_for(world.outsider),
        world.client_for(world.viewer),
        world.client_for(world.editor),
    )
    problems: list[str] = []
    before, pool_before = _row_counts(), _pool_state(acme)

    def expect(case: Case, who: str, method: str, response, allowed: set[int], extra: str = "") -> None:
        if response.status_code >= 500:
            problems.append(
                f"{case.label} {method} as {who}: {response.status_code}\n"
                f"{response.content.decode(errors='replace')[-1500:]}"
            )
        elif response.status_code not in allowed:
            problems.append(
                f"{case.label} {method} {case.url} as {who}: got {response.status_code}, "
                f"expected one of {sorted(allowed)}{extra}"
            )

    def hidden(case: Case, method: str, extra: dict) -> None:
        who = "outsider" + (" (htmx)" if extra else "")
        response = _request(outsider, method, case.url, **extra)
        if response.status_code == 405:
            # A view refusing the method answers before looking anything up; that reveals nothing only
            # if an object that does not exist gets the very same answer.
            ghost = _request(outsider, method, case.ghost_url, **extra)
            expect(
                case,
                who,
                method,
                response,
                {405} if ghost.status_code == 405 else {404},
                f" (the same {method} to {case.ghost_url} answered {ghost.status_code})",
            )
        else:
            expect(case, who, method, response, {404})

    for route in routes():
        try:
            outsider_cases = acme.cases(route, world.outsider)
            viewer_cases = acme.cases(route, world.viewer)
        except UnknownKwarg as exc:
            problems.append(str(exc))
            continue
        for case in outsider_cases:
            for method in ("GET", "POST"):
                response = _request(anonymous, method, case.url)
                if response.status_code != 302 or not response["Location"].startswith(login):
                    problems.append(
                        f"{case.label} {method} as anonymous: got {response.status_code} "
                        f"{response['Location'] if response.status_code == 302 else ''}, "
                        f"expected a redirect to {login}"
                    )
            if route.kwargs:
                # Another tenant's object: 404, whether it is read, read as an htmx fragment, or written.
                for method, extra in (("GET", {}), ("GET", HX), ("POST", {})):
                    hidden(case, method, extra)
            else:
                # A global page (lists, the wizard's start): it may open, but shows nothing of acme, and a
                # POST naming acme's tenant and project is refused.
                response = _request(outsider, "GET", case.url)
                expect(case, "outsider", "GET", response, {200, 302, 403})
                body = response.content.decode(errors="replace")
                leaked = [m for m in acme.markers if m in body]
                if leaked:
                    problems.append(f"{case.label} GET as outsider shows acme's {leaked}")
                expect(case, "outsider", "POST", _request(outsider, "POST", case.url), {403, 404, 405})
        if "tenant" in route.kwargs and "project" not in route.kwargs:
            # A project editor reads the tenant but changes nothing at tenant level.
            for case in acme.cases(route, world.editor):
                expect(case, "project editor", "POST", _request(editor, "POST", case.url), {403, 405})
        for case in viewer_cases:
            expect(case, "viewer", "GET", _request(viewer, "GET", case.url), {200, 286, 302, 403, 404, 405})
            expect(case, "read-only viewer", "POST", _request(viewer, "POST", case.url), {403, 405})
            expect(
                case, "read-only viewer (htmx)", "POST", _request(viewer, "POST", case.url, **HX), {403, 405}
            )

    after = _row_counts()
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    if changed:
        problems.append(f"refused requests changed rows (before, after): {changed}")
    if _pool_state(acme) != pool_before:
        problems.append(f"refused requests changed the pool: {pool_before} → {_pool_state(acme)}")
    return problems


def test_it_guards_every_url_for_anonymous_outsider_and_read_only_users(world, acme):
    found = routes()
    assert len(found) >= 40, (
        f"only {len(found)} URL patterns found: is the enumeration still recursing through includes?"
    )
    problems = sweep_problems(acme, world)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


def test_it_would_notice_a_view_without_access_checks(world, acme):
    """The sweep itself can fail: a leaky URL conf is caught on every count."""
    with override_settings(ROOT_URLCONF="tests.security.leaky_urls"):
        problems = sweep_problems(acme, world)
    text = "\n".join(problems)
    assert "leaky_read GET" in text and "as outsider: got 200, expected one of [404]" in text
    assert "leaky_write POST" in text and "as read-only viewer: got 200" in text
    assert "<slug:gadget>" in text, "an unknown URL kwarg must be reported, not skipped"
    assert "open_page GET as anonymous: got 200" in text
    assert "refused requests changed rows" in text


def test_it_knows_every_url_kwarg_of_the_project(world, acme):
    """Fails with the name of the URL when a new view has a keyword argument the sweep cannot fill."""
    for route in routes():
        assert acme.cases(route, world.owner)


def _csrf_failed(response) -> bool:
    return response.status_code == 403 and b"CSRF verification failed" in response.content


def test_it_enforces_csrf_on_every_post(world, acme):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.superuser)
    missing = []
    for route in routes():
        for case in acme.cases(route, world.superuser):
            for extra in ({}, HX):
                response = _request(client, "POST", case.url, **extra)
                if not _csrf_failed(response):
                    missing.append(f"{case.label}: {response.status_code}")
    for name in ("login", "logout"):
        if not _csrf_failed(
            Client(enforce_csrf_checks=True).post(reverse(name), {"username": "root", "password": PASSWORD})
        ):
            missing.append(name)
    assert not missing, "POST accepted without a CSRF token: " + ", ".join(missing)
    # Control: the same client with the token is let through (so the 403s above are the CSRF check).
    client.get(reverse("integrations:tenant_settings", args=["acme"]))
    token = client.cookies["csrftoken"].value
    response = client.post(
        reverse("integrations:tenant_token_test", args=["acme", "huggingface"]),
        {"huggingface-token": "x"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200


def test_it_locks_a_login_out_after_repeated_failures(world, settings):
    settings.AXES_ENABLED = True
    limit = settings.AXES_FAILURE_LIMIT
    assert 3 <= limit <= 10
    url = reverse("login")
    attacker = Client()
    for _ in range(limit):
        response = attacker.post(url, {"username": "owner", "password": "not-the-password"})
        assert response.status_code in (200, 429)
    response = attacker.post(url, {"username": "owner", "password": PASSWORD})
    assert response.status_code == 429, "the right password must not get in once the account is locked"
    assert "_auth_user_id" not in attacker.session
    assert b"locked" in response.content.lower()
    # Lockout is per username and address: another account from the same address still logs in.
    other = Client()
    response = other.post(url, {"username": "viewer", "password": PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" in other.session


def test_it_counts_failures_only_when_throttling_is_on(world, settings):
    """Control for the lockout test: below the limit, the right password works."""
    settings.AXES_ENABLED = True
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    assert client.post(reverse("login"), {"username": "owner", "password": PASSWORD}).status_code == 302


PROBE = r"""
import json
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

call_command("migrate", verbosity=0)
User = get_user_model()
if not User.objects.filter(username="probe").exists():
    User.objects.create_user("probe", password="probe-Password-4711")
client = Client(HTTP_HOST="localhost")
page = client.get("/login/", secure=True)
login = client.post("/login/", {"username": "probe", "password": "probe-Password-4711"}, secure=True)
cookies = {**{n: m for n, m in page.cookies.items()}, **{n: m for n, m in login.cookies.items()}}
print(json.dumps({
    "headers": {k.lower(): v for k, v in page.headers.items()},
    "login_status": login.status_code,
    "cookies": {
        n: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]), "samesite": m["samesite"]}
        for n, m in cookies.items()
    },
}))
"""


def _probe(tmp_path: Path, secure: str) -> dict:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER")
    }
    env.update({"SECURE": secure, "DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"})
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


CSP_ALLOWED = {"'self'", "'none'", "'unsafe-inline'", "data:"}


def assert_csp_allows_no_external_origin(csp: str) -> None:
    directives = {part.split()[0]: part.split()[1:] for part in csp.split(";") if part.strip()}
    for name in ("default-src", "script-src", "object-src", "base-uri", "form-action", "frame-ancestors"):
        assert name in directives, f"CSP lacks {name}: {csp}"
    for name, sources in directives.items():
        for source in sources:
            assert source in CSP_ALLOWED, (
                f"CSP {name} allows {source!r}: only 'self', 'none' and data: are acceptable"
            )
    assert directives["script-src"] == ["'self'"], "scripts: our own files only (no inline, no eval)"
    assert "'unsafe-inline'" not in directives["default-src"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
    assert all(s in ("'self'", "data:") for s in directives.get("img-src", ["'self'"]))


def test_it_sends_secure_cookies_and_security_headers_when_secure_is_true(tmp_path):
    """Settings are read once at import: each case runs `manage.py shell` in a fresh process with its
    environment."""
    plain = _probe(tmp_path, "false")
    secure = _probe(tmp_path, "true")
    assert secure["login_status"] == plain["login_status"] == 302
    headers = secure["headers"]
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert "includesubdomains" in headers["strict-transport-security"].lower()
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert_csp_allows_no_external_origin(headers["content-security-policy"])
    for name in ("sessionid", "csrftoken"):
        assert secure["cookies"][name]["secure"], f"{name} cookie must be Secure with SECURE=true"
        assert not plain["cookies"][name]["secure"], f"control: {name} is not Secure without SECURE=true"
    assert secure["cookies"]["sessionid"]["httponly"]
    assert secure["cookies"]["sessionid"]["samesite"] in ("Lax", "Strict")
    # Control: without SECURE, no HSTS (a plain-HTTP lab install must not pin browsers to HTTPS).
    assert "strict-transport-security" not in plain["headers"]


def test_it_sends_security_headers_on_every_kind_of_response(world, acme, client):
    """Pages, fragments, redirects, 403 and 404 all carry CSP, X-Frame-Options, nosniff and
    Referrer-Policy."""
    owner, viewer = world.client_for(world.owner), world.client_for(world.viewer)
    responses = [
        owner.get(reverse("tenancy:tenant_detail", args=["acme"])),
        owner.get(reverse("compute:inventory", args=["acme", "research"]), **HX),
        client.get(reverse("tenancy:tenant_list")),
        viewer.post(reverse("tenancy:tenant_edit", args=["acme"])),
        owner.get(reverse("tenancy:tenant_detail", args=["globex"])),
        client.get(reverse("healthz")),
    ]
    assert [r.status_code for r in responses] == [200, 200, 302, 403, 404, 200]
    for response in responses:
        assert_csp_allows_no_external_origin(response["Content-Security-Policy"])
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"


def test_it_validates_passwords(world, settings):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    names = {v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    } <= names
    from django.contrib.auth import get_user_model

    admin_user = get_user_model()(username="paletteadmin")
    for weak in ("password123", "1234567890123", "Sh0rt-pw", "paletteadmin1"):
        with pytest.raises(ValidationError):
            validate_password(weak, user=admin_user)
    validate_password(PASSWORD, user=world.owner)  # control: a good one passes

    # The support path that sets passwords (Django admin → add user) applies them.
    admin = world.client_for(world.superuser)
    response = admin.post(
        reverse("admin:auth_user_add"),
        {
            "username": "newbie",
            "password1": "password123",
            "password2": "password123",
            "usable_password": "true",
        },
    )
    assert response.status_code == 200 and not get_user_model().objects.filter(username="newbie").exists()
    assert b"too common" in response.content


def test_it_keeps_the_django_admin_to_staff(world, acme, client):
    """The support console: every registered model's pages refuse anonymous and non-staff users (tenant admins
    included)."""
    from django.contrib import admin

    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        obj = model._default_manager.first()
        if obj is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[obj.pk]))
    assert len(urls) > 10
    for who, browser in (
        ("anonymous", client),
        ("tenant admin", world.client_for(world.owner)),
        ("outsider", world.client_for(world.outsider)),
        ("viewer", world.client_for(world.viewer)),
    ):
        for url in urls:
            for response in (
                browser.get(url),
                browser.post(url, {"action": "delete_selected", "_selected_action": ["1"]}),
            ):
                assert response.status_code == 302 and reverse("admin:login") in response["Location"], (
                    f"{url} as {who}"
                )
    assert world.client_for(world.superuser).get(urls[1]).status_code == 200  # control


def test_it_answers_probes_without_login_and_without_details(client, db):
    for name in ("healthz", "readyz"):
        response = client.get(reverse(name))
        assert response.status_code in (200, 503)
        body = response.json()
        assert set(body) <= {"status", "checks"}
        # Only "ok" or an exception class name: no host names, URLs or messages of the database or broker.
        for value in body.get("checks", {}).values():
            assert value == "ok" or (value.startswith("error: ") and value[7:].isidentifier()), value


def test_it_never_redirects_a_login_to_another_site(world):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "https:evil.example"):
        client = Client()
        response = client.post(
            reverse("login") + "?next=" + target, {"username": "owner", "password": PASSWORD}
        )
        assert response.status_code == 302 and "evil.example" not in response["Location"], target
