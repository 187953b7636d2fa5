"""policy_violation, unknown_device (need the inventory) and beaconing."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from collectors.auditor.detectors.beaconing import beacon_score
from collectors.auditor.events import Severity
from netwarden.inventory.models import Inventory
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine, tcp_session


def test_guest_to_servers_is_a_violation_counted_by_syn(tmp_path: Path, inv: Inventory) -> None:
    pkts = []
    for k in range(3):  # three ssh sessions, each many packets: three flows, one incident
        pkts += tcp_session(T0 + k, "10.11.40.66", "10.11.20.10", 22, sport=40000 + k, requests=10)
    events = of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "policy_violation")
    assert len(events) == 1
    ev = events[0]
    assert ev.count == 3
    assert ev.evidence["services"] == {"tcp/22": 3}
    assert ev.evidence["src_zone"] == "nyc/guests"
    assert ev.evidence["dst_zone"] == "nyc/servers"
    assert ev.severity is Severity.HIGH  # from guests


def test_allowed_flows_and_udp_replies_are_not_violations(tmp_path: Path, inv: Inventory) -> None:
    pkts = tcp_session(T0, "10.11.30.20", "10.11.20.10", 445)  # staff-local-servers: smb
    pkts += tcp_session(T0 + 1, "10.10.10.60", "10.11.10.21", 22, sport=40001)  # HQ mgmt -> devices
    q = Ether() / IP(src="10.11.30.20", dst="10.11.20.10") / UDP(sport=53000, dport=53)
    r = Ether() / IP(src="10.11.20.10", dst="10.11.30.20") / UDP(sport=53, dport=53000)
    pkts += [at(q, T0 + 2), at(r, T0 + 2.001)]  # the reply is not a servers -> staff flow
    pkts.append(
        at(Ether() / IP(src="10.11.30.20", dst="10.11.31.255") / UDP(sport=137, dport=137), T0 + 3)
    )
    pkts.append(
        at(Ether() / IP(src="10.11.30.20", dst="224.0.0.251") / UDP(sport=5353, dport=5353), T0 + 4)
    )
    assert of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "policy_violation") == []


def test_staff_to_another_sites_servers_is_medium(tmp_path: Path, inv: Inventory) -> None:
    pkts = tcp_session(T0, "10.11.30.20", "10.12.20.10", 445)  # smb only to the same site
    events = of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "policy_violation")
    assert len(events) == 1
    assert events[0].severity is Severity.MEDIUM


def test_unknown_device_in_mgmt(tmp_path: Path, inv: Inventory) -> None:
    pkts = [
        at(
            Ether(src="02:00:00:10:77:77", dst="ff:ff:ff:ff:ff:ff")
            / ARP(op=1, hwsrc="02:00:00:10:77:77", psrc="10.11.10.77", pdst="10.11.10.1"),
            T0,
        ),
        at(
            Ether(src="02:00:00:10:77:77") / IP(src="10.11.10.77", dst="10.11.10.1") / ICMP(),
            T0 + 1,
        ),
    ]
    events = of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "unknown_device")
    assert len(events) == 1
    assert events[0].src == "10.11.10.77"
    assert events[0].evidence["mac"] == "02:00:00:10:77:77"
    assert events[0].severity is Severity.HIGH


def test_inventory_devices_and_staff_hosts_are_known(tmp_path: Path, inv: Inventory) -> None:
    pkts = [
        at(Ether() / IP(src="10.11.10.21", dst="10.11.10.1") / ICMP(), T0),  # nyc-acc-sw1
        at(Ether() / IP(src="10.11.20.10", dst="10.11.20.1") / ICMP(), T0 + 1),  # nyc-srv1
        at(Ether() / IP(src="10.11.30.99", dst="10.11.30.1") / ICMP(), T0 + 2),  # staff: not strict
    ]
    assert of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "unknown_device") == []


def test_without_inventory_those_detectors_are_skipped(tmp_path: Path) -> None:
    pkts = tcp_session(T0, "10.11.40.66", "10.11.20.10", 22)
    assert run_engine(tmp_path, pkts) == []


def _beacon(
    rng: random.Random, n: int, every: float, jitter: float, size: int, dst: str = "93.184.216.34"
) -> list:
    pkts = []
    for k in range(n):
        t = T0 + k * every + rng.uniform(-jitter, jitter)
        pkts += tcp_session(
            t,
            "10.11.30.53",
            dst,
            443,
            sport=40000 + k,
            requests=1,
            req_bytes=size + rng.randint(-5, 5),
        )
    return pkts


def test_regular_small_callbacks_are_beaconing(tmp_path: Path) -> None:
    events = of(run_engine(tmp_path, _beacon(random.Random(1), 30, 60.0, 2.0, 180)), "beaconing")  # noqa: S311  (reproducible traffic, not cryptography)
    assert len(events) == 1
    assert events[0].evidence["score"] >= 0.8
    assert events[0].dst == "93.184.216.34"


def test_human_browsing_is_not_beaconing(tmp_path: Path) -> None:
    rng = random.Random(2)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts, t = [], T0
    for k in range(40):
        t += rng.expovariate(1 / 45)
        pkts += tcp_session(
            t,
            "10.11.30.53",
            "93.184.216.34",
            443,
            sport=40000 + k,
            requests=rng.randint(1, 8),
            req_bytes=rng.randint(200, 3000),
        )
    assert of(run_engine(tmp_path, pkts), "beaconing") == []


def test_internal_periodic_traffic_is_not_beaconing(tmp_path: Path) -> None:
    pkts = _beacon(random.Random(3), 30, 15.0, 0.1, 200, dst="10.11.20.10")  # a scrape  # noqa: S311  (reproducible traffic, not cryptography)
    assert of(run_engine(tmp_path, pkts), "beaconing") == []


def test_beacon_score_bounds() -> None:
    starts = np.arange(40) * 60.0
    assert beacon_score(starts, np.full(40, 250.0))["score"] > 0.99
    rng = np.random.default_rng(0)
    noisy = beacon_score(np.cumsum(rng.exponential(60, 40)), rng.uniform(100, 60000, 40))
    assert noisy["score"] < 0.8
