"""Spanning tree between simulated switches: the per-VLAN election of PVST+ and Rapid PVST+.

Pure data in, pure data out. Each switch is a :class:`Bridge` (its MAC, the settings of its
``spanning-tree`` lines, its switchports that are up and the VLANs each carries); the cables
between switches are :class:`Link` s; :func:`elect` returns, per bridge and VLAN, what its
``show spanning-tree`` prints (a :class:`VlanTree`). The rules are IEEE 802.1D's, which Rapid
PVST+ (802.1w per VLAN) follows for the tree it settles on:

* per VLAN and per connected part of the network, the root bridge has the lowest bridge ID:
  priority plus the VLAN number (the extended system ID), then MAC;
* each other bridge has one root port: the lowest root path cost (the sum of the costs of
  the receiving ports on the way), then the lowest sender bridge ID, the lowest sender port
  ID (priority, number), the lowest own port ID;
* on each link the end with the better (root path cost, bridge ID, port ID) is designated
  and forwards; the other end is its bridge's root port, else an alternate port that blocks
  (a backup port when both ends are on one bridge);
* a port with no spanning-tree neighbour (a host, a firewall, a switch not simulated) is
  designated.

So the active topology of each VLAN is a tree, and every bridge's view of a link agrees with
the view of the bridge at its other end.

Examples:
    >>> a = Bridge("a", "0000.0000.000a", ports=(Port("Gi1/0/1", 1, frozenset({1})),))
    >>> b = Bridge("b", "0000.0000.000b", ports=(Port("Gi1/0/1", 1, frozenset({1})),))
    >>> trees = elect([a, b], [Link(("a", "Gi1/0/1"), ("b", "Gi1/0/1"))])
    >>> trees["a"][1].is_root, trees["b"][1].root_port, trees["b"][1].root_cost
    (True, 'Gi1/0/1', 4)
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

logger = logging.getLogger(__name__)

DEFAULT_PRIORITY = 32768
PRIORITY_STEP = 4096
DEFAULT_PORT_PRIORITY = 128


class Role(StrEnum):
    """Port roles as ``show spanning-tree`` abbreviates them."""

    ROOT = "Root"
    DESIGNATED = "Desg"
    ALTERNATE = "Altn"
    BACKUP = "Back"


@dataclass(frozen=True, order=True)
class BridgeId:
    """Priority (with the VLAN added: extended system ID) and MAC; lower is better."""

    priority: int
    mac: str  # Cisco dotted, lower case: string order is numeric order

    @property
    def base_priority(self) -> int:
        """The configured priority (the multiple of 4096), without the system ID."""
        return self.priority - self.priority % PRIORITY_STEP


@dataclass(frozen=True)
class Port:
    """A switchport that is up, as spanning tree sees it."""

    name: str
    number: int  # the ``Nbr`` of ``Prio.Nbr``
    vlans: frozenset[int]
    cost: int = 4
    priority: int = DEFAULT_PORT_PRIORITY
    edge: bool = False  # portfast

    @property
    def port_id(self) -> tuple[int, int]:
        return (self.priority, self.number)


@dataclass(frozen=True)
class Bridge:
    """One switch: its MAC, its spanning-tree settings and its switchports that are up."""

    name: str
    mac: str
    ports: tuple[Port, ...] = ()
    vlans: frozenset[int] = frozenset({1})  # the VLANs whose instance runs here
    priorities: tuple[tuple[int, int], ...] = ()  # (VLAN, priority) set by the config
    mode: str = "rapid-pvst"  # pvst, rapid-pvst or mst

    def priority(self, vlan: int) -> int:
        return dict(self.priorities).get(vlan, DEFAULT_PRIORITY)

    def bridge_id(self, vlan: int) -> BridgeId:
        return BridgeId(self.priority(vlan) + vlan, self.mac)


@dataclass(frozen=True)
class Link:
    """A cable: ``(bridge name, port name)`` at each end."""

    a: tuple[str, str]
    b: tuple[str, str]


@dataclass(frozen=True)
class PortState:
    """One port of one VLAN's tree, as a row of ``show spanning-tree``."""

    name: str
    role: Role
    cost: int
    port_id: tuple[int, int]
    edge: bool = False
    peer_stp: bool = False  # the neighbour speaks 802.1D (pvst) to our 802.1w: ``Peer(STP)``

    @property
    def forwarding(self) -> bool:
        return self.role in (Role.ROOT, Role.DESIGNATED)

    @property
    def state(self) -> str:
        return "FWD" if self.forwarding else "BLK"


@dataclass(frozen=True)
class VlanTree:
    """One bridge's view of one VLAN's spanning tree."""

    vlan: int
    bridge: BridgeId
    root: BridgeId
    root_cost: int = 0
    root_port: str | None = None
    root_port_number: int = 0
    ports: tuple[PortState, ...] = field(default_factory=tuple)

    @property
    def is_root(self) -> bool:
        return self.root == self.bridge

    def port(self, name: str) -> PortState | None:
        return next((p for p in self.ports if p.name == name), None)


