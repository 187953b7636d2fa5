"""Helpers for the namespace-lab tests: the CLI, commands in a lab namespace, probes.

Every probe is bounded (a count, a timeout) and sends only to lab addresses, from
inside lab namespaces.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from netwarden.lab.ns.state import LabState, read_state
from netwarden.lab.ns.status import pid_alive

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "netwarden.cli"]

ICMP_ECHO = r"""
import os, socket, struct, sys, time
dst = sys.argv[1]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack(f"!{len(b)//2}H", b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
ident = os.getpid() & 0xffff
payload = b"netwarden-lab-probe"
head = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
pkt = struct.pack("!BBHHH", 8, 0, csum(head + payload), ident, 1) + payload
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1.0)
deadline = time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    s.sendto(pkt, (dst, 0))
    try:
        while True:
            data, addr = s.recvfrom(2048)
            ihl = (data[0] & 0x0F) * 4
            kind, _, _, got, _ = struct.unpack("!BBHHH", data[ihl:ihl + 8])
            if kind == 0 and got == ident and addr[0] == dst:
                print("reply from", addr[0]); sys.exit(0)
    except (socket.timeout, TimeoutError):
        continue
sys.exit(1)
"""

TCP_LISTEN = r"""
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(4); srv.settimeout(float(sys.argv[3]))
print("listening", flush=True)
try:
    for _ in range(int(sys.argv[4])):
        conn, peer = srv.accept()
        with conn:
            conn.sendall(f"hello {peer[0]}\n".encode())
except (socket.timeout, TimeoutError):
    sys.exit(1)
"""

TCP_CONNECT = r"""
import socket, sys
with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as s:
    print(s.recv(100).decode().strip())
"""


def lab_prefix(lab_dir: Path) -> str:
    """The namespace prefix ``lab up`` gives the lab in ``lab_dir`` (plan.lab_id_for)."""
    return "nw" + hashlib.sha256(str(lab_dir.resolve()).encode()).hexdigest()[:4]


def cli(*args: str, log: Path, env: dict[str, str] | None = None, timeout: float = 300) -> int:
    """Run ``netwarden ARGS`` with its output in ``log`` (a file, not a pipe: lab daemons
    inherit nothing that makes the call wait for them); return the exit code."""
    with log.open("ab") as out:
        out.write(f"\n$ netwarden {' '.join(args)}\n".encode())
        out.flush()
        done = subprocess.run(
            [*CLI, *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            timeout=timeout,
            check=False,
        )
    return done.returncode


def in_ns(netns: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ping(netns: str, address: str, seconds: float = 5) -> bool:
    """One ICMP echo answered within ``seconds`` (raw socket in Python: no ping binary needed)."""
    done = in_ns(
        netns, sys.executable, "-c", ICMP_ECHO, address, str(seconds), timeout=seconds + 10
    )
    return done.returncode == 0


@contextlib.contextmanager
def tcp_listener(netns: str, address: str, port: int, accepts: int = 1) -> Iterator[None]:
    """A tiny TCP server in ``netns`` answering ``hello <peer>`` to ``accepts`` connections."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", TCP_LISTEN, address, str(port),
         "20", str(accepts)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "listening"
        yield
    finally:
        proc.kill()
        proc.wait(timeout=10)


def tcp_hello(netns: str, address: str, port: int) -> str:
    done = in_ns(netns, sys.executable, "-c", TCP_CONNECT, address, str(port))
    return done.stdout.strip() if done.returncode == 0 else f"failed: {done.stderr.strip()}"


def fw_counter(netns: str, comment: str) -> int:
    """Packets counted by the firewall rule with this comment (``staff->wan``)."""
    text = in_ns(netns, "nft", "list", "ruleset").stdout
    for line in text.splitlines():
        if f'comment "{comment}"' in line:
            m = re.search(r"packets (\d+)", line)
            return int(m[1]) if m else 0
    raise AssertionError(f"{netns}: no rule commented {comment!r}")


def netns_with(prefix: str) -> set[str]:
    try:
        return {p.name for p in Path("/run/netns").iterdir() if p.name.startswith(f"{prefix}-")}
    except FileNotFoundError:
        return set()


def netns_inodes(names: set[str]) -> set[int]:
    out = set()
    for name in names:
        with contextlib.suppress(OSError):
            out.add(Path("/run/netns", name).stat().st_ino)
    return out


def procs_in(inodes: set[int]) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "ns" / "net").stat().st_ino in inodes:
                    found.add(int(entry.name))
    return found


def force_cleanup(prefix: str) -> None:
    """Last resort for a test that failed half-way: kill and delete this test's namespaces."""
    names = netns_with(prefix)
    for pid in procs_in(netns_inodes(names)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    time.sleep(0.2)
    for name in names:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@contextlib.contextmanager
def sensor_lab(path: Path, log: Path) -> Iterator[LabState]:
    """``lab up --sites 1 --no-sim --sensors`` in ``path`` (HQ ``jed``, one field office,
    an auditor on each site's sensor): its state, then ``lab down``, which must leave
    neither a namespace nor an auditor behind (what it leaves is killed all the same)."""
    try:
        code = cli("lab", "up", "--sites", "1", "--no-sim", "--sensors", "--out", str(path),
                   log=log)  # fmt: skip
        assert code == 0, log.read_text()
        state = read_state(path)
        assert state is not None
        yield state
    finally:
        last = read_state(path) if path.exists() else None
        auditors = [e.ident for e in last.of_kind("pid") if e.extra.get("role") == "auditor"] \
            if last is not None else []  # fmt: skip
        if path.exists():
            cli("lab", "down", str(path), log=log)
        left = netns_with(lab_prefix(path))
        running = [a for a in auditors if pid_alive(a)]
        force_cleanup(lab_prefix(path))
    assert not left, f"lab down left {sorted(left)}"
    assert not running, f"lab down left the auditors {running}"
