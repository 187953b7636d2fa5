"""CDP show commands and ``show lldp interface``.

CDP is on by default on IOS, so every neighbour the simulated device has (the
fleet's topology, :attr:`ShowContext.lldp_neighbors`) is also a CDP neighbour, on
the same ports: LLDP and CDP tell one story, as on a real switch with both on.
``no cdp run`` (global) and ``no cdp enable`` / ``no lldp transmit`` (per port)
in the config silence them.
"""

from __future__ import annotations

from collections.abc import Sequence

from netwarden.lab.sim.showmodel import LldpNeighborView, ShowContext
from netwarden.lab.sim.shows_util import (
    config_lines,
    find_interface,
    full_name,
    kind_of,
    split_name,
)

_HOLD = 150
_CODES = """\
Capability Codes: R - Router, T - Trans Bridge, B - Source Route Bridge
                  S - Switch, H - Host, I - IGMP, r - Repeater, P - Phone,
                  D - Remote, C - CVTA, M - Two-port Mac Relay
"""
_LETTERS = {"R": ("R", "Router"), "B": ("S", "Switch"), "T": ("P", "Phone"), "S": ("H", "Host")}


def cdp_running(ctx: ShowContext) -> bool:
    return not config_lines(ctx.running_config, r"no cdp run$")


def _cdp_port(name: str) -> str:
    """CDP's brief form of a port: ``Gig 1/0/1``, ``Ten 1/1/1``."""
    full = full_name(name)
    kind, number = split_name(full)
    return f"{kind[:3]} {number}" if number else full


def _capabilities(neighbor: LldpNeighborView) -> list[tuple[str, str]]:
    found = [_LETTERS[c] for c in neighbor.capabilities if c in _LETTERS]
    return [*found, ("I", "IGMP")] if found else [("S", "Switch")]


def _device_id(neighbor: LldpNeighborView, ctx: ShowContext) -> str:
    name = neighbor.remote_hostname or neighbor.remote_chassis_id
    return f"{name}.{ctx.domain_name}" if ctx.domain_name and "." not in name else name


def _platform(neighbor: LldpNeighborView) -> str:
    return neighbor.remote_platform or "WS-C3750X-24P"


def neighbors_of(ctx: ShowContext) -> tuple[LldpNeighborView, ...]:
    """The CDP neighbours: all of the topology unless CDP is off globally or on the port."""
    if not cdp_running(ctx):
        return ()
    silenced = _ports_with(ctx, "no cdp enable")
    return tuple(n for n in ctx.lldp_neighbors if n.local_interface not in silenced)


def _ports_with(ctx: ShowContext, setting: str) -> set[str]:
    ports: set[str] = set()
    current = ""
    for line in ctx.running_config.splitlines():
        if line.startswith("interface "):
            current = line.split(None, 1)[1]
        elif not line.startswith(" "):
            current = ""
        elif current and line.strip() == setting:
            ports.add(current)
    return ports


def cdp(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show cdp``: the global CDP settings."""
    if args:
        return None
    if not cdp_running(ctx):
        return "% CDP is not enabled"
    return "\n".join(
        [
            "Global CDP information:",
            "\tSending CDP packets every 60 seconds",
            f"\tSending a holdtime value of {_HOLD + 30} seconds",
            "\tSending CDPv2 advertisements is  enabled",
        ]
    )


def cdp_neighbors(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show cdp neighbors [INTERFACE] [detail]``."""
    words = list(args)
    if words and "detail".startswith(words[-1].lower()) and len(words[-1]) > 1:
        return cdp_neighbors_detail(ctx, words[:-1])
    if not cdp_running(ctx):
        return "% CDP is not enabled"
    neighbors = _selected(ctx, words)
    if neighbors is None:
        return None
    lines = [_CODES, "Device ID        Local Intrfce     Holdtme    Capability  Platform  Port ID"]
    for n in neighbors:
        device_id = _device_id(n, ctx)
        letters = " ".join(letter for letter, _ in _capabilities(n))
        row = (
            f"{_cdp_port(n.local_interface):<18}{_HOLD:<11}{letters:>10}  "
            f"{_platform(n)[:9]:<10}{_cdp_port(n.remote_port)}"
        )
        if len(device_id) > 16:
            lines += [device_id, " " * 17 + row]
        else:
            lines.append(f"{device_id:<17}{row}")
    lines += ["", f"Total cdp entries displayed : {len(neighbors)}"]
    return "\n".join(lines)


def _selected(ctx: ShowContext, words: Sequence[str]) -> tuple[LldpNeighborView, ...] | None:
    neighbors = neighbors_of(ctx)
    if not words:
        return neighbors
    itf = find_interface(ctx, list(words))
    if itf is None:
        return None
    return tuple(n for n in neighbors if n.local_interface == itf.name)


def cdp_neighbors_detail(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show cdp neighbors detail``: one block per neighbour, as IOS 15 prints it."""
    if not cdp_running(ctx):
        return "% CDP is not enabled"
    neighbors = _selected(ctx, args)
    if neighbors is None:
        return None
    lines: list[str] = []
    for n in neighbors:
        address = n.remote_management_address
        entry = ["Entry address(es): ", f"  IP address: {address}"] if address else []
        caps = " ".join(word for _, word in _capabilities(n))
        lines += [
            "-------------------------",
            f"Device ID: {_device_id(n, ctx)}",
            *entry,
            f"Platform: cisco {_platform(n)},  Capabilities: {caps} ",
            f"Interface: {n.local_interface},  Port ID (outgoing port): {full_name(n.remote_port)}",
            f"Holdtime : {_HOLD} sec",
            "",
            "Version :",
            n.remote_system_description or "Cisco IOS Software",
            "",
            "advertisement version: 2",
            "VTP Management Domain: ''",
            "Native VLAN: 1",
            "Duplex: full",
        ]
        if address:
            lines += ["Management address(es): ", f"  IP address: {address}"]
        lines.append("")
    lines += ["", f"Total cdp entries displayed : {len(neighbors)}"]
    return "\n".join(lines)


def lldp_interface(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show lldp interface [NAME]``: transmit and receive on every physical port."""
    if args:
        itf = find_interface(ctx, list(args))
        if itf is None:
            return None
        ports = [itf]
    else:
        ports = [i for i in ctx.interfaces if kind_of(i.name).physical]
    no_tx = _ports_with(ctx, "no lldp transmit")
    no_rx = _ports_with(ctx, "no lldp receive")
    lines = [""]
    for itf in ports:
        state = "UP" if itf.line_protocol_up and not itf.shutdown else "DOWN"
        lines += [
            f"{itf.name}:",
            f"    Tx: {'disabled' if itf.name in no_tx else 'enabled'}",
            f"    Rx: {'disabled' if itf.name in no_rx else 'enabled'}",
            f"    Tx state: {'IDLE' if state == 'UP' else 'INIT'}",
            f"    Rx state: {'WAIT FOR FRAME' if state == 'UP' else 'INIT'}",
            "",
        ]
    return "\n".join(lines)
