"""The onboarding wizard (each step's validation, resume, back button, permissions, skip, secrets) and the
Settings page's "View as YAML" and import box."""

from __future__ import annotations

import json
import types

import pytest
import yaml
from django.urls import reverse

from core.models import AuditEntry
from integrations import diagnosis, onboarding
from integrations.models import OnboardingSession, PaletteCheck, Secret, Settings
from tenancy.models import Project, Tenant

from .conftest import configure_palette, make_cert

KEY = "pk-CANARY-0123456789abcdef"
HF = "hf_CANARYhf0123456789012345678901234"
UID = "65f0a1b2c3d4e5f60718293a"
START = reverse("integrations:onboarding")


def step(session, name):
    """The step's URL as the wizard builds it: with the session's tenant and project as they are now."""
    session.refresh_from_db()
    return onboarding.step_url(session, name)


def palette_post(**overrides):
    data = {
        "action": "save",
        "scope": "tenant",
        "settings_name": "acme-settings",
        "host_url": "palette.example.com",
        "api_key": KEY,
        "tenant": "acme",
        "default_project_id": UID,
        "tls": "verify",
        "ca_pem": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def new_session(world, user=None, **kwargs) -> OnboardingSession:
    client = world.client_for(user or world.owner)
    client.post(START, kwargs)
    return OnboardingSession.objects.filter(user=user or world.owner).latest("created")


def at_palette(world, user=None) -> tuple:
    """A session of `user` (the owner by default) with tenant acme and project research chosen."""
    user = user or world.owner
    client = world.client_for(user)
    client.post(START)
    session = OnboardingSession.objects.get(user=user)
    assert client.post(step(session, "tenant"), {"tenant": "acme"}).status_code == 302
    assert client.post(step(session, "project"), {"project": "research"}).status_code == 302
    session.refresh_from_db()
    return client, session


def at_check(world) -> tuple:
    client, session = at_palette(world)
    response = client.post(step(session, "palette"), palette_post())
    assert response.status_code == 302, response.content.decode()[:3000]
    session.refresh_from_db()
    return client, session


# Starting and resuming -----------------------------------------------------------------------------
def test_it_starts_a_session_and_resumes_it_from_the_nav_link(world):
    client = world.client_for(world.owner)
    intro = client.get(START)
    assert intro.status_code == 200 and "Start onboarding" in intro.content.decode()
    response = client.post(START)
    session = OnboardingSession.objects.get(user=world.owner)
    assert response.status_code == 302 and response["Location"] == step(session, "tenant")
    client.post(step(session, "tenant"), {"tenant": "acme"})
    # Leaving and coming back later: /onboarding/ resumes at the current step.
    resumed = client.get(START)
    assert resumed.status_code == 302 and resumed["Location"] == step(session, "project")
    assert client.get(START + "?new=1").status_code == 200


def test_it_opens_no_step_before_the_previous_ones_are_done(world):
    client = world.client_for(world.owner)
    client.post(START)
    session = OnboardingSession.objects.get(user=world.owner)
    for name in ("project", "palette", "check", "tokens", "discovery", "summary"):
        response = client.get(step(session, name))
        assert response.status_code == 302 and response["Location"] == step(session, "tenant")
    assert (
        client.get(reverse("integrations:onboarding_step", args=[session.uuid, "nonsense"])).status_code
        == 404
    )
    assert client.post(step(session, "summary")).status_code in (302, 405)


def test_it_starts_from_a_project_page_with_the_project_chosen(world):
    client = world.client_for(world.owner)
    page = client.get(reverse("tenancy:project_detail", args=["acme", "research"])).content.decode()
    assert 'id="onboarding-cta"' in page and "Start onboarding" in page
    response = client.post(START, {"tenant": "acme", "project": "research"})
    session = OnboardingSession.objects.get(user=world.owner)
    assert response["Location"] == step(session, "palette")
    assert session.completed_steps == ["tenant", "project"] and session.project == world.project_a
    # The same call again resumes instead of starting a second session.
    client.post(START, {"tenant": "acme", "project": "research"})
    assert OnboardingSession.objects.filter(user=world.owner).count() == 1
    configure_palette(
        world.tenant_a,
        {"apiKey": KEY, "hostUrl": "https://palette.example.com", "tenant": "acme", "defaultProjectID": UID},
    )
    page = client.get(reverse("tenancy:project_detail", args=["acme", "research"])).content.decode()
    assert 'id="onboarding-cta"' not in page


def test_it_offers_onboarding_on_an_empty_tenant_list(db, django_user_model):
    from django.test import Client

    root = django_user_model.objects.create_superuser("root", password="x-very-long-pass-1")
    client = Client()
    client.force_login(root)
    page = client.get(reverse("tenancy:tenant_list")).content.decode()
    assert 'id="onboarding-cta"' in page and reverse("integrations:onboarding") in page


# Tenant and project steps --------------------------------------------------------------------------
def test_it_explains_a_missing_tenant_choice(world):
    client = world.client_for(world.owner)
    session = new_session(world)
    response = client.post(step(session, "tenant"), {"action": "pick", "tenant": ""})
    assert (
        response.status_code == 200 and "Choose a tenant, or create one below." in response.content.decode()
    )


@pytest.mark.parametrize(
    "data,message",
    [
        ({"new-name": "Bad Name", "new-display_name": "Bad"}, "DNS-1123"),
        ({"new-name": "acme", "new-display_name": "Acme again"}, "already exists"),
        ({"new-name": "fresh", "new-display_name": ""}, "This field is required."),
    ],
)
def test_it_explains_bad_new_tenant_input(world, data, message):
    client = world.client_for(world.superuser)
    session = new_session(world, world.superuser)
    response = client.post(step(session, "tenant"), {"action": "create", "new-gpu_limit": "0", **data})
    assert response.status_code == 200 and message in response.content.decode()
    # The typed values are kept.
    assert data["new-name"] in response.content.decode()


def test_it_creates_a_tenant_and_a_project_as_superuser(world):
    client = world.client_for(world.superuser)
    session = new_session(world, world.superuser)
    response = client.post(
        step(session, "tenant"),
        {"action": "create", "new-name": "initech", "new-display_name": "Initech", "new-gpu_limit": "8"},
    )
    assert response.status_code == 302
    tenant = Tenant.objects.get(name="initech")
    response = client.post(
        step(session, "project"),
        {
            "action": "create",
            "new-name": "ml",
            "new-display_name": "ML",
            "new-namespace": "kube-ml",
            "new-gpu_limit": "0",
        },
    )
    assert response.status_code == 200 and "reserved for the system" in response.content.decode()
    response = client.post(
        step(session, "project"),
        {
            "action": "create",
            "new-name": "ml",
            "new-display_name": "ML",
            "new-namespace": "",
            "new-gpu_limit": "16",
        },
    )
    assert response.status_code == 200 and "at most 8 GPUs" in response.content.decode()
    response = client.post(
        step(session, "project"),
        {
            "action": "create",
            "new-name": "ml",
            "new-display_name": "ML",
            "new-namespace": "",
            "new-gpu_limit": "4",
        },
    )
    assert response.status_code == 302 and response["Location"] == step(session, "palette")
    session.refresh_from_db()
    assert session.tenant == tenant and session.project == Project.objects.get(name="ml", tenant=tenant)
    assert AuditEntry.objects.filter(object_type="tenant", object_repr="initech").exists()


def test_it_refuses_tenant_creation_to_non_superusers(world):
    client = world.client_for(world.owner)
    session = new_session(world)
    response = client.post(
        step(session, "tenant"),
        {"action": "create", "new-name": "x", "new-display_name": "X", "new-gpu_limit": "0"},
    )
    assert response.status_code == 403 and not Tenant.objects.filter(name="x").exists()
    assert "Create a new tenant" not in client.get(step(session, "tenant")).content.decode()


def test_it_explains_a_missing_project_choice(world):
    client = world.client_for(world.owner)
    session = new_session(world)
    client.post(step(session, "tenant"), {"tenant": "acme"})
    response = client.post(step(session, "project"), {"action": "pick", "project": ""})
    assert (
        response.status_code == 200 and "Choose a project, or create one below." in response.content.decode()
    )


# Permissions ---------------------------------------------------------------------------------------
def test_it_hides_other_users_sessions_with_404(world):
    _, session = at_palette(world)
    outsider = world.client_for(world.outsider)
    for name in ("tenant", "project", "palette", "check"):
        assert outsider.get(step(session, name)).status_code == 404
        assert outsider.post(step(session, name), {"tenant": "globex"}).status_code == 404
    assert (
        outsider.get(reverse("integrations:onboarding_check_status", args=[session.uuid])).status_code == 404
    )


def test_it_refuses_another_tenant_with_404_and_a_read_only_member_with_403(world):
    outsider = world.client_for(world.outsider)
    session = new_session(world, world.outsider)
    assert outsider.post(step(session, "tenant"), {"tenant": "acme"}).status_code == 404
    assert outsider.post(START, {"tenant": "acme", "project": "research"}).status_code == 404

    viewer = world.client_for(world.viewer)
    session = new_session(world, world.viewer)
    assert viewer.post(step(session, "tenant"), {"tenant": "acme"}).status_code == 403
    assert viewer.post(START, {"tenant": "acme", "project": "research"}).status_code == 403
    assert "You administer no tenant" in viewer.get(step(session, "tenant")).content.decode()


def test_it_refuses_an_editor_the_project_with_403(world):
    # An editor may not change Settings (that needs the project admin role).
    session = OnboardingSession.objects.create(
        user=world.editor, tenant=world.tenant_a, completed_steps=["tenant"], current_step="project"
    )
    editor = world.client_for(world.editor)
    assert editor.get(step(session, "project")).status_code == 403


def test_it_sends_anonymous_users_to_login(client, world):
    _, session = at_palette(world)
    for url in (START, step(session, "palette")):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_lets_a_project_admin_onboard_their_project_only(world):
    from tenancy.models import Membership

    Membership.objects.create(user=world.outsider, project=world.project_a, role=Membership.PROJECT_ADMIN)
    client, session = at_palette(world, world.outsider)
    page = client.get(step(session, "palette")).content.decode()
    assert "?scope=tenant" not in page  # storing for the whole tenant needs the tenant admin role
    response = client.post(step(session, "palette"), palette_post(scope="tenant"))
    assert response.status_code == 403
    response = client.post(
        step(session, "palette"), palette_post(scope="project", settings_name="research-settings")
    )
    assert response.status_code == 302
    assert Settings.objects.get(project=world.project_a).name == "research-settings"


# Palette credentials -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"host_url": "ftp://x"}, "ftp:// is not supported"),
        ({"api_key": ""}, "Paste the API key once"),
        ({"api_key": "short"}, "does not look like a Palette API key"),
        ({"tenant": ""}, "Required."),
        ({"default_project_id": ""}, "Required."),
        ({"settings_name": "Bad Name"}, "DNS-1123"),
        ({"ca_pem": "not a certificate"}, "No PEM certificate found"),
        ({"ca_pem": make_cert("leaf", ca=False)[0]}, "is not a CA certificate"),
        ({"tls": "skip", "ca_pem": make_cert("Root")[0]}, "not both"),
    ],
)
def test_it_explains_bad_palette_input(world, overrides, message):
    client, session = at_palette(world)
    response = client.post(step(session, "palette"), palette_post(**overrides))
    html = response.content.decode()
    assert response.status_code == 200 and message in html
    assert KEY not in html
    assert not Settings.objects.exists()
    session.refresh_from_db()
    assert "palette" not in session.completed_steps


