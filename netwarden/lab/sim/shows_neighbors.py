"""Neighbour show commands: ARP and LLDP."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from netwarden.lab.sim.showmodel import LldpNeighborView, ShowContext
from netwarden.lab.sim.shows_util import abbreviate, find_interface

_LLDP_HOLD_SECONDS = 120
_LLDP_CODES = """\
Capability codes:
    (R) Router, (B) Bridge, (T) Telephone, (C) DOCSIS Cable Device
    (W) WLAN Access Point, (P) Repeater, (S) Station, (O) Other
"""


def arp(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show arp`` and ``show ip arp``, sorted by address as IOS sorts them."""
    if args:
        return None
    lines = ["Protocol  Address          Age (min)  Hardware Addr   Type   Interface"]
    for entry in sorted(ctx.arp, key=lambda e: ipaddress.IPv4Address(e.address)):
        age = "-" if entry.age_minutes is None else str(entry.age_minutes)
        lines.append(
            f"Internet  {entry.address:<16}{age:>9}   {entry.mac:<14}  ARPA   {entry.interface}"
        )
    return "\n".join(lines)


def lldp(_ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show lldp``: the global LLDP settings."""
    if args:
        return None
    return "\n".join(
        [
            "",
            "Global LLDP Information:",
            "    Status: ACTIVE",
            "    LLDP advertisements are sent every 30 seconds",
            f"    LLDP hold time advertised is {_LLDP_HOLD_SECONDS} seconds",
            "    LLDP interface reinitialisation delay is 2 seconds",
        ]
    )


def _selected(ctx: ShowContext, words: Sequence[str]) -> tuple[LldpNeighborView, ...] | None:
    """The neighbours, all or those on the interface named by ``words`` (None: no such one)."""
    if not words:
        return ctx.lldp_neighbors
    itf = find_interface(ctx, list(words))
    if itf is None:
        return None
    return tuple(n for n in ctx.lldp_neighbors if n.local_interface == itf.name)


def _capabilities(neighbor: LldpNeighborView) -> str:
    return ",".join(neighbor.capabilities)


def _brief(neighbors: Sequence[LldpNeighborView]) -> str:
    lines = [_LLDP_CODES, "Device ID           Local Intf     Hold-time  Capability      Port ID"]
    for n in neighbors:
        lines.append(
            f"{(n.remote_hostname or n.remote_chassis_id)[:20]:<20}"
            f"{abbreviate(n.local_interface):<15}"
            f"{_LLDP_HOLD_SECONDS:<11}{_capabilities(n):<16}{n.remote_port}"
        )
    lines += ["", f"Total entries displayed: {len(neighbors)}"]
    return "\n".join(lines)


def _field(label: str, value: str) -> str:
    return f"{label}: {value}" if value else f"{label} - not advertised"


def _detail(ctx: ShowContext, neighbors: Sequence[LldpNeighborView]) -> str:
    remaining = _LLDP_HOLD_SECONDS - int(ctx.uptime_seconds) % 30
    lines: list[str] = []
    for n in neighbors:
        lines += [
            "------------------------------------------------",
            f"Local Intf: {abbreviate(n.local_interface)}",
            f"Chassis id: {n.remote_chassis_id}",
            f"Port id: {n.remote_port}",
            _field("Port Description", n.remote_port_description),
            _field("System Name", n.remote_hostname),
            "",
        ]
        if n.remote_system_description:
            lines += ["System Description: ", n.remote_system_description, ""]
        else:
            lines += ["System Description - not advertised", ""]
        lines += [
            f"Time remaining: {remaining} seconds",
            _field("System Capabilities", _capabilities(n)),
            _field("Enabled Capabilities", _capabilities(n)),
        ]
        if n.remote_management_address:
            lines += ["Management Addresses:", f"    IP: {n.remote_management_address}"]
        else:
            lines.append("Management Addresses - not advertised")
        lines += [
            "Auto Negotiation - supported, enabled",
            "Physical media capabilities:",
            "    1000baseT(FD)",
            "    100base-TX(FD)",
            "    100base-TX(HD)",
            "    10base-T(FD)",
            "    10base-T(HD)",
            "Media Attachment Unit type: 30",
            "Vlan ID: - not advertised",
            "",
        ]
    lines += ["", f"Total entries displayed: {len(neighbors)}"]
    return "\n".join(lines)


def lldp_neighbors(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show lldp neighbors [INTERFACE [detail]]``."""
    words = list(args)
    detail = len(words) > 1 and "detail".startswith(words[-1].lower())
    if detail:
        words = words[:-1]
    neighbors = _selected(ctx, words)
    if neighbors is None:
        return None
    return _detail(ctx, neighbors) if detail else _brief(neighbors)


def lldp_neighbors_detail(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show lldp neighbors detail``."""
    if args:
        return None
    return _detail(ctx, ctx.lldp_neighbors)
