"""The simulator: seeded inventories, state machines, the admin endpoint and the command line."""

from __future__ import annotations

import io
import re
import threading

import pytest
import requests

from palette import (
    BadRequest,
    EdgeNativeCluster,
    MachinePool,
    NotFound,
    PaletteConnectionError,
    PaletteError,
    PoolHost,
    ProfileRef,
    ServerError,
)
from palette.sim import Simulator, Timings
from palette.sim.cli import main
from tests.conftest import wait_for


def test_it_seeds_a_realistic_mix_deterministically(big_sim, make_client):
    hosts = make_client(big_sim).search_edge_hosts()
    paired = [h for h in hosts if h.state != "unpaired"]
    models = {g.model for h in paired for g in h.gpus}
    assert len(models) >= 4 and {g.vendor for h in paired for g in h.gpus} >= {"NVIDIA", "AMD"}
    assert {g.count for h in paired for g in h.gpus} >= {1, 2, 4}
    assert any(h.gpu_count == 0 for h in paired) and any(h.gpu_count >= 4 for h in paired)
    assert {h.architecture for h in hosts} == {"amd64", "arm64"}
    assert {h.state for h in hosts} == {"ready", "unpaired", "in-use"}
    assert any(h.health == "unhealthy" for h in hosts)
    assert any("palette.ai" not in h.labels for h in hosts) and any(
        h.labels.get("palette.ai") == "true" for h in hosts
    )
    in_use = [h for h in hosts if h.state == "in-use"]
    assert in_use and all(h.in_use_clusters for h in in_use)
    assert any("canary" in h.tags for h in hosts)  # a bare tag shows as its key

    again, other = Simulator(hosts=1200, seed=11), Simulator(hosts=1200, seed=12)
    assert list(again.state.hosts) == list(big_sim.state.hosts) and list(other.state.hosts) != list(
        again.state.hosts
    )
    assert again.project_uids == big_sim.project_uids


def _by_name(client, sim, name: str) -> list[dict]:
    """palette-sdk-go's GetClusterByName search: clusterName eq, isDeleted false, in the client's project."""
    body = {
        "filter": {
            "conjunction": "and",
            "filterGroups": [
                {
                    "conjunction": "and",
                    "filters": [
                        {"property": "isDeleted", "type": "bool", "condition": {"bool": {"value": False}}}
                    ],
                },
                {
                    "conjunction": "and",
                    "filters": [
                        {
                            "property": "clusterName",
                            "type": "string",
                            "condition": {
                                "string": {"operator": "eq", "match": {"conjunction": "or", "values": [name]}}
                            },
                        }
                    ],
                },
            ],
        }
    }
    data = client.transport.request(
        "POST",
        "/v1/dashboard/spectroclusters/search",
        template="/v1/dashboard/spectroclusters/search",
        project_uid=sim.project_uids[0],
        body=body,
    )
    return data["items"]


def _two_host_cluster(client, name: str = "pool-a"):
    free = client.search_edge_hosts(
        tags={"palette.ai": "true"}, states=["ready"], health=["healthy"], architectures=["amd64"]
    )
    infra = client.search_cluster_profiles(profile_types=["infra"], name="edge-k3s-infra")[0]
    return free, EdgeNativeCluster(
        name=name,
        profiles=[ProfileRef(infra.uid)],
        vip="10.9.9.9",
        pools=[
            MachinePool("cp", [PoolHost(free[0].uid)], control_plane=True, control_plane_as_worker=True),
            MachinePool("workers", [PoolHost(free[1].uid)]),
        ],
    )