def test_it_never_renders_a_private_key_pasted_as_the_ca(world):
    client, session = at_palette(world)
    cert, key = make_cert("Root")
    response = client.post(step(session, "palette"), palette_post(ca_pem=cert + key))
    html = response.content.decode()
    assert "contains a private key" in html
    assert "PRIVATE KEY" not in html.replace("contains a private key", "")


def test_it_saves_credentials_for_the_tenant_and_starts_a_wizard_check(
    world, django_capture_on_commit_callbacks
):
    client, session = at_palette(world)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(step(session, "palette"), palette_post())
    assert response.status_code == 302 and response["Location"] == step(session, "check")
    settings = Settings.objects.get(tenant=world.tenant_a)
    assert settings.name == "acme-settings"
    session.refresh_from_db()
    assert session.palette_scope == "tenant" and session.completed_steps == ["tenant", "project", "palette"]
    assert session.palette_check.project == world.project_a and session.palette_check.trigger == "wizard"
    assert callbacks  # the check and the Kubernetes sync are enqueued after commit, with ids only
    row = OnboardingSession.objects.filter(pk=session.pk).values().get()
    assert KEY not in json.dumps(row, default=str)


def test_it_saves_credentials_for_the_project_only_when_asked(world):
    client, session = at_palette(world)
    palette_path = reverse("integrations:onboarding_step", args=[session.uuid, "palette"])
    assert "project research only" in client.get(palette_path + "?scope=project").content.decode()
    response = client.post(
        palette_path + "?scope=project",
        palette_post(scope="project", settings_name="research-settings"),
    )
    assert response.status_code == 302
    assert Settings.objects.get(project=world.project_a).name == "research-settings"
    assert not Settings.objects.filter(tenant=world.tenant_a).exists()


