"""Spanning-tree show commands: ``show spanning-tree [vlan N]``, ``root`` and ``summary``.

They print one bridge's view of the fleet's election (:attr:`ShowContext.spanning_tree`,
see :mod:`~netwarden.lab.sim.stpdomain`); a device outside a fleet elects over its own
ports alone (it is the root of each of its VLANs, every port designated). Formats are a
Catalyst's (IOS 15 and IOS XE print them alike; ``summary`` orders its settings per train).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from netwarden.lab.sim.showmodel import ShowContext
from netwarden.lab.sim.shows_util import abbreviate
from netwarden.lab.sim.stp import StpSettings, VlanTree, elect, settings_from
from netwarden.lab.sim.stpbridge import bridge_from_views

logger = logging.getLogger(__name__)

_PROTOCOLS = {"rapid-pvst": "rstp", "mst": "mstp"}
_TIMERS = "Hello Time   2 sec  Max Age 20 sec  Forward Delay 15 sec"


def settings(ctx: ShowContext) -> StpSettings:
    """The global ``spanning-tree`` settings of the running config."""
    return settings_from(
        line
        for line in ctx.running_config.splitlines()
        if line.startswith(("spanning-tree ", "no spanning-tree "))
    )


def trees(ctx: ShowContext) -> Mapping[int, VlanTree]:
    """The device's spanning trees by VLAN: the fleet's, or its own when it is alone."""
    if ctx.spanning_tree is not None:
        return ctx.spanning_tree()
    alone = bridge_from_views(
        ctx.hostname, ctx.base_mac, ctx.interfaces, [v for v, _ in ctx.vlans], settings(ctx)
    )
    return elect([alone], [])[ctx.hostname]


def forwarding(ctx: ShowContext, port: str, vlans: Sequence[int]) -> list[int]:
    """The VLANs of ``vlans`` in which ``port`` forwards (``show interfaces trunk``)."""
    by_vlan = trees(ctx)
    found = []
    for vlan in vlans:
        state = by_vlan[vlan].port(port) if vlan in by_vlan else None
        if state is not None and state.forwarding:
            found.append(vlan)
    return found


def _wanted(args: Sequence[str]) -> tuple[bool, int | None]:
    """(valid, VLAN) of the words after ``show spanning-tree``: nothing or ``vlan N``."""
    words = [w.lower() for w in args]
    if not words:
        return True, None
    if len(words) == 2 and "vlan".startswith(words[0]) and words[1].isdigit():
        return True, int(words[1])
    return False, None


def spanning_tree(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show spanning-tree [vlan N]``: one block per VLAN instance of the device."""
    valid, wanted = _wanted(args)
    if not valid:
        return None
    protocol = _PROTOCOLS.get(settings(ctx).mode, "ieee")
    blocks = [
        _block(tree, protocol)
        for vlan, tree in sorted(trees(ctx).items())
        if wanted is None or vlan == wanted
    ]
    if not blocks:
        if wanted is not None:
            return f"Spanning tree instance(s) for vlan {wanted} does not exist."
        return "No spanning tree instance exists."
    return "\n".join(blocks) + "\n"


def _block(tree: VlanTree, protocol: str) -> str:
    lines = [
        "",
        f"VLAN{tree.vlan:04d}",
        f"  Spanning tree enabled protocol {protocol}",
        f"  Root ID    Priority    {tree.root.priority}",
        f"             Address     {tree.root.mac}",
    ]
    if tree.is_root:
        lines.append("             This bridge is the root")
    else:
        lines += [
            f"             Cost        {tree.root_cost}",
            f"             Port        {tree.root_port_number} ({tree.root_port})",
        ]
    lines += [
        f"             {_TIMERS}",
        "",
        (
            f"  Bridge ID  Priority    {tree.bridge.priority}  "
            f"(priority {tree.bridge.base_priority} sys-id-ext {tree.vlan})"
        ),
        f"             Address     {tree.bridge.mac}",
        f"             {_TIMERS}",
        "             Aging Time  300 sec",
        "",
        "Interface           Role Sts Cost      Prio.Nbr Type",
        "------------------- ---- --- --------- -------- --------------------------------",
    ]
    for port in tree.ports:
        kind = "P2p Edge" if port.edge else "P2p Peer(STP)" if port.peer_stp else "P2p"
        number = f"{port.port_id[0]}.{port.port_id[1]}"
        lines.append(
            f"{abbreviate(port.name):<20}{port.role.value} {port.state} {port.cost:<9} "
            f"{number:<8} {kind}"
        )
    return "\n".join(lines)


def spanning_tree_root(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show spanning-tree root``: the root of each VLAN and the way to it."""
    if args:
        return None
    lines = [
        "                                        Root    Hello Max Fwd",
        "Vlan                   Root ID          Cost    Time  Age Dly  Root Port",
        "---------------- -------------------- --------- ----- --- ---  ------------",
    ]
    for vlan, tree in sorted(trees(ctx).items()):
        port = abbreviate(tree.root_port) if tree.root_port else ""
        lines.append(
            f"{f'VLAN{vlan:04d}':<16} {tree.root.priority:>5} {tree.root.mac} "
            f"{tree.root_cost:>9} {2:>4} {20:>4} {15:>3}  {port}".rstrip()
        )
    return "\n".join(lines)


def _enabled(flag: bool) -> str:
    return "is enabled" if flag else "is disabled"


def spanning_tree_summary(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show spanning-tree summary``: the mode, the VLANs this bridge is root of, port counts."""
    if args:
        return None
    conf = settings(ctx)
    by_vlan = sorted(trees(ctx).items())
    roots = [f"VLAN{vlan:04d}" for vlan, tree in by_vlan if tree.is_root]
    rows = {
        "Extended system ID": _enabled(True),
        "Portfast Default": _enabled(conf.portfast_default),
        "PortFast BPDU Guard Default": _enabled(conf.bpduguard_default),
        "Portfast BPDU Filter Default": _enabled(conf.bpdufilter_default),
        "Loopguard Default": _enabled(conf.loopguard_default),
        "EtherChannel misconfig guard": _enabled(True),
        "": f"Configured Pathcost method used is {'long' if conf.pathcost_long else 'short'}",
        "UplinkFast": _enabled(False),
        "BackboneFast": _enabled(False),
    }
    order, width = list(rows), 29  # IOS 15
    if ctx.image.endswith("packages.conf"):  # IOS XE: the guard first, the path cost last
        order, width = ["EtherChannel misconfig guard", *order[:5], *order[7:], ""], 40
    lines = [
        f"Switch is in {conf.mode} mode",
        f"Root bridge for: {', '.join(roots) if roots else 'none'}",
        *(f"{label:<{width}}{rows[label]}" if label else rows[label] for label in order),
        "",
        "Name                   Blocking Listening Learning Forwarding STP Active",
        "---------------------- -------- --------- -------- ---------- ----------",
    ]
    totals = [0, 0]
    for vlan, tree in by_vlan:
        blocking = sum(not p.forwarding for p in tree.ports)
        active = len(tree.ports)
        totals = [totals[0] + blocking, totals[1] + active]
        lines.append(_count_row(f"VLAN{vlan:04d}", blocking, active))
    lines.append("---------------------- -------- --------- -------- ---------- ----------")
    count = len(by_vlan)
    lines.append(_count_row(f"{count} vlan{'s' if count != 1 else ''}", *totals))
    return "\n".join(lines)


def _count_row(name: str, blocking: int, active: int) -> str:
    return f"{name:<22} {blocking:>8} {0:>9} {0:>8} {active - blocking:>10} {active:>10}"