def test_it_runs_the_cluster_lifecycle_with_palettes_lags(sim, make_client):
    sim.state.timings.in_use_lag, sim.state.timings.kubeconfig_lag = 0.6, 1.0
    client = make_client(sim)
    free, request = _two_host_cluster(client)
    uid = client.create_edge_native_cluster(request)
    assert client.get_cluster_status(uid).state == "Pending"
    assert {h.uid for h in client.list_cluster_edge_hosts(uid)} == {free[0].uid, free[1].uid}
    host = client.get_edge_host(free[0].uid)
    assert host.state == "in-use" and not host.in_use_clusters  # inUseClusters lags behind the create
    assert [c["metadata"]["uid"] for c in _by_name(client, sim, "pool-a")] == [uid]  # the search does not
    assert wait_for(
        interval=0.05,
        timeout=5,
        predicate=lambda: [c.name for c in client.get_edge_host(free[0].uid).in_use_clusters] == ["pool-a"],
    )
    with pytest.raises(NotFound):  # another project's ProjectUid does not see it
        client.get_cluster(uid, project_uid=sim.project_uids[1])
    assert wait_for(
        interval=0.05, timeout=5, predicate=lambda: client.get_cluster_status(uid).state == "Provisioning"
    )
    overview = wait_for(
        interval=0.05,
        timeout=5,
        predicate=lambda: (o := client.get_cluster_overview(uid)).is_running_and_healthy and o,
    )
    assert overview.health == "Healthy" and client.get_cluster(uid).api_endpoints == ["10.9.9.9:6443"]
    # Running and Healthy, but no kubeconfig yet: the file is empty until hasKubeConfig turns true.
    assert overview.raw["status"]["kubeMeta"]["hasKubeConfig"] is False and client.get_kubeconfig(uid) == ""
    assert wait_for(
        interval=0.05,
        timeout=5,
        predicate=lambda: client.get_cluster_overview(uid).raw["status"]["kubeMeta"]["hasKubeConfig"],
    )
    assert "server: https://10.9.9.9:6443" in client.get_kubeconfig(uid)

    # A host in use cannot go to a second cluster: validate answers a 400 naming it, create refuses.
    again = EdgeNativeCluster(
        name="pool-b",
        profiles=request.profiles,
        vip="10.9.9.10",
        pools=[MachinePool("cp", [PoolHost(free[0].uid)], control_plane=True)],
    )
    with pytest.raises(BadRequest, match=f"edge host '{free[0].uid}' is in-use by cluster 'pool-a'") as err:
        client.validate_edge_native_cluster(again)
    assert err.value.code == "EdgeHostInUse"
    with pytest.raises(BadRequest, match="is in-use by cluster 'pool-a'"):
        client.create_edge_native_cluster(again)
    # The same create again (a retry after a lost answer) is a 400 naming the cluster and its hosts, not a
    # 409.
    with pytest.raises(
        BadRequest, match=f"cluster 'pool-a' already exists in the project; edge host '{free[0].uid}'"
    ):
        client.create_edge_native_cluster(request)

    with pytest.raises(
        BadRequest, match="not being deleted"
    ):  # force delete comes after 15 minutes in Deleting
        client.delete_cluster(uid, force=True)
    client.delete_cluster(uid)
    assert client.get_cluster(uid).state == "Deleting"
    with pytest.raises(BadRequest, match="after 15 minutes in Deleting"):
        client.delete_cluster(uid, force=True)
    assert wait_for(
        interval=0.05, timeout=5, predicate=lambda: client.get_cluster_status(uid).state == "Deleted"
    )
    assert client.get_edge_host(free[0].uid).state == "ready"  # released
    assert _by_name(client, sim, "pool-a") == []  # isDeleted false leaves it out; it is still there otherwise
    with pytest.raises(NotFound):
        wait_for(interval=0.05, timeout=5, predicate=lambda: client.get_cluster(uid) and False)


def test_it_keeps_deleted_clusters_visible_and_forces_a_deletion_after_15_minutes(sim, make_client):
    # A stuck deletion that a force delete ends at once; the rest as Palette documents it.
    sim.state.timings = Timings(deleting=3600, force_delete_factor=0.0001)
    assert sim.state.timings.deleted_visible == 72 * 3600 and sim.state.timings.force_delete_after == 900
    client = make_client(sim)
    _, request = _two_host_cluster(client, "kept")
    uid = client.create_edge_native_cluster(request)
    client.delete_cluster(uid)
    cluster = sim.state.clusters[uid]
    cluster.delete_at -= 60  # a minute later: still not eligible
    with pytest.raises(BadRequest, match="14 minutes|8[0-9]{2} seconds left"):
        client.delete_cluster(uid, force=True)
    cluster.delete_at -= 15 * 60  # 16 minutes in Deleting
    client.delete_cluster(uid, force=True)
    assert wait_for(interval=0.05, timeout=5, predicate=lambda: client.get_cluster(uid).state == "Deleted")
    assert client.get_cluster_status(uid).state == "Deleted"  # still there, as Palette keeps it
    reasons = [
        e["reason"]
        for e in client.transport.request(
            "GET",
            f"/v1/events/components/spectrocluster/{uid}",
            template="/v1/events/components/{objectKind}/{objectUid}",
            project_uid=sim.project_uids[0],
        )["items"]
    ]
    assert reasons[0] == "Created" and reasons[-2:] == ["Deleting", "ForceDeleting"]


