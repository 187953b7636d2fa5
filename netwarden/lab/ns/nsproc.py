"""Processes and sockets of the lab's namespaces, read from ``/proc`` (no shelling out).

- :func:`pid_ident`: the ``"<pid>:<starttime>"`` identity a ``pid`` record carries;
- :func:`children`: the children of a process (the holder behind ``unshare --fork``);
- :func:`listening`: the TCP/UDP sockets bound in a process's network namespace;
- :func:`ns_socket`: a socket created inside a named network namespace (a helper
  thread enters it with ``setns(2)``; the socket stays there, the caller does not),
  so a check or a test talks to a lab address without routes from the host;
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import socket
import sys
import threading
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

logger = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"


def proc_starttime(pid: int) -> int:
    """Field 22 of ``/proc/<pid>/stat``: the start time in clock ticks since boot.

    Raises:
        ProcessLookupError: there is no such process.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError as exc:
        raise ProcessLookupError(f"no process {pid}") from exc
    # The command (field 2) is in parentheses and may hold spaces: split after it.
    return int(text[text.rindex(")") + 2 :].split()[22 - 3])


def pid_ident(pid: int) -> str:
    """``"<pid>:<starttime>"``, the identity of a ``pid`` record.

    Examples:
        >>> pid_ident(os.getpid()).startswith(f"{os.getpid()}:")
        True
    """
    return f"{pid}:{proc_starttime(pid)}"


def alive(ident: str) -> bool:
    """The process of ``ident`` (``pid_ident``) still runs (same pid, same start, not a zombie).

    Examples:
        >>> alive(pid_ident(os.getpid())), alive(f"{os.getpid()}:0")
        (True, False)
    """
    pid, _, start = ident.partition(":")
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return False
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0] != "Z" and fields[22 - 3] == start


def children(pid: int) -> list[int]:
    """The children of ``pid`` (every thread's), oldest first; [] once it is gone."""
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return []
    for task in tasks:
        try:
            found += [int(c) for c in (task / "children").read_text(encoding="ascii").split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return sorted(found)


@dataclass(frozen=True)
class Bound:
    """A socket bound in a namespace: ``proto`` is ``tcp`` (listening) or ``udp``."""

    proto: str
    address: IPv4Address
    port: int


def _hex_address(text: str) -> tuple[IPv4Address | None, int]:
    """A /proc/net/{tcp,udp}[6] address (host byte order words) -> (IPv4 it serves, port).

    An IPv6 wildcard (dual-stack, as Go daemons bind) serves every IPv4 address: 0.0.0.0;
    a v4-mapped address serves that IPv4; another IPv6 address serves none (None).

    Examples:
        >>> _hex_address("0100007F:0016" if sys.byteorder == "little" else "7F000001:0016")
        (IPv4Address('127.0.0.1'), 22)
        >>> _hex_address("00000000000000000000000000000000:2382")
        (IPv4Address('0.0.0.0'), 9090)
    """
    addr, _, port = text.partition(":")
    words = [int(addr[i : i + 8], 16).to_bytes(4, sys.byteorder) for i in range(0, len(addr), 8)]
    raw = b"".join(words)
    if len(raw) == 4:
        return IPv4Address(raw), int(port, 16)
    v6 = IPv6Address(raw)
    if v6 == IPv6Address(0):
        return IPv4Address(0), int(port, 16)
    return v6.ipv4_mapped, int(port, 16)


def listening(pid: int) -> set[Bound]:
    """TCP sockets listening and UDP sockets bound (IPv4, or IPv6 serving IPv4) in ``pid``'s netns.

    Raises:
        ProcessLookupError: ``pid`` is gone.
    """
    found: set[Bound] = set()
    for proto, state in (("tcp", _TCP_LISTEN), ("udp", _UDP_UNCONNECTED)):
        for table in (proto, f"{proto}6"):
            try:
                text = Path(f"/proc/{pid}/net/{table}").read_text(encoding="ascii")
            except FileNotFoundError as exc:
                if table.endswith("6"):
                    continue  # no IPv6 in this kernel
                raise ProcessLookupError(f"no process {pid}") from exc
            for line in text.splitlines()[1:]:
                fields = line.split()
                if len(fields) > 3 and fields[3] == state:
                    address, port = _hex_address(fields[1])
                    if address is not None:
                        found.add(Bound(proto, address, port))
    return found


def is_bound(bound: set[Bound], proto: str, address: IPv4Address, port: int) -> bool:
    """``proto``/``port`` is served on ``address`` (bound to it or to 0.0.0.0)."""
    return any(
        b.proto == proto and b.port == port and b.address in (address, IPv4Address(0))
        for b in bound
    )


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def ns_socket(
    netns: str, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM
) -> socket.socket:
    """A new socket in the network namespace ``netns`` (``/run/netns/<netns>``); needs root.

    A helper thread enters the namespace (``setns`` changes only the calling thread),
    creates the socket and ends; the socket keeps its namespace for its whole life.

    Raises:
        OSError: the namespace does not exist or cannot be entered.
    """
    result: list[socket.socket | BaseException] = []

    def enter() -> None:
        try:
            fd = os.open(NETNS_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc().setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns into network namespace {netns}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(socket.socket(family, kind))
        except OSError as exc:
            result.append(exc)

    thread = threading.Thread(target=enter, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    made = result[0]
    if isinstance(made, BaseException):
        raise made
    return made


def ns_connect(netns: str, address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection from inside ``netns`` to ``address:port`` (the caller closes it)."""
    sock = ns_socket(netns)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
    except OSError:
        sock.close()
        raise
    return sock


def netns_exists(netns: str) -> bool:
    """``ip netns add`` created ``netns`` (``/run/netns/<netns>``)."""
    return (NETNS_DIR / netns).exists()


def log_tail(path: Path, lines: int = 12) -> str:
    """The last ``lines`` lines of a log file, for an error message ("" when absent)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