def test_it_keeps_complete_inherited_settings_when_asked(world):
    configure_palette(
        world.tenant_a,
        {"apiKey": KEY, "hostUrl": "https://palette.example.com", "tenant": "acme", "defaultProjectID": UID},
    )
    client, session = at_palette(world)
    page = client.get(step(session, "palette")).content.decode()
    assert "already has complete Palette settings" in page and KEY not in page and "••••cdef" in page
    response = client.post(step(session, "palette"), {"action": "keep"})
    assert response.status_code == 302
    session.refresh_from_db()
    assert (
        session.results["palette"] == {"scope": "tenant", "kept": True} and session.palette_check is not None
    )


def test_it_refuses_to_keep_settings_that_do_not_exist(world):
    client, session = at_palette(world)
    response = client.post(step(session, "palette"), {"action": "keep"})
    assert response.status_code == 200 and "no complete Palette settings to keep" in response.content.decode()


# Reload, back button, changing an earlier answer ---------------------------------------------------
def test_it_survives_a_reload_and_the_back_button_with_prefilled_steps(world):
    client, session = at_check(world)
    # Reloading the current step shows the check, not an empty wizard.
    assert 'id="check"' in client.get(step(session, "check")).content.decode()
    # Back: each earlier step re-renders with what was chosen or saved.
    tenant_page = client.get(step(session, "tenant")).content.decode()
    assert '<option value="acme" selected>' in tenant_page
    project_page = client.get(step(session, "project")).content.decode()
    assert '<option value="research" selected>' in project_page
    palette_page = client.get(step(session, "palette")).content.decode()
    assert 'value="https://palette.example.com"' in palette_page and f'value="{UID}"' in palette_page
    assert "Stored: ••••cdef" in palette_page and KEY not in palette_page
    # Confirming the same tenant and project again keeps the later progress.
    client.post(step(session, "tenant"), {"tenant": "acme"})
    client.post(step(session, "project"), {"project": "research"})
    session.refresh_from_db()
    assert "palette" in session.completed_steps and session.palette_check is not None
    # Re-saving with the key left blank keeps it (write-only field) and asks for a new check.
    response = client.post(step(session, "palette"), palette_post(api_key="", settings_name=""))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert json.loads(Secret.objects.get(name="acme-settings-palette").get_data()["palette"])["apiKey"] == KEY


