"""Single sign-on against a real OpenID provider process (tests/fakes/oidc_provider.mjs): the bad cases give a
clear page, never a 500; break-glass local login; the role mappings in manifests. Browser flow:
tests/browser/test_oidc_login.py."""

from __future__ import annotations

import socket

import pytest
import yaml
from django.test import Client

from core.manifests import apply_text, export_text
from tenancy.models import OidcIdentity
from tests.conftest import PASSWORD
from tests.fakes.oidc import FakeProvider
from tests.tenancy.oidc_fixtures import ACCOUNTS, configure, oidc_provider, sign_in  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def oidc_base_url():
    return "http://testserver"


def test_login_page_offers_the_provider_only_when_configured(settings, oidc_provider):  # noqa: F811
    assert "Sign in with" not in Client().get("/login/").content.decode()
    assert Client().get("/oidc/login/").status_code == 404
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")
    page = " ".join(Client().get("/login/").content.decode().split())
    assert "Sign in with Test IdP" in page and 'name="password"' in page


def test_login_starts_an_authorization_code_request_with_pkce(settings, oidc_provider):  # noqa: F811
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")
    answer = Client().get("/oidc/login/?next=/projects/")
    assert answer.status_code == 302
    location = answer["Location"]
    assert location.startswith(f"{oidc_provider.issuer}/auth?")
    assert "code_challenge_method=S256" in location and "code_challenge=" in location
    assert "response_type=code" in location and "nonce=" in location


def test_a_state_mismatch_is_a_clear_page(settings, oidc_provider):  # noqa: F811
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")
    client = Client()
    client.get("/oidc/login/")
    answer = client.get("/oidc/callback/?code=forged&state=not-the-one-we-sent")
    assert answer.status_code == 400
    assert "the state does not match" in " ".join(answer.content.decode().split())
    assert "_auth_user_id" not in client.session


def test_a_provider_that_is_down_is_a_clear_page(settings, oidc_provider):  # noqa: F811
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")
    settings.OIDC_ISSUER = f"http://127.0.0.1:{closed}"
    answer = Client().get("/oidc/login/")
    assert answer.status_code == 502
    assert "Test IdP cannot be reached" in answer.content.decode()


def test_an_error_from_the_provider_shows_only_its_code(settings, oidc_provider):  # noqa: F811
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")
    client = Client()
    client.get("/oidc/login/")
    answer = client.get("/oidc/callback/?error=access_denied&error_description=<b>call+0800+now</b>")
    assert answer.status_code == 400
    assert "access_denied" in answer.content.decode() and "0800" not in answer.content.decode()


def test_local_login_off_leaves_local_passwords_to_superusers(settings, world):
    settings.LOCAL_LOGIN = False
    refused = Client().post("/login/", {"username": "owner", "password": PASSWORD})
    assert refused.status_code == 200
    assert "LOCAL_LOGIN=false" in refused.content.decode()
    root = Client()
    assert root.post("/login/", {"username": "root", "password": PASSWORD}).status_code == 302
    assert root.get("/").status_code == 200
    settings.LOCAL_LOGIN = True
    assert Client().post("/login/", {"username": "owner", "password": PASSWORD}).status_code == 302


