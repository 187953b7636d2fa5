"""A switch's spanning-tree inputs (:class:`~netwarden.lab.sim.stp.Bridge`) from what its
show commands see: its interfaces, its VLANs and its global ``spanning-tree`` lines.

Used for the fleet's election (:mod:`~netwarden.lab.sim.stpdomain`) and for a device
alone (:mod:`~netwarden.lab.sim.shows_stp`), so both read a config the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from netwarden.lab.sim.showmodel import InterfaceView
from netwarden.lab.sim.stp import Bridge, Port, StpSettings, default_cost, expand_vlans

logger = logging.getLogger(__name__)


def carried_vlans(itf: InterfaceView, vlans: Iterable[int]) -> list[int]:
    """The VLANs of ``vlans`` a switchport carries (its access VLAN, or the trunk's allowed ones)."""
    if itf.switchport_mode == "access":
        access = itf.access_vlan or 1
        return [v for v in vlans if v == access]
    if itf.switchport_mode == "trunk":
        allowed = expand_vlans(itf.trunk_allowed)
        return [v for v in vlans if v in allowed]
    return []


def is_edge(itf: InterfaceView, settings: StpSettings) -> bool:
    """PortFast: ``spanning-tree portfast`` on an access port (or the global default),
    ``spanning-tree portfast trunk`` on a trunk."""
    if itf.switchport_mode == "trunk":
        return itf.portfast == "trunk"
    return itf.portfast in ("edge", "trunk") or (itf.portfast == "" and settings.portfast_default)


def bridge_from_views(
    name: str,
    mac: str,
    interfaces: Sequence[InterfaceView],
    vlans: Iterable[int],
    settings: StpSettings,
) -> Bridge:
    """A :class:`Bridge` from a device's interfaces (port numbers: their position, from 1).

    Ports are the switchports that are up, outside a channel group, carrying a VLAN
    whose instance runs (the VLAN exists and ``no spanning-tree vlan`` does not stop it).
    """
    running = frozenset(v for v in vlans if v not in settings.disabled)
    ports: list[Port] = []
    for number, itf in enumerate(interfaces, start=1):
        if itf.shutdown or not itf.line_protocol_up or itf.channel_group is not None:
            continue
        carried = frozenset(carried_vlans(itf, sorted(running)))
        if not carried:
            continue
        cost = itf.stp_cost or default_cost(itf.speed_mbps, long=settings.pathcost_long)
        ports.append(
            Port(itf.name, number, carried, cost, itf.stp_port_priority, is_edge(itf, settings))
        )
    return Bridge(
        name=name,
        mac=mac.lower(),
        ports=tuple(ports),
        vlans=running,
        priorities=settings.priorities,
        mode=settings.mode,
    )