def test_it_answers_htmx_posts_with_hx_location_and_reloads_history_from_the_server(world):
    client, session = at_palette(world)
    htmx = {"HTTP_HX_REQUEST": "true"}
    invalid = client.post(step(session, "palette"), palette_post(api_key=""), **htmx)
    assert invalid.status_code == 200 and 'id="wizard-step"' in invalid.content.decode()
    valid = client.post(step(session, "palette"), palette_post(), **htmx)
    assert valid.status_code == 204 and valid["HX-Location"] == step(session, "check")
    # Back button under htmx: history is not cached (hx-history="false"), the page comes whole from the
    # server.
    restored = client.get(
        step(session, "palette"), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **htmx
    ).content.decode()
    assert (
        "<html" in restored and 'hx-history="false"' in restored and "https://palette.example.com" in restored
    )
    assert "Remove the stored CA certificate" not in restored  # nothing stored to remove


def test_it_forgets_later_steps_when_an_earlier_answer_changes(world):
    world.owner.is_superuser = True
    world.owner.save()
    client, session = at_check(world)
    client.post(step(session, "tenant"), {"tenant": "globex"})
    session.refresh_from_db()
    assert session.tenant == world.tenant_b and session.project is None and session.palette_check is None
    assert session.completed_steps == ["tenant"] and session.current_step == "project"
    assert client.get(step(session, "palette"))["Location"] == step(session, "project")


