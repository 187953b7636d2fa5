"""``rogue_dhcp``: DHCP offers/acks/naks from a server the configuration does not name.

The inventory has no DHCP servers yet, so the allowed servers come from this
detector's ``servers`` setting (organisation-wide, overridden per site), plus
inventory devices that ``provide: [dhcp]``, plus the site firewall's gateway
addresses (the firewall serves DHCP on its zones or relays it). Relays: a relay forwards the real
server's offer from its own address, so a message is allowed when its server
identifier (option 54) is an allowed server *and* its IP source is an allowed
server or relay; the relays are the ``relays`` setting plus the site firewall's
gateway addresses (the firewall holds every zone's gateway and is where
``ip helper``/``dhcrelay`` runs).

With no allowed server configured every server is reported (medium: "none
configured"); with a list, a server outside it is high. One incident per
(server identifier, server MAC); the evidence counts message types, source
addresses and clients (a flood from one MAC on hundreds of addresses is one
incident).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._dhcp import bootp_fields
from collectors.auditor.detectors._util import group_rows, ip_str, mac_str, sorted_in, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

SERVER_MESSAGES = {2: "offer", 5: "ack", 6: "nak"}
_SERVER_TYPES = np.array(sorted(SERVER_MESSAGES))


class RogueDhcpSettings(DetectorSettings):
    servers: list[IPv4Address] = Field(default_factory=list)
    relays: list[IPv4Address] = Field(default_factory=list)
    use_inventory_gateways: bool = True


@dataclass
class _Server:
    first: float
    last: float = 0.0
    count: int = 0
    types: Counter[str] = field(default_factory=Counter)
    senders: set[int] = field(default_factory=set)
    clients: set[int] = field(default_factory=set)
    relays: set[int] = field(default_factory=set)


def _add_bounded(target: set[int], values: list[int], bound: int) -> None:
    """Add ``values`` in order while ``target`` has fewer than ``bound`` members."""
    if len(target) + len(values) <= bound:
        target.update(values)
        return
    for x in values:
        if len(target) >= bound:
            return
        target.add(x)


@register
class RogueDhcp:
    name: ClassVar[str] = "rogue_dhcp"
    Settings: ClassVar[type[DetectorSettings]] = RogueDhcpSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: RogueDhcpSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.servers = {int(a) for a in settings.servers}
        self.relays = {int(a) for a in settings.relays}
        inv = ctx.inventory
        if inv is not None:
            for dev in inv.devices.values():
                if "dhcp" in dev.provides and (ctx.site is None or dev.site == ctx.site):
                    self.servers |= {int(a) for _, a in dev.addresses()}
            if settings.use_inventory_gateways:
                sites = [inv.sites[ctx.site]] if ctx.site in inv.sites else list(inv.sites.values())
                for site in sites:
                    gateways = {int(z.gateway) for z in site.zones.values()}
                    self.relays |= gateways
                    self.servers |= gateways
        self.configured = bool(self.servers)
        self._servers = np.array(sorted(self.servers), dtype=np.int64)
        self._relays = np.array(sorted(self.relays), dtype=np.int64)
        self.seen: dict[tuple[int, int], _Server] = {}

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        mask = (
            v.udp & (v.sport == 67) & ((v.dport == 67) | (v.dport == 68)) & (v.payload_len >= 240)
        )
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return
        msg = bootp_fields(batch, rows)
        server_msg = msg.ok & (msg.op == 2) & np.isin(msg.mtype, _SERVER_TYPES)
        if not server_msg.any():
            return
        keep = np.flatnonzero(server_msg)
        rows = rows[keep]
        sender = v.src4[rows].astype(np.int64)
        server = np.where(msg.server[keep] >= 0, msg.server[keep], sender)
        mac = batch.packets["src_mac"][rows]
        ts, mtype, giaddr, chaddr = v.ts[rows], msg.mtype[keep], msg.giaddr[keep], msg.chaddr[keep]
        if self.configured:
            allowed = sorted_in(server, self._servers) & (
                sorted_in(sender, self._servers) | sorted_in(sender, self._relays)
            )
            if allowed.all():
                return
            left = np.flatnonzero(~allowed)
            sender, server, mac = sender[left], server[left], mac[left]
            ts, mtype, giaddr, chaddr = ts[left], mtype[left], giaddr[left], chaddr[left]
        # one (server, MAC) at a time, in order of its first message; its messages in order
        first, inv, n = group_rows(server.astype(np.uint64), mac.astype(np.uint64))
        order = np.argsort(inv, kind="stable")
        ends = np.cumsum(np.bincount(inv, minlength=n)).tolist()
        ts_l, mtype_l, sender_l, chaddr_l, giaddr_l = (
            a[order].tolist() for a in (ts, mtype, sender, chaddr, giaddr)
        )
        server_l, mac_l = server[first].tolist(), mac[first].tolist()
        touched: set[tuple[int, int]] = set()
        for g in np.argsort(first, kind="stable").tolist():
            key = (server_l[g], mac_l[g])
            lo, hi = ends[g - 1] if g else 0, ends[g]
            st = self.seen.get(key)
            if st is None:
                if len(self.seen) >= 10_000:
                    continue  # bounded; 10,000 distinct rogue servers is already the story
                st = self.seen[key] = _Server(first=ts_l[lo])
            st.last = max(st.last, *ts_l[lo:hi])
            st.count += hi - lo
            for t in mtype_l[lo:hi]:  # (in order: the evidence lists types as first seen)
                st.types[SERVER_MESSAGES[t]] += 1
            _add_bounded(st.senders, sender_l[lo:hi], 4096)
            _add_bounded(st.clients, chaddr_l[lo:hi], 4096)
            st.relays.update(a for a in giaddr_l[lo:hi] if a)
            touched.add(key)
        for key in touched:
            self._report(key, self.seen[key])

    def _report(self, key: tuple[int, int], st: _Server) -> None:
        server, mac = ip_str(key[0]), mac_str(key[1])
        severity = Severity.HIGH if self.configured else Severity.MEDIUM
        why = (
            "not an allowed DHCP server or relay"
            if self.configured
            else "no DHCP servers are configured for this site (auditor.sites.<site>.rogue_dhcp.servers)"
        )
        self.ctx.report(
            self.name,
            (server, mac),
            ts=st.last,
            first_seen=st.first,
            severity=severity,
            src=server,
            count=st.count,
            summary=f"DHCP server {server} ({mac}) answered {len(st.clients)} client(s) from "
            f"{len(st.senders)} address(es): {why}",
            evidence={
                "server_id": server,
                "mac": mac,
                "messages": dict(sorted(st.types.items())),
                "source_addresses": len(st.senders),
                "source_sample": [ip_str(a) for a in sorted(st.senders)[:10]],
                "clients": len(st.clients),
                "relays": [ip_str(a) for a in sorted(st.relays)[:10]],
                "configured": self.configured,
            },
        )

    def expire(self, now: float) -> None:
        horizon = now - 3600.0
        for key in [k for k, st in self.seen.items() if st.last < horizon]:
            del self.seen[key]
