"""stealth_scan: nmap-style FIN/NULL/Xmas and SYN+FIN probes (scapy-built, as nmap sends
them), and the look-alikes that must stay quiet."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from collectors.auditor.events import Severity
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine, tcp_session

SCANNER, TARGET = "10.11.40.77", "10.10.20.10"
A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"  # explicit: scapy would ARP for them


def _tcp(src: str, dst: str, sport: int, dport: int, flags: str | int, t: float) -> Packet:
    return at(
        Ether(src=A_MAC, dst=B_MAC)
        / IP(src=src, dst=dst)
        / TCP(sport=sport, dport=dport, flags=flags),
        t,
    )


def _scan(flags: str | int, ports: range, *, hosts: int = 1, answer: bool = True) -> list[Packet]:
    """nmap's way: one probe per (host, port), 2 ms apart; closed ports answer RST+ACK."""
    pkts, t = [], T0
    for h in range(hosts):
        dst = TARGET if hosts == 1 else f"10.10.20.{10 + h}"
        for port in ports:
            pkts.append(_tcp(SCANNER, dst, 61000, port, flags, t))
            if answer and port % 7:  # a few open (or filtered) ones stay silent
                pkts.append(_tcp(dst, SCANNER, port, 61000, "RA", t + 0.0005))
            t += 0.002
    return pkts


@pytest.mark.parametrize(
    ("flags", "kind"), [("FPU", "xmas"), ("", "null"), ("F", "fin"), ("SF", "syn_fin")]
)
def test_a_stealth_scan_of_one_host_is_reported_high(tmp_path: Path, flags: str, kind: str) -> None:
    events = run_engine(tmp_path, _scan(flags, range(1, 121)))
    found = of(events, "stealth_scan")
    assert len(found) == 1
    ev = found[0]
    assert (ev.src, ev.dst, ev.severity, ev.count) == (SCANNER, TARGET, Severity.HIGH, 120)
    assert ev.evidence["kinds"] == {kind: 120}
    assert ev.evidence["hosts"] == 1
    assert ev.evidence["ports_sample"] == list(range(1, 21))
    assert kind in ev.summary
    if kind != "syn_fin":
        # what the connection-attempt detectors cannot see: no SYN, no attempt
        assert of(events, "port_scan") == []


def test_a_sweep_of_hosts_names_no_single_destination(tmp_path: Path) -> None:
    pkts = _scan("F", range(22, 25), hosts=4) + _scan("", range(80, 82), hosts=3)
    found = of(run_engine(tmp_path, pkts), "stealth_scan")
    assert len(found) == 1
    ev = found[0]
    assert (ev.dst, ev.severity, ev.count) == ("", Severity.MEDIUM, 18)
    assert ev.evidence["kinds"] == {"fin": 12, "null": 6}
    assert ev.evidence["hosts"] == 4
    assert ev.evidence["ports_sample"] == [22, 23, 24, 80, 81]


def test_a_retransmitted_probe_is_one_target(tmp_path: Path) -> None:
    pkts = _scan("FPU", range(1, 5)) + _scan("FPU", range(1, 5))  # each probe twice
    assert of(run_engine(tmp_path, pkts), "stealth_scan") == []  # 4 targets < 5
    found = of(run_engine(tmp_path, _scan("FPU", range(1, 6)), name="b.pcap"), "stealth_scan")
    assert [e.count for e in found] == [5]


def test_ordinary_tcp_stays_quiet(tmp_path: Path) -> None:
    """Sessions that end with FIN+ACK or RST, RSTs without ACK, bare ACKs to many ports (a
    late segment, or nmap -sA, which valid TCP cannot tell from it): no incident."""
    pkts: list[Packet] = []
    for k in range(40):
        pkts += tcp_session(T0 + k, "10.11.30.5", f"10.10.20.{10 + k % 8}", 443, sport=40000 + k)
    pkts += [_tcp("10.11.30.6", TARGET, 50000 + k, 80 + k, "R", T0 + 50 + k) for k in range(20)]
    pkts += [
        _tcp("10.11.30.7", TARGET, 50000, 1000 + k, "A", T0 + 80 + k * 0.01) for k in range(50)
    ]
    pkts += [
        _tcp("10.11.30.8", TARGET, 50000, 2000 + k, "FA", T0 + 90 + k * 0.01) for k in range(50)
    ]
    events = run_engine(tmp_path, pkts)
    assert of(events, "stealth_scan") == []


def test_a_few_odd_segments_and_a_scan_slower_than_the_window_stay_quiet(tmp_path: Path) -> None:
    few = _scan("FPU", range(1, 5))  # 4 targets: below the threshold of 5
    slow = [_tcp("10.11.40.78", TARGET, 61000, p, "F", T0 + p * 100.0) for p in range(1, 30)]
    events = run_engine(tmp_path, few + slow)  # the window (300 s) never holds 5 of them
    assert of(events, "stealth_scan") == []
    fast = [_tcp("10.11.40.78", TARGET, 61000, p, "F", T0 + p * 50.0) for p in range(1, 30)]
    found = of(run_engine(tmp_path, fast, name="b.pcap"), "stealth_scan")
    assert [(e.src, e.count) for e in found] == [("10.11.40.78", 7)]  # 300 s hold 7 of them


def test_fragmented_tcp_to_many_hosts_stays_quiet(tmp_path: Path) -> None:
    """Later fragments carry no TCP header (the decoder gives them ports 0 and flags 0):
    not NULL probes, however many hosts they go to."""
    pkts: list[Packet] = []
    for h in range(8):
        segment = (
            IP(src="10.11.30.9", dst=f"10.10.20.{10 + h}")
            / TCP(sport=40000, dport=443, flags="PA")
            / Raw(b"x" * 3000)
        )
        for k, frag in enumerate(fragment(segment, fragsize=1000)):
            pkts.append(at(Ether(src=A_MAC, dst=B_MAC) / frag, T0 + h + k * 0.001))
    events = run_engine(tmp_path, pkts)
    assert of(events, "stealth_scan") == []
