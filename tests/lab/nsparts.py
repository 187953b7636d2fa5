"""Helpers for the lab-part tests (servers, VPN, switches): namespaces and leak checks.

Every namespace a test makes is named ``nwb<pid><tag>`` (unique per test process) and
removed by :class:`Namespaces` even when the test fails; nothing touches the host's
interfaces or routes: links are made inside the test's namespaces only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

TAG = f"nwb{os.getpid() % 100_000}"


def nothing(kind: str, ident: str, **extra: str) -> None:
    """A recorder that keeps nothing (the tests clean up themselves)."""
    del kind, ident, extra


class Records(list[tuple[str, str]]):
    """A recorder that keeps (kind, ident) pairs."""

    def __call__(self, kind: str, ident: str, **extra: str) -> None:
        del extra
        self.append((kind, ident))


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (network, mount and pid namespaces)")
    for tool in ("ip", "unshare", "ssh-keygen", "/usr/sbin/sshd"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


class Namespaces:
    """Network namespaces of one test, all removed by :meth:`remove_all`."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add(self, suffix: str) -> str:
        name = f"{TAG}{suffix}"
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
        self.names.append(name)
        ip("netns", "add", name)
        ip("-n", name, "link", "set", "lo", "up")
        return name

    def veth(self, left: str, left_if: str, right: str, right_if: str) -> None:
        """A veth pair between two of the test's namespaces (created inside ``left``)."""
        ip("-n", left, "link", "add", left_if, "type", "veth", "peer", "name", right_if,
           "netns", right)  # fmt: skip
        ip("-n", left, "link", "set", left_if, "up")
        ip("-n", right, "link", "set", right_if, "up")

    def addr(self, netns: str, cidr: str, dev: str) -> None:
        ip("-n", netns, "addr", "add", cidr, "dev", dev)

    def remove_all(self) -> None:
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


@contextmanager
def namespaces() -> Iterator[Namespaces]:
    made = Namespaces()
    try:
        yield made
    finally:
        made.remove_all()


def automation_key(directory: Path) -> tuple[Path, str]:
    """A fresh Ed25519 key pair (OpenSSH format): (private key file 0600, public line)."""
    key = Ed25519PrivateKey.generate()
    private = directory / "id_ed25519"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return private, public.decode() + " netwarden-lab-test"


def ns_inode(pid: int, kind: str) -> int:
    """The inode of ``/proc/<pid>/ns/<kind>`` (a namespace's identity)."""
    return Path(f"/proc/{pid}/ns/{kind}").stat().st_ino


def netns_inode(name: str) -> int:
    return Path(f"/run/netns/{name}").stat().st_ino


def processes_in(kind: str, inode: int) -> list[int]:
    """Every process whose ``kind`` namespace is ``inode`` (the whole machine is looked at)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "ns" / kind).stat().st_ino == inode:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def host_mounts_under(path: Path) -> list[str]:
    """Mount points in this (the host's) mount namespace at or under ``path``, and overlays on it."""
    text = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if str(path) in line]


def wait_gone(pids: list[int], timeout: float = 20.0) -> list[int]:
    """Poll (bounded) until none of ``pids`` exists; return those still there."""
    deadline = time.monotonic() + timeout
    left = pids
    while left and time.monotonic() < deadline:
        left = [p for p in left if Path(f"/proc/{p}").exists() and not _zombie(p)]
        time.sleep(0.05)
    return left


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
