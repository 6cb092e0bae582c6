"""Which addresses a Palette host may be: the guard that keeps the client from being a port scanner.

A Palette host must be a public address, or inside a network the operator allows (an on-premises
Palette on a private network: ``PALETTE_ALLOWED_NETWORKS``). Refused:

* always, even inside an allowed network: cloud metadata addresses and names (169.254.169.254,
  fd00:ec2::254, 100.100.100.200, metadata.google.internal, ...), unspecified addresses (0.0.0.0/8,
  ``::``, which reach this server itself), multicast and reserved (240.0.0.0/4, broadcast). Someone
  who allows 169.254.0.0/16 for a link-local Palette still does not open the metadata service;
* unless allowed: loopback (127.0.0.0/8, ::1; also the names ``localhost`` and ``*.localhost``),
  link-local (169.254.0.0/16, fe80::/10), private (10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10),
  carrier-grade NAT (100.64.0.0/10) and every other non-public range;
* internal names (Kubernetes services ``*.svc``, ``*.cluster.local``, ``kubernetes.default``,
  private zones ``*.internal``, ``*.local``, ``*.lan``, single-label names) unless every address
  they resolve to is inside an allowed network: being public is not enough for them.

IPv4 written as an integer, in hex or octal, or shortened (``2852039166``, ``0xa9fea9fe``,
``0251.0376.0251.0376``, ``127.1``) is recognised as the address the resolver would make of it, and
IPv6 forms that carry an IPv4 address (``::ffff:a.b.c.d``, ``::a.b.c.d``, NAT64 ``64:ff9b::/96``,
6to4 ``2002::/16``) are judged by that address. A name is judged by every address it resolves to:
one forbidden answer refuses it, as the connection could use any of them.

``check_host`` needs no DNS (a literal address, or a name's own rules); ``resolve_checked`` resolves
and checks, and is what a connection uses right before connecting, so that a name that changed its
answer after it was saved (DNS rebinding) is refused before any packet goes to it.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The setting that names the allowed networks, for messages.
SETTING = "PALETTE_ALLOWED_NETWORKS"
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"

# Instance metadata services (and their relatives that hand out credentials). Azure's WireServer
# (168.63.129.16) sits in public address space, so only this list catches it.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack, ...
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
        "168.63.129.16",  # Azure WireServer
        "169.254.0.23",  # Tencent Cloud
    )
)
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.azure.com",
    }
)
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
INTERNAL_SUFFIXES = (".svc", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")
INTERNAL_NAMES = frozenset({"kubernetes.default"})

_N = ipaddress.ip_network
# (what it is, its networks): refused even inside an allowed network.
_NEVER = (
    ("an unspecified address (it reaches this server itself)", (_N("0.0.0.0/8"), _N("::/128"))),
    ("a multicast address", (_N("224.0.0.0/4"), _N("ff00::/8"))),
    ("a reserved address", (_N("240.0.0.0/4"),)),
)
# (what it is, its networks, the network to suggest allowing): refused unless allowed.
_UNLESS_ALLOWED = (
    ("a loopback address (this server itself)", (_N("127.0.0.0/8"), _N("::1/128")), LOOPBACK_NETWORKS),
    ("a link-local address", (_N("169.254.0.0/16"), _N("fe80::/10")), ""),
    (
        "a private address",
        (_N("10.0.0.0/8"), _N("172.16.0.0/12"), _N("192.168.0.0/16"), _N("fc00::/7"), _N("fec0::/10")),
        "",
    ),
    ("a carrier-grade NAT (shared) address", (_N("100.64.0.0/10"),), ""),
)
_NAT64 = _N("64:ff9b::/96")
_IPV4_COMPATIBLE = _N("::/96")
_NUMERIC_IPV4 = re.compile(r"^[0-9a-fA-FxX.]+$")
PUBLIC_OR_ALLOWED = "Palette must be reached at a public or allowed address."
NEVER_HINT = f" This address is refused even when {SETTING} includes it."


class AddressRefused(ValueError):
    """The host is, or resolves to, an address a Palette client must not connect to; the message says why."""

    def __init__(self, message: str, *, host: str = "", address: str = ""):
        super().__init__(message)
        self.host = host
        self.address = address


def parse_networks(value: str | Iterable[str | Network] | None) -> tuple[Network, ...]:
    """``"10.0.0.0/8, fd00::/8"`` (or a list of CIDRs or networks) as networks; ValueError names a bad entry.

    A bare address means that address alone (/32 or /128); host bits must be zero (``10.1.2.3/8``
    is refused with the network it probably means).
    """
    items = value.split(",") if isinstance(value, str) else list(value or ())
    networks: list[Network] = []
    for item in items:
        if isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            networks.append(item)
            continue
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=True))
        except ValueError:
            try:
                meant = ipaddress.ip_network(text, strict=False)
            except ValueError:
                raise ValueError(
                    f"{text!r} is not a network: use CIDR notation such as 10.0.0.0/8 or fd00::/8, "
                    "comma-separated."
                ) from None
            raise ValueError(f"{text!r} has host bits set: write {meant}.") from None
    return tuple(networks)


def literal_address(host: str) -> IPAddress | None:
    """The address `host` is when it is a literal (IPv6 with or without brackets, IPv4 in any form the
    resolver accepts: dotted, integer, hex, octal, shortened), else None. A zone id is dropped."""
    host = (host or "").strip().strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and _NUMERIC_IPV4.match(host):
        try:
            # getaddrinfo hands such strings to inet_aton, so "2852039166" connects to 169.254.169.254.
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _inside(ip: IPAddress, networks: Iterable[Network]) -> bool:
    return any(ip.version == net.version and ip in net for net in networks)


def _verdict(ip: IPAddress, allowed: tuple[Network, ...]) -> tuple[str, str] | None:
    """(what the address is, what to do) when it is refused, else None."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        inner = _verdict(embedded, allowed)
        return None if inner is None else (f"an IPv6 form of {embedded}, {inner[0]}", inner[1])
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address", NEVER_HINT
    for what, networks in _NEVER:
        if _inside(ip, networks):
            return what, NEVER_HINT
    if _inside(ip, allowed):
        return None
    for what, networks, suggest in _UNLESS_ALLOWED:
        block = next((net for net in networks if ip.version == net.version and ip in net), None)
        if block is None:
            continue
        if suggest == LOOPBACK_NETWORKS:
            return what, (f" Only the bundled simulator runs on this server; for it set {SETTING}={suggest}.")
        return what, f" For an on-premises Palette on a private network set {SETTING}={block}."
    if not ip.is_global:
        single = ipaddress.ip_network(f"{ip}/{ip.max_prefixlen}")
        return (
            "a special-purpose (non-public) address",
            f" If Palette really is there, set {SETTING}={single}.",
        )
    return None


