"""SSH host keys: probe a device's key and check it against a known_hosts file.

Netmiko can reject unknown keys (``ssh_strict``), but it reports every rejection
as a connection timeout. So before a session logs in, :func:`check_host_key`
runs an SSH key exchange only (paramiko ``Transport``, no authentication, no
command) and compares the key the device offers with the file:

- known and equal: go on (Netmiko then checks it again, strictly, on its own
  connection, so a key swapped between the two is still refused);
- unknown: refused, unless trust-on-first-use is on; then it is appended to the
  file (under a lock: many devices are probed at once);
- changed: ALWAYS refused, whatever the options say.

The file is parsed once per process while it is unchanged (cached by path,
mtime and size), and Netmiko gets a one-line file holding only the verified key
(:attr:`HostKeyCheck.pinned_file`): re-parsing a fleet-sized known_hosts for every
session (three times per plan) made the client's CPU grow with fleet size squared
(bench/RESULTS.md, bench_plan_apply.py).

known_hosts entries are OpenSSH's: ``host`` on port 22, ``[host]:port`` otherwise.
"""

from __future__ import annotations

import atexit
import base64
import fcntl
import hashlib
import logging
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import paramiko

from netwarden.errors import DeviceConnectionError, HostKeyError

logger = logging.getLogger(__name__)

_FILE_LOCKS: dict[Path, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class HostKeyStatus(StrEnum):
    KNOWN = "known"
    ADDED = "added"  # unknown, recorded by trust-on-first-use


@dataclass(frozen=True)
class HostKeyCheck:
    """The outcome of a successful check.

    ``pinned_file`` is a known_hosts file with just the verified key of this host,
    for the client that logs in next (Netmiko's ``alt_key_file``).
    """

    status: HostKeyStatus
    key_type: str
    fingerprint: str
    pinned_file: Path


_CACHE: dict[Path, tuple[int, int, paramiko.HostKeys]] = {}
_CACHE_GUARD = threading.Lock()
_PIN_DIR: Path | None = None


def _pin_dir() -> Path:
    global _PIN_DIR  # noqa: PLW0603  (one private directory per process, made on first use)
    with _CACHE_GUARD:
        if _PIN_DIR is None:
            _PIN_DIR = Path(tempfile.mkdtemp(prefix="netwarden-hostkeys-"))
            atexit.register(shutil.rmtree, _PIN_DIR, True)
        return _PIN_DIR


def pinned_file(name: str, key: paramiko.PKey) -> Path:
    """A known_hosts file (mode 0600) holding only ``name key``; one per host and key."""
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    path = _pin_dir() / (hashlib.sha256(line.encode()).hexdigest()[:32] + ".known_hosts")
    if not path.exists():
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(line, encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(path)
    return path


def known_hosts_name(host: str, port: int) -> str:
    """The name a host has in known_hosts.

    Examples:
        >>> known_hosts_name("10.0.0.1", 22)
        '10.0.0.1'
        >>> known_hosts_name("127.0.0.1", 2201)
        '[127.0.0.1]:2201'
    """
    return host if port == 22 else f"[{host}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:...`` fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def probe_host_key(
    host: str, port: int, timeout: float, preferred_types: list[str] | None = None
) -> paramiko.PKey:
    """The host key a server offers: a key exchange, then hang up (no login).

    ``preferred_types`` are asked for first (the types known_hosts already holds
    for the host), as OpenSSH and paramiko's own client do.

    Raises:
        OSError: TCP connect failed.
        paramiko.SSHException: the SSH handshake failed or timed out.
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        if preferred_types:
            options = transport.get_security_options()
            others = [t for t in options.key_types if t not in preferred_types]
            options.key_types = [t for t in preferred_types if t in options.key_types] + others
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    finally:
        transport.close()
        sock.close()


def _file_lock(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(path.resolve(), threading.Lock())


def _load(path: Path) -> paramiko.HostKeys:
    """The parsed file, from the cache while its mtime and size are unchanged (read-only use)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return paramiko.HostKeys()
    except OSError as exc:
        raise DeviceConnectionError(str(path), f"cannot read the known_hosts file: {exc}") from exc
    resolved = path.resolve()
    with _CACHE_GUARD:
        hit = _CACHE.get(resolved)
    if hit is not None and hit[0] == st.st_mtime_ns and hit[1] == st.st_size:
        return hit[2]
    keys = paramiko.HostKeys()
    try:
        keys.load(str(path))
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise DeviceConnectionError(str(path), f"cannot read the known_hosts file: {exc}") from exc
    with _CACHE_GUARD:
        _CACHE[resolved] = (st.st_mtime_ns, st.st_size, keys)
    return keys


def check_host_key(
    device: str,
    host: str,
    port: int,
    known_hosts: Path,
    *,
    trust_on_first_use: bool = False,
    timeout: float = 10.0,
) -> HostKeyCheck:
    """Check the key ``host:port`` offers against ``known_hosts``; record it under TOFU.

    Raises:
        HostKeyError: the key is unknown (and TOFU is off) or differs from the recorded one.
        DeviceConnectionError: the device cannot be reached or does not speak SSH.
    """
    name = known_hosts_name(host, port)
    recorded = _load(known_hosts).lookup(name)
    preferred = list(recorded.keys()) if recorded else None
    try:
        key = probe_host_key(host, port, timeout, preferred)
    except (OSError, EOFError, paramiko.SSHException) as exc:
        raise DeviceConnectionError(
            device,
            f"cannot reach SSH on {host}:{port} to check its host key: {exc or type(exc).__name__}",
        ) from exc
    offered = f"{key.get_name()} {fingerprint(key)}"
    if recorded:
        known = recorded.get(key.get_name())
        if known is not None and known == key:
            return HostKeyCheck(
                HostKeyStatus.KNOWN, key.get_name(), fingerprint(key), pinned_file(name, key)
            )
        have = ", ".join(f"{t} {fingerprint(k)}" for t, k in recorded.items())
        raise HostKeyError(
            device,
            f"HOST KEY CHANGED for {name}: {known_hosts} has {have}, the device offers "
            f"{offered}; refusing to connect (a replaced device or a man in the middle). "
            f"If the change is expected, verify the new key and replace the line in {known_hosts}; "
            "--trust-on-first-use never accepts a changed key",
        )
    if not trust_on_first_use:
        raise HostKeyError(
            device,
            f"unknown host key for {name} ({offered}): not in {known_hosts}; refusing to connect. "
            "Verify the key and add it to the file, or pass --trust-on-first-use to record it",
        )
    _append(known_hosts, name, key)
    logger.warning("%s: trusted on first use: %s %s -> %s", device, name, offered, known_hosts)
    return HostKeyCheck(
        HostKeyStatus.ADDED, key.get_name(), fingerprint(key), pinned_file(name, key)
    )


def _append(path: Path, name: str, key: paramiko.PKey) -> None:
    """Append ``name key`` to the file unless it is there already (threads and processes)."""
    line = f"{name} {key.get_name()} {key.get_base64()}\n"
    with _file_lock(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.seek(0)
                text = handle.read()
                if line in text.splitlines(keepends=True):
                    return
                if text and not text.endswith("\n"):
                    handle.write("\n")
                handle.write(line)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
