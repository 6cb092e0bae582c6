"""Contract: what the client sends and what the simulator answers validate against the spec subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from palette import BadRequest, EdgeNativeCluster, MachinePool, PoolHost, ProfileRef
from palette.spec import SpecViolation, load_spec, spec_path

SPEC = load_spec()


def _cluster_for(client, name: str = "contract-1") -> EdgeNativeCluster:
    hosts = client.search_edge_hosts(
        tags={"palette.ai": "true"}, states=["ready"], health=["healthy"], architectures=["amd64"]
    )
    infra = client.search_cluster_profiles(profile_types=["infra"], name="edge-k3s-infra")[-1]
    addon = client.search_cluster_profiles(profile_types=["add-on"], name="nvidia-gpu-operator")[0]
    return EdgeNativeCluster(
        name=name,
        vip="10.20.99.10",
        ssh_keys=["ssh-ed25519 AAAAC3Nza admin@example.com"],
        profiles=[
            ProfileRef(
                infra.uid,
                pack_values=[
                    {
                        "name": "edge-k3s",
                        "tag": "1.30.4",
                        "type": "spectro",
                        "values": "cluster:\n  config: {}\n",
                    }
                ],
                variables={"site": "lab-a"},
            ),
            ProfileRef(addon.uid),
        ],
        pools=[
            MachinePool(
                "control-plane",
                [PoolHost(hosts[0].uid, hosts[0].name)],
                control_plane=True,
                control_plane_as_worker=True,
            ),
            MachinePool("gpu-workers", [PoolHost(hosts[1].uid), PoolHost(hosts[2].uid)]),
        ],
        labels={"owner": "paletteai"},
        description="contract test",
    )


def test_it_validates_every_request_the_client_sends(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    client.whoami()
    client.list_projects()
    client.get_project(sim.project_uids[1])
    hosts = client.search_edge_hosts(
        tags={"palette.ai": "true", "canary": ""},
        tags_match="or",
        states=["ready", "in-use"],
        health=["healthy"],
        architectures=["amd64", "arm64"],
    )
    client.search_edge_hosts(names=["edge-"], name_operator="beginsWith")
    client.set_edge_host_tags(hosts[0].uid, {"pool": "a"})
    client.list_edge_host_tags()
    client.get_cluster_profile(client.search_cluster_profiles(profile_types=["infra", "cluster"])[0].uid)
    cluster = _cluster_for(client)
    assert client.validate_edge_native_cluster(cluster).ok
    uid = client.create_edge_native_cluster(cluster)
    client.get_cluster(uid)
    client.get_cluster_status(uid)
    client.get_cluster_overview(uid)
    client.list_cluster_edge_hosts(uid)
    client.delete_cluster(uid)
    sim.state.timings.force_delete_after = 0  # as if it had been Deleting for 15 minutes
    client.delete_cluster(uid, force=True)

    assert len(records) >= 15
    for record in records:
        found = SPEC.find(record.method, record.path)
        assert found is not None, f"{record.method} {record.path} is not a spec path"
        op, _ = found
        SPEC.validate_request(record.method, op.template, record.body, record.query)  # raises if invalid
        tenant_scoped = op.template in (
            "/v1/users/info",
            "/v1/projects/{uid}",
            "/v1/dashboard/projects/metadata",
        )
        assert ("ProjectUid" in record.headers) is not tenant_scoped, record
        assert record.headers["ApiKey"] == "[REDACTED]" and sim.api_key not in json.dumps(record.headers)

    creates = [r for r in records if r.path == "/v1/spectroclusters/edge-native"]
    spec_body = creates[0].body["spec"]
    # The spec's spelling, all lowercase; the camelCase one would be silently ignored by jsonschema.
    assert "machinepoolconfig" in spec_body and "machinePoolConfig" not in spec_body
    assert [p["poolConfig"]["size"] for p in spec_body["machinepoolconfig"]] == [1, 2]


def test_it_refuses_to_send_a_create_body_outside_the_spec(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    body = _cluster_for(client, "bad-body").to_body()
    records.clear()
    del body["spec"]["machinepoolconfig"][0]["poolConfig"]["name"]  # required by the spec
    with pytest.raises(BadRequest) as err:
        client.create_edge_native_cluster(body)
    assert "poolConfig" in str(err.value) and "name" in str(err.value)
    assert records == []  # nothing was sent
    with pytest.raises(SpecViolation):  # tag values must be strings
        SPEC.validate_request("POST", "/v1/spectroclusters/edge-native", {"metadata": {"labels": {"gpu": 1}}})


def _bodies(host, busy, profile, free) -> dict[str, object]:
    """Request bodies for ``_every_operation``: a create, GetClusterByName's search, a machine pool twice."""
    return {
        "create": {
            "metadata": {"name": "raw-1"},
            "spec": {
                "profiles": [{"uid": profile.uid, "variables": [{"name": "site", "value": "lab-b"}]}],
                "cloudConfig": {"controlPlaneEndpoint": {"type": "VIP", "host": "10.0.0.5"}},
                "machinepoolconfig": [
                    {
                        "poolConfig": {
                            "name": "cp",
                            "size": 1,
                            "labels": ["control-plane"],
                            "isControlPlane": True,
                        },
                        "cloudConfig": {"edgeHosts": [{"hostUid": host.uid}]},
                    }
                ],
            },
        },
        "by_name": {
            "filter": {
                "conjunction": "and",
                "filterGroups": [
                    {
                        "conjunction": "and",
                        "filters": [
                            {
                                "property": "environment",
                                "type": "string",
                                "condition": {
                                    "string": {
                                        "operator": "eq",
                                        "negation": True,
                                        "match": {"conjunction": "or", "values": ["nested"]},
                                    }
                                },
                            },
                            {
                                "property": "isDeleted",
                                "type": "bool",
                                "condition": {"bool": {"value": False}},
                            },
                        ],
                    },
                    {
                        "conjunction": "and",
                        "filters": [
                            {
                                "property": "clusterName",
                                "type": "string",
                                "condition": {
                                    "string": {
                                        "operator": "eq",
                                        "match": {"conjunction": "or", "values": [busy.name]},
                                    }
                                },
                            }
                        ],
                    },
                ],
            }
        },
        "pool": {
            "poolConfig": {"name": "extra", "size": 1, "labels": ["worker"]},
            "cloudConfig": {"edgeHosts": [{"hostUid": free[1].uid}]},
        },
        "grown": {
            "poolConfig": {"name": "extra", "size": 2, "labels": ["worker"]},
            "cloudConfig": {"edgeHosts": [{"hostUid": free[1].uid}, {"hostUid": free[2].uid}]},
        },
    }