def test_manifests_round_trip_the_role_mappings(world):
    from tenancy import access
    from tenancy.models import OidcIdentity

    docs = [
        {
            "apiVersion": "spectrocloud.com/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "acme"},
            "spec": {
                "displayName": "Acme",
                "tenantRoleMapping": {"admin": ["acme-admins"], "viewer": ["readers"]},
            },
        },
        {
            "apiVersion": "spectrocloud.com/v1alpha1",
            "kind": "Project",
            "metadata": {"name": "research", "namespace": "acme-research"},
            "spec": {
                "tenantRef": {"name": "acme"},
                "displayName": "Research",
                "roleMapping": {"editor": ["ml-engineers"], "viewer": ["readers", "interns"]},
            },
        },
    ]
    text = yaml.safe_dump_all(docs, sort_keys=False)
    result = apply_text(text, source="roles.yaml")
    assert result.errors == []
    assert [str(c) for c in apply_text(text, source="roles.yaml").changes] == [
        "tenant/acme unchanged",
        "project/research -n acme-research unchanged",
    ]
    exported = {(d["kind"], d["metadata"]["name"]): d["spec"] for d in yaml.safe_load_all(export_text())}
    assert exported["Tenant", "acme"]["tenantRoleMapping"] == {
        "admin": ["acme-admins"],
        "viewer": ["readers"],
    }
    assert exported["Project", "research"]["roleMapping"] == {
        "editor": ["ml-engineers"],
        "viewer": ["interns", "readers"],
    }

    OidcIdentity.objects.create(user=world.outsider, issuer="x", subject="1", groups=["ml-engineers"])
    outsider = type(world.outsider).objects.get(pk=world.outsider.pk)
    assert access.project_role(outsider, world.project_a) == access.WRITE
    assert access.tenant_role(outsider, world.tenant_a) is None

    docs[1]["spec"]["roleMapping"] = {"viewer": ["ml-engineers"]}
    assert apply_text(yaml.safe_dump_all(docs), source="roles.yaml").errors == []
    outsider = type(world.outsider).objects.get(pk=world.outsider.pk)
    assert access.project_role(outsider, world.project_a) == access.READ


def test_a_bad_role_mapping_is_reported_on_its_field(world):
    doc = {
        "apiVersion": "spectrocloud.com/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": "acme"},
        "spec": {"displayName": "Acme", "tenantRoleMapping": {"admin": "acme-admins", "editor": ["x"]}},
    }
    errors = " ".join(apply_text(yaml.safe_dump(doc), source="bad.yaml").errors)
    assert "spec.tenantRoleMapping.admin: must be a list of group names" in errors
    assert "spec.tenantRoleMapping.editor: unknown field" in errors


@pytest.mark.parametrize(
    "env",
    [{"TAMPER": "signature"}, {"CLOCK_OFFSET": "-300"}, {"CLOCK_OFFSET": "600"}],
    ids=["bad signature", "expired", "not yet valid"],
)
def test_an_id_token_that_fails_verification_is_a_clear_page(settings, world, tmp_path, env):
    provider = FakeProvider(tmp_path / "accounts.json", "http://testserver/oidc/callback/", **env)
    provider.set_accounts(ACCOUNTS)
    provider.start()
    try:
        configure(settings, provider, "http://testserver/oidc/callback/")
        client = Client()
        answer = sign_in(client, provider, "alice")
    finally:
        provider.stop()
    assert answer.status_code == 400
    assert "The provider&#x27;s answer could not be verified" in answer.content.decode()
    assert "_auth_user_id" not in client.session
    assert not OidcIdentity.objects.exists()


def test_a_nonce_mismatch_is_a_clear_page(settings, world, oidc_provider):  # noqa: F811
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")

    def other_nonce(client):
        # The ID token was asked for with another nonce than the one this browser's sign-in remembers.
        session = client.session
        (key,) = [k for k in session.keys() if k.startswith("_state_oidc_")]
        state = session[key]
        state["data"]["nonce"] = "a-nonce-from-another-sign-in"
        session[key] = state
        session.save()

    client = Client()
    answer = sign_in(client, oidc_provider, "alice", before_callback=other_nonce)
    assert answer.status_code == 400
    text = " ".join(answer.content.decode().split())
    assert "signature, issuer, audience, expiry or nonce is wrong" in text
    assert "_auth_user_id" not in client.session


def test_a_good_sign_in_through_the_test_client_lands_with_the_groups(settings, world, oidc_provider):  # noqa: F811
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")
    client = Client()
    answer = sign_in(client, oidc_provider, "alice")
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert OidcIdentity.objects.get(user__username="alice").groups == ["acme-readers", "ml-engineers"]
