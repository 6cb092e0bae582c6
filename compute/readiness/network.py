"""The hosts' subnets and the VIP check of the pool wizard's Network step (pure: no database, no Palette).

Discovery stores each host's NICs as Palette reports them (`ip`, and `subnet` as a netmask such as
255.255.255.0 or a prefix length); a NIC without both tells nothing about its network. The VIP must be a
usable IPv4 address (compute.spec.validate_vip) inside one of the subnets of the hosts the pool would use,
neither a subnet's network or broadcast address, nor a known host's address, nor another pool's VIP.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network

from django.core.exceptions import ValidationError
from django.template.defaultfilters import pluralize

from ..spec import validate_vip


def nic_subnet(nic: dict) -> IPv4Network | None:
    """The IPv4 network of one stored NIC, or None when it has no usable address and netmask."""
    ip, mask = str(nic.get("ip") or "").strip(), str(nic.get("subnet") or "").strip()
    if not ip or not mask:
        return None
    try:
        network = IPv4Network(f"{ip}/{mask.lstrip('/')}", strict=False)
    except ValueError:
        return None
    return network if network.prefixlen < 32 else None


def host_subnets(hosts: Iterable[tuple[str, list]]) -> dict[IPv4Network, list[str]]:
    """Subnet → the names of the hosts with a NIC in it, for (host name, stored NICs) pairs; in address
    order."""
    found: dict[IPv4Network, list[str]] = {}
    for name, nics in hosts:
        for nic in nics or ():
            network = nic_subnet(nic) if isinstance(nic, dict) else None
            if network is not None and name not in found.setdefault(network, []):
                found[network].append(name)
    return dict(sorted(found.items(), key=lambda item: (item[0].network_address, item[0].prefixlen)))


def vip_problem(
    vip: str,
    subnets: Iterable[IPv4Network],
    host_addresses: dict[str, str],
    pool_vips: dict[str, str],
) -> str:
    """Why `vip` cannot be the cluster's endpoint ("" when it can).

    `subnets`: the networks of the hosts the pool would use (empty when they report none: then the subnet is
    not checked); `host_addresses`: address → host name, for every known host; `pool_vips`: VIP → the pool
    holding it.
    """
    try:
        address = IPv4Address(validate_vip(vip))
    except ValidationError as exc:
        return " ".join(exc.messages)
    text = str(address)
    if text in pool_vips:
        return f"{text} is already the VIP of pool {pool_vips[text]}: each cluster needs its own address."
    if text in host_addresses:
        return (
            f"{text} is the address of edge host {host_addresses[text]}: the VIP must be a free address, "
            "reserved for the cluster."
        )
    subnets = list(subnets)
    if not subnets:
        return ""
    listed = ", ".join(str(s) for s in subnets)
    inside = next((s for s in subnets if address in s), None)
    if inside is None:
        return (
            f"{text} is outside the subnet{pluralize(len(subnets))} of the hosts this pool would use "
            f"({listed}): the hosts reach the cluster's API there, so reserve a free address in "
            f"{'one of them' if len(subnets) > 1 else 'it'}."
        )
    if address in (inside.network_address, inside.broadcast_address):
        which = "network" if address == inside.network_address else "broadcast"
        return f"{text} is the {which} address of {inside}: pick a free host address inside it."
    return ""
