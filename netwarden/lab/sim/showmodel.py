"""The contract between the simulator's device state and its show-command renderers.

The session layer (server, CLI, config tree) builds a :class:`ShowContext` from the
device's current state each time a show command runs; the renderers in ``shows.py``
turn it into text in the format of real IOS. Renderers never touch sockets or the
config tree directly, so they are unit-testable with a hand-built context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netwarden.lab.sim.stp import VlanTree


@dataclass(frozen=True)
class InterfaceCounters:
    """Monotonic counters of one interface (they move over time in the simulator)."""

    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_broadcast: int = 0
    tx_broadcast: int = 0
    rx_multicast: int = 0
    tx_multicast: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_discards: int = 0
    tx_discards: int = 0


@dataclass(frozen=True)
class InterfaceView:
    """One interface as show commands see it.

    ``name`` is the full IOS name (``GigabitEthernet1/0/1``, ``Vlan10``, ``Loopback0``).
    ``ipv4`` holds ``(address, prefix_length)`` pairs, primary first.
    ``shutdown`` follows the config; ``line_protocol_up`` is False when shut down
    or when the port has no link (simulated access ports with nothing attached).
    """

    name: str
    description: str = ""
    shutdown: bool = False
    line_protocol_up: bool = True
    mac: str = "0000.0000.0000"  # Cisco dotted format
    ipv4: tuple[tuple[str, int], ...] = ()
    mtu: int = 1500
    speed_mbps: int = 1000
    bandwidth_kbit: int | None = None  # ``bandwidth N`` from the config; None = the speed
    duplex: str = "Full"
    switchport_mode: str | None = None  # "access", "trunk" or None (routed/SVI)
    access_vlan: int | None = None
    counters: InterfaceCounters = field(default_factory=InterfaceCounters)
    last_flapped_seconds: float = -1.0
    native_vlan: int = 1
    trunk_allowed: str = "1-4094"  # ``switchport trunk allowed vlan`` ("1-4094" = all)
    channel_group: int | None = None  # ``channel-group N mode M``
    channel_mode: str = ""  # "active", "passive", "on", "desirable", "auto"
    bundle_flag: str = ""  # a member: "P" bundled, "D" down, "s" suspended
    members: tuple[str, ...] = ()  # a Port-channel: its members, in config order
    ipv6: tuple[str, ...] = ()  # "2001:DB8::1/64" as IOS prints them (upper case)
    vrf: str = ""  # ``vrf forwarding NAME`` / ``ip vrf forwarding NAME``
    stp_cost: int | None = None  # ``spanning-tree cost N`` (None: the speed's cost)
    stp_port_priority: int = 128  # ``spanning-tree port-priority N``
    portfast: str = ""  # ``spanning-tree portfast``: "edge", "trunk", "disable" or "" (not set)


@dataclass(frozen=True)
class LldpNeighborView:
    local_interface: str
    remote_hostname: str
    remote_port: str
    remote_port_description: str = ""
    remote_chassis_id: str = "0000.0000.0000"
    remote_system_description: str = ""
    capabilities: tuple[str, ...] = ("B",)  # IOS letters: R, B, T, C, W, P, S, O
    remote_management_address: str = ""  # IPv4 the neighbour advertises ("" = none)
    remote_platform: str = ""  # model, for CDP (``cisco WS-C3750X-24P``)
    remote_version: str = ""  # software version, for CDP detail (``15.2(4)E10``)


@dataclass(frozen=True)
class ArpEntryView:
    address: str
    mac: str  # Cisco dotted format
    interface: str
    age_minutes: int | None = None  # None renders as "-" (the device's own address)


@dataclass(frozen=True)
class UserView:
    """A local user from the running config (``username X privilege N secret 9 ...``)."""

    username: str
    privilege: int = 1
    secret_type: int | None = 9  # 0, 5, 8, 9 or None when ``password`` is used
    secret: str = ""  # already hashed/encrypted as in the config


@dataclass(frozen=True)
class SessionView:
    """A logged-in CLI session (``show users``)."""

    line: str  # e.g. "vty 0"
    username: str
    source: str
    idle: str = "00:00:00"
    current: bool = False


@dataclass(frozen=True)
class LogEntry:
    """One line of the logging buffer, stored without the timestamp prefix."""

    when: datetime
    facility_mnemonic: str  # e.g. "SEC_LOGIN-5-LOGIN_SUCCESS"
    message: str


@dataclass(frozen=True)
class ShowContext:
    """Everything show commands render, as of one moment of the device's life."""

    hostname: str
    domain_name: str
    model: str  # e.g. "WS-C3750X-48P" or "C9300-48P"
    serial: str
    os_version: str  # e.g. "15.2(4)E10"
    image: str  # e.g. "flash:c3750e-universalk9-mz.152-4.E10.bin"
    uptime_seconds: float
    now: datetime  # the device clock (time-scaled in the simulator)
    timezone: str  # the name shown by ``show clock`` (e.g. "AST")
    running_config: str  # full text, as ``show running-config`` prints it
    startup_config: str  # full text, "" when never saved
    interfaces: tuple[InterfaceView, ...]
    vlans: tuple[tuple[int, str], ...] = ()  # (id, name)
    users: tuple[UserView, ...] = ()
    sessions: tuple[SessionView, ...] = ()
    ntp_servers: tuple[str, ...] = ()
    snmp_contact: str = ""
    snmp_location: str = ""
    snmp_communities: tuple[tuple[str, str, str], ...] = ()  # (name, "ro"|"rw", acl or "")
    snmp_chassis_id: str = ""
    snmp_users: tuple[str, ...] = ()  # ``snmp-server user`` lines (never in running_config)
    lldp_neighbors: tuple[LldpNeighborView, ...] = ()
    arp: tuple[ArpEntryView, ...] = ()
    log: tuple[LogEntry, ...] = ()
    cpu_percent: float = 5.0
    memory_total_bytes: int = 512 * 1024 * 1024
    memory_used_bytes: int = 180 * 1024 * 1024
    temperature_celsius: float = 38.0
    hosts: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (name, address)
    nvram_total_bytes: int = 524_288  # "Using N out of M bytes" in ``show startup-config``
    base_mac: str = "0000.0000.0000"  # the chassis MAC (bridge ID, LACP system ID, LLDP)
    # The fleet's spanning tree as this device sees it, by VLAN; None: a device alone
    # (the renderers elect over its own ports). Called only by the commands that need it.
    spanning_tree: Callable[[], Mapping[int, VlanTree]] | None = None
