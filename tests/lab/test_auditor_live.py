"""The auditor sniffing a live interface: a veth pair into a namespace of its own.

Root only (skips otherwise). The test creates a network namespace and a veth pair
with unique names (10.250.N.0/30: .1 outside, .2 inside), removes both in a
finalizer, and sends traffic only across that pair: a bounded SYN scan (scapy,
from inside the namespace) and a clear-text FTP login against a tiny listener on
the outside end. The auditor sniffs the outside end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.auditor.capture import LiveSource
from collectors.auditor.engine import Engine, RunSummary
from collectors.auditor.events import ListSink
from tests.lab.vethpair import SCAN_PORTS, Veth, ftp_listener, send_traffic, veth_pair

pytestmark = pytest.mark.lab


@pytest.fixture
def veth() -> Iterator[Veth]:
    """A namespace and a veth pair of this test's own (10.250.N.0/30); removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    with veth_pair("nwaud", "nwa", "10.250") as pair:
        yield pair


def test_live_scan_and_cleartext_ftp(veth: Veth, tmp_path: Path) -> None:
    out_if, _, outside, inside, _ = veth
    server = ftp_listener(outside)
    source = LiveSource(out_if, "tcp or arp", flush_seconds=0.2)
    engine = Engine(sinks=[ListSink()], sensor="lab")
    result: list[RunSummary] = []
    runner = threading.Thread(target=lambda: result.append(engine.run(source)), daemon=True)
    runner.start()
    time.sleep(1.5)  # the sniffer is up
    sent = send_traffic(veth, tmp_path)
    assert sent.returncode == 0, sent.stderr
    server.join(10)
    time.sleep(1.0)
    source.stop()
    runner.join(30)
    assert result, "the auditor did not finish"
    summary = result[0]
    by = {(e.detector, e.src) for e in summary.incidents}
    assert ("port_scan", inside) in by, summary.incidents
    scan = next(e for e in summary.incidents if e.detector == "port_scan")
    assert scan.count >= SCAN_PORTS - 2
    assert scan.dst == outside
    creds = [e for e in summary.incidents if e.detector == "cleartext_credentials"]
    assert [(e.src, e.dst, e.evidence["kind"]) for e in creds] == [(inside, outside, "ftp")]
    assert "Sup3rSecret!" not in str([e.model_dump() for e in summary.incidents])
    assert summary.packets >= SCAN_PORTS