def _every_operation(sim) -> list[tuple[str, str, dict | None, object, int]]:
    """(method, path, query, body, expected status) exercising every operation of the subset, errors too."""
    state = sim.state
    free = [
        h
        for h in state.hosts.values()
        if h.project_uid == sim.project_uids[0]
        and h.state == "ready"
        and h.health == "healthy"
        and h.arch == "amd64"
    ]
    host = free[0]
    busy = next(c for c in state.clusters.values() if c.project_uid == sim.project_uids[0])
    profile = next(p for p in state.profiles.values() if p.name == "edge-k3s-infra" and p.version == "1.3.0")
    addon = next(p for p in state.profiles.values() if p.name == "nvidia-gpu-operator")
    key = next(iter(state.keys.values()))
    bodies = _bodies(host, busy, profile, free)
    create, by_name = bodies["create"], bodies["by_name"]
    pools = f"/v1/cloudconfigs/edge-native/{busy.cloud_config_uid}/machinePools"
    cluster = f"/v1/spectroclusters/{busy.uid}"
    return [
        ("GET", "/v1/users/info", None, None, 200),
        ("GET", f"/v1/projects/{sim.project_uids[0]}", None, None, 200),
        ("GET", "/v1/dashboard/projects/metadata", None, None, 200),
        ("GET", "/v1/apiKeys", None, None, 200),
        ("GET", f"/v1/apiKeys/{key.uid}", None, None, 200),
        ("GET", "/v1/activations/system", None, None, 200),
        ("GET", "/v1/registries/metadata", {"scope": "all"}, None, 200),
        ("GET", "/v1/registries/pack/summary", {"scope": "system"}, None, 200),
        ("POST", "/v1/dashboard/edgehosts/search", {"limit": 50}, {}, 200),
        ("GET", "/v1/dashboard/edgehosts/search/schema", None, None, 200),
        (
            "GET",
            "/v1/edgehosts/metadata",
            {"type": "edge-native", "quickFilter": "unusedEdgeHosts"},
            None,
            200,
        ),
        ("GET", "/v1/edgehosts/tags", None, None, 200),
        ("GET", f"/v1/edgehosts/{host.uid}", None, None, 200),
        (
            "PUT",
            f"/v1/edgehosts/{host.uid}/meta",
            None,
            {"metadata": {"uid": host.uid, "name": host.name, "labels": {**host.labels, "x": "y"}}},
            204,
        ),
        ("POST", "/v1/dashboard/clusterprofiles", None, {"filter": {"environment": ["edge-native"]}}, 200),
        ("GET", "/v1/dashboard/clusterprofiles/metadata", None, None, 200),
        ("GET", f"/v1/clusterprofiles/{profile.uid}", None, None, 200),
        ("GET", f"/v1/clusterprofiles/{profile.uid}/variables", None, None, 200),
        ("POST", "/v1/spectroclusters/edge-native/validate", None, create, 200),
        ("POST", "/v1/spectroclusters/edge-native", None, create, 201),
        ("POST", "/v1/spectroclusters/edge-native", None, create, 400),  # the same name again
        ("POST", "/v1/dashboard/spectroclusters/search", {"limit": 10}, by_name, 200),
        ("GET", "/v1/dashboard/spectroclusters/search/schema", None, None, 200),
        ("GET", cluster, None, None, 200),
        ("GET", f"{cluster}/status", None, None, 200),
        ("GET", f"/v1/dashboard/spectroclusters/{busy.uid}/overview", None, None, 200),
        ("GET", f"{cluster}/assets/kubeconfig", {"frp": "true"}, None, 200),
        ("GET", f"{cluster}/assets/adminKubeconfig", None, None, 200),
        ("GET", f"{cluster}/assets/kubeconfigclient", None, None, 200),
        ("GET", f"{cluster}/edge-native/edgeHosts", None, None, 200),
        ("GET", f"{cluster}/profiles", None, None, 200),
        ("PATCH", f"{cluster}/profiles", None, {"profiles": [{"uid": addon.uid}]}, 204),
        ("GET", f"{cluster}/variables", None, None, 200),
        (
            "PATCH",
            f"{cluster}/variables",
            None,
            [{"profileUid": profile.uid, "variables": [{"name": "site", "value": "lab-c"}]}],
            204,
        ),
        ("GET", f"/v1/cloudconfigs/edge-native/{busy.cloud_config_uid}", None, None, 200),
        ("POST", pools, None, bodies["pool"], 201),
        ("PUT", f"{pools}/extra", None, bodies["grown"], 204),
        ("GET", f"{pools}/extra/machines", None, None, 200),
        ("DELETE", f"{pools}/extra", None, None, 204),
        ("GET", f"/v1/events/components/spectrocluster/{busy.uid}", {"limit": 20}, None, 200),
        ("DELETE", cluster, {"forceDelete": "true"}, None, 400),  # not Deleting for 15 minutes yet
        ("DELETE", cluster, None, None, 204),
        # Errors: Palette's error body (string or integer code) must come back too.
        ("GET", "/v1/edgehosts/no-such-host", None, None, 404),
        ("GET", f"{cluster}/status", None, {"ProjectUid": sim.project_uids[1]}, 404),  # another project's
        ("POST", "/v1/dashboard/edgehosts/search", {"limit": 51}, {}, 422),
        ("GET", "/v1/dashboard/edgehosts/search", None, None, 405),
    ]


