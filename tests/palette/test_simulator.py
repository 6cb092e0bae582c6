"""The simulator: seeded inventories, state machines, the admin endpoint and the command line."""

from __future__ import annotations

import io
import re
import threading

import pytest
import requests

from palette import BadRequest, EdgeNativeCluster, MachinePool, NotFound, PoolHost, ProfileRef, ServerError
from palette.sim import Simulator
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
    assert any("palette.ai" not in h.labels for h in hosts) and any(h.labels.get("palette.ai") == "true" for h in hosts)
    in_use = [h for h in hosts if h.state == "in-use"]
    assert in_use and all(h.in_use_clusters for h in in_use)
    assert any("canary" in h.tags for h in hosts)  # a bare tag shows as its key

    again, other = Simulator(hosts=1200, seed=11), Simulator(hosts=1200, seed=12)
    assert list(again.state.hosts) == list(big_sim.state.hosts) and list(other.state.hosts) != list(again.state.hosts)
    assert again.project_uids == big_sim.project_uids


def test_it_runs_the_cluster_lifecycle(sim, make_client):
    client = make_client(sim)
    free = client.search_edge_hosts(tags={"palette.ai": "true"}, states=["ready"], health=["healthy"],
                                    architectures=["amd64"])
    infra = client.search_cluster_profiles(profile_types=["infra"], name="edge-k3s-infra")[0]
    request = EdgeNativeCluster(name="pool-a", profiles=[ProfileRef(infra.uid)], vip="10.9.9.9",
                                pools=[MachinePool("cp", [PoolHost(free[0].uid)], control_plane=True,
                                                   control_plane_as_worker=True),
                                       MachinePool("workers", [PoolHost(free[1].uid)])])
    uid = client.create_edge_native_cluster(request)
    assert client.get_cluster_status(uid).state == "Pending"
    assert {h.uid for h in client.list_cluster_edge_hosts(uid)} == {free[0].uid, free[1].uid}
    assert client.get_edge_host(free[0].uid).state == "in-use"
    assert wait_for(interval=0.05, timeout=5, predicate=lambda: client.get_cluster_status(uid).state == "Provisioning")
    overview = wait_for(interval=0.05, timeout=5, predicate=lambda: (o := client.get_cluster_overview(uid)).is_running_and_healthy and o)
    assert overview.health == "Healthy" and client.get_cluster(uid).api_endpoints == ["10.9.9.9:6443"]
    assert "server: https://10.9.9.9:6443" in client.get_kubeconfig(uid)

    # A host in use cannot go to a second cluster: validate says why, create refuses.
    again = EdgeNativeCluster(name="pool-b", profiles=[ProfileRef(infra.uid)], vip="10.9.9.10",
                              pools=[MachinePool("cp", [PoolHost(free[0].uid)], control_plane=True)])
    result = client.validate_edge_native_cluster(again)
    assert not result.ok and [p.code for p in result.problems] == ["EdgeHostInUse"]
    with pytest.raises(BadRequest, match="in use by cluster 'pool-a'"):
        client.create_edge_native_cluster(again)

    client.delete_cluster(uid)
    assert client.get_cluster(uid).state == "Deleting"
    assert wait_for(interval=0.05, timeout=5, predicate=lambda: client.get_cluster_status(uid).state == "Deleted")
    assert client.get_edge_host(free[0].uid).state == "ready"  # released
    with pytest.raises(NotFound):
        wait_for(interval=0.05, timeout=5, predicate=lambda: client.get_cluster(uid) and False)


def test_it_changes_the_world_through_the_admin_endpoint(sim, make_client):
    client = make_client(sim)
    admin = requests.Session()
    admin.headers["ApiKey"] = sim.api_key
    url = sim.url + "/__sim__"
    assert admin.get(url + "/state", verify=sim.ca_path).json()["hosts"] == 80
    assert requests.get(url + "/state", verify=sim.ca_path).status_code == 401  # the key is required

    resp = admin.post(url + "/hosts", json={"uid": "edge-new-gpu", "labels": {"palette.ai": "true"}},
                      verify=sim.ca_path)
    assert resp.status_code == 201 and resp.json() == {"uids": ["edge-new-gpu"]}
    assert [h.uid for h in client.search_edge_hosts(names=["edge-new-gpu"])] == ["edge-new-gpu"]

    admin.patch(url + "/hosts/edge-new-gpu", json={"health": "unhealthy", "addLabels": {"site": "lab-z"}},
                verify=sim.ca_path).raise_for_status()
    host = client.get_edge_host("edge-new-gpu")
    assert host.health == "unhealthy" and host.health_message and host.labels["site"] == "lab-z"
    assert "site:lab-z" in client.list_edge_host_tags()

    admin.delete(url + "/hosts/edge-new-gpu", verify=sim.ca_path).raise_for_status()
    with pytest.raises(NotFound):
        client.get_edge_host("edge-new-gpu")

    admin.post(url + "/fail-next-create", json={"status": 500, "code": "InternalError"},
               verify=sim.ca_path).raise_for_status()
    free = client.search_edge_hosts(states=["ready"], health=["healthy"], architectures=["amd64"])
    infra = client.search_cluster_profiles(profile_types=["infra"])[0]
    request = EdgeNativeCluster(name="doomed", profiles=[ProfileRef(infra.uid)], vip="10.1.1.1",
                                pools=[MachinePool("cp", [PoolHost(free[0].uid)], control_plane=True)])
    with pytest.raises(ServerError):
        client.create_edge_native_cluster(request)
    sim.fail_next_create(stage="provisioning")
    uid = client.create_edge_native_cluster(request)  # only the next one failed
    overview = wait_for(interval=0.05, timeout=5, predicate=lambda: (o := client.get_cluster_overview(uid)).health == "UnHealthy" and o)
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
    args = ["--port", "0", "--hosts", "12", "--seed", "4", "--api-key", "demo-key", "--tls-dir", str(tmp_path),
            "--faults", "latency:1ms"]
    runner = threading.Thread(target=lambda: main(args, out=out, stop=stop))
    runner.start()
    try:
        wait_for(interval=0.05, timeout=5, predicate=lambda: "Admin endpoint" in out.getvalue())
        text = out.getvalue()
        url = re.search(r"listening on (https://127\.0\.0\.1:\d+)", text).group(1)
        assert "API key: demo-key" in text and f"CA certificate: {tmp_path}/ca.crt" in text
        uids = re.findall(r"^  ([0-9a-f]{24})  ", text, re.MULTILINE)
        assert len(uids) == 3
        resp = requests.get(url + "/v1/dashboard/projects/metadata", headers={"ApiKey": "demo-key"},
                            verify=str(tmp_path / "ca.crt"))
        assert [i["metadata"]["uid"] for i in resp.json()["items"]] == uids
    finally:
        stop.set()
        runner.join(5)
    assert main(["--faults", "explode:1"], out=io.StringIO()) == 1
