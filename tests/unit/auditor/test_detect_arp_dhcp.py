"""arp_spoof and rogue_dhcp: spoofing and rogue servers; gratuitous ARP, FHRP and relays are fine."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether

from collectors.auditor.config import parse_auditor_config
from collectors.auditor.events import Severity
from netwarden.inventory.models import Inventory
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine

GW, GW_MAC = "10.11.30.1", "02:00:00:11:00:01"
HOST, HOST_MAC = "10.11.30.20", "02:00:00:11:30:20"
EVIL = "02:00:00:66:66:66"
BCAST = "ff:ff:ff:ff:ff:ff"


def _reply(ip: str, mac: str, to_ip: str, to_mac: str, t: float) -> object:
    return at(
        Ether(src=mac, dst=to_mac) / ARP(op=2, hwsrc=mac, psrc=ip, hwdst=to_mac, pdst=to_ip), t
    )


def _request(ip: str, mac: str, target: str, t: float) -> object:
    return at(Ether(src=mac, dst=BCAST) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=target), t)


def _garp(ip: str, mac: str, t: float) -> object:
    return at(Ether(src=mac, dst=BCAST) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=ip), t)


def test_binding_conflict_on_a_gateway_is_high(tmp_path: Path, inv: Inventory) -> None:
    pkts = [
        _request(HOST, HOST_MAC, GW, T0),
        _reply(GW, GW_MAC, HOST, HOST_MAC, T0 + 0.001),
        _reply(GW, EVIL, HOST, HOST_MAC, T0 + 5),
        _reply(GW, EVIL, HOST, HOST_MAC, T0 + 7),
    ]
    events = of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "arp_spoof")
    assert len(events) == 1
    ev = events[0]
    assert ev.evidence["ip"] == GW
    assert ev.src == EVIL
    assert ev.evidence["bound_mac"] == GW_MAC
    assert ev.evidence["gateway"] is True
    assert ev.severity is Severity.HIGH
    assert ev.count == 2


def test_unsolicited_reply_without_binding(tmp_path: Path) -> None:
    events = of(run_engine(tmp_path, [_reply(GW, EVIL, HOST, HOST_MAC, T0)]), "arp_spoof")
    assert [e.evidence["kind"] for e in events] == ["unsolicited_reply"]


def test_gratuitous_arp_confirming_binding_is_quiet(tmp_path: Path) -> None:
    pkts = [_garp(GW, GW_MAC, T0 + k * 30) for k in range(5)]
    pkts += [
        _request(HOST, HOST_MAC, GW, T0 + 200),
        _reply(GW, GW_MAC, HOST, HOST_MAC, T0 + 200.001),
    ]
    assert run_engine(tmp_path, pkts) == []


def test_fhrp_virtual_mac_failover_is_quiet(tmp_path: Path) -> None:
    # HSRP group 10 virtual MAC, then VRRP, then the physical router: failover, not spoofing
    pkts = [
        _garp(GW, "00:00:0c:07:ac:0a", T0),
        _garp(GW, "02:00:00:11:00:02", T0 + 10),
        _garp(GW, "00:00:5e:00:01:0a", T0 + 20),
        _garp(GW, "00:00:0c:9f:f0:0a", T0 + 30),
    ]
    assert run_engine(tmp_path, pkts) == []


def test_known_mac_from_config_contradicted(tmp_path: Path) -> None:
    config = parse_auditor_config({"detectors": {"arp_spoof": {"known_macs": {GW: GW_MAC}}}})
    events = of(run_engine(tmp_path, [_garp(GW, EVIL, T0)], config=config), "arp_spoof")
    assert len(events) == 1
    assert events[0].evidence["binding_source"] == "configuration"
    assert events[0].severity is Severity.HIGH


def _offer(
    src: str,
    mac: str,
    server_id: str,
    t: float,
    giaddr: str = "0.0.0.0",  # noqa: S104  (a BOOTP field, not a bind address)
    dst: str = "255.255.255.255",
) -> object:
    boot = BOOTP(
        op=2, yiaddr="10.11.30.150", giaddr=giaddr, chaddr=bytes.fromhex("020000113020") + bytes(10)
    )
    opts = DHCP(options=[("message-type", "offer"), ("server_id", server_id), "end"])
    return at(
        Ether(src=mac, dst=BCAST) / IP(src=src, dst=dst) / UDP(sport=67, dport=68) / boot / opts, t
    )


def test_rogue_dhcp_server_is_high_with_inventory(tmp_path: Path, inv: Inventory) -> None:
    events = run_engine(
        tmp_path, [_offer("10.11.30.99", EVIL, "10.11.30.99", T0)], inventory=inv, site="nyc"
    )
    rogue = of(events, "rogue_dhcp")
    assert len(rogue) == 1
    assert rogue[0].severity is Severity.HIGH
    assert rogue[0].src == "10.11.30.99"


def test_dhcp_relay_on_the_firewall_is_allowed(tmp_path: Path, inv: Inventory) -> None:
    config = parse_auditor_config(
        {"auditor": {"sites": {"nyc": {"rogue_dhcp": {"servers": ["10.10.20.5"]}}}}}
    )
    # the HQ DHCP server's offer, relayed by the nyc firewall's staff gateway
    pkt = _offer("10.11.30.1", GW_MAC, "10.10.20.5", T0, giaddr="10.11.30.1", dst="10.11.30.150")
    pkt2 = _offer("10.11.30.1", GW_MAC, "10.11.30.1", T0 + 1)  # the firewall serving itself
    assert run_engine(tmp_path, [pkt, pkt2], inventory=inv, site="nyc", config=config) == []


def test_without_configuration_every_server_is_reported_medium(tmp_path: Path) -> None:
    events = of(run_engine(tmp_path, [_offer("192.0.2.7", EVIL, "192.0.2.7", T0)]), "rogue_dhcp")
    assert len(events) == 1
    assert events[0].severity is Severity.MEDIUM
    assert events[0].evidence["configured"] is False


def test_rogue_servers_interleaved_are_counted_apart(tmp_path: Path) -> None:
    """Messages of three rogue servers interleaved in one batch: one incident each, with
    its own count, first and last time, and relays."""
    pkts = []
    servers = [("192.0.2.7", "02:00:00:00:00:07"), ("192.0.2.8", "02:00:00:00:00:08")]
    servers.append(("198.51.100.9", "02:00:00:00:00:09"))
    for k in range(30):
        src, mac = servers[k % 3]
        relay = "10.9.9.9" if k % 3 == 2 else "0.0.0.0"  # noqa: S104  (a BOOTP field)
        pkts.append(_offer(src, mac, src, T0 + k, giaddr=relay))
    rogue = sorted(of(run_engine(tmp_path, pkts), "rogue_dhcp"), key=lambda e: e.src)
    assert [(e.src, e.count) for e in rogue] == [(s, 10) for s, _ in sorted(servers)]
    for e, k0 in zip(rogue, (0, 1, 2), strict=True):
        assert e.first_seen.timestamp() == pytest.approx(T0 + k0)
        assert e.last_seen.timestamp() == pytest.approx(T0 + 27 + k0)
    assert [bool(e.evidence.get("relays")) for e in rogue] == [False, False, True]