class SpanningTreeSource(Protocol):
    """Where a simulated device reads the trees of its VLANs (the fleet's election)."""

    def trees(self, bridge: str) -> Mapping[int, VlanTree]:
        """Every VLAN instance of ``bridge`` (a device name), by VLAN."""
        ...


# ------------------------------------------------------------------ election
@dataclass
class _Side:
    """One end of a link as a bridge sees it: its own port and the port at the far end."""

    own: Port
    peer: str
    peer_port: Port


def elect(bridges: Sequence[Bridge], links: Iterable[Link]) -> dict[str, dict[int, VlanTree]]:
    """The tree of every VLAN of every bridge: ``{bridge name: {VLAN: VlanTree}}``.

    A link whose end names an unknown bridge or a port that is not up is no link (the
    port at its other end, if up, has no spanning-tree neighbour).
    """
    by_name = {b.name: b for b in bridges}
    ports = {(b.name, p.name): p for b in bridges for p in b.ports}
    wires = [w for w in links if w.a in ports and w.b in ports]
    result: dict[str, dict[int, VlanTree]] = {b.name: {} for b in bridges}
    vlans = sorted({v for b in bridges for p in b.ports for v in p.vlans if v in b.vlans})
    for vlan in vlans:
        members = [b for b in bridges if vlan in b.vlans and any(vlan in p.vlans for p in b.ports)]
        names = {b.name for b in members}
        sides: dict[str, list[_Side]] = {b.name: [] for b in members}
        for wire in wires:
            a, b = ports[wire.a], ports[wire.b]
            if wire.a[0] in names and wire.b[0] in names and vlan in a.vlans and vlan in b.vlans:
                sides[wire.a[0]].append(_Side(a, wire.b[0], b))
                sides[wire.b[0]].append(_Side(b, wire.a[0], a))
        for name, tree in _elect_vlan(vlan, members, sides, by_name).items():
            result[name][vlan] = tree
    return result


def _components(members: Sequence[Bridge], sides: Mapping[str, list[_Side]]) -> list[list[str]]:
    seen: set[str] = set()
    parts: list[list[str]] = []
    for bridge in members:
        if bridge.name in seen:
            continue
        part, todo = [], [bridge.name]
        seen.add(bridge.name)
        while todo:
            name = todo.pop()
            part.append(name)
            for side in sides[name]:
                if side.peer not in seen:
                    seen.add(side.peer)
                    todo.append(side.peer)
        parts.append(part)
    return parts


def _distances(root: str, sides: Mapping[str, list[_Side]]) -> dict[str, int]:
    """Root path cost of each bridge: the costs of the ports that receive on the way."""
    dist = {root: 0}
    heap = [(0, root)]
    while heap:
        cost, name = heapq.heappop(heap)
        if cost > dist[name]:
            continue
        for side in sides[name]:
            through = cost + side.peer_port.cost
            if through < dist.get(side.peer, through + 1):
                dist[side.peer] = through
                heapq.heappush(heap, (through, side.peer))
    return dist


def _elect_vlan(
    vlan: int,
    members: Sequence[Bridge],
    sides: Mapping[str, list[_Side]],
    by_name: Mapping[str, Bridge],
) -> dict[str, VlanTree]:
    ids = {b.name: b.bridge_id(vlan) for b in members}
    trees: dict[str, VlanTree] = {}
    for part in _components(members, sides):
        root = min(part, key=lambda n: ids[n])
        dist = _distances(root, sides)
        for name in part:
            trees[name] = _tree_of(
                vlan, by_name[name], root=root, ids=ids, dist=dist, sides=sides, by_name=by_name
            )
    return trees


def _tree_of(
    vlan: int,
    bridge: Bridge,
    *,
    root: str,
    ids: Mapping[str, BridgeId],
    dist: Mapping[str, int],
    sides: Mapping[str, list[_Side]],
    by_name: Mapping[str, Bridge],
) -> VlanTree:
    me = bridge.name
    mine = [s for s in sides[me] if s.peer != me]
    root_side: _Side | None = None
    if me != root and mine:
        root_side = min(
            mine,
            key=lambda s: (
                dist[s.peer] + s.own.cost,
                ids[s.peer],
                s.peer_port.port_id,
                s.own.port_id,
            ),
        )
    facing = {s.own.name: s for s in sides[me]}
    states: list[PortState] = []
    for port in bridge.ports:
        if vlan not in port.vlans:
            continue
        side = facing.get(port.name)
        role = Role.DESIGNATED
        peer_stp = False
        if side is not None:
            peer_stp = bridge.mode != "pvst" and by_name[side.peer].mode == "pvst"
            if root_side is not None and side is root_side:
                role = Role.ROOT
            elif side.peer == me:  # both ends on this bridge: the lower port ID wins
                role = Role.DESIGNATED if port.port_id < side.peer_port.port_id else Role.BACKUP
            elif (dist[me], ids[me], port.port_id) > (
                dist[side.peer],
                ids[side.peer],
                side.peer_port.port_id,
            ):
                role = Role.ALTERNATE
        states.append(PortState(port.name, role, port.cost, port.port_id, port.edge, peer_stp))
    return VlanTree(
        vlan=vlan,
        bridge=ids[me],
        root=ids[root],
        root_cost=dist[me],
        root_port=root_side.own.name if root_side else None,
        root_port_number=root_side.own.number if root_side else 0,
        ports=tuple(states),
    )


