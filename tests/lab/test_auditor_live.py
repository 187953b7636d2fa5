"""The auditor sniffing a live interface: a veth pair into a namespace of its own.

Root only (skips otherwise). The test creates a network namespace and a veth pair
with unique names (10.250.N.0/30: .1 outside, .2 inside), removes both in a
finalizer, and sends traffic only across that pair: a bounded SYN scan (scapy,
from inside the namespace) and a clear-text FTP login against a tiny listener on
the outside end. The auditor sniffs the outside end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collectors.auditor.capture import LiveSource
from collectors.auditor.engine import Engine, RunSummary
from collectors.auditor.events import ListSink

pytestmark = pytest.mark.lab

SCAN_PORTS = 25

TRAFFIC = r"""
import socket, sys, time
from scapy.layers.inet import IP, TCP
from scapy.sendrecv import send

target, scan_ports = sys.argv[1], int(sys.argv[2])
send([IP(dst=target) / TCP(sport=45000, dport=p, flags="S") for p in range(2000, 2000 + scan_ports)],
     verbose=False, inter=0.01)
time.sleep(0.5)
with socket.create_connection((target, 21), timeout=5) as s:
    s.recv(100)
    s.sendall(b"USER backup\r\n"); s.recv(100)
    s.sendall(b"PASS Sup3rSecret!\r\n"); s.recv(100)
    s.sendall(b"QUIT\r\n")
"""


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def veth() -> Iterator[tuple[str, str, str, str]]:
    """(outside interface, namespace, outside address, inside address); removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    tag = f"{os.getpid() % 100_000}"
    ns, out_if, in_if = f"nwaud{tag}", f"nwa{tag}o", f"nwa{tag}i"
    net = os.getpid() % 250 + 1
    outside, inside = f"10.250.{net}.1", f"10.250.{net}.2"
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", out_if, "type", "veth", "peer", "name", in_if)
        _ip("link", "set", in_if, "netns", ns)
        _ip("addr", "add", f"{outside}/30", "dev", out_if)
        _ip("link", "set", out_if, "up")
        _ip("-n", ns, "addr", "add", f"{inside}/30", "dev", in_if)
        _ip("-n", ns, "link", "set", in_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
    except subprocess.CalledProcessError as exc:
        subprocess.run(["ip", "link", "del", out_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        pytest.skip(f"cannot create a namespace and veth pair here: {exc.stderr.strip()}")
    try:
        yield out_if, ns, outside, inside
    finally:
        subprocess.run(["ip", "link", "del", out_if], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def _ftp_listener(address: str) -> tuple[socket.socket, threading.Thread]:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((address, 21))
    srv.listen(1)
    srv.settimeout(20)

    def serve() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            conn.sendall(b"220 lab FTP\r\n")
            for reply in (b"331 Password required\r\n", b"530 Login incorrect\r\n", b"221 Bye\r\n"):
                if not conn.recv(200):
                    break
                conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return srv, thread


def test_live_scan_and_cleartext_ftp(veth: tuple[str, str, str, str], tmp_path: Path) -> None:
    out_if, ns, outside, inside = veth
    srv, server = _ftp_listener(outside)
    source = LiveSource(out_if, "tcp or arp", flush_seconds=0.2)
    engine = Engine(sinks=[ListSink()], sensor="lab")
    result: list[RunSummary] = []
    runner = threading.Thread(target=lambda: result.append(engine.run(source)), daemon=True)
    runner.start()
    time.sleep(1.5)  # the sniffer is up
    script = tmp_path / "traffic.py"
    script.write_text(TRAFFIC)
    sent = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, str(script), outside, str(SCAN_PORTS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0, sent.stderr
    server.join(10)
    srv.close()
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