def test_it_resumes_at_the_project_step_when_the_project_was_deleted(world):
    client, session = at_check(world)
    Project.objects.filter(pk=world.project_a.pk).delete()
    response = client.get(START)
    assert response.status_code == 302 and response["Location"] == step(session, "project")
    assert client.get(step(session, "palette"))["Location"] == step(session, "project")
    listing = client.get(START + "?new=1").content.decode()
    assert "at “Project”" in listing


def test_it_does_not_resume_a_session_the_user_lost_access_to(world):
    client, session = at_palette(world)
    from tenancy.models import Membership

    Membership.objects.filter(user=world.owner).delete()
    assert client.get(START).status_code == 200  # the intro page, not a 404 loop
    assert client.get(step(session, "palette")).status_code == 404


# Test connection -----------------------------------------------------------------------------------
def test_it_polls_the_check_until_it_ends(world):
    client, session = at_check(world)
    page = client.get(step(session, "check")).content.decode()
    status_url = reverse("integrations:onboarding_check_status", args=[session.uuid])
    assert f'hx-get="{status_url}"' in page and 'hx-trigger="every 1s"' in page
    running = client.get(status_url, HTTP_HX_REQUEST="true")
    assert running.status_code == 200 and "<html" not in running.content.decode()
    check = session.palette_check
    check.finish(PaletteCheck.FAILED, error="DNS resolves: no such host")
    PaletteCheck.objects.filter(pk=check.pk).update(
        outcome="failed",
        stages=[
            {
                "key": "dns",
                "name": "DNS resolves",
                "passed": False,
                "detail": "palette.example.com does not resolve",
            }
        ],
    )
    done = client.get(status_url, HTTP_HX_REQUEST="true")
    html = done.content.decode()
    assert done.status_code == 286 and "does not resolve" in html and "hx-trigger" not in html
    assert "Test again" in html
    assert "Skip the connection check" in client.get(step(session, "check")).content.decode()


def test_it_will_not_continue_before_the_check_passes(world):
    client, session = at_check(world)
    response = client.post(step(session, "check"), {"action": "continue"})
    assert response.status_code == 200 and "has not passed yet" in response.content.decode()
    assert client.get(step(session, "tokens"))["Location"] == step(session, "check")


def test_it_skips_the_check_only_with_the_warning_acknowledged(world):
    client, session = at_check(world)
    response = client.post(step(session, "check"), {"action": "skip"})
    assert response.status_code == 200
    assert (
        "tick “I understand discovery will not work until the connection passes”" in response.content.decode()
    )
    response = client.post(step(session, "check"), {"action": "skip", "understand": "on"})
    assert response.status_code == 302 and response["Location"] == step(session, "tokens")
    session.refresh_from_db()
    assert session.skipped_check and "check" in session.completed_steps
    assert AuditEntry.objects.filter(verb="skipped the connection check in onboarding").exists()
    client.post(step(session, "tokens"), {"action": "skip"})
    page = client.get(step(session, "discovery")).content.decode()
    assert "Discovery will not work until the connection passes" in page


