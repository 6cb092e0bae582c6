"""The whole onboarding wizard in Chromium, against a live server, the Palette simulator over HTTPS and a real
Celery worker."""

from __future__ import annotations

import re

import pytest

from tests.browser import log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HF_TOKEN = "hf_" + "Q" * 34


@pytest.fixture
def palette_sim():
    from palette.sim import Simulator

    sim = Simulator(hosts=20, seed=1).start()
    yield sim
    sim.stop()


def test_it_walks_the_whole_wizard(live_server, page, palette_sim, celery_worker_process):
    from django.contrib.auth import get_user_model

    from integrations.models import OnboardingSession, Settings
    from tenancy.models import Project

    get_user_model().objects.create_superuser("root", password=PASSWORD)
    secrets = (palette_sim.api_key, HF_TOKEN)
    seen: list[str] = []

    def html() -> str:
        content = page.content()
        seen.append(content)
        return content

    log_in(page, live_server, "root", lands="/")
    assert page.locator("#onboarding-cta").is_visible()  # empty install: the home page offers the wizard

    page.click("nav >> text=Onboarding")
    page.click("#start-onboarding")
    page.wait_for_url(re.compile(r"/onboarding/[0-9a-f-]+/tenant/$"))

    # 1. Tenant: none exists yet, so the create form is open.
    page.fill("#id_new-name", "demo")
    page.fill("#id_new-display_name", "Demo")
    page.click("text=Create tenant and continue")
    page.wait_for_url(re.compile(r"/project/\?tenant=demo$"))

    # 2. Project: a reserved namespace first; the message shows and the typed values stay.
    page.fill("#id_new-name", "edge")
    page.fill("#id_new-display_name", "Edge sites")
    page.fill("#id_new-namespace", "kube-edge")
    page.click("text=Create project and continue")
    page.wait_for_selector("text=reserved for the system")
    assert page.input_value("#id_new-display_name") == "Edge sites"
    page.fill("#id_new-namespace", "demo-edge")
    page.click("text=Create project and continue")
    page.wait_for_url(re.compile(r"/palette/\?tenant=demo&project=edge$"))

    # 3. Palette credentials for the tenant, the simulator's CA pasted in; the key forgotten first.
    assert "tenant demo" in page.locator("#palette-scope").inner_text()
    page.fill("#id_host_url", palette_sim.url)
    page.fill("#id_tenant", "PaletteAI Demo")
    page.fill("#id_default_project_id", palette_sim.project_uids[0])
    page.fill("#id_ca_pem", palette_sim.ca_pem)
    assert not page.locator("#skip-warning").is_visible()
    page.select_option("#id_tls", "skip")
    assert page.locator("#skip-warning").is_visible()  # the production warning appears with the choice
    page.select_option("#id_tls", "verify")
    page.click("text=Save and test the connection")
    page.wait_for_selector("text=Paste the API key once")
    assert page.input_value("#id_host_url") == palette_sim.url
    page.fill("#id_api_key", palette_sim.api_key)
    page.fill("#id_ca_pem", palette_sim.ca_pem)  # a rejected form keeps it; an accepted one needs it once
    page.click("text=Save and test the connection")
    page.wait_for_url(re.compile(r"/check/\?tenant=demo&project=edge$"))

    # 4. Test connection: the worker runs the check; the stages fill in live and polling stops.
    page.wait_for_selector("#check-status >> text=Connected", timeout=60_000)
    assert page.locator("ol.stages li.stage-pass").count() == 10
    assert page.locator("#check").get_attribute("hx-trigger") is None
    assert "issued by" in page.locator("ol.stages").inner_text()
    html()

    # The back button and a reload show the saved credentials (never the key), and the wizard resumes.
    page.go_back()
    page.wait_for_url(re.compile(r"/palette/\?tenant=demo&project=edge$"))
    page.wait_for_selector(
        "#palette-form"
    )  # htmx fetches the step afresh from the server (no snapshot is kept)
    assert page.input_value("#id_host_url") == palette_sim.url
    page.reload()
    assert page.input_value("#id_host_url") == palette_sim.url
    assert page.input_value("#id_default_project_id") == palette_sim.project_uids[0]
    assert page.input_value("#id_api_key") == ""
    assert "Stored: ••••" in html()
    page.goto(f"{live_server.url}/onboarding/")
    page.wait_for_url(re.compile(r"/check/\?tenant=demo&project=edge$"))
    page.wait_for_selector("#check-status >> text=Connected")
    page.click("#continue")
    page.wait_for_url(re.compile(r"/tokens/\?tenant=demo&project=edge$"))

    # 5. Hugging Face: a bad token is explained, a good one saved.
    page.fill("#id_huggingface-token", "not-a-token")
    page.click("text=Save and continue")
    page.wait_for_selector("text=That is not a Hugging Face token")
    page.fill("#id_huggingface-token", HF_TOKEN)
    page.click("text=Save and continue")
    page.wait_for_url(re.compile(r"/discovery/\?tenant=demo&project=edge$"))

    # 6. Discovery (through compute's hook, or recorded as not available yet), then 7. the summary.
    html()
    page.click("#start-discovery")
    page.wait_for_url(re.compile(r"/summary/\?tenant=demo&project=edge$"))
    summary = page.locator("#summary").inner_text()
    assert "Connected" in summary and "Hugging Face: saved" in summary
    assert re.search(r"discovery not available yet|started", page.locator("#discovery-result").inner_text())
    assert page.locator("#next-steps a", has_text="Settings").count() == 1
    html()

    session = OnboardingSession.objects.get()
    assert session.finished is not None and not session.skipped_check
    assert Settings.objects.get(tenant__name="demo").huggingface_secret
    assert Project.objects.get(name="edge").namespace == "demo-edge"
    for content in seen:
        for secret in secrets:
            assert secret not in content
    log = celery_worker_process.log_path.read_text()
    assert "integrations.palette_check" in log and palette_sim.api_key not in log
