"""ack_scan: nmap-style ACK/Window (bare ACK) and Maimon (FIN+ACK) probes answered by RST
(scapy-built, as nmap sends them and a Linux host answers), and the look-alikes that must
stay quiet."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from collectors.auditor.config import AuditorConfig
from collectors.auditor.detectors import ack_scan
from collectors.auditor.engine import Engine
from collectors.auditor.events import ListSink, Severity
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine, scapy_batch, tcp_session

SCANNER, TARGET = "10.11.40.77", "10.10.20.10"
A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"  # explicit: scapy would ARP for them


def _tcp(src: str, dst: str, sport: int, dport: int, flags: str, t: float) -> Packet:
    return at(
        Ether(src=A_MAC, dst=B_MAC)
        / IP(src=src, dst=dst)
        / TCP(sport=sport, dport=dport, flags=flags, window=1024),
        t,
    )


def _scan(
    flags: str,
    ports: range,
    *,
    hosts: int = 1,
    answered: bool = True,
    delay: float = 0.0005,
    src: str = SCANNER,
    t0: float = T0,
) -> list[Packet]:
    """nmap's way: one probe per (host, port), 2 ms apart, from one source port; an
    unfiltered port answers RST (no ACK: the probe carried one) after ``delay``."""
    pkts, t = [], t0
    for h in range(hosts):
        dst = TARGET if hosts == 1 else f"10.10.20.{10 + h}"
        for port in ports:
            pkts.append(_tcp(src, dst, 54321, port, flags, t))
            if answered:
                pkts.append(_tcp(dst, src, port, 54321, "R", t + delay))
            t += 0.002
    return pkts


@pytest.mark.parametrize(("flags", "kind"), [("A", "ack"), ("FA", "fin_ack")])
def test_an_ack_scan_of_one_host_is_reported_high(tmp_path: Path, flags: str, kind: str) -> None:
    events = run_engine(tmp_path, _scan(flags, range(1, 121)))
    found = of(events, "ack_scan")
    assert len(found) == 1
    ev = found[0]
    assert (ev.src, ev.dst, ev.severity, ev.count) == (SCANNER, TARGET, Severity.HIGH, 120)
    assert ev.evidence["kinds"] == {kind: 120}
    assert ev.evidence["ports_sample"] == list(range(1, 21))
    assert "nmap -sA" in ev.summary
    # what the other scan detectors cannot see: no SYN, and flags valid TCP uses
    assert of(events, "port_scan") == []
    assert of(events, "stealth_scan") == []


def test_a_sweep_of_one_port_over_hosts_names_no_single_destination(tmp_path: Path) -> None:
    found = of(run_engine(tmp_path, _scan("A", range(445, 446), hosts=12)), "ack_scan")
    assert len(found) == 1
    ev = found[0]
    assert (ev.dst, ev.severity, ev.count) == ("", Severity.MEDIUM, 12)
    assert ev.evidence["hosts"] == 12
    assert ev.evidence["ports_sample"] == [445]


def test_a_probe_answered_in_the_next_batch_counts() -> None:
    """The RST arrives after the batch of its probe was processed (live capture cuts
    batches by time): the probe waits for it."""
    scan = _scan("A", range(1, 13))
    probes, answers = scan[0::2], scan[1::2]
    sink = ListSink()
    engine = Engine(None, [sink], sensor="test", only=["ack_scan"])
    summary = engine.run([scapy_batch(probes), scapy_batch(answers)])
    assert [(e.src, e.count) for e in of(list(summary.incidents), "ack_scan")] == [(SCANNER, 12)]


def test_a_probe_sent_again_after_its_answer_still_counts() -> None:
    """Batch 1: the probes. Batch 2: their RSTs, then each probe sent once more (nmap's
    retry) after its RST: the RST answers the first, in the batch before."""
    scan = _scan("A", range(1, 13))
    probes, answers = scan[0::2], scan[1::2]
    again = [
        _tcp(SCANNER, TARGET, 54321, port, "A", T0 + 1 + port * 0.002) for port in range(1, 13)
    ]
    engine = Engine(None, [ListSink()], sensor="test", only=["ack_scan"])
    summary = engine.run([scapy_batch(probes), scapy_batch(answers + again)])
    assert [(e.src, e.count) for e in of(list(summary.incidents), "ack_scan")] == [(SCANNER, 12)]


def test_batch_numbers_start_over_without_losing_a_waiting_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The slots hold 16-bit batch numbers: past the last, the waiting batches are numbered
    anew (here every 3 batches). Each batch holds one probe and the RST of the one before."""
    monkeypatch.setattr(ack_scan, "_LAST_NO", 3)
    scan = _scan("A", range(1, 14))
    probes, answers = scan[0::2], scan[1::2]
    batches = [scapy_batch([probes[0]])]
    batches += [scapy_batch([answers[k - 1], probes[k]]) for k in range(1, 13)]
    engine = Engine(None, [ListSink()], sensor="test", only=["ack_scan"])
    summary = engine.run(batches)
    assert [(e.src, e.count) for e in of(list(summary.incidents), "ack_scan")] == [(SCANNER, 12)]


