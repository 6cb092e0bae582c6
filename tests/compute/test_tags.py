from __future__ import annotations

import pytest
from django.urls import reverse

from compute.discovery import run_discovery
from compute.models import DiscoveryRun, EdgeHost, TagEdit
from compute.tagging import TagInputError, apply_tag_edit, parse_add, parse_remove
from core.models import AuditEntry


def url(name, **kw):
    return reverse(f"compute:{name}", kwargs={"tenant": "acme", "project": "research", **kw})


@pytest.fixture
def discovered(connected_project):
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    return connected_project


def test_it_parses_tags_and_explains_bad_ones():
    assert parse_add("palette.ai:true, rack7") == {"palette.ai": "true", "rack7": "spectro__tag"}
    assert parse_remove("maintenance gpu:x") == ["maintenance", "gpu"]
    for bad in ("a b:", "bad!key:1", "k:v v!"):
        with pytest.raises(TagInputError):
            parse_add(bad)


def test_it_previews_eligibility_changes_without_writing(world, discovered, sim):
    untagged = (
        EdgeHost.objects.filter(state="ready", health="healthy", eligible=False)
        .exclude(tags__has_key="palette.ai")
        .first()
    )
    eligible = EdgeHost.objects.filter(eligible=True).first()
    client = world.client_for(world.editor)
    body = client.post(
        url("tags_preview"), {"add": "palette.ai:true", "host": [untagged.uuid, eligible.uuid]}
    ).content.decode()
    assert "Become eligible (1)" in body and str(untagged) in body and "already has these tags" in body
    body = client.post(
        url("tags_preview"), {"remove": "palette.ai", "host": [eligible.uuid]}
    ).content.decode()
    assert "Stop being eligible (1)" in body and "missing tag palette.ai=true" in body
    assert sim.state.hosts[eligible.uid].labels.get("palette.ai") == "true"  # nothing written
    assert "Type tags to add" in client.post(url("tags_preview"), {"host": [eligible.uuid]}).content.decode()
    assert "Select hosts" in client.post(url("tags_preview"), {"add": "x:y"}).content.decode()


def test_it_applies_tags_in_palette_keeping_other_labels_and_refreshes(
    world, discovered, sim, django_capture_on_commit_callbacks
):
    hosts = list(EdgeHost.objects.filter(state="ready").order_by("uid")[:3])
    before = {h.uid: dict(sim.state.hosts[h.uid].labels) for h in hosts}
    client = world.client_for(world.editor)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            url("tags_apply"),
            {"add": "team:vision", "remove": "maintenance", "host": [h.uuid for h in hosts]},
        )
    edit = TagEdit.objects.get()
    assert response.status_code == 302 and response["Location"] == url("tag_edit", edit=edit.uuid)
    assert len(callbacks) == 1 and edit.host_uids == [h.uid for h in hosts]
    sim.state.remove_host(hosts[2].uid)  # Palette refuses a host that is no longer registered
    apply_tag_edit(edit)
    edit.refresh_from_db()
    assert edit.results[hosts[0].uid] == "ok" and edit.results[hosts[1].uid] == "ok"
    assert (
        edit.results[hosts[2].uid] != "ok"
        and edit.status == "failed"
        and "1 of 3 hosts refused" in edit.first_error
    )
    for h in hosts[:2]:
        labels = sim.state.hosts[h.uid].labels
        expected = {k: v for k, v in before[h.uid].items() if k != "maintenance"}
        assert labels == {**expected, "team": "vision"}
    assert DiscoveryRun.objects.filter(trigger="tags").exists()
    assert AuditEntry.objects.get(verb="edit edge host tags").changes["hosts"] == 3
    page = client.get(url("tag_edit", edit=edit.uuid), HTTP_HX_REQUEST="true")
    assert page.status_code == 286 and "Refused by Palette" in page.content.decode()


def test_it_applies_to_all_hosts_matching_a_filter(world, discovered):
    client = world.client_for(world.owner)
    arm = EdgeHost.objects.filter(architecture="arm64", gone=False).count()
    body = client.post(
        url("tags_preview"), {"add": "arch-checked", "scope": "filter", "filter": "arch=arm64"}
    ).content.decode()
    assert f"Preview: {arm} host" in body


@pytest.mark.parametrize("name", ["tags_preview", "tags_apply"])
def test_it_guards_tag_editing(world, discovered, name):
    host = EdgeHost.objects.first()
    assert (
        world.client_for(world.viewer).post(url(name), {"add": "a:b", "host": [host.uuid]}).status_code == 403
    )
    assert (
        world.client_for(world.outsider).post(url(name), {"add": "a:b", "host": [host.uuid]}).status_code
        == 404
    )
