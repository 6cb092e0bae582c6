"""Day-2 machine pools through the client — cloud config, machines, the whole host list, add and delete —
against the simulator over HTTPS, every request and answer checked against the spec subset (validate=True)."""

from __future__ import annotations

import time

import pytest

from palette import BadRequest
from palette.bodies import PoolHost, machine_pool_update

from .test_contract import _cluster_for


def _running(sim, client, name="mp-1"):
    uid = client.create_edge_native_cluster(_cluster_for(client, name))
    time.sleep(1.0)  # past Pending and Provisioning: machines report Healthy once Running
    return uid, client.get_cluster(uid).cloud_config_uid


def _free(client, exclude):
    hosts = client.search_edge_hosts(
        tags={"palette.ai": "true"}, states=["ready"], health=["healthy"], architectures=["amd64"]
    )
    return [h for h in hosts if h.uid not in exclude]


def test_it_reads_the_cloud_config_and_scales_a_pool_with_the_whole_host_list(sim, make_client):
    records = []
    client = make_client(sim, request_log=records.append)
    _uid, config_uid = _running(sim, client)
    config = client.get_cloud_config(config_uid)
    assert config.uid == config_uid and set(config.pools) == {"control-plane", "gpu-workers"}
    workers = config.pools["gpu-workers"]
    assert (
        len(workers.host_uids) == 2
        and not workers.control_plane
        and config.pools["control-plane"].control_plane
    )
    machines = client.list_machines(config_uid, "gpu-workers")
    assert sorted(m.host_uid for m in machines) == sorted(workers.host_uids) and all(
        m.healthy for m in machines
    )

    extra = _free(client, set(workers.host_uids) | set(config.pools["control-plane"].host_uids))[0]
    body = machine_pool_update(workers.raw, [*(PoolHost(u) for u in workers.host_uids), PoolHost(extra.uid)])
    assert body["poolConfig"]["size"] == 3 and body["poolConfig"]["labels"] == ["worker"]
    client.update_machine_pool(config_uid, body)
    client.update_machine_pool(config_uid, body)  # idempotent: the same body leaves the same pool
    after = client.get_cloud_config(config_uid).pools["gpu-workers"]
    assert after.host_uids == [*workers.host_uids, extra.uid]
    assert sim.state.hosts[extra.uid].state == "in-use"
    # Down again: the dropped host goes back to ready.
    client.update_machine_pool(config_uid, machine_pool_update(after.raw, [PoolHost(workers.host_uids[0])]))
    assert client.get_cloud_config(config_uid).pools["gpu-workers"].host_uids == [workers.host_uids[0]]
    assert sim.state.hosts[workers.host_uids[1]].state == "ready"
    puts = [r for r in records if r.method == "PUT"]
    assert len(puts) == 3 and all(r.path.endswith("/machinePools/gpu-workers") for r in puts)


def test_a_control_plane_changes_one_host_at_a_time(sim, make_client):
    client = make_client(sim)
    _uid, config_uid = _running(sim, client, "mp-2")
    config = client.get_cloud_config(config_uid)
    cp = config.pools["control-plane"]
    used = {u for p in config.pools.values() for u in p.host_uids}
    a, b = _free(client, used)[:2]
    with pytest.raises(BadRequest) as exc:
        client.update_machine_pool(
            config_uid,
            machine_pool_update(
                cp.raw, [*(PoolHost(u) for u in cp.host_uids), PoolHost(a.uid), PoolHost(b.uid)]
            ),
        )
    assert "one host at a time" in str(exc.value.palette_message)
    body = machine_pool_update(cp.raw, [*(PoolHost(u) for u in cp.host_uids), PoolHost(a.uid)])
    assert body["poolConfig"]["isControlPlane"] is True
    client.update_machine_pool(config_uid, body)
    assert len(client.get_cloud_config(config_uid).pools["control-plane"].host_uids) == 2


def test_it_adds_and_deletes_a_worker_pool(sim, make_client):
    client = make_client(sim)
    _uid, config_uid = _running(sim, client, "mp-3")
    config = client.get_cloud_config(config_uid)
    used = {u for p in config.pools.values() for u in p.host_uids}
    host = _free(client, used)[0]
    template = {"name": "extra", "labels": ["worker"], "machinePoolProperties": {"archType": "amd64"}}
    client.add_machine_pool(config_uid, machine_pool_update(template, [PoolHost(host.uid)]))
    assert client.get_cloud_config(config_uid).pools["extra"].host_uids == [host.uid]
    client.delete_machine_pool(config_uid, "extra")
    assert "extra" not in client.get_cloud_config(config_uid).pools
    assert sim.state.hosts[host.uid].state == "ready"
