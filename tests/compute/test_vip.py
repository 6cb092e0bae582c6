"""The VIP of the pool wizard's Network step: inside a subnet of the hosts the pool would use, not a host's
address, not another pool's VIP, and a well-formed IPv4 address (compute.readiness.network)."""

from __future__ import annotations

import re
from ipaddress import IPv4Network
from types import SimpleNamespace

from django.urls import reverse

from compute.models import ComputePool, EdgeHost
from compute.readiness import evaluate, gather
from compute.readiness.network import host_subnets, nic_subnet, vip_problem
from compute.views.wizard import _draft_spec, draft
from tests.compute.pool_fixtures import ED25519, fast_sim, pool_project, wizard_vip  # noqa: F401
from tests.compute.test_pool_wizard import NODES, step

SUBNETS = [IPv4Network("10.12.40.0/24"), IPv4Network("10.13.7.0/24")]
HOSTS = {"10.12.40.17": "edge-a", "10.13.7.9": "edge-b"}
POOLS = {"10.12.40.200": "acme-research/web"}


def test_a_free_address_inside_a_subnet_is_accepted():
    assert vip_problem("10.12.40.50", SUBNETS, HOSTS, POOLS) == ""
    assert vip_problem(" 10.13.7.250 ", SUBNETS, HOSTS, POOLS) == ""


def test_an_address_outside_the_subnets_is_refused_with_them():
    assert vip_problem("10.20.99.10", SUBNETS, HOSTS, POOLS) == (
        "10.20.99.10 is outside the subnets of the hosts this pool would use (10.12.40.0/24, 10.13.7.0/24): "
        "the hosts reach the cluster's API there, so reserve a free address in one of them."
    )
    assert "outside the subnet of the hosts this pool would use (10.12.40.0/24)" in vip_problem(
        "10.13.7.50", SUBNETS[:1], HOSTS, POOLS
    )
    assert "network address of 10.12.40.0/24" in vip_problem("10.12.40.0", SUBNETS, HOSTS, POOLS)
    assert "broadcast address of 10.12.40.0/24" in vip_problem("10.12.40.255", SUBNETS, HOSTS, POOLS)


def test_a_taken_address_is_refused_naming_who_has_it():
    assert vip_problem("10.12.40.17", SUBNETS, HOSTS, POOLS) == (
        "10.12.40.17 is the address of edge host edge-a: the VIP must be a free address, reserved for the "
        "cluster."
    )
    assert vip_problem("10.12.40.200", SUBNETS, HOSTS, POOLS) == (
        "10.12.40.200 is already the VIP of pool acme-research/web: each cluster needs its own address."
    )


def test_a_malformed_address_is_refused_before_anything_else():
    assert "'10.12.40' is not an IPv4 address" in vip_problem("10.12.40", SUBNETS, HOSTS, POOLS)
    assert "is not an IPv4 address" in vip_problem("10.12.40.300", SUBNETS, HOSTS, POOLS)
    assert "cannot be a cluster endpoint" in vip_problem("127.0.0.1", SUBNETS, HOSTS, POOLS)


def test_without_known_subnets_only_the_taken_addresses_are_checked():
    assert vip_problem("10.20.99.10", [], HOSTS, POOLS) == ""
    assert "edge host edge-a" in vip_problem("10.12.40.17", [], HOSTS, POOLS)


def test_subnets_come_from_the_nics_address_and_netmask():
    assert nic_subnet({"ip": "10.12.40.17", "subnet": "255.255.255.0"}) == IPv4Network("10.12.40.0/24")
    assert nic_subnet({"ip": "10.12.40.17", "subnet": "20"}) == IPv4Network("10.12.32.0/20")
    assert nic_subnet({"ip": "", "subnet": ""}) is None  # an unconfigured NIC
    assert nic_subnet({"ip": "10.12.40.17"}) is None  # stored before discovery kept the netmask
    assert nic_subnet({"ip": "10.12.40.17", "subnet": "nonsense"}) is None
    subnets = host_subnets(
        [
            ("edge-b", [{"ip": "10.13.7.9", "subnet": "255.255.255.0"}]),
            ("edge-a", [{"ip": "10.12.40.17", "subnet": "255.255.255.0"}, {"ip": "", "subnet": ""}]),
            ("edge-c", [{"ip": "10.12.40.18", "subnet": "255.255.255.0"}]),
        ]
    )
    assert subnets == {
        IPv4Network("10.12.40.0/24"): ["edge-a", "edge-c"],
        IPv4Network("10.13.7.0/24"): ["edge-b"],
    }


def _to_network_step(client) -> None:
    for name, data in (
        ("general", {"name": "web-pool"}),
        ("variant", {"variant": "dedicated"}),
        ("bundle", {"bundle": "edge-infra"}),
        ("nodes", NODES),
    ):
        assert client.post(step(name), data).status_code == 302, name


def test_the_network_step_shows_the_chosen_hosts_subnets_and_checks_the_vip(world, pool_project):
    client = world.client_for(world.editor)
    _to_network_step(client)
    page = client.get(step("network")).content.decode()
    shown = re.findall(r'<code class="subnet">([^<]+)</code>', page)
    # The subnet of the host the evaluator picks for the one control-plane node, from the simulator's NICs.
    spec, _errors = _draft_spec(pool_project, draft(SimpleNamespace(session=client.session), pool_project))
    chosen = [uid for uids in evaluate(gather(pool_project, spec)).hosts.values() for uid in uids]
    host = EdgeHost.objects.get(project=pool_project, uid=chosen[0])
    assert shown == [str(nic_subnet(next(n for n in host.nics if n.get("ip"))))]
    assert "The hosts this pool would use are in" in page

    def post(vip: str):
        return client.post(step("network"), {"vip": vip, "ssh_keys": ED25519, "deletion_policy": "delete"})

    outside = post("10.99.0.10").content.decode()
    assert f"10.99.0.10 is outside the subnet of the hosts this pool would use ({shown[0]})" in outside
    assert f"is the address of edge host {host.name}" in post(host.ip).content.decode()
    vip = wizard_vip(client)
    ComputePool.objects.create(project=pool_project, name="other", bundle_name="edge-infra", vip=vip)
    assert f"{vip} is already the VIP of pool acme-research/other" in post(vip).content.decode()
    free = wizard_vip(client)
    assert post(free)["Location"] == step("review")
    # The review checks it again (the hosts, or another pool, may have changed since).
    ComputePool.objects.create(project=pool_project, name="third", bundle_name="edge-infra", vip=free)
    review = client.get(step("review")).content.decode()
    assert f"{free} is already the VIP of pool acme-research/third" in review
    assert 'id="readiness"' not in review
    assert reverse("compute:pool_wizard", args=["acme", "research", "network"]) in review  # the Fix link