def test_it_answers_every_operation_of_the_spec_with_valid_bodies(sim):
    """Raw calls to every operation; each response is validated here and by the simulator itself."""
    sim.state.timings.kubeconfig_lag = 0  # the seeded clusters have been Running for days
    s = requests.Session()
    covered = set()
    for method, path, params, body, expected in _every_operation(sim):
        headers = {"ApiKey": sim.api_key, "ProjectUid": sim.project_uids[0]}
        if method == "GET" and isinstance(body, dict):  # a GET's "body" here is the headers to change
            headers, body = {**headers, **body}, None
        resp = s.request(
            method, sim.url + path, params=params, json=body, headers=headers, verify=sim.ca_path
        )
        op, _ = SPEC.find(method, path) or SPEC.find("POST", path)
        covered.add((op.method, op.template))
        if resp.status_code == 204:
            payload = None
        elif resp.headers["Content-Type"] == "application/octet-stream":
            payload = resp.content
            assert payload.startswith(b"apiVersion: v1"), (path, payload)
        else:
            payload = resp.json()
        assert resp.status_code == expected, (method, path, resp.status_code, payload)
        SPEC.validate_response(op.method, op.template, resp.status_code, payload)
    assert covered == {(o.method, o.template) for o in SPEC.operations}  # every operation of the subset
    assert sim.violations == []


def test_it_accepts_the_camel_case_machine_pool_key_like_palette(sim, make_client):
    client = make_client(sim)
    body = _cluster_for(client, "canvos-style").to_body()
    body["spec"]["machinePoolConfig"] = body["spec"].pop("machinepoolconfig")  # as CanvOS sends it
    resp = requests.post(
        sim.url + "/v1/spectroclusters/edge-native",
        json=body,
        verify=sim.ca_path,
        params={"ProjectUid": sim.project_uids[0]},
        headers={"apikey": sim.api_key},
    )
    assert resp.status_code == 201, resp.text
    assert "AuditUid" in resp.headers
    cluster = client.get_cluster(resp.json()["uid"])
    assert cluster.name == "canvos-style" and cluster.state == "Pending"


def test_it_ships_the_spec_it_validates_against():
    packaged = Path(__file__).resolve().parents[2] / "palette" / "spec" / "palette-apis-subset.json"
    assert spec_path() == packaged or spec_path().samefile(packaged)
    shared = Path(__file__).resolve().parents[3] / "shared" / "palette-api" / "palette-apis-subset.json"
    if not shared.exists():
        pytest.skip("no shared reference folder next to the repository")
    assert json.loads(packaged.read_text()) == json.loads(shared.read_text()), (
        "the packaged spec copy drifted"
    )