def _clean(ip: IPAddress) -> IPAddress:
    # A zone id ("fe80::1%eth0") would keep the address out of the sets and networks above.
    return ipaddress.ip_address(str(ip).split("%", 1)[0]) if ip.version == 6 else ip


def check_address(address: str | IPAddress, allowed: Iterable[str | Network] = (), *, host: str = "") -> None:
    """Raise AddressRefused unless `address` may be a Palette host; `host` is the name it came from, if
    any."""
    ip = _clean(
        address
        if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address))
        else ipaddress.ip_address(str(address).split("%", 1)[0])
    )
    verdict = _verdict(ip, parse_networks(allowed))
    if verdict is None:
        return
    what, hint = verdict
    literal = literal_address(host) if host else ip
    if literal is None:
        subject = f"{host} resolves to {ip}, {what}"
    elif ip.version == 4 and host and host != str(ip):
        subject = f"{host} (that is {ip}) is {what}"  # integer, hex, octal or shortened IPv4
    else:
        subject = f"{host.strip('[]') if host else ip} is {what}"
    raise AddressRefused(f"{subject}; {PUBLIC_OR_ALLOWED}{hint}", host=host or str(ip), address=str(ip))


def _name(host: str) -> str:
    return (host or "").strip().lower().rstrip(".")


def is_internal_name(host: str) -> bool:
    """True for names that only mean something inside a cluster or a private DNS zone."""
    name = _name(host)
    return "." not in name or name in INTERNAL_NAMES or name.endswith(INTERNAL_SUFFIXES)


def check_host(host: str, allowed: Iterable[str | Network] = ()) -> None:
    """The checks that need no DNS: a literal address, a metadata, loopback or internal name.

    A name that passes may still be refused by ``resolve_checked`` for what it resolves to.
    """
    allowed = parse_networks(allowed)
    ip = literal_address(host)
    if ip is not None:
        check_address(ip, allowed, host=host)
        return
    name = _name(host)
    if name in METADATA_NAMES:
        raise AddressRefused(
            f"{host} is a cloud metadata service; {PUBLIC_OR_ALLOWED} This name is refused "
            f"whatever {SETTING} says.",
            host=host,
        )
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        if not (
            _inside(ipaddress.ip_address("127.0.0.1"), allowed)
            or _inside(ipaddress.ip_address("::1"), allowed)
        ):
            raise AddressRefused(
                f"{host} is this server itself (loopback); {PUBLIC_OR_ALLOWED} Only the bundled simulator "
                f"runs on this server; for it set {SETTING}={LOOPBACK_NETWORKS}.",
                host=host,
            )
        return
    if is_internal_name(host) and not allowed:
        raise AddressRefused(
            f"{host} is an internal name (a cluster service or a private DNS zone); {PUBLIC_OR_ALLOWED} "
            f"For an on-premises Palette on a private network set {SETTING} to the network that holds it "
            "(e.g. 10.0.0.0/8).",
            host=host,
        )


def resolve_checked(
    host: str, port: int, allowed: Iterable[str | Network] = (), *, family: int = socket.AF_UNSPEC
) -> list[str]:
    """Resolve `host` and return its addresses (in the resolver's order) if every one may be connected to.

    Raises AddressRefused (with the reason) for a forbidden host or answer, and ``socket.gaierror``
    when the name does not resolve. Connect only to the returned addresses, never to the name again:
    a second lookup could answer differently.
    """
    allowed = parse_networks(allowed)
    check_host(host, allowed)
    internal = literal_address(host) is None and is_internal_name(host)
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host.strip("[]"), port, family, socket.SOCK_STREAM):
        address = str(sockaddr[0])
        ip = _clean(ipaddress.ip_address(address.split("%", 1)[0]))
        check_address(ip, allowed, host=host)
        if internal and not _inside(_embedded_ipv4(ip) or ip, allowed):
            raise AddressRefused(
                f"{host} is an internal name (a cluster service or a private DNS zone) and resolves to {ip}, "
                f"outside {SETTING}; internal names are admitted only inside the allowed networks.",
                host=host,
                address=str(ip),
            )
        if address not in found:
            found.append(address)
    if not found:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} has no addresses")
    return found