def test_it_creates_then_loses_the_answer(sim, make_client):
    client = make_client(sim)
    _, request = _two_host_cluster(client, "lost-once")
    sim.fail_next_create(stage="answer")
    with pytest.raises(PaletteConnectionError):
        client.create_edge_native_cluster(request)
    assert [c["metadata"]["name"] for c in _by_name(client, sim, "lost-once")] == [
        "lost-once"
    ]  # it was created
    _, request = _two_host_cluster(client, "lost-by-fault")
    sim.set_faults("lost:1")
    with pytest.raises(PaletteConnectionError):
        client.create_edge_native_cluster(request)
    sim.set_faults(None)
    assert len(_by_name(client, sim, "lost-by-fault")) == 1


def test_it_refuses_new_clusters_when_the_trial_is_over_and_checks_variables(make_client):
    with Simulator(
        hosts=40, seed=5, validate=True, license_state="Inactive", registries=["Edge Packs"]
    ) as sim:
        client = make_client(sim)
        _, request = _two_host_cluster(client, "unlicensed")
        with pytest.raises(PaletteError, match="not activated") as err:
            client.create_edge_native_cluster(request)
        assert err.value.status == 403
        sim.state.set_license("Pending")
        full = next(
            p for p in sim.state.profiles.values() if p.name == "edge-k3s-infra" and p.version == "1.3.0"
        )
        sim.state.profiles[full.uid].variables.append(
            {"name": "store_id", "format": "string", "required": True, "regex": "^[0-9]{4}$"}
        )
        with pytest.raises(BadRequest, match="variable 'store_id' of profile edge-k3s-infra is required"):
            client.create_edge_native_cluster(request)
        request.profiles[0] = ProfileRef(full.uid, variables={"store_id": "12"})
        with pytest.raises(BadRequest, match="must match"):
            client.create_edge_native_cluster(request)
        request.profiles[0] = ProfileRef(full.uid, variables={"store_id": "0042"})
        uid = client.create_edge_native_cluster(request)
        values = client.transport.request(
            "GET",
            f"/v1/spectroclusters/{uid}/variables",
            template="/v1/spectroclusters/{uid}/variables",
            project_uid=sim.project_uids[0],
        )
        assert {v["name"]: v["value"] for v in values[0]["variables"]} == {
            "site": "lab-a",
            "store_id": "0042",
        }
        registries = client.transport.request(
            "GET", "/v1/registries/metadata", template="/v1/registries/metadata"
        )
        flags = [(r["name"], r["isPrivate"], r["isDefault"]) for r in registries["items"]]
        assert flags == [("Edge Packs", True, True)]
        activation = client.transport.request(
            "GET", "/v1/activations/system", template="/v1/activations/system"
        )
        assert activation["status"]["state"] == "Pending" and activation["status"]["expiresAt"]


def test_it_replaces_a_control_plane_host_one_at_a_time(sim, make_client):
    client = make_client(sim)
    free, request = _two_host_cluster(client, "day-two")
    uid = client.create_edge_native_cluster(request)
    config = client.get_cluster(uid).raw["spec"]["cloudConfigRef"]["uid"]
    path = f"/v1/cloudconfigs/edge-native/{config}/machinePools/cp"

    def put(hosts):
        body = {
            "poolConfig": {
                "name": "cp",
                "size": len(hosts),
                "labels": ["control-plane"],
                "isControlPlane": True,
            },
            "cloudConfig": {"edgeHosts": [{"hostUid": h} for h in hosts]},
        }
        return client.transport.request(
            "PUT",
            path,
            template="/v1/cloudconfigs/edge-native/{configUid}/machinePools/{machinePoolName}",
            project_uid=sim.project_uids[0],
            body=body,
            expect="none",
        )

    with pytest.raises(BadRequest, match="one host at a time"):
        put([free[2].uid])  # swapping in one step
    put([free[0].uid, free[2].uid])  # add first (a temporary second node)...
    put([free[2].uid])  # ...then remove
    assert (
        client.get_edge_host(free[0].uid).state == "ready"
        and client.get_edge_host(free[2].uid).state == "in-use"
    )
    with pytest.raises(BadRequest, match=f"edge host '{free[1].uid}' is used more than once"):
        put([free[2].uid, free[1].uid])  # the worker pool's host


