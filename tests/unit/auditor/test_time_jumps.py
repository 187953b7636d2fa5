"""Packet time that goes back: captures joined end to end are separate traces, with the
same incidents whatever the file's chunks (decision 123); a single capture a few hours out
of order stays one trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from collectors.auditor import decode
from collectors.auditor.capture import FileSource
from collectors.auditor.engine import NEW_TRACE_SECONDS, Engine, RunSummary
from collectors.auditor.events import ListSink
from tests.unit.auditor.auditor_helpers import T0, at, of, write_pcap

SCANNER, VICTIM = "10.11.40.66", "10.11.20.10"
DAY = 86_400.0


def _scan(t: float, ports: range, scanner: str = SCANNER) -> list:
    e = Ether(src="02:00:00:00:40:66", dst="02:00:00:00:00:01")
    return [
        at(e / IP(src=scanner, dst=VICTIM) / TCP(sport=45000, dport=p, flags="S"), t + k * 0.2)
        for k, p in enumerate(ports)
    ]


def _run(path: Path) -> RunSummary:
    engine = Engine(sinks=[ListSink()], sensor="test")
    return engine.run(FileSource([path], prefetch=False))


def _incidents(summary: RunSummary) -> list[dict]:
    return sorted(
        (e.model_dump(mode="json", exclude={"ts"}) for e in summary.incidents),
        key=lambda e: (e["detector"], e["first_seen"], e["src"]),
    )


@pytest.mark.parametrize("chunk", [2048, 9000, 1 << 20])
def test_captures_joined_end_to_end_are_separate_traces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    this_year = _scan(T0, range(1, 21))
    last_year = _scan(T0 - 365 * DAY, range(1, 21))  # the same scan, a capture from before
    later = _scan(T0 + 2 * DAY, range(100, 120), scanner="10.11.40.67")  # forward: one trace
    joined = write_pcap(tmp_path / "joined.pcap", this_year + last_year + later)
    alone = [
        _run(write_pcap(tmp_path / "a.pcap", this_year)),
        _run(write_pcap(tmp_path / "b.pcap", last_year + later)),
    ]
    monkeypatch.setattr(decode, "CHUNK_BYTES", chunk)
    summary = _run(joined)
    assert summary.time_restarts == 1
    scans = of(summary.incidents, "port_scan")
    assert sorted((e.src, e.count) for e in scans) == [
        (SCANNER, 20),
        (SCANNER, 20),
        ("10.11.40.67", 20),
    ]
    # what each capture gives on its own, whatever the chunks the file is read in
    assert _incidents(summary) == sorted(
        (i for s in alone for i in _incidents(s)),
        key=lambda e: (e["detector"], e["first_seen"], e["src"]),
    )


def test_a_capture_hours_out_of_order_is_one_trace(tmp_path: Path) -> None:
    late, early = _scan(T0 + 3 * 3600, range(1, 11)), _scan(T0, range(11, 21))
    summary = _run(write_pcap(tmp_path / "unsorted.pcap", late + early))
    assert NEW_TRACE_SECONDS > 3 * 3600
    assert summary.time_restarts == 0
