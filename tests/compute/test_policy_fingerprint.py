"""The discovery policy is part of every host's fingerprint: a policy change re-judges every host, also
mid-scan."""

from __future__ import annotations

from django.urls import reverse

from compute.discovery import PAGE, reconcile
from compute.models import DiscoveryPolicy, DiscoveryRun, EdgeHost, HostChange
from palette.models import EdgeHost as PaletteHost

HOSTS = 3 * PAGE  # three pages


def _host(i: int) -> PaletteHost:
    # Even hosts carry the default discovery tag, odd ones team=ml.
    labels = {"palette.ai": "true"} if i % 2 == 0 else {"team": "ml"}
    return PaletteHost.from_api(
        {
            "metadata": {"uid": f"edge-{i:03d}", "name": f"edge-{i:03d}", "labels": labels},
            "status": {"state": "ready", "health": {"state": "healthy"}},
            "spec": {"device": {"archType": "amd64", "cpu": {"cores": 8}, "memory": {"sizeInMB": 16384}}},
        }
    )


def _scan(project, hosts) -> DiscoveryRun:
    run = DiscoveryRun.objects.create(project=project, trigger="test")
    run.claim()
    reconcile(run, hosts)
    run.finish()
    return run


def _eligible(project) -> set[str]:
    return set(EdgeHost.objects.filter(project=project, eligible=True).values_list("uid", flat=True))


ODD = {f"edge-{i:03d}" for i in range(HOSTS) if i % 2}
EVEN = {f"edge-{i:03d}" for i in range(HOSTS) if not i % 2}


def test_a_policy_saved_during_a_scan_judges_every_host(world):
    project = world.project_a
    client = world.client_for(world.owner)
    url = reverse("compute:policy_save", args=[project.tenant.name, project.name])

    def hosts_changing_policy_after_the_first_page():
        for i in range(HOSTS):
            if i == PAGE:
                # The first page is stored (judged by palette.ai=true) when the admin saves a new tag.
                assert EdgeHost.objects.filter(project=project).count() == PAGE
                response = client.post(url, {"tag_key": "team", "tag_value": "ml"})
                assert response.status_code in (200, 302), response.content[:300]
                assert DiscoveryPolicy.objects.get(project=project).tag == "team=ml"
            yield _host(i)

    run = _scan(project, hosts_changing_policy_after_the_first_page())
    assert run.added == HOSTS
    # Every host, on the pages before and after the change, is judged by team=ml.
    assert _eligible(project) == ODD
    reasons = EdgeHost.objects.get(project=project, uid="edge-002").reasons
    assert (
        reasons
        and reasons[0]["code"] == "missing_tag"
        and reasons[0]["text"].startswith("missing tag team=ml")
    )
    # And the next scan finds nothing to change: the stored fingerprints carry the new policy.
    again = _scan(project, (_host(i) for i in range(HOSTS)))
    assert (again.unchanged, again.updated) == (HOSTS, 0) and _eligible(project) == ODD


def test_a_policy_changed_any_other_way_rejudges_every_host_at_the_next_scan(world):
    project = world.project_a
    _scan(project, (_host(i) for i in range(HOSTS)))
    assert _eligible(project) == EVEN
    # Not through the form (the Django admin, a shell): nothing re-judged the stored hosts.
    DiscoveryPolicy.objects.create(project=project, tag_key="team", tag_value="ml")
    assert _eligible(project) == EVEN
    history_before = HostChange.objects.count()
    run = _scan(project, (_host(i) for i in range(HOSTS)))
    # Palette's facts did not change, the policy did: every host was judged again.
    assert _eligible(project) == ODD and run.updated == HOSTS and run.unchanged == 0
    # Each host's eligibility flipped: that is its history; nothing else is recorded.
    assert HostChange.objects.count() - history_before == HOSTS
    assert all(set(c.changes) == {"eligible"} for c in HostChange.objects.filter(kind="updated"))
