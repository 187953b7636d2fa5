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
from collectors.auditor.detectors._util import ip_str, mac_str, view
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
        p = batch.packets
        touched: set[tuple[int, int]] = set()
        for sender, mac, ts, mtype, giaddr, server_id, chaddr in zip(
            v.src4[rows].tolist(),
            p["src_mac"][rows].tolist(),
            v.ts[rows].tolist(),
            msg.mtype[keep].tolist(),
            msg.giaddr[keep].tolist(),
            msg.server[keep].tolist(),
            msg.chaddr[keep].tolist(),
            strict=True,
        ):
            server = server_id if server_id >= 0 else sender
            if (
                self.configured
                and server in self.servers
                and (sender in self.servers or sender in self.relays)
            ):
                continue
            key = (server, mac)
            st = self.seen.get(key)
            if st is None:
                if len(self.seen) >= 10_000:
                    continue  # bounded; 10,000 distinct rogue servers is already the story
                st = self.seen[key] = _Server(first=ts)
            st.last = max(st.last, ts)
            st.count += 1
            st.types[SERVER_MESSAGES[mtype]] += 1
            if len(st.senders) < 4096:
                st.senders.add(sender)
            if len(st.clients) < 4096:
                st.clients.add(chaddr)
            if giaddr:
                st.relays.add(giaddr)
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