def test_it_continues_once_the_check_passes_against_the_simulator(world, palette_sim):
    client, session = at_palette(world)
    response = client.post(
        step(session, "palette"),
        palette_post(
            host_url=palette_sim.url,
            api_key=palette_sim.api_key,
            tenant="PaletteAI Demo",
            default_project_id=palette_sim.project_uids[0],
            ca_pem=palette_sim.ca_pem,
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    session.refresh_from_db()
    diagnosis.perform_check(session.palette_check)  # what the worker does
    status = client.get(
        reverse("integrations:onboarding_check_status", args=[session.uuid]), HTTP_HX_REQUEST="true"
    )
    html = status.content.decode()
    assert status.status_code == 286 and "Connected" in html and html.count("✓") == 10
    assert palette_sim.api_key not in html
    assert (
        'id="skip-check-area" hx-swap-oob="true"></div>' in html
    )  # polling removes the way around the check
    assert "Skip the connection check" not in client.get(step(session, "check")).content.decode()
    response = client.post(step(session, "check"), {"action": "continue"})
    assert response.status_code == 302 and response["Location"] == step(session, "tokens")
    # Testing again reopens the check: the later steps wait for the new result.
    client.post(step(session, "check"), {"action": "start"})
    session.refresh_from_db()
    assert "check" not in session.completed_steps


def test_it_offers_the_uid_when_a_project_name_was_typed(world, palette_sim):
    client, session = at_palette(world)
    response = client.post(
        step(session, "palette"),
        palette_post(
            host_url=palette_sim.url,
            api_key=palette_sim.api_key,
            tenant="PaletteAI Demo",
            default_project_id="Default",
            ca_pem=palette_sim.ca_pem,
        ),
        follow=True,
    )
    assert "looks like a project name" in response.content.decode()
    session.refresh_from_db()
    diagnosis.perform_check(session.palette_check)
    page = client.get(step(session, "check")).content.decode()
    uid = session.palette_check.progress["suggested_project_uid"]
    assert f"Use UID {uid} and test again" in page
    response = client.post(step(session, "check"), {"action": "use_uid"})
    assert response.status_code == 302
    assert (
        json.loads(Secret.objects.get(name="acme-settings-palette").get_data()["palette"])["defaultProjectID"]
        == uid
    )
    session.refresh_from_db()
    assert diagnosis.perform_check(session.palette_check).outcome == "connected"


# Hugging Face / NGC, discovery, summary ------------------------------------------------------------
def skipped_to_tokens(world):
    client, session = at_check(world)
    client.post(step(session, "check"), {"action": "skip", "understand": "on"})
    session.refresh_from_db()
    return client, session


def test_it_explains_bad_tokens_and_saves_good_ones(world):
    client, session = skipped_to_tokens(world)
    response = client.post(
        step(session, "tokens"), {"action": "save", "huggingface-token": "not-a-token", "ngc-token": "bad"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "That is not a Hugging Face token" in html and "That is not an NGC API key" in html
    assert not Settings.objects.get(tenant=world.tenant_a).huggingface_secret
    response = client.post(
        step(session, "tokens"), {"action": "save", "huggingface-token": HF, "ngc-token": ""}
    )
    assert response.status_code == 302 and response["Location"] == step(session, "discovery")
    settings = Settings.objects.get(tenant=world.tenant_a)
    assert settings.huggingface_secret and not settings.ngc_secret
    session.refresh_from_db()
    assert session.results["tokens"] == {"huggingface": "saved", "ngc": "not set"}
    page = client.get(step(session, "tokens")).content.decode()
    assert HF not in page and "configured" in page


def test_it_skips_tokens(world):
    client, session = skipped_to_tokens(world)
    response = client.post(step(session, "tokens"), {"action": "skip"})
    assert response.status_code == 302 and response["Location"] == step(session, "discovery")


def _fake_compute(monkeypatch, calls):
    def start_discovery(project, *, trigger="manual"):
        calls.append((project, trigger))
        return types.SimpleNamespace(uuid="run-1")

    monkeypatch.setattr(onboarding, "discovery_starter", start_discovery)


def test_compute_registers_its_discovery_with_the_wizard():
    from compute.discovery import start_discovery

    assert onboarding.discovery_starter is start_discovery


def test_it_starts_discovery_through_the_compute_hook(world, monkeypatch):
    calls = []
    _fake_compute(monkeypatch, calls)
    client, session = skipped_to_tokens(world)
    client.post(step(session, "tokens"), {"action": "skip"})
    response = client.post(step(session, "discovery"), {"action": "start"})
    assert response.status_code == 302 and response["Location"] == step(session, "summary")
    assert calls == [(world.project_a, "onboarding")]
    session.refresh_from_db()
    assert session.finished is not None and session.results["discovery"]["status"] == "started"
    summary = client.get(step(session, "summary")).content.decode()
    assert (
        "Check skipped" in summary
        and reverse("integrations:project_settings", args=["acme", "research"]) in summary
    )
    # Finished: the nav link starts afresh instead of resuming.
    assert client.get(START).status_code == 200


def test_it_records_discovery_as_not_available_without_compute(world, monkeypatch):
    monkeypatch.setattr(onboarding, "discovery_starter", None)  # no app offers discovery
    client, session = skipped_to_tokens(world)
    client.post(step(session, "tokens"), {"action": "skip"})
    response = client.post(step(session, "discovery"), {"action": "start"})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.results["discovery"]["status"] == "unavailable"
    summary = client.get(step(session, "summary")).content.decode()
    assert "discovery not available yet" in summary
    assert "Project overview (research)" in summary and "Tenant overview (acme)" in summary


def test_it_explains_an_unknown_discovery_action(world):
    client, session = skipped_to_tokens(world)
    client.post(step(session, "tokens"), {"action": "skip"})
    response = client.post(step(session, "discovery"), {"action": "nonsense"})
    assert response.status_code == 200 and "Choose Start discovery or Skip." in response.content.decode()


def test_it_never_puts_a_secret_in_any_wizard_page_or_the_session(world, monkeypatch):
    monkeypatch.setattr(onboarding, "discovery_starter", None)
    client, session = skipped_to_tokens(world)
    # Redirects are followed: a 302's empty body proves nothing, the page the browser is sent to must be
    # clean.
    saved = client.post(step(session, "tokens"), {"action": "save", "huggingface-token": HF}, follow=True)
    assert saved.redirect_chain == [(step(session, "discovery"), 302)]
    assert Settings.objects.get(
        tenant=world.tenant_a
    ).huggingface_secret  # the token was stored, so it could leak
    started = client.post(step(session, "discovery"), {"action": "start"}, follow=True)
    assert started.redirect_chain == [(step(session, "summary"), 302)]
    pages = [saved, started]
    for name in ("tenant", "project", "palette", "check", "tokens", "discovery", "summary"):
        pages.append(client.get(step(session, name), follow=True))
    pages.append(client.get(reverse("integrations:onboarding_check_status", args=[session.uuid])))
    pages.append(client.get(START + "?new=1", follow=True))
    for response in pages:
        body = response.content.decode()
        assert response.status_code in (200, 286) and body.strip(), (
            f"{response.request['PATH_INFO']}: nothing shown"
        )
        assert KEY not in body and HF not in body and "CANARY" not in body
    row = OnboardingSession.objects.filter(pk=session.pk).values().get()
    assert "CANARY" not in json.dumps(row, default=str)
    assert not any("CANARY" in json.dumps(e.changes) for e in AuditEntry.objects.all())


# Settings page: View as YAML and the import box ----------------------------------------------------
def project_settings(name):
    return reverse(f"integrations:project_{name}", args=["acme", "research"])


def import_docs(**palette_overrides) -> str:
    values = {
        "apiKey": KEY,
        "hostUrl": "https://palette.example.com",
        "tenant": "acme",
        "defaultProjectID": UID,
        **palette_overrides,
    }
    return yaml.safe_dump_all(
        [
            {
                "apiVersion": "spectrocloud.com/v1alpha1",
                "kind": "Settings",
                "metadata": {"name": "research-settings", "namespace": "acme-research"},
                "spec": {"palette": {"secretRef": {"name": "research-palette"}}},
            },
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "research-palette", "namespace": "acme-research"},
                "type": "Opaque",
                "stringData": {"palette": json.dumps(values)},
            },
        ],
        sort_keys=False,
    )


def test_it_shows_the_settings_as_redacted_yaml(world):
    configure_palette(
        world.project_a,
        {"apiKey": KEY, "hostUrl": "https://palette.example.com", "tenant": "acme", "defaultProjectID": UID},
    )
    viewer = world.client_for(world.viewer)
    page = viewer.get(reverse("integrations:project_settings", args=["acme", "research"])).content.decode()
    assert "View as YAML" in page and "Import YAML" not in page  # importing needs the admin role
    response = viewer.get(project_settings("settings_yaml"))
    text = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    assert "kind: Settings" in text and "REDACTED" in text and KEY not in text and "CANARY" not in text
    fragment = viewer.get(project_settings("settings_yaml"), HTTP_HX_REQUEST="true").content.decode()
    assert "<pre" in fragment and "<html" not in fragment and KEY not in fragment
    assert world.client_for(world.outsider).get(project_settings("settings_yaml")).status_code == 404


def test_it_imports_yaml_from_the_settings_page(world):
    client = world.client_for(world.owner)
    response = client.post(project_settings("settings_import"), {"manifest": import_docs(), "dry_run": "1"})
    html = response.content.decode()
    assert (
        response.status_code == 200
        and "Valid. Importing would make these changes" in html
        and "settings/research-settings" in html
    )
    assert not Settings.objects.filter(project=world.project_a).exists()
    assert KEY not in html
    response = client.post(project_settings("settings_import"), {"manifest": import_docs()})
    assert response.status_code == 302 and response["Location"] == reverse(
        "integrations:project_settings", args=["acme", "research"]
    )
    assert Settings.objects.get(project=world.project_a).palette_secret == "research-palette"
    page = client.get(response["Location"]).content.decode()
    assert "Imported:" in page and KEY not in page


def test_it_lists_every_import_problem_and_never_echoes_secrets(world):
    client = world.client_for(world.owner)
    bad = import_docs(hostUrl="ftp://palette.example.com") + "---\nkind: Nonsense\n"
    response = client.post(project_settings("settings_import"), {"manifest": bad})
    html = response.content.decode()
    assert response.status_code == 200 and "Nothing was imported." in html
    assert (
        "2 problems" in html
        and "ftp:// is not supported" in html
        and "unknown kind &#x27;Nonsense&#x27;" in html
    )
    assert KEY not in html and "may hold secret values" in html
    assert not Settings.objects.filter(project=world.project_a).exists()
    response = client.post(project_settings("settings_import"), {"manifest": "   "})
    assert response.status_code == 200 and "Paste one or more YAML documents" in response.content.decode()
    response = client.post(project_settings("settings_import"), {"manifest": "kind: [unclosed"})
    assert (
        response.status_code == 200 and "kind: [unclosed" in response.content.decode()
    )  # no secret in it: kept for fixing


def test_it_refuses_imports_from_read_only_members_and_outsiders(world):
    assert (
        world.client_for(world.viewer)
        .post(project_settings("settings_import"), {"manifest": import_docs()})
        .status_code
        == 403
    )
    assert (
        world.client_for(world.editor)
        .post(project_settings("settings_import"), {"manifest": import_docs()})
        .status_code
        == 403
    )
    assert (
        world.client_for(world.outsider)
        .post(project_settings("settings_import"), {"manifest": import_docs()})
        .status_code
        == 404
    )
    assert not Settings.objects.exists()


def test_a_project_admin_by_identity_provider_group_may_onboard_that_project(world, django_user_model):
    from integrations.onboarding import onboardable_projects, onboardable_tenants
    from tenancy.models import GroupRole, Membership, OidcIdentity

    sso = django_user_model.objects.create_user("sso-alice")
    OidcIdentity.objects.create(
        user=sso, issuer="https://idp.example.com", subject="alice", groups=["ml-ops"]
    )
    assert list(onboardable_tenants(sso)) == []
    GroupRole.objects.create(project=world.project_a, group="ml-ops", role=Membership.PROJECT_ADMIN)
    sso = django_user_model.objects.get(pk=sso.pk)  # groups are cached per user object
    assert list(onboardable_tenants(sso)) == [world.tenant_a]
    assert list(onboardable_projects(sso, world.tenant_a)) == [world.project_a]
