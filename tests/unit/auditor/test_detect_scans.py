"""port_scan and address_scan: scapy-built scans, evasions and benign look-alikes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.l2 import Ether

from collectors.auditor.config import AuditorConfig
from collectors.auditor.engine import Engine
from collectors.auditor.events import Severity
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine, scapy_batch, tcp_session

SCANNER, VICTIM = "10.11.40.66", "10.11.20.10"


def _syn(src: str, dst: str, dport: int, t: float, sport: int = 45000) -> list:
    e = Ether(src="02:00:00:00:40:66", dst="02:00:00:00:00:01")
    return [at(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S"), t)]


def _rst(src: str, dst: str, sport: int, t: float) -> list:
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:40:66")
    return [at(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=45000, flags="RA"), t)]


def test_port_scan_randomised_order_rejected(tmp_path: Path) -> None:
    ports = list(range(1, 31))
    random.Random(1).shuffle(ports)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts = []
    for k, port in enumerate(ports):
        pkts += _syn(SCANNER, VICTIM, port, T0 + k * 0.1) + _rst(
            VICTIM, SCANNER, port, T0 + k * 0.1 + 0.001
        )
    events = of(run_engine(tmp_path, pkts), "port_scan")
    assert len(events) == 1
    ev = events[0]
    assert (ev.src, ev.dst, ev.count) == (SCANNER, VICTIM, 30)
    assert ev.evidence["outcomes"] == {"rejected": 30}
    assert ev.severity is Severity.MEDIUM


def test_slow_port_scan_inside_window_unanswered(tmp_path: Path) -> None:
    # one SYN every 25 s: 12 ports in 275 s, inside the 300 s window; nothing answers
    pkts = [p for k in range(12) for p in _syn(SCANNER, VICTIM, 1000 + k * 7, T0 + k * 25)]
    events = of(run_engine(tmp_path, pkts), "port_scan")
    assert [e.count for e in events] == [12]
    assert events[0].evidence["outcomes"] == {"unanswered": 12}


def test_scan_slower_than_the_window_is_not_reported(tmp_path: Path) -> None:
    pkts = [p for k in range(12) for p in _syn(SCANNER, VICTIM, 1000 + k, T0 + k * 60)]
    assert of(run_engine(tmp_path, pkts), "port_scan") == []


def test_udp_scan_answered_by_port_unreachable(tmp_path: Path) -> None:
    pkts = []
    for k in range(12):
        probe = IP(src=SCANNER, dst=VICTIM) / UDP(sport=53000, dport=2000 + k)
        pkts.append(at(Ether() / probe, T0 + k))
        err = (
            IP(src=VICTIM, dst=SCANNER)
            / ICMP(type=3, code=3)
            / IPerror(bytes(probe)[:20])
            / UDPerror(sport=53000, dport=2000 + k)
        )
        pkts.append(at(Ether() / err, T0 + k + 0.001))
    events = of(run_engine(tmp_path, pkts), "port_scan")
    assert len(events) == 1
    assert events[0].evidence["udp_ports_sample"][:2] == [2000, 2001]


def test_backup_job_many_answered_connections_is_not_a_scan(tmp_path: Path) -> None:
    pkts = []
    for k in range(60):  # 60 connections to one host, one port, all answered
        pkts += tcp_session(
            T0 + k * 2, "10.11.20.10", "10.10.20.30", 873, sport=40000 + k, resp_bytes=1400
        )
    assert run_engine(tmp_path, pkts) == []


def test_answered_ports_do_not_count(tmp_path: Path) -> None:
    # a client talking to 20 open ports of one server (a monitoring sweep that gets answers)
    pkts = []
    for k in range(20):
        pkts += tcp_session(T0 + k, SCANNER, VICTIM, 8000 + k, sport=41000 + k)
    assert of(run_engine(tmp_path, pkts), "port_scan") == []


def test_address_scan_one_port_many_hosts(tmp_path: Path) -> None:
    hosts = [f"10.11.30.{h}" for h in random.Random(2).sample(range(2, 250), 20)]  # noqa: S311  (reproducible traffic, not cryptography)
    pkts = [p for k, h in enumerate(hosts) for p in _syn(SCANNER, h, 445, T0 + k * 3)]
    events = run_engine(tmp_path, pkts)
    scans = of(events, "address_scan")
    assert len(scans) == 1
    assert scans[0].src == SCANNER
    assert scans[0].count == 20
    assert scans[0].evidence["ports"] == ["tcp/445"]
    assert of(events, "port_scan") == []


def test_address_scan_below_threshold_is_quiet(tmp_path: Path) -> None:
    pkts = [p for k in range(5) for p in _syn(SCANNER, f"10.11.30.{10 + k}", 445, T0 + k)]
    assert run_engine(tmp_path, pkts) == []


def test_backscatter_synacks_are_not_scans(tmp_path: Path) -> None:
    # replies to spoofed SYNs: SYN-ACKs and RSTs arriving from many hosts, no SYN of ours
    pkts = []
    for k in range(200):
        src = f"198.51.{k // 250}.{k % 250 + 1}"
        flags = "SA" if k % 2 else "R"
        pkts.append(
            at(
                Ether()
                / IP(src=src, dst="10.11.30.7")
                / TCP(sport=80, dport=1024 + k, flags=flags),
                T0 + k,
            )
        )
    assert run_engine(tmp_path, pkts) == []


@pytest.mark.parametrize(
    ("port_scan_timeout", "address_scan_timeout", "reported"),
    [(1.0, 10.0, ["port_scan"]), (10.0, 1.0, ["address_scan"])],
    ids=["port_scan-answers-too-late", "address_scan-answers-too-late"],
)
def test_each_scan_detector_applies_its_own_answer_timeout(
    port_scan_timeout: float, address_scan_timeout: float, reported: list[str]
) -> None:
    """SYN-ACKs come 3-4 s after the SYNs: late for a 1 s answer timeout, in time for 10 s.

    The two detectors share the failed-attempt bookkeeping; each must still judge
    "unanswered" by its own ``answer_timeout_seconds`` (issue 12: the first detector
    built used to set the timeout of both). Three batches, so that the engine expires
    pending SYNs between the probes and the answers.
    """
    victims = [(VICTIM, port) for port in range(1000, 1012)]
    victims += [(f"10.11.20.{100 + k}", 80) for k in range(12)]
    syns = [
        p for k, (dst, port) in enumerate(victims) for p in _syn(SCANNER, dst, port, T0 + k / 20)
    ]
    filler = [
        at(
            Ether(src="02:00:00:00:00:03", dst="02:00:00:00:00:04")
            / IP(src="10.11.20.200", dst="10.11.20.201")
            / UDP(dport=123),
            T0 + 3,
        )
    ]
    answers = [
        at(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:40:66")
            / IP(src=dst, dst=SCANNER)
            / TCP(sport=port, dport=45000, flags="SA"),
            T0 + 4,
        )
        for dst, port in victims
    ]
    config = AuditorConfig(
        detectors={
            "port_scan": {"answer_timeout_seconds": port_scan_timeout},
            "address_scan": {"answer_timeout_seconds": address_scan_timeout},
        }
    )
    engine = Engine(config, [], sensor="test", only=["address_scan", "port_scan"])
    summary = engine.run(scapy_batch(pkts) for pkts in (syns, filler, answers))
    assert summary.detector_errors == {}
    assert sorted({e.detector for e in summary.incidents}) == reported
