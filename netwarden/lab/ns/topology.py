"""The lab's topology as data: nodes (namespaces), veth pairs, routes, and what runs where.

Built by :func:`netwarden.lab.ns.plan.plan_lab`, read by ``build.py`` (which creates
it), ``seal.py`` and ``status.py``. Frozen dataclasses: nothing here changes a plan.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network


class NodeKind(StrEnum):
    FABRIC = "fabric"
    FIREWALL = "firewall"
    SERVER = "server"
    SENSOR = "sensor"
    CLIENT = "client"
    WAN = "wan"
    INTERNET = "internet"
    PARTNER = "partner"


@dataclass(frozen=True)
class End:
    """One end of a veth pair: its namespace, name and what is set on it."""

    netns: str
    ifname: str
    addresses: tuple[IPv4Interface, ...] = ()
    bridge: str | None = None
    """Enslave this end to that bridge of its namespace (fabric ends)."""
    capture: bool = False
    """A capture interface: up, no address, no ARP (the sensor's SPAN port)."""


@dataclass(frozen=True)
class Veth:
    """A veth pair; ``node`` is the end inside a node, ``far`` the fabric or WAN end."""

    node: End
    far: End


@dataclass(frozen=True)
class Route:
    """``dst`` (None: default) via ``via`` or straight out of ``dev``; in ``table`` (None: main)."""

    dst: IPv4Network | None
    via: IPv4Address | None = None
    dev: str | None = None
    table: int | None = None


@dataclass(frozen=True)
class Rule:
    """Source routing: traffic from ``src`` looks up ``table`` first."""

    src: IPv4Address
    table: int
    priority: int


@dataclass(frozen=True)
class Node:
    """A network namespace of the lab and everything set inside it except its veths."""

    name: str
    kind: NodeKind
    netns: str
    site: str | None = None
    device: str | None = None
    """The inventory device this node is (firewalls, servers, sensors)."""
    forwarding: bool = False
    strict_rp_filter: bool = False
    bridges: tuple[str, ...] = ()
    local_addresses: tuple[tuple[str, IPv4Interface], ...] = ()
    """Addresses on devices that are not veth ends: ``("br-mgmt", ...)``, ``("lo", ...)``."""
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    spans: tuple[str, ...] = ()
    """Fabric: the ports to which every frame entering a bridge port is mirrored."""


@dataclass(frozen=True)
class HostPlan:
    """A Linux host of the inventory that runs sshd (server, sensor or firewall)."""

    name: str
    kind: NodeKind
    netns: str
    site: str
    addresses: tuple[IPv4Address, ...]
    services: tuple[str, ...]
    site_networks: tuple[IPv4Network, ...]
    ntp_upstreams: tuple[IPv4Address, ...]
    log_host: IPv4Address | None
    dns_servers: tuple[IPv4Address, ...] = ()
    """The organisation's DNS servers (``policy.dns``) other than itself: its resolv.conf."""


@dataclass(frozen=True)
class FirewallPlan:
    """A site firewall: its namespace and the zone each interface faces (``wan`` for WAN)."""

    name: str
    netns: str
    site: str
    zones: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SwitchSite:
    """A site's simulated switches: the fabric namespace they answer in, name and address."""

    site: str
    netns: str
    switches: tuple[tuple[str, IPv4Address], ...]


@dataclass(frozen=True)
class PartnerPlan:
    """A partner's VPN: the server end is its site's firewall, the client end the partner."""

    name: str
    netns: str
    server_ns: str
    server_addr: IPv4Address
    client_ns: str
    client_addr: IPv4Address
    tunnel: IPv4Network
    server_routes: tuple[IPv4Network, ...]
    """Routed by the site's firewall into the tunnel: the partner's networks."""
    client_routes: tuple[IPv4Network, ...]
    """Routed by the partner into the tunnel: its site's partners zone."""
    lan_addresses: tuple[IPv4Address, ...]


@dataclass(frozen=True)
class LabPlan:
    lab_id: str
    prefix: str
    nodes: tuple[Node, ...]
    veths: tuple[Veth, ...]
    hosts: tuple[HostPlan, ...]
    firewalls: tuple[FirewallPlan, ...]
    switch_sites: tuple[SwitchSite, ...]
    partners: tuple[PartnerPlan, ...]
    dns_records: tuple[tuple[str, IPv4Address], ...] = ()
    """``<device>.<org domain>`` -> its service address, for the lab's DNS servers."""
    domain: str = ""
    """The organisation's domain (no trailing dot): LDAP base DN, Kerberos realm."""
    _by_name: dict[str, Node] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({n.name: n for n in self.nodes})

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def namespaces(self) -> tuple[str, ...]:
        return tuple(n.netns for n in self.nodes)

    def ends_in(self, netns: str) -> Iterator[End]:
        """Every veth end inside ``netns``."""
        for veth in self.veths:
            for end in (veth.node, veth.far):
                if end.netns == netns:
                    yield end

    def addresses_of(self, node: Node) -> tuple[IPv4Interface, ...]:
        """Every address the node holds (veth ends and local devices)."""
        on_ends = [a for end in self.ends_in(node.netns) for a in end.addresses]
        return (*on_ends, *(a for _, a in node.local_addresses))

    def mirrored_ports(self, fabric: Node) -> tuple[str, ...]:
        """The ports of ``fabric`` whose ingress is copied to its SPAN ports: every bridge port."""
        return tuple(e.ifname for e in self.ends_in(fabric.netns) if e.bridge is not None)

    def count_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.kind.value] = counts.get(node.kind.value, 0) + 1
        return counts


def lab_id_for(lab_dir: str) -> str:
    """Four hex digits of the lab directory's absolute path: labs in two directories differ.

    Examples:
        >>> lab_id_for("/srv/lab") == lab_id_for("/srv/lab"), len(lab_id_for("/srv/lab"))
        (True, 4)
    """
    return hashlib.sha256(lab_dir.encode()).hexdigest()[:4]


def prefix_for(lab_id: str) -> str:
    return f"nw{lab_id}"
