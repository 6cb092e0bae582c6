"""Day-2 reads and writes of the client — component events, a cluster's profiles and variables — against the
simulator over HTTPS, every request and answer checked against the spec subset (validate=True)."""

from __future__ import annotations

import time

import pytest

from palette import BadRequest, NotFound
from palette.bodies import ProfileChange, cluster_profiles_patch
from palette.models import MAX_EVENT_TEXT
from palette.spec import load_spec

from .test_contract import _cluster_for

SPEC = load_spec()


def _created(sim, client, name="day2-1"):
    uid = client.create_edge_native_cluster(_cluster_for(client, name))
    return uid, sim.state.clusters[uid]


def _profile(client, name, version):
    found = client.find_cluster_profile_version(name, version)
    assert found is not None, (name, version)
    return found


def test_events_are_typed_and_every_request_validates(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    uid, cluster = _created(sim, client)
    time.sleep(0.5)  # past the simulator's Pending phase: "Provisioning" is an event too
    records.clear()
    events = list(client.iter_component_events("spectrocluster", uid))
    assert [e.reason for e in events][:2] == ["Created", "Provisioning"]
    first = events[0]
    assert first.severity == "Normal" and not first.is_problem and first.time is not None
    assert (first.object_kind, first.object_name, first.object_uid) == ("SpectroCluster", cluster.name, uid)
    assert first.message == "cluster created"
    newest, total = client.newest_component_events("spectrocluster", uid, limit=5)
    assert total == len(events) and [e.uid for e in newest] == [e.uid for e in events][-5:]
    assert records and all(r.method == "GET" for r in records)
    for r in records:
        assert r.path.startswith(f"/v1/events/components/spectrocluster/{uid}")


def test_newest_events_come_from_the_end_of_a_long_listing(sim, make_client):
    client = make_client(sim)
    uid, cluster = _created(sim, client)
    before = cluster.created_at - 300
    cluster.events += [(before + i, "Normal", "Tick", f"event {i}") for i in range(120)]
    time.sleep(0.01)
    cluster.events.append((time.time(), "Warning", "DiskPressure", "node disk almost full"))
    records = []
    client = make_client(sim, request_log=records.append)
    newest, total = client.newest_component_events("spectrocluster", uid, limit=10)
    assert total >= 121 and len(newest) == 10
    assert newest[-1].reason == "DiskPressure" and newest[-1].is_problem
    assert newest[-2].reason == "Created"
    assert [e.message for e in newest[:-2]] == [f"event {i}" for i in range(112, 120)]
    assert len(records) == 2, "two pages, whatever the length of the listing"
    assert len(list(client.iter_component_events("spectrocluster", uid))) == total


def test_event_text_is_bounded_and_bidi_controls_are_visible(sim, make_client):
    client = make_client(sim)
    uid, cluster = _created(sim, client)
    cluster.events.append((time.time() - 1, "Error", "Bad\u202eReason", "x" * 5000))
    event = next(e for e in client.iter_component_events("spectrocluster", uid) if e.severity == "Error")
    assert event.reason == "Bad[U+202E]Reason" and "\u202e" not in event.reason
    assert len(event.message) == MAX_EVENT_TEXT and event.message.endswith("…") and event.is_problem


def test_events_of_an_unknown_cluster_are_not_found(sim, make_client):
    with pytest.raises(NotFound):
        list(make_client(sim).iter_component_events("spectrocluster", "0" * 24))


def test_it_reads_and_patches_a_clusters_profiles(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    uid, cluster = _created(sim, client)
    attached = client.get_cluster_profiles(uid)
    old = _profile(client, "edge-k3s-infra", "1.3.0")
    assert [p.uid for p in attached][0] == old.uid
    infra = attached[0]
    assert infra.name == "edge-k3s-infra" and infra.profile_type == "infra"
    assert {p.layer for p in infra.packs} >= {"os", "k8s"}
    new = _profile(client, "edge-k3s-infra", "1.2.0")
    client.patch_cluster_profiles(
        uid, [ProfileChange(new.uid, replaces=old.uid, variables={"site": "lab-b"})]
    )
    assert cluster.profile_uids[0] == new.uid and old.uid not in cluster.profile_uids
    assert cluster.variables[new.uid]["site"] == "lab-b"
    assert cluster.events[-1][2] == "ProfilesUpdated"
    assert [p.uid for p in client.get_cluster_profiles(uid)][0] == new.uid
    patch = next(r for r in records if r.method == "PATCH")
    assert patch.path == f"/v1/spectroclusters/{uid}/profiles"


def test_the_patch_body_matches_the_spec():
    body = cluster_profiles_patch([ProfileChange("a" * 24, replaces="b" * 24, variables={"site": "x"})])
    assert body == {
        "profiles": [
            {"uid": "a" * 24, "replaceWithProfile": "b" * 24, "variables": [{"name": "site", "value": "x"}]}
        ]
    }
    SPEC.validate_request("PATCH", "/v1/spectroclusters/{uid}/profiles", body)


def test_palette_refuses_a_second_base_profile(sim, make_client):
    client = make_client(sim)
    uid, _ = _created(sim, client)
    other = _profile(client, "edge-k8s-gpu-full", "1.0.0")
    with pytest.raises(BadRequest, match="exactly one infra or full"):
        client.patch_cluster_profiles(uid, {"profiles": [{"uid": other.uid}]})


def test_it_reads_and_patches_a_clusters_variables(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    uid, cluster = _created(sim, client)
    infra = _profile(client, "edge-k3s-infra", "1.3.0")
    values = {v.profile_uid: v for v in client.get_cluster_variables(uid)}
    assert values[infra.uid].values["site"] == "lab-a"
    assert values[infra.uid].variables[0].regex
    client.patch_cluster_variables(uid, {infra.uid: {"site": "lab-c"}})
    assert cluster.variables[infra.uid]["site"] == "lab-c"
    assert {v.profile_uid: v for v in client.get_cluster_variables(uid)}[infra.uid].values["site"] == "lab-c"
    with pytest.raises(BadRequest):
        client.patch_cluster_variables(uid, {infra.uid: {"site": "NOT VALID!"}})
    assert any(r.method == "PATCH" and r.path.endswith("/variables") for r in records)
