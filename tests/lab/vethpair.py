"""A veth pair into a namespace of the test's own, and the traffic the auditor tests send.

Shared by ``test_auditor_live.py`` (the scapy sniffer) and ``test_auditor_ring.py``
(the TPACKET_V3 ring) so both judge the detectors on the same scan and login. The
pair is named from a prefix and the test process's pid (so parallel runs and the
two modules never collide), lives in a /30 of the caller's ``10.X.N.0`` block
(.1 outside, .2 inside), and is removed even when the test fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

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
"""A bounded SYN scan of ``scan_ports`` ports, then a clear-text FTP login (scapy)."""


class Veth(NamedTuple):
    """The two ends of the pair: the auditor reads ``out_if``; traffic starts in ``ns``."""

    out_if: str
    ns: str
    outside: str
    inside: str
    in_if: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _remove(ns: str, out_if: str) -> None:
    subprocess.run(["ip", "link", "del", out_if], check=False, capture_output=True)
    subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


@contextmanager
def veth_pair(ns_prefix: str, if_prefix: str, block: str) -> Iterator[Veth]:
    """Namespace ``<ns_prefix><pid>``, interfaces ``<if_prefix><pid>o/i``, ``<block>.N.0/30``.

    Skips the test when the host cannot make them (a container without the rights).
    """
    tag = f"{os.getpid() % 100_000}"
    ns, out_if, in_if = f"{ns_prefix}{tag}", f"{if_prefix}{tag}o", f"{if_prefix}{tag}i"
    net = os.getpid() % 250 + 1
    outside, inside = f"{block}.{net}.1", f"{block}.{net}.2"
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
        _remove(ns, out_if)
        pytest.skip(f"cannot create a namespace and veth pair here: {exc.stderr.strip()}")
    try:
        yield Veth(out_if, ns, outside, inside, in_if)
    finally:
        _remove(ns, out_if)


def ftp_listener(address: str) -> threading.Thread:
    """A one-login FTP server on ``address`` (refuses the login), in a thread."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((address, 21))
    srv.listen(1)
    srv.settimeout(20)

    def serve() -> None:
        with srv:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"220 lab FTP\r\n")
                for reply in (
                    b"331 Password required\r\n",
                    b"530 Login incorrect\r\n",
                    b"221 Bye\r\n",
                ):
                    if not conn.recv(200):
                        break
                    conn.sendall(reply)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def run_python(
    veth: Veth, script: Path, source: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Python ``source``, saved as ``script``, run inside the namespace with the outside
    address and ``args`` as its arguments (bounded: 60 s)."""
    script.write_text(source)
    command = ["ip", "netns", "exec", veth.ns, sys.executable, str(script), veth.outside]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def send_traffic(veth: Veth, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """:data:`TRAFFIC` from inside the namespace to the outside end."""
    return run_python(veth, tmp_path / "traffic.py", TRAFFIC, str(SCAN_PORTS))
