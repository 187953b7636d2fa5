"""The spanning tree of a simulated fleet: the election of :mod:`~netwarden.lab.sim.stp`
over the devices' running configs and the links between them.

Every device's ``show spanning-tree`` reads one election, so the fleet tells one story
(A's root port faces B, B's port facing A is designated). The election runs again only
when a device's spanning-tree inputs change: a config change bumps the revision of its
config tree, the device's :class:`~netwarden.lab.sim.stp.Bridge` is read again, and only
a bridge that differs (``spanning-tree`` lines, VLANs, trunk VLANs, a port shut or
opened) triggers a new election.

Locking: the domain has one lock and never takes a device's lock while holding it
(a device's config is read as it is; a change made meanwhile bumps the revision, so
the next call reads it again). A session may therefore ask the domain while it holds
its own device's lock (``spanning-tree vlan N root primary``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence

from netwarden.lab.sim.config import ConfigTree
from netwarden.lab.sim.context import bridge_mac, interface_views, vlan_names
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.shows_util import abbreviate
from netwarden.lab.sim.specs import DeviceSpec
from netwarden.lab.sim.stp import Bridge, Link, VlanTree, elect, settings_from
from netwarden.lab.sim.stpbridge import bridge_from_views

logger = logging.getLogger(__name__)


def bridge_of(device: SimDevice) -> Bridge:
    """The spanning-tree view of a device's running config (named by its inventory name)."""
    interfaces = interface_views(device)
    tree = device.running
    lines = [
        n.text for n in tree.root if n.text.startswith(("spanning-tree ", "no spanning-tree "))
    ]
    return bridge_from_views(
        device.spec.name,
        bridge_mac(device, interfaces),
        interfaces,
        vlan_names(tree),
        settings_from(lines),
    )


def links_of(specs: Sequence[DeviceSpec]) -> list[Link]:
    """The cables between ``specs``: their LLDP/CDP neighbours that are simulated too.

    A neighbour names its port in short form (``Te1/0/2``); the link is kept when that
    port is an interface of the neighbour. Each cable is listed once.
    """
    by_name = {s.name: s for s in specs}
    found: dict[frozenset[tuple[str, str]], Link] = {}
    for spec in specs:
        for neighbor in spec.lldp_neighbors:
            peer = by_name.get(neighbor.remote_hostname)
            if peer is None:
                continue
            port = next(
                (i.name for i in peer.interfaces if abbreviate(i.name) == neighbor.remote_port),
                None,
            )
            if port is None:
                logger.info("%s %s: %s has no port %s; no link", spec.name,
                            neighbor.local_interface, peer.name, neighbor.remote_port)  # fmt: skip
                continue
            ends = ((spec.name, neighbor.local_interface), (peer.name, port))
            found.setdefault(frozenset(ends), Link(*ends))
    return list(found.values())


class StpDomain:
    """The devices of one fleet and the links between them, elected on demand."""

    def __init__(self, devices: Iterable[SimDevice], links: Iterable[Link]) -> None:
        self._devices = {d.spec.name: d for d in devices}
        self._links = tuple(links)
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[ConfigTree, int]] = {}
        self._bridges: dict[str, Bridge] = {}
        self._trees: dict[str, dict[int, VlanTree]] = {}
        self.elections = 0  # how many times the fleet's trees were computed

    @property
    def links(self) -> tuple[Link, ...]:
        return self._links

    def attach(self) -> StpDomain:
        """Make every device of the domain read its spanning tree here."""
        for device in self._devices.values():
            device.stp_source = self
        return self

    def trees(self, bridge: str) -> Mapping[int, VlanTree]:
        """The trees of ``bridge`` (a device name) by VLAN, as of every device's config now."""
        with self._lock:
            changed = False
            for name, device in self._devices.items():
                tree = device.running
                revision = (
                    tree.revision
                )  # read first: a change made while reading is seen next time
                seen = self._seen.get(name)
                if seen is not None and seen[0] is tree and seen[1] == revision:
                    continue
                self._seen[name] = (tree, revision)
                fresh = bridge_of(device)
                if self._bridges.get(name) != fresh:
                    self._bridges[name] = fresh
                    changed = True
            if changed:
                self._trees = elect(list(self._bridges.values()), self._links)
                self.elections += 1
                logger.debug("spanning tree elected again (%d bridges)", len(self._bridges))
            return self._trees.get(bridge, {})
