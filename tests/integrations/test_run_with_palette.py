"""integrations.effective.run_with_palette: the frame of discovery, profile sync and tag edits, on real runs and the simulator."""
from __future__ import annotations

from compute.models import DiscoveryRun
from integrations.effective import run_with_palette
from integrations.models import Settings


def test_it_gives_work_a_client_for_the_projects_palette_and_ends_the_run(connected_project, sim):
    seen = []
    run = run_with_palette(DiscoveryRun.objects.create(project=connected_project), connected_project,
                           lambda client, palette: seen.append(client.whoami().org_name), name="t", what="Discovery")
    assert run.status == DiscoveryRun.SUCCEEDED and seen == [sim.state.org_name]
    run.refresh_from_db()
    assert run.status == DiscoveryRun.SUCCEEDED and run.finished


def test_it_fails_the_run_with_the_reason_and_never_leaves_it_running(connected_project, sim, caplog):
    def broken(client, palette):
        raise ValueError("a bug")

    run = run_with_palette(DiscoveryRun.objects.create(project=connected_project), connected_project, broken, name="t", what="Discovery")
    assert (run.status, run.first_error) == ("failed", "Discovery stopped unexpectedly (ValueError); see the worker log.")
    assert "a bug" in caplog.text  # the traceback goes to the worker log, not to the page

    sim.state.keys.clear()
    run = run_with_palette(DiscoveryRun.objects.create(project=connected_project), connected_project,
                           lambda client, palette: client.whoami(), name="t", what="Discovery")
    assert run.status == "failed" and run.first_error.startswith("Palette unreachable: ") and "API key" in run.first_error

    Settings.objects.all().delete()
    run = run_with_palette(DiscoveryRun.objects.create(project=connected_project), connected_project,
                           lambda client, palette: None, name="t", what="Discovery")
    assert run.status == "failed" and run.first_error == "No Palette integration: add Settings to this project or its tenant."


def test_a_run_claimed_elsewhere_is_left_alone(connected_project, sim):
    run = DiscoveryRun.objects.create(project=connected_project)
    assert run.claim()
    called = []
    same = run_with_palette(DiscoveryRun.objects.get(pk=run.pk), connected_project, lambda c, p: called.append(1), name="t", what="Discovery")
    assert called == [] and same.status == DiscoveryRun.RUNNING
