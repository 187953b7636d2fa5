"""The flow policy as a decision: may this packet cross from its zone to that one?

Used twice, as DESIGN.md says: to render each firewall's ruleset and as the
traffic auditor's model of what may cross between zones. Addresses map to
(site, zone) through the sites' subnets and the partners' networks (a partner's
LAN is the ``partners`` zone of the site its VPN ends at: it arrives over the
tunnel into that zone); an address outside all of them and outside the private
ranges is the ``internet`` zone. Traffic between a partner's tunnel and the
rest of its zone (the zone's own subnet, another partner) crosses the firewall:
it is no "same zone" flow and the rules decide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, ip_address

import numpy as np
import numpy.typing as npt

from netwarden.inventory.models import EXTERNAL_ZONE, FlowRule, Inventory, Protocol, Site
from netwarden.inventory.partners import PARTNERS_ZONE

_PRIVATE = (
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
    IPv4Network("100.64.0.0/10"),
)
# Outside every subnet, these are "unknown" rather than the internet (place(): private,
# loopback, link-local).
_UNPLANNED = (*_PRIVATE, IPv4Network("127.0.0.0/8"), IPv4Network("169.254.0.0/16"))
NOT_INTERNET = _UNPLANNED
"""Ranges never placed in the ``internet`` zone (with the sites' subnets): private, loopback, link-local."""


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
        self._tunnels: list[tuple[IPv4Network, str]] = []
        for name, partner in sorted(inv.partners.items()):
            self._tunnels += [(net, name) for net in partner.networks]
            at = inv.sites.get(partner.site)
            if at is None or PARTNERS_ZONE not in at.zones:
                continue  # the inventory checks report it
            for net in partner.networks:
                by_len = self._nets.setdefault(net.prefixlen, {})
                by_len.setdefault(int(net.network_address), (at, PARTNERS_ZONE))
        self._lengths = sorted(self._nets, reverse=True)
        self._masks = {n: (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF for n in self._lengths}
        self._ports = {name: svc.ports for name, svc in inv.services.items()}
        # place_many's tables: per prefix length, sorted networks and their (site, zone) indices
        self.site_list: list[Site] = list(inv.sites.values())
        """Sites by the index :meth:`place_many` returns."""
        zones = sorted({z for site in self.site_list for z in site.zones} | {EXTERNAL_ZONE})
        self.zone_names: list[str] = zones
        """Zone names by the index :meth:`place_many` returns."""
        site_at = {id(site): i for i, site in enumerate(self.site_list)}
        zone_at = {z: i for i, z in enumerate(zones)}
        self._vec: list[
            tuple[int, npt.NDArray[np.uint32], npt.NDArray[np.int32], npt.NDArray[np.int32]]
        ] = []
        for n in self._lengths:
            nets = sorted(self._nets[n].items())
            self._vec.append(
                (
                    self._masks[n],
                    np.array([net for net, _ in nets], dtype=np.uint32),
                    np.array([site_at[id(hit[0])] for _, hit in nets], dtype=np.int32),
                    np.array([zone_at[hit[1]] for _, hit in nets], dtype=np.int32),
                )
            )
        self._external = zone_at[EXTERNAL_ZONE]

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

    def tunnel_of(self, address: str | IPv4Address) -> str | None:
        """The partner whose networks hold ``address`` (it arrives over that partner's VPN)."""
        addr = ip_address(address) if isinstance(address, str) else address
        return next((name for net, name in self._tunnels if addr in net), None)

    def place_many(
        self, addresses: npt.NDArray[np.uint32]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        """:meth:`place` for an array of IPv4 addresses (``uint32``, host order), vectorised.

        Returns ``(site_idx, zone_idx)``: indices into :attr:`site_list` and
        :attr:`zone_names`, -1 for no site (the internet, unknown) and for no zone
        (a private address outside the plan). ``placement(s, z)`` turns a pair
        back into a :class:`Placement`.
        """
        addr = np.asarray(addresses, dtype=np.uint32)
        site = np.full(addr.shape, -1, dtype=np.int32)
        zone = np.full(addr.shape, -1, dtype=np.int32)
        todo = np.ones(addr.shape, dtype=np.bool_)
        for mask, nets, sites, zones in self._vec:  # longest prefix first
            masked = addr & np.uint32(mask)
            pos = np.minimum(np.searchsorted(nets, masked), len(nets) - 1)
            hit = todo & (nets[pos] == masked)
            site[hit] = sites[pos[hit]]
            zone[hit] = zones[pos[hit]]
            todo &= ~hit
        special = np.zeros(addr.shape, dtype=np.bool_)
        for net in _UNPLANNED:
            special |= (addr & np.uint32(int(net.netmask))) == np.uint32(int(net.network_address))
        zone[todo & ~special] = self._external
        return site, zone

    def placement(self, site_idx: int, zone_idx: int) -> Placement:
        """The :class:`Placement` of one ``(site_idx, zone_idx)`` pair from :meth:`place_many`."""
        return Placement(
            self.site_list[site_idx] if site_idx >= 0 else None,
            self.zone_names[zone_idx] if zone_idx >= 0 else None,
        )

    def decide(
        self, src: str | IPv4Address, dst: str | IPv4Address, proto: Protocol, port: int | None
    ) -> FlowDecision:
        """Whether the policy allows ``proto``/``port`` from ``src`` to ``dst``."""
        s, d = self.place(src), self.place(dst)
        if s.zone is None or d.zone is None:
            return FlowDecision(False, "address outside the inventory's address plan", s, d)
        # (a partner's tunnel and the rest of its zone: that crosses the firewall)
        if (
            s.zone == d.zone
            and (s.site is d.site or s.zone == EXTERNAL_ZONE)
            and self.tunnel_of(src) == self.tunnel_of(dst)
        ):
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