# ------------------------------------------------------------ from a config
@dataclass(frozen=True)
class StpSettings:
    """What the global ``spanning-tree`` lines of a running config set."""

    mode: str = "pvst"  # IOS's default when no ``spanning-tree mode`` line is present
    priorities: tuple[tuple[int, int], ...] = ()  # (VLAN, priority), VLAN order
    disabled: frozenset[int] = frozenset()  # ``no spanning-tree vlan N``
    portfast_default: bool = False
    bpduguard_default: bool = False
    bpdufilter_default: bool = False
    loopguard_default: bool = False
    pathcost_long: bool = False


def settings_from(lines: Iterable[str]) -> StpSettings:
    """Read the top-level ``spanning-tree`` lines (others are ignored).

    Examples:
        >>> s = settings_from(["spanning-tree mode rapid-pvst",
        ...                    "spanning-tree vlan 10,20-21 priority 4096", "no spanning-tree vlan 30"])
        >>> s.mode, s.priorities, sorted(s.disabled)
        ('rapid-pvst', ((10, 4096), (20, 4096), (21, 4096)), [30])
    """
    mode = "pvst"
    priorities: dict[int, int] = {}
    disabled: set[int] = set()
    flags: set[str] = set()
    for line in lines:
        words = line.split()
        negated = words[:1] == ["no"]
        if negated:
            words = words[1:]
        if words[:1] != ["spanning-tree"] or len(words) < 2:
            continue
        rest = [w for w in words[1:] if w != "edge"]  # ``portfast edge default`` (IOS-XE)
        if rest[0] == "mode" and len(rest) > 1 and not negated:
            mode = rest[1]
        elif rest[0] == "vlan" and len(rest) == 2 and negated:
            disabled |= expand_vlans(rest[1])
        elif rest[0] == "vlan" and len(rest) == 4 and rest[2] == "priority" and rest[3].isdigit():
            priorities.update(dict.fromkeys(expand_vlans(rest[1]), int(rest[3])))
        elif not negated and rest[-1:] == ["default"]:
            flags.add(" ".join(rest[:-1]))
        elif not negated and rest == ["pathcost", "method", "long"]:
            flags.add("pathcost long")
    return StpSettings(
        mode=mode,
        priorities=tuple(sorted(priorities.items())),
        disabled=frozenset(disabled),
        portfast_default="portfast" in flags,
        bpduguard_default="portfast bpduguard" in flags,
        bpdufilter_default="portfast bpdufilter" in flags,
        loopguard_default="loopguard" in flags,
        pathcost_long="pathcost long" in flags,
    )


@lru_cache(maxsize=256)
def expand_vlans(ranges: str) -> frozenset[int]:
    """``1-3,10`` -> {1, 2, 3, 10}; ``all`` and ``none`` as IOS reads them.

    Cached: ``show spanning-tree`` asks it for every port and VLAN, and the
    default ``1-4094`` is a set of 4094 VLANs.

    Examples:
        >>> sorted(expand_vlans("1-3,10"))
        [1, 2, 3, 10]
    """
    if ranges.lower() == "all":
        return frozenset(range(1, 4095))
    if ranges.lower() == "none":
        return frozenset()
    found: set[int] = set()
    for part in ranges.split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and (not high or high.isdigit()):
            found.update(range(int(low), int(high or low) + 1))
    return frozenset(found)


def vlan_ranges(vlans: Iterable[int]) -> str:
    """[1, 2, 3, 10] -> ``1-3,10``, as IOS writes a VLAN list.

    Examples:
        >>> vlan_ranges([10, 1, 2, 3]), vlan_ranges([])
        ('1-3,10', 'none')
    """
    parts: list[str] = []
    ordered = sorted(set(vlans))
    start = previous = ordered[0] if ordered else 0
    for vlan in [*ordered[1:], None]:
        if vlan is not None and vlan == previous + 1:
            previous = vlan
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if vlan is not None:
            start = previous = vlan
    return ",".join(parts) if ordered else "none"


def default_cost(speed_mbps: int, *, long: bool = False) -> int:
    """The port cost of a speed: IOS's short method (the default) or the long one.

    Examples:
        >>> default_cost(1000), default_cost(10_000), default_cost(100, long=True)
        (4, 2, 200000)
    """
    if long:
        return max(1, 20_000_000 // max(speed_mbps, 1))
    for floor, cost in ((20_000, 1), (10_000, 2), (1000, 4), (100, 19)):
        if speed_mbps >= floor:
            return cost
    return 100