def test_threshold_and_retransmissions(tmp_path: Path) -> None:
    nine = _scan("A", range(1, 10)) + _scan("A", range(1, 10), t0=T0 + 1)  # each probe twice
    assert of(run_engine(tmp_path, nine), "ack_scan") == []  # 9 targets < 10
    ten = of(run_engine(tmp_path, _scan("A", range(1, 11)), name="b.pcap"), "ack_scan")
    assert [e.count for e in ten] == [10]


def test_unanswered_late_or_early_answers_and_filtered_scans_stay_quiet(tmp_path: Path) -> None:
    """Probes a firewall drops (no RST), RSTs later than the answer timeout, and RSTs sent
    before the probe (not its answer): nothing rejected, nothing counted."""
    dropped = _scan("A", range(1, 200), answered=False)
    late = _scan("A", range(1, 50), delay=6.0, src="10.11.40.78")
    early = [
        _tcp(TARGET, "10.11.40.79", p, 54321, "R", T0 + p * 0.01 - 0.001) for p in range(1, 50)
    ] + [_tcp("10.11.40.79", TARGET, 54321, p, "A", T0 + p * 0.01) for p in range(1, 50)]
    events = run_engine(tmp_path, dropped + late + early)
    assert of(events, "ack_scan") == []


def test_dead_connections_and_rejected_client_ports_stay_quiet(tmp_path: Path) -> None:
    """Look-alikes: a client whose connections to a few services died (state lost: its
    ACKs rejected), a server whose client rebooted (its ACKs to 60 ephemeral ports of the
    client rejected), data segments rejected, and ordinary sessions."""
    pkts: list[Packet] = []
    for k in range(40):
        pkts += tcp_session(T0 + k, "10.11.30.5", f"10.10.20.{10 + k % 8}", 443, sport=40000 + k)
    for k, port in enumerate((22, 80, 443, 445, 3389, 8080)):  # a client, 6 services of one host
        pkts += [
            _tcp("10.11.30.6", TARGET, 50000 + k, port, "A", T0 + 50 + k),
            _tcp(TARGET, "10.11.30.6", port, 50000 + k, "R", T0 + 50.001 + k),
        ]
    for k in range(60):  # a server's ACKs to a rebooted client's ephemeral ports
        pkts += [
            _tcp(TARGET, "10.11.30.7", 443, 40000 + k, "A", T0 + 60 + k * 0.01),
            _tcp("10.11.30.7", TARGET, 40000 + k, 443, "R", T0 + 60.001 + k * 0.01),
        ]
    for k in range(30):  # data segments of dead connections, rejected
        pkts += [
            at(
                Ether(src=A_MAC, dst=B_MAC)
                / IP(src="10.11.30.8", dst=TARGET)
                / TCP(sport=45000, dport=1000 + k, flags="PA")
                / Raw(b"x" * 100),
                T0 + 70 + k * 0.01,
            ),
            _tcp(TARGET, "10.11.30.8", 1000 + k, 45000, "R", T0 + 70.001 + k * 0.01),
        ]
    events = run_engine(tmp_path, pkts)
    assert of(events, "ack_scan") == []


def test_pending_probes_are_bounded() -> None:
    """``max_pending``: the oldest unanswered probes are dropped first (their late RSTs
    then count for nothing), the newest still wait."""
    config = AuditorConfig.model_validate({"detectors": {"ack_scan": {"max_pending": 1000}}})
    scan = _scan("A", range(1, 1201), delay=0.0)
    probes, answers = scan[0::2], scan[1::2]
    engine = Engine(config, [ListSink()], sensor="test", only=["ack_scan"])
    summary = engine.run([scapy_batch(probes), scapy_batch(answers)])
    found = of(list(summary.incidents), "ack_scan")
    assert [e.count for e in found] == [1000]  # the first 200 probes were forgotten
    assert found[0].evidence["ports_sample"][0] == 201
