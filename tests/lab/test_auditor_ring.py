"""The auditor's TPACKET_V3 ring on a veth pair into a namespace of the test's own.

Root only (skips otherwise). Each test creates a network namespace and a veth pair
with unique names (10.249.N.0/30: .1 outside, .2 inside), removes both in a
finalizer, and sends traffic only across that pair: a bounded SYN scan and a
clear-text FTP login (scapy and a socket, as in ``test_auditor_live.py``), pings,
and bounded floods of UDP frames from ``bench/pktgen.c`` (compiled here with cc)
whose destination MAC address is no host's, so the outside end's IP stack drops
them at once and only the packet socket sees them. The auditor reads the outside end.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from collectors.auditor.batch import Batch
from collectors.auditor.capture import open_live
from collectors.auditor.config import AuditorConfig
from collectors.auditor.engine import Engine, RunSummary
from collectors.auditor.events import ListSink
from collectors.auditor.fanout import FanoutRun, WorkerSpec
from collectors.auditor.metrics import AuditorCollector
from collectors.auditor.ring import RingSource, ring_available
from tests.lab.vethpair import (
    SCAN_PORTS,
    Veth,
    ftp_listener,
    run_python,
    send_traffic,
    veth_pair,
)

pytestmark = pytest.mark.lab

PKTGEN = Path(__file__).resolve().parents[2] / "bench" / "pktgen.c"


@pytest.fixture
def veth() -> Iterator[Veth]:
    """A namespace and a veth pair of this test's own (10.249.N.0/30); removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, packet sockets)")
    if not ring_available():
        pytest.skip("no TPACKET_V3 ring here (packet sockets or the compiled kernels)")
    with veth_pair("nwring", "nwr", "10.249") as pair:
        yield pair


