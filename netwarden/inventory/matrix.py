"""The connection matrix: every (zone@site, zone@site, service) and what the flow policy says.

Derived from :class:`~netwarden.inventory.flows.FlowPolicyEngine`, the auditor's
model, so the matrix, the auditor and the rendered firewalls answer from one
policy. Each endpoint is represented by one address of its subnet (the tenth
host, as the compliance pack's representative packets); the ``internet`` zone
by 198.51.100.10 (TEST-NET-2, the namespace lab's internet host). Each port
range of a service is tried at its first and last port.

Examples:
    >>> representative("10.11.30.0/23")
    IPv4Address('10.11.30.10')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.models import EXTERNAL_ZONE, Inventory, Protocol

INTERNET_HOST = IPv4Address("198.51.100.10")
"""The internet zone's representative address (TEST-NET-2, the lab's internet host)."""


def representative(subnet: str | IPv4Network) -> IPv4Address:
    """The address that stands for a zone subnet in the matrix (its tenth host)."""
    net = IPv4Network(subnet)
    return net.network_address + min(10, net.num_addresses - 2)


@dataclass(frozen=True)
class Endpoint:
    """A zone at a site (``site`` None: the internet) and the address standing for it."""

    site: str | None
    zone: str
    address: IPv4Address

    @property
    def label(self) -> str:
        return self.zone if self.site is None else f"{self.site}/{self.zone}"


@dataclass(frozen=True)
class MatrixCell:
    """One (source, destination, service port) and the policy's answer."""

    src: Endpoint
    dst: Endpoint
    service: str
    proto: Protocol
    port: int | None
    allowed: bool
    rule: str | None
    """The id of the policy rule that decided (None: the default)."""
    reason: str

    @property
    def flow(self) -> str:
        port = f"/{self.port}" if self.port is not None else ""
        return f"{self.src.label} -> {self.dst.label} {self.proto.value}{port} ({self.service})"


def endpoints(inv: Inventory, sites: Iterable[str] | None = None) -> list[Endpoint]:
    """Every zone of the chosen sites (all when None), in inventory order, then the internet."""
    names = list(inv.sites) if sites is None else list(sites)
    unknown = [n for n in names if n not in inv.sites]
    if unknown:
        raise KeyError(f"no site {', '.join(unknown)} in {inv.path}; sites: {', '.join(inv.sites)}")
    out = [
        Endpoint(name, zone, representative(zs.subnet))
        for name in names
        for zone, zs in inv.sites[name].zones.items()
    ]
    out.append(Endpoint(None, EXTERNAL_ZONE, INTERNET_HOST))
    return out


def service_probes(inv: Inventory) -> list[tuple[str, Protocol, int | None]]:
    """(service, protocol, port) for every port range of the catalogue: first and last port."""
    out: list[tuple[str, Protocol, int | None]] = []
    for name, svc in inv.services.items():
        for pr in svc.ports:
            if pr.proto is Protocol.ICMP or pr.first is None or pr.last is None:
                out.append((name, pr.proto, None))
                continue
            out.extend((name, pr.proto, port) for port in sorted({pr.first, pr.last}))
    return out


def connection_matrix(
    inv: Inventory,
    sites: Iterable[str] | None = None,
    engine: FlowPolicyEngine | None = None,
) -> list[MatrixCell]:
    """Every (source zone@site, destination zone@site, service port) among ``sites`` and the internet.

    Pairs of the same zone at the same site (which cross no firewall) and the
    internet to itself are left out. ``engine`` is built from ``inv`` unless given.
    """
    policy = engine or FlowPolicyEngine(inv)
    ends = endpoints(inv, sites)
    probes = service_probes(inv)
    cells: list[MatrixCell] = []
    for src in ends:
        for dst in ends:
            if src.zone == dst.zone and src.site == dst.site:
                continue
            for service, proto, port in probes:
                d = policy.decide(src.address, dst.address, proto, port)
                rule = d.rule.id if d.rule is not None else None
                cells.append(MatrixCell(src, dst, service, proto, port, d.allowed, rule, d.reason))
    return cells