def test_it_changes_the_world_through_the_admin_endpoint(sim, make_client):
    client = make_client(sim)
    admin = requests.Session()
    admin.headers["ApiKey"] = sim.api_key
    url = sim.url + "/__sim__"
    assert admin.get(url + "/state", verify=sim.ca_path).json()["hosts"] == 80
    assert requests.get(url + "/state", verify=sim.ca_path).status_code == 401  # the key is required

    resp = admin.post(
        url + "/hosts", json={"uid": "edge-new-gpu", "labels": {"palette.ai": "true"}}, verify=sim.ca_path
    )
    assert resp.status_code == 201 and resp.json() == {"uids": ["edge-new-gpu"]}
    assert [h.uid for h in client.search_edge_hosts(names=["edge-new-gpu"])] == ["edge-new-gpu"]

    admin.patch(
        url + "/hosts/edge-new-gpu",
        json={"health": "unhealthy", "addLabels": {"site": "lab-z"}},
        verify=sim.ca_path,
    ).raise_for_status()
    host = client.get_edge_host("edge-new-gpu")
    assert host.health == "unhealthy" and host.health_message and host.labels["site"] == "lab-z"
    assert "site:lab-z" in client.list_edge_host_tags()

    admin.delete(url + "/hosts/edge-new-gpu", verify=sim.ca_path).raise_for_status()
    with pytest.raises(NotFound):
        client.get_edge_host("edge-new-gpu")

    admin.post(
        url + "/fail-next-create", json={"status": 500, "code": "InternalError"}, verify=sim.ca_path
    ).raise_for_status()
    free = client.search_edge_hosts(states=["ready"], health=["healthy"], architectures=["amd64"])
    infra = client.search_cluster_profiles(profile_types=["infra"])[0]
    request = EdgeNativeCluster(
        name="doomed",
        profiles=[ProfileRef(infra.uid)],
        vip="10.1.1.1",
        pools=[MachinePool("cp", [PoolHost(free[0].uid)], control_plane=True)],
    )
    with pytest.raises(ServerError):
        client.create_edge_native_cluster(request)
    sim.fail_next_create(stage="provisioning")
    uid = client.create_edge_native_cluster(request)  # only the next one failed
    overview = wait_for(
        interval=0.05,
        timeout=5,
        predicate=lambda: (o := client.get_cluster_overview(uid)).health == "UnHealthy" and o,
    )
    assert overview.state == "Provisioning"

    settings = admin.put(url + "/settings", json={"stuckContinue": True}, verify=sim.ca_path).json()
    assert settings["stuckContinue"] is True
    assert admin.put(url + "/faults", json={"faults": "bogus:1"}, verify=sim.ca_path).status_code == 400


def test_it_pairs_an_unpaired_host(sim, make_client):
    client = make_client(sim)
    unpaired = client.search_edge_hosts(states=["unpaired"])[0]
    assert unpaired.cpu_cores is None and unpaired.health == ""  # no hardware reported before pairing
    sim.state.update_host(unpaired.uid, state="ready")
    paired = client.get_edge_host(unpaired.uid)
    assert paired.state == "ready" and paired.cpu_cores and paired.health == "healthy"


def test_it_runs_from_the_command_line_and_prints_what_to_use(tmp_path):
    out, stop = io.StringIO(), threading.Event()
    args = [
        "--port",
        "0",
        "--hosts",
        "12",
        "--seed",
        "4",
        "--api-key",
        "demo-key",
        "--tls-dir",
        str(tmp_path),
        "--faults",
        "latency:1ms",
    ]
    runner = threading.Thread(target=lambda: main(args, out=out, stop=stop))
    runner.start()
    try:
        wait_for(interval=0.05, timeout=5, predicate=lambda: "Admin endpoint" in out.getvalue())
        text = out.getvalue()
        url = re.search(r"listening on (https://127\.0\.0\.1:\d+)", text).group(1)
        assert "API key: demo-key" in text and f"CA certificate: {tmp_path}/ca.crt" in text
        uids = re.findall(r"^  ([0-9a-f]{24})  ", text, re.MULTILINE)
        assert len(uids) == 3
        resp = requests.get(
            url + "/v1/dashboard/projects/metadata",
            headers={"ApiKey": "demo-key"},
            verify=str(tmp_path / "ca.crt"),
        )
        assert [i["metadata"]["uid"] for i in resp.json()["items"]] == uids
    finally:
        stop.set()
        runner.join(5)
    assert main(["--faults", "explode:1"], out=io.StringIO()) == 1