@pytest.fixture(scope="module")
def pktgen(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bench/pktgen.c`` compiled (skips without a C compiler)."""
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    out = tmp_path_factory.mktemp("pktgen") / "pktgen"
    subprocess.run([cc, "-O2", "-o", str(out), str(PKTGEN)], check=True, capture_output=True)
    return out


def _flood(pktgen: Path, veth: Veth, count: int, *, flows: int = 64, dports: int = 1) -> None:
    """``count`` UDP frames from inside the namespace, as fast as possible (bounded)."""
    _, ns, outside, inside, in_if = veth
    command = ["ip", "netns", "exec", ns, str(pktgen), in_if, str(count), "0", str(flows)]
    sent = subprocess.run(
        [*command, inside, outside, str(dports)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith(f"sent {count} "), sent.stdout


def test_ring_live_scan_and_cleartext_ftp(veth: Veth, tmp_path: Path) -> None:
    """``open_live`` (what ``--interface`` uses) takes the ring, and the detectors fire on it."""
    out_if, _, outside, inside, _ = veth
    server = ftp_listener(outside)
    source = open_live(out_if, "tcp or arp")
    assert isinstance(source, RingSource)
    engine = Engine(sinks=[ListSink()], sensor="lab")
    result: list[RunSummary] = []
    runner = threading.Thread(target=lambda: result.append(engine.run(source)), daemon=True)
    runner.start()
    sent = send_traffic(veth, tmp_path)
    assert sent.returncode == 0, sent.stderr
    server.join(10)
    source.stop()
    runner.join(30)
    assert result, "the auditor did not finish"
    summary = result[0]
    scan = [e for e in summary.incidents if e.detector == "port_scan"]
    assert [(e.src, e.dst) for e in scan] == [(inside, outside)], summary.incidents
    assert scan[0].count >= SCAN_PORTS - 2
    creds = [e for e in summary.incidents if e.detector == "cleartext_credentials"]
    assert [(e.src, e.dst, e.evidence["kind"]) for e in creds] == [(inside, outside, "ftp")]
    assert source.stats.kernel["drops"] == 0
    assert source.stats.kernel["packets"] >= summary.packets >= SCAN_PORTS


def _collect(source: RingSource, until: int, rounds: int = 100) -> list[Batch]:
    """Batches of ``source`` until ``until`` packets or ``rounds`` polls of 50 ms (bounded)."""
    got: list[Batch] = []
    reader = threading.Thread(target=lambda: got.extend(source), daemon=True)
    reader.start()
    for _ in range(rounds):
        if sum(len(b) for b in got) >= until:
            break
        time.sleep(0.05)
    source.stop()
    reader.join(10)
    assert not reader.is_alive()
    return got


def test_ring_bpf_filter(veth: Veth, pktgen: Path) -> None:
    """Only what the ``--bpf`` expression accepts enters the ring."""
    out_if, ns, outside, _inside, _ = veth
    source = RingSource(out_if, "icmp", flush_seconds=0.05)
    _flood(pktgen, veth, 500)  # UDP: filtered out
    pings = subprocess.run(
        ["ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", outside],
        capture_output=True,
        check=False,
    )
    assert pings.returncode == 0
    got = _collect(source, until=6)
    packets = np.concatenate([b.packets for b in got])
    assert len(packets) == 6  # 3 echo requests in, 3 replies out
    assert set(packets["proto"].tolist()) == {1}
    assert sorted(packets["icmp_type"].tolist()) == [0, 0, 0, 8, 8, 8]
    assert source.stats.kernel["packets"] == 6


def test_ring_kernel_drops_counted_and_exported(veth: Veth, pktgen: Path) -> None:
    """A tiny ring nobody reads while a bounded flood arrives: the kernel drops, and says so."""
    out_if = veth[0]
    flood = 20_000
    # 2 blocks of one page: some 60 frames fit, the rest of the flood is dropped
    source = RingSource(out_if, "udp", block_size=4096, block_nr=2, frame_size=2048)
    _flood(pktgen, veth, flood)
    got = _collect(source, until=flood, rounds=5)
    kernel = source.stats.kernel
    received = sum(len(b) for b in got)
    assert 0 < kernel["drops"] < flood
    assert kernel["packets"] == flood  # every frame was either kept or counted as dropped
    assert received + kernel["drops"] == flood
    registry = CollectorRegistry()
    registry.register(AuditorCollector(Engine().stats, site="lab", inputs=source.stats))
    text = generate_latest(registry).decode()
    assert f'netwarden_auditor_kernel_drops_total{{site="lab"}} {float(kernel["drops"])}' in text
    assert f'netwarden_auditor_kernel_packets_total{{site="lab"}} {float(flood)}' in text


SCAN = r"""
import sys
from scapy.layers.inet import IP, TCP
from scapy.sendrecv import send

target, ports = sys.argv[1], int(sys.argv[2])
# one flow per port (and a source port each): a flow hash would spread them
send([IP(dst=target) / TCP(sport=40000 + p, dport=3000 + p, flags="S") for p in range(ports)],
     verbose=False, inter=0.005)
"""


def test_fanout_two_workers_one_scan_once(veth: Veth, pktgen: Path, tmp_path: Path) -> None:
    """Two workers share the frames, yet a scan spanning many flows is one incident, whole."""
    out_if, ns, outside, inside, in_if = veth
    sink = ListSink()
    engine = Engine(sinks=[sink], sensor="lab")
    spec = WorkerSpec(
        interface=out_if,
        bpf_filter=None,
        group=os.getpid() & 0xFFFF,
        config=AuditorConfig(),
        site=None,
        sensor="lab",
        inventory=None,
        only=None,
        stats_seconds=0.2,
        ring_blocks=8,
    )
    fan = FanoutRun(spec, workers=2)
    ready = threading.Event()
    result: list[RunSummary] = []
    runner = threading.Thread(
        target=lambda: result.append(fan.run(engine, ready=ready)), daemon=True
    )
    runner.start()
    try:
        assert ready.wait(60), "the workers did not start"
        # frames between two host pairs the hash sends to different workers (the last bit)
        for src in ("192.0.2.10", "192.0.2.11"):
            sent = subprocess.run(
                ["ip", "netns", "exec", ns, str(pktgen), in_if, "300", "0", "64", src, outside],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert sent.returncode == 0, sent.stderr
        scan = run_python(veth, tmp_path / "scan.py", SCAN, "40")
        assert scan.returncode == 0, scan.stderr
        time.sleep(1.0)  # the last blocks retire (100 ms) and the counters are sent
    finally:
        fan.stop()
        runner.join(60)
    assert result, "the run did not finish"
    summary = result[0]
    per_worker = fan.worker_packets()
    assert len(per_worker) == 2
    assert min(per_worker) >= 300, per_worker  # both had work
    scans = [e for e in summary.incidents if e.detector == "port_scan"]
    assert [(e.src, e.dst) for e in scans] == [(inside, outside)], summary.incidents
    assert scans[0].count >= 38  # every port on one worker: none split off to the other
    assert len({e.id for e in sink.events if e.detector == "port_scan"}) == 1
    assert engine.stats.events[("port_scan", scans[0].severity.value)] == 1
    assert engine.stats.packets == sum(per_worker) >= 600 + 40
    assert fan.stats.kernel["drops"] == 0


def test_cli_workers_sigterm_flushes_and_exports(veth: Veth, pktgen: Path, tmp_path: Path) -> None:
    """``netwarden auditor --interface IF --workers 2`` end to end: the scan is one incident
    in ``--events`` and the summary, the counters are the workers' sums, SIGTERM ends it."""
    out_if, _, outside, inside, _ = veth
    events = tmp_path / "events.jsonl"
    command = [sys.executable, "-m", "netwarden.cli", "-v", "auditor", "--interface", out_if]
    proc = subprocess.Popen(
        [*command, "--workers", "2", "--json", "--events", str(events), "--status-every", "0"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for _ in range(200):  # bounded: a line per log record
            line = proc.stderr.readline()
            if not line or "capture workers on" in line:
                break
        assert "capture workers on" in line, line
        _flood(pktgen, veth, 2000)
        scan = run_python(veth, tmp_path / "scan.py", SCAN, "30")
        assert scan.returncode == 0, scan.stderr
        time.sleep(1.5)  # the last blocks retire and the workers' counters come in
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 1, err  # a port scan is a finding (medium or above)
    summary = json.loads(out)
    assert summary["packets"] >= 2000 + 30
    scans = [e for e in summary["incidents"] if e["detector"] == "port_scan"]
    assert [(e["src"], e["dst"]) for e in scans] == [(inside, outside)]
    written = [json.loads(x) for x in events.read_text().splitlines()]
    assert {e["id"] for e in written if e["detector"] == "port_scan"} == {scans[0]["id"]}
