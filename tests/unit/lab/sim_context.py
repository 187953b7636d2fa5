"""A hand-built device for the show-renderer tests (test helper, not a test module).

A Catalyst 3750-X at Jeddah HQ with a trunk uplink, a shut access port, a port with
no link, a 10G port, an SVI with a secondary address and a loopback; two LLDP
neighbours (one without a system name), ARP entries, sessions and log lines.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from netwarden.lab.sim.showmodel import (
    ArpEntryView,
    InterfaceCounters,
    InterfaceView,
    LldpNeighborView,
    LogEntry,
    SessionView,
    ShowContext,
    UserView,
)

RUNNING = """\
!
! Last configuration change at 10:02:11 AST Mon Jan 5 2026 by admin
!
version 15.2
service timestamps debug datetime msec
service timestamps log datetime msec localtime show-timezone
!
hostname jed-sw1
!
username admin privilege 15 secret 9 $9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM
username audit secret 5 $1$xyz$0123456789abcdefABCDE.
ip domain name hq.example.org
ip name-server 10.10.0.53 10.10.0.54
ip ssh pubkey-chain
  username admin
   key-hash ssh-rsa 0123456789ABCDEF0123456789ABCDEF admin@ops
!
interface GigabitEthernet1/0/1
 description uplink to jed-core1
 switchport mode trunk
!
interface GigabitEthernet1/0/2
 switchport access vlan 10
 shutdown
!
interface Vlan10
 description staff
 ip address 10.10.10.2 255.255.255.0
 ip address 10.10.11.2 255.255.255.0 secondary
!
interface Loopback0
 ip address 10.255.0.1 255.255.255.255
!
logging buffered 16384
logging host 10.10.0.5
snmp-server community n3tw4rden RO SNMP-RO
snmp-server community r3adwr1te RW
snmp-server location Jeddah HQ, rack 3
snmp-server contact noc@example.org
ntp server 10.10.0.1
ntp server 10.10.0.2
!
end
"""
UPLINK = InterfaceView(
    "GigabitEthernet1/0/1",
    description="uplink to jed-core1",
    mac="0024.f7dd.7701",
    switchport_mode="trunk",
    counters=InterfaceCounters(
        rx_packets=123456,
        tx_packets=65432,
        rx_bytes=98765432,
        tx_bytes=12345678,
        rx_broadcast=321,
        rx_multicast=4567,
        rx_errors=3,
        tx_errors=1,
        rx_discards=7,
        tx_discards=2,
    ),
)
INTERFACES = (
    UPLINK,
    InterfaceView(
        "GigabitEthernet1/0/2",
        shutdown=True,
        line_protocol_up=False,
        mac="0024.f7dd.7702",
        switchport_mode="access",
        access_vlan=10,
    ),
    InterfaceView(
        "GigabitEthernet1/0/3",
        line_protocol_up=False,
        mac="0024.f7dd.7703",
        speed_mbps=100,
        switchport_mode="access",
        access_vlan=10,
    ),
    InterfaceView(
        "TenGigabitEthernet1/1/1",
        mac="0024.f7dd.7731",
        speed_mbps=10000,
        mtu=9000,
        counters=InterfaceCounters(rx_discards=11, tx_discards=13),
    ),
    InterfaceView(
        "Vlan10",
        description="staff",
        mac="0024.f7dd.7740",
        ipv4=(("10.10.10.2", 24), ("10.10.11.2", 24)),
    ),
    InterfaceView("Loopback0", ipv4=(("10.255.0.1", 32),), mtu=1514, speed_mbps=8000),
)
CORE = LldpNeighborView(
    "GigabitEthernet1/0/1",
    "jed-core1.hq.example.org",
    "Gi1/0/48",
    "GigabitEthernet1/0/48",
    "0024.aaaa.0001",
    "Cisco IOS Software, C3850 Software (CAT3K_CAA-UNIVERSALK9-M), Version 16.3.7",
    ("B", "R"),
    "10.10.0.2",
)
NAMELESS = LldpNeighborView(
    "TenGigabitEthernet1/1/1", "", "0024.bbbb.0002", "", "0024.bbbb.0002", "", ("S",)
)


def make_ctx(**overrides: object) -> ShowContext:
    """A Catalyst 3750-X at Jeddah HQ, 9 days 3 h 4 min 30 s after boot."""
    ctx = ShowContext(
        hostname="jed-sw1",
        domain_name="hq.example.org",
        model="WS-C3750X-48P",
        serial="FDO1234X0AB",
        os_version="15.2(4)E10",
        image="flash:c3750e-universalk9-mz.152-4.E10.bin",
        uptime_seconds=9 * 86400 + 3 * 3600 + 4 * 60 + 30,
        now=datetime(2026, 1, 5, 10, 21, 33, 123000),
        timezone="AST",
        running_config=RUNNING,
        startup_config=RUNNING,
        interfaces=INTERFACES,
        vlans=((10, "staff"), (20, "voice")),
        users=(UserView("admin", 15),),
        sessions=(
            SessionView("vty 0", "admin", "10.10.0.7", current=True),
            SessionView("vty 1", "audit", "10.10.0.8", idle="00:05:12"),
        ),
        ntp_servers=("10.10.0.1", "10.10.0.2"),
        snmp_contact="noc@example.org",
        snmp_location="Jeddah HQ, rack 3",
        snmp_communities=(("n3tw4rden", "ro", "SNMP-RO"), ("r3adwr1te", "rw", "")),
        lldp_neighbors=(CORE, NAMELESS),
        arp=(
            ArpEntryView("10.10.10.2", "0024.f7dd.7740", "Vlan10"),
            ArpEntryView("10.10.10.10", "6805.ca12.71c2", "Vlan10", 37),
            ArpEntryView("10.10.10.9", "a099.9b1c.dfa7", "Vlan10", 3),
        ),
        log=(
            LogEntry(
                datetime(2026, 1, 5, 10, 2, 11, 5000),
                "SYS-5-CONFIG_I",
                "Configured from console by admin on vty0 (10.10.0.7)",
            ),
            LogEntry(
                datetime(2026, 1, 5, 10, 20, 1, 250000),
                "SEC_LOGIN-5-LOGIN_SUCCESS",
                "Login Success [user: admin] [Source: 10.10.0.7] [localport: 22] "
                "at 10:20:01 AST Mon Jan 5 2026",
            ),
        ),
        cpu_percent=7.4,
        memory_total_bytes=512 * 1024 * 1024,
        memory_used_bytes=180 * 1024 * 1024,
        temperature_celsius=41.6,
        hosts=(("ntp1.hq.example.org", "10.10.0.1"),),
    )
    return replace(ctx, **overrides)  # type: ignore[arg-type]
