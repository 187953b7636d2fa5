"""dhcp_starvation: floods of DHCP requests for made-up clients (yersinia, dhcpstarv and
DHCPig style, scapy-built), and the look-alikes that must stay quiet (a boot storm,
relayed requests, two busy VLANs)."""

from __future__ import annotations

import random
from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet

from collectors.auditor.events import Severity
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine

TOOL_MAC = "02:66:66:66:66:66"


def _mac(rng: random.Random, *, unicast: bool = False) -> str:
    octets = [rng.randrange(256) for _ in range(6)]
    if unicast:
        octets[0] &= 0xFC  # a vendor's: unicast, globally administered
    return ":".join(f"{o:02x}" for o in octets)


def _request(
    client: str,
    t: float,
    *,
    src: str | None = None,
    kind: str = "discover",
    vlan: int | None = None,
) -> Packet:
    eth = Ether(src=src or client, dst="ff:ff:ff:ff:ff:ff")
    if vlan is not None:
        eth /= Dot1Q(vlan=vlan)
    return at(
        eth
        / IP(src="0.0.0.0", dst="255.255.255.255")  # noqa: S104  (a DHCP client has no address)
        / UDP(sport=68, dport=67)
        / BOOTP(chaddr=bytes.fromhex(client.replace(":", "")), xid=int(t * 1000) & 0xFFFFFFFF)
        / DHCP(options=[("message-type", kind), "end"]),
        t,
    )


def test_random_client_addresses_are_a_high_starvation(tmp_path: Path) -> None:
    """DHCPig/yersinia: each request from a random address, its own chaddr (about half of
    random addresses have the group bit: no card has one)."""
    rng = random.Random(1)  # noqa: S311  (reproducible test traffic)
    pkts = [_request(_mac(rng), T0 + k * 0.005) for k in range(200)]
    found = of(run_engine(tmp_path, pkts), "dhcp_starvation")
    assert len(found) == 1
    ev = found[0]
    assert (ev.severity, ev.count) == (Severity.HIGH, 200)
    assert 60 < ev.evidence["forged_clients"] < 140
    assert ev.evidence["vlan"] == -1


def test_one_source_asking_for_many_clients_is_high(tmp_path: Path) -> None:
    """dhcpstarv keeps its own Ethernet source and varies the client address (all unicast)."""
    rng = random.Random(2)  # noqa: S311
    pkts = [_request(_mac(rng, unicast=True), T0 + k * 0.01, src=TOOL_MAC) for k in range(80)]
    found = of(run_engine(tmp_path, pkts), "dhcp_starvation")
    assert [(e.severity, e.count, e.src) for e in found] == [(Severity.HIGH, 80, TOOL_MAC)]
    assert found[0].evidence["forged_clients"] == 80


def test_a_careful_flood_is_medium_and_a_vlan_is_named(tmp_path: Path) -> None:
    """Unicast random addresses, each its own source: only the rate tells (medium)."""
    rng = random.Random(3)  # noqa: S311
    pkts = [_request(_mac(rng, unicast=True), T0 + k * 0.02, vlan=30) for k in range(60)]
    found = of(run_engine(tmp_path, pkts), "dhcp_starvation")
    assert [(e.severity, e.count) for e in found] == [(Severity.MEDIUM, 60)]
    assert found[0].evidence["vlan"] == 30
    assert "VLAN 30" in found[0].summary


def test_boot_storm_relays_and_two_vlans_stay_quiet(tmp_path: Path) -> None:
    """200 genuine clients booting over two minutes (DISCOVER then REQUEST, own addresses);
    requests relayed by a router (giaddr set, from port 67); 40 new clients on each of two
    VLANs in the same second: never 50 on one segment within 10 s."""
    rng = random.Random(4)  # noqa: S311
    pkts: list[Packet] = []
    for k in range(200):
        mac, t = _mac(rng, unicast=True), T0 + k * 0.6
        pkts += [_request(mac, t), _request(mac, t + 0.1, kind="request")]
    for k in range(100):
        relayed = (
            Ether(src="02:00:00:00:00:fe", dst="02:00:00:00:00:01")
            / IP(src="10.11.30.1", dst="10.11.20.5")
            / UDP(sport=67, dport=67)
            / BOOTP(chaddr=bytes(6), giaddr="10.11.30.1")
            / DHCP(options=[("message-type", "discover"), "end"])
        )
        pkts.append(at(relayed, T0 + 200 + k * 0.001))
    for vlan in (10, 20):
        pkts += [
            _request(_mac(rng, unicast=True), T0 + 300 + k * 0.01, vlan=vlan) for k in range(40)
        ]
    assert of(run_engine(tmp_path, pkts), "dhcp_starvation") == []
