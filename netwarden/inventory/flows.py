"""The flow policy as a decision: may this packet cross from its zone to that one?

Used twice, as DESIGN.md says: to render each firewall's ruleset and as the
traffic auditor's model of what may cross between zones. Addresses map to
(site, zone) through the sites' subnets; an address outside every subnet and
outside the private ranges is the ``internet`` zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address

from netwarden.inventory.models import EXTERNAL_ZONE, FlowRule, Inventory, Protocol, Site

_PRIVATE = (
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
    IPv4Network("100.64.0.0/10"),
)


@dataclass(frozen=True)
class Placement:
    """Where an address lives: a site and zone, ``internet``, or unknown (private, unplanned)."""

    site: Site | None
    zone: str | None

    @property
    def label(self) -> str:
        if self.zone is None:
            return "unknown"
        return self.zone if self.site is None else f"{self.site.name}/{self.zone}"


@dataclass(frozen=True)
class FlowDecision:
    allowed: bool
    reason: str
    src: Placement
    dst: Placement
    rule: FlowRule | None = None


class FlowPolicyEngine:
    """Answers flow questions for one inventory; build once, ask many times."""

    def __init__(self, inv: Inventory) -> None:
        self.inv = inv
        self._nets: dict[int, dict[int, tuple[Site, str]]] = {}
        for site in inv.sites.values():
            for zone, zs in site.zones.items():
                by_len = self._nets.setdefault(zs.subnet.prefixlen, {})
                by_len[int(zs.subnet.network_address)] = (site, zone)
        self._lengths = sorted(self._nets, reverse=True)
        self._masks = {n: (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in self._lengths}
        self._ports = {name: svc.ports for name, svc in inv.services.items()}

    def place(self, address: str | IPv4Address) -> Placement:
        """The site and zone of an address (longest prefix wins)."""
        addr = ip_address(address) if isinstance(address, str) else address
        if not isinstance(addr, IPv4Address):
            return Placement(None, None)
        value = int(addr)
        for n in self._lengths:
            hit = self._nets[n].get(value & self._masks[n])
            if hit is not None:
                return Placement(hit[0], hit[1])
        if any(addr in net for net in _PRIVATE) or addr.is_loopback or addr.is_link_local:
            return Placement(None, None)
        return Placement(None, EXTERNAL_ZONE)

    def decide(
        self, src: str | IPv4Address, dst: str | IPv4Address, proto: Protocol, port: int | None
    ) -> FlowDecision:
        """Whether the policy allows ``proto``/``port`` from ``src`` to ``dst``."""
        s, d = self.place(src), self.place(dst)
        if s.zone is None or d.zone is None:
            return FlowDecision(False, "address outside the inventory's address plan", s, d)
        if s.zone == d.zone and (s.site is d.site or s.zone == EXTERNAL_ZONE):
            return FlowDecision(True, "same zone (does not cross the firewall)", s, d)
        for rule in self.inv.flow_policy.rules:
            if not (rule.src_.zone == s.zone and rule.dst.zone == d.zone):
                continue
            if not rule.src_.matches_site(s.site, None) or not rule.dst.matches_site(
                d.site, s.site
            ):
                continue
            if any(
                pr.contains(proto, port) for svc in rule.services for pr in self._ports.get(svc, ())
            ):
                allowed = rule.action == "allow"
                return FlowDecision(allowed, f"rule {rule.id}", s, d, rule)
        return FlowDecision(False, f"default {self.inv.flow_policy.default}", s, d)
