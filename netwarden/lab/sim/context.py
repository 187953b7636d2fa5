"""Build the :class:`ShowContext` that show renderers draw from a device's state."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from netwarden.lab.sim import portchannel
from netwarden.lab.sim.config import ConfigNode, ConfigTree
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.showmodel import (
    ArpEntryView,
    InterfaceCounters,
    InterfaceView,
    SessionView,
    ShowContext,
    UserView,
)
from netwarden.lab.sim.specs import chassis_mac, mac_for

logger = logging.getLogger(__name__)


def _prefix_len(mask: str) -> int:
    try:
        return sum(bin(int(part)).count("1") for part in mask.split("."))
    except ValueError:
        return 32


def _counters(name: str, seconds: float) -> InterfaceCounters:
    """Counters that grow with the time the link has been up, at a per-port rate."""
    seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    pps_in = 5 + seed % 200
    pps_out = 3 + (seed >> 8) % 150
    size = 200 + (seed >> 16) % 900
    rx = int(pps_in * seconds)
    tx = int(pps_out * seconds)
    return InterfaceCounters(
        rx_packets=rx,
        tx_packets=tx,
        rx_bytes=rx * size,
        tx_bytes=tx * size,
        rx_broadcast=rx // 50,
        tx_broadcast=tx // 60,
        rx_multicast=rx // 20,
        tx_multicast=tx // 25,
        rx_errors=rx // 1_000_000,
        tx_errors=0,
        rx_discards=rx // 500_000,
        tx_discards=0,
    )


def interface_views(device: SimDevice) -> tuple[InterfaceView, ...]:
    spec_by_name = {i.name: i for i in device.spec.interfaces}
    uptime = device.uptime_offset + device.clock.elapsed()
    views: list[InterfaceView] = []
    for index, node in enumerate(n for n in device.running.root if n.text.startswith("interface ")):
        name = node.text.split(None, 1)[1]
        spec = spec_by_name.get(name)
        children = [c.text for c in node.children]
        shutdown = "shutdown" in children
        connected = spec.connected if spec is not None else True
        up = connected and not shutdown
        ipv4: list[tuple[str, int]] = []
        description = ""
        mode: str | None = None
        access_vlan: int | None = None
        mtu = 1500
        extra = _extra_fields(node)
        for child in node.children:
            words = child.words()
            if words[:2] == ["ip", "address"] and len(words) >= 4:
                pair = (words[2], _prefix_len(words[3]))
                if words[-1] == "secondary":
                    ipv4.append(pair)
                else:
                    ipv4.insert(0, pair)
            elif words[0] == "description":
                description = child.text.split(None, 1)[1] if len(words) > 1 else ""
            elif words[:2] == ["switchport", "mode"] and len(words) > 2:
                mode = words[2]
            elif words[:3] == ["switchport", "access", "vlan"] and len(words) > 3:
                access_vlan = int(words[3]) if words[3].isdigit() else None
            elif words[0] == "mtu" and len(words) > 1 and words[1].isdigit():
                mtu = int(words[1])
        loopback = name.startswith("Loopback")
        routed = "no switchport" in children or not name.startswith(_SWITCHPORT_TYPES)
        if not routed and mode is None:
            mode = "access"
        if mode == "access" and access_vlan is None and not routed:
            access_vlan = 1
        views.append(
            InterfaceView(
                name=name,
                description=description,
                shutdown=shutdown,
                line_protocol_up=up,
                mac=mac_for(device.spec.base_mac, index + 1),
                ipv4=tuple(ipv4),
                mtu=mtu,
                speed_mbps=spec.speed_mbps if spec is not None else 1000,
                duplex="Full" if up else "Auto",
                switchport_mode=None if routed else mode,
                access_vlan=access_vlan if mode == "access" else None,
                # a loopback carries no traffic: its counters stay at zero
                counters=_counters(name, uptime if up and not loopback else 0.0),
                last_flapped_seconds=uptime if up else -1.0,
                **extra,
            )
        )
    return portchannel.bundle(tuple(views))


def _extra_fields(node: ConfigNode) -> dict[str, Any]:
    """Trunk, EtherChannel, IPv6 and VRF settings of one ``interface`` section."""
    extra: dict[str, Any] = {}
    ipv6: list[str] = []
    for child in node.children:
        words = child.words()
        if words[:4] == ["switchport", "trunk", "native", "vlan"] and len(words) > 4:
            extra["native_vlan"] = int(words[4]) if words[4].isdigit() else 1
        elif words[:4] == ["switchport", "trunk", "allowed", "vlan"] and len(words) > 4:
            extra["trunk_allowed"] = words[-1]
        elif words[0] == "channel-group" and len(words) > 1 and words[1].isdigit():
            extra["channel_group"] = int(words[1])
            extra["channel_mode"] = words[3] if len(words) > 3 else "on"
        elif words[:2] == ["ipv6", "address"] and len(words) > 2 and "/" in words[2]:
            ipv6.append(words[2].upper())
        elif words[:2] == ["vrf", "forwarding"] and len(words) > 2:
            extra["vrf"] = words[2]
        elif words[:3] == ["ip", "vrf", "forwarding"] and len(words) > 3:
            extra["vrf"] = words[3]
        elif words[:1] == ["spanning-tree"] and len(words) >= 2:
            extra.update(_stp_port_fields(words[1:]))
    if ipv6:
        extra["ipv6"] = tuple(ipv6)
    return extra


def _stp_port_fields(words: list[str]) -> dict[str, Any]:
    """``spanning-tree cost|port-priority|portfast ...`` of an interface (words after the first)."""
    if words[0] == "cost" and words[1:2] and words[1].isdigit():
        return {"stp_cost": int(words[1])}
    if words[0] == "port-priority" and words[1:2] and words[1].isdigit():
        return {"stp_port_priority": int(words[1])}
    if words[0] == "portfast":
        rest = words[1:]
        return {
            "portfast": "disable" if "disable" in rest else "trunk" if "trunk" in rest else "edge"
        }
    return {}


_SWITCHPORT_TYPES = ("GigabitEthernet", "FastEthernet", "TenGigabitEthernet",
                     "TwoGigabitEthernet", "FiveGigabitEthernet", "Port-channel")  # fmt: skip


def _users(nodes: list[ConfigNode]) -> tuple[UserView, ...]:
    users: list[UserView] = []
    for node in nodes:
        words = node.words()
        privilege = 1
        if "privilege" in words:
            privilege = int(words[words.index("privilege") + 1])
        secret_type: int | None = None
        secret = ""
        for keyword in ("secret", "password"):
            if keyword in words:
                rest = words[words.index(keyword) + 1 :]
                if len(rest) >= 2 and rest[0].isdigit():
                    secret_type = int(rest[0]) if keyword == "secret" else None
                    secret = rest[1]
                elif rest:
                    secret = rest[0]
        users.append(UserView(words[1], privilege, secret_type, secret))
    return tuple(users)


def vlan_names(tree: ConfigTree) -> dict[int, str]:
    """The VLANs of a config (VLAN 1 always) and their names."""
    vlans: dict[int, str] = {1: "default"}
    for node in tree.top_starting("vlan"):
        words = node.words()
        if len(words) == 2 and words[1].isdigit():
            name = next((c.text.split(None, 1)[1] for c in node.children
                         if c.text.startswith("name ")), f"VLAN{int(words[1]):04d}")  # fmt: skip
            vlans[int(words[1])] = name
    return vlans


def bridge_mac(device: SimDevice, interfaces: Sequence[InterfaceView]) -> str:
    """The MAC ``show version`` reports (its first port's): LLDP's chassis ID, the bridge ID's MAC."""
    if not device.spec.base_mac:
        return device.spec.base_mac
    return chassis_mac(device.spec.base_mac, [i.name for i in interfaces])


def build_context(device: SimDevice, current_line: int | None = None) -> ShowContext:
    """A snapshot of everything show commands render, taken under the device lock."""
    with device.lock:
        tree = device.running
        interfaces = interface_views(device)
        vlans = vlan_names(tree)
        sessions = tuple(
            SessionView(
                line=f"vty {line.number}",
                username=line.username,
                source=line.source,
                idle=_idle(time.monotonic() - line.since),
                current=line.number == current_line,
            )
            for line in device.lines.values()
        )
        communities: list[tuple[str, str, str]] = []
        for node in tree.top_starting("snmp-server community"):
            words = node.words()[2:]
            if words:
                access = words[1].lower() if len(words) > 1 else "ro"
                communities.append((words[0], access, words[2] if len(words) > 2 else ""))
        own_arp = tuple(
            ArpEntryView(address=addr, mac=itf.mac, interface=itf.name, age_minutes=None)
            for itf in interfaces
            for addr, _plen in itf.ipv4
            if itf.line_protocol_up and not itf.name.startswith("Loopback")
        )
        domain = tree.value("ip domain name") or tree.value("ip domain-name") or ""
        hosts = []
        for node in tree.top_starting("ip host"):
            words = node.words()
            if len(words) >= 4:
                hosts.append((words[2], words[3]))
        return ShowContext(
            hostname=device.hostname,
            domain_name=domain,
            model=device.spec.model,
            serial=device.spec.serial,
            os_version=device.spec.os_version,
            image=f"flash:{device.spec.image}",
            uptime_seconds=device.uptime_offset + device.clock.elapsed(),
            now=device.clock.now(),
            timezone=device.timezone_name(),
            running_config=device.running.render_body(),
            startup_config=device.startup or "",
            interfaces=interfaces,
            vlans=tuple(sorted(vlans.items())),
            users=_users(tree.top_starting("username")),
            sessions=sessions,
            ntp_servers=tuple(
                n.words()[2] for n in tree.top_starting("ntp server") if len(n.words()) > 2
            ),
            snmp_contact=tree.value("snmp-server contact") or "",
            snmp_location=tree.value("snmp-server location") or "",
            snmp_communities=tuple(communities),
            snmp_chassis_id=tree.value("snmp-server chassis-id") or device.spec.serial,
            snmp_users=tuple(tree.snmp_users.values()),
            lldp_neighbors=device.spec.lldp_neighbors,
            arp=device.spec.arp + own_arp,
            log=tuple(device.log),
            cpu_percent=3.0 + (device.clock.elapsed() // 10) % 7,
            memory_total_bytes=device.spec.memory_total_bytes,
            memory_used_bytes=device.spec.memory_total_bytes // 3,
            hosts=tuple(hosts),
            base_mac=bridge_mac(device, interfaces),
            spanning_tree=(
                partial(device.stp_source.trees, device.spec.name) if device.stp_source else None
            ),
        )


def _idle(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
