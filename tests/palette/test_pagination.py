"""Pagination over Palette's continue tokens, and the search filters the client sends."""

from __future__ import annotations

import base64
import json
import math

import pytest

from palette import BadRequest, PaginationError


def _expected(sim, predicate=lambda h: True) -> set[str]:
    project = sim.project_uids[0]
    return {h.uid for h in sim.state.hosts.values() if h.project_uid == project and predicate(h)}


def test_it_returns_each_of_over_a_thousand_hosts_once(big_sim, make_client):
    records = []
    client = make_client(big_sim, request_log=records.append)
    hosts = client.search_edge_hosts()
    uids = [h.uid for h in hosts]
    expected = _expected(big_sim)
    assert len(expected) > 800  # 1,200 hosts, most of them in the default project
    assert len(uids) == len(set(uids)) == len(expected) and set(uids) == expected
    searches = [r for r in records if r.path == "/v1/dashboard/edgehosts/search"]
    assert len(searches) == math.ceil(len(expected) / 50)
    assert all(r.query["limit"] == 50 for r in searches)
    assert "continue" not in searches[0].query and all(r.query["continue"] for r in searches[1:])
    assert all(r.body == searches[0].body for r in searches)  # the same body on every page
    token = json.loads(base64.b64decode(searches[1].query["continue"]))
    assert token == {"offset": 50, "count": len(expected), "token": ""}


def test_it_stops_on_a_repeated_continue_token(sim, make_client):
    sim.state.stuck_continue = True
    sim.state.touch()
    records = []
    with pytest.raises(PaginationError) as err:
        make_client(sim, request_log=records.append).search_edge_hosts(page_size=10)
    assert sim.url in str(err.value) and "same continue token" in str(err.value)
    assert len(records) == 2  # page 1 and page 2 (whose token repeats); no third request


def test_it_applies_every_filter_like_the_simulators_state(big_sim, make_client):
    client = make_client(big_sim)
    eligible = client.search_edge_hosts(tags={"palette.ai": "true"}, states=["ready"], health=["healthy"])
    assert {h.uid for h in eligible} == _expected(
        big_sim,
        lambda h: h.labels.get("palette.ai") == "true" and h.state == "ready" and h.health == "healthy",
    )
    assert all(
        h.state == "ready" and h.health == "healthy" and h.labels["palette.ai"] == "true" for h in eligible
    )

    both = client.search_edge_hosts(
        tags={"palette.ai": "true", "gpu-enabled": "true"}, architectures=["arm64"]
    )
    assert {h.uid for h in both} == _expected(
        big_sim,
        lambda h: h.arch == "arm64" and "gpu-enabled" in h.labels and h.labels.get("palette.ai") == "true",
    )
    either = client.search_edge_hosts(tags=["site:lab-a", "site:lab-b"], tags_match="or", states=["unpaired"])
    assert {h.uid for h in either} == _expected(
        big_sim, lambda h: h.labels["site"] in ("lab-a", "lab-b") and h.state == "unpaired"
    )
    one = next(iter(eligible))
    assert [h.uid for h in client.search_edge_hosts(names=[one.name])] == [one.uid]


def test_it_finds_no_project_hosts_in_tenant_scope(big_sim, make_client):
    # The classic mistake: forgetting ProjectUid. Palette answers in tenant scope, which holds none.
    assert make_client(big_sim, project_uid=None).search_edge_hosts() == []


def test_it_rejects_a_forged_continue_token(big_sim, make_client):
    client = make_client(big_sim)
    with pytest.raises(BadRequest, match="invalid continue token"):
        client.transport.request(
            "POST",
            "/v1/dashboard/edgehosts/search",
            template="/v1/dashboard/edgehosts/search",
            project_uid=big_sim.project_uids[0],
            params={"continue": "not-a-token"},
            body={},
        )


def test_it_pages_cluster_profiles_by_type_and_cloud(big_sim, make_client):
    client = make_client(big_sim)
    edge = client.search_cluster_profiles()
    assert edge and all(p.cloud_type == "edge-native" for p in edge)
    assert {p.profile_type for p in edge} == {"infra", "cluster", "add-on", "system"}
    bases = client.search_cluster_profiles(profile_types=["infra", "cluster"])
    assert {p.profile_type for p in bases} == {"infra", "cluster"}
    # One item per name, its newest version; the older one is only named in versions[] (and read by uid).
    infra = [p for p in bases if p.name == "edge-k3s-infra"]
    assert [p.version for p in infra] == ["1.3.0"]
    assert [v for _, v in infra[0].versions] == ["1.2.0", "1.3.0"]
    older = client.get_cluster_profile(infra[0].versions[0][0])
    assert (older.name, older.version) == ("edge-k3s-infra", "1.2.0")
    tenant_view = client.search_cluster_profiles(project_uid=big_sim.project_uids[1])
    assert "edge-rke2-infra" not in {p.name for p in tenant_view}  # a project profile of another project
    every = client.search_cluster_profiles(environments=None, page_size=3)
    assert {"eks", "vsphere", "all", "edge-native"} <= {p.cloud_type for p in every}
