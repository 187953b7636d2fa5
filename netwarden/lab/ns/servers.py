"""Lab servers: a holder process per server (own root, hostname, daemons) in its namespace.

:func:`start_server` prepares ``<lab>/nodes/<host>/`` (the overlay's upper and work
directories, the sshd host key made with ``ssh-keygen``, the lab CA's certificate for
TLS services, the TACACS+ users file from ``ServerSpec.tacacs``, ``server.json``) and starts
the holder (:mod:`~netwarden.lab.ns.server_init`) with ``ip netns exec <ns> unshare
--mount --uts --pid --fork``; it returns at once with the host key as known_hosts
lines for every address. :func:`wait_ready` then polls, bounded, until the holder
reports its daemons running, every socket they must bind is bound in the server's
namespace and sshd answers with its banner on each address. :func:`stop_server`
stops it (SIGTERM to the holder, SIGKILL if it lingers): no process or mount stays.

Examples:
    >>> spec = ServerSpec("jed-ntp1", "nwab12-jed-jed-ntp1", (IPv4Address("10.10.20.11"),),
    ...                   ("ntp",), (IPv4Network("10.10.0.0/16"),), (), None)
    >>> known_hosts_lines(spec.addresses, "ssh-ed25519 AAAAC3Nza")
    ('10.10.20.11 ssh-ed25519 AAAAC3Nza',)
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netwarden.errors import LabError, LabServiceError
from netwarden.lab.ns.nsproc import (
    alive,
    children,
    is_bound,
    listening,
    log_tail,
    netns_exists,
    ns_connect,
    pid_ident,
)
from netwarden.lab.ns.record import Recorder
from netwarden.lab.ns.server_init import LOG_DIR, STATUS_FILE, HolderConfig
from netwarden.lab.ns.services import ServiceContext
from netwarden.lab.ns.services.labtls import (
    ensure_service_certificate,
    install_lab_ca,
    lab_ca_files,
    needs_certificate,
)
from netwarden.lab.ns.services.tacacs import write_users
from netwarden.privatefile import write_private

if TYPE_CHECKING:
    from netwarden.inventory.models import Inventory
    from netwarden.lab.tacplus.policy import TacacsSecrets

logger = logging.getLogger(__name__)

NODES_DIR = "nodes"
HOLDER_LOG = "holder.log"
HOST_KEY = "etc/ssh/ssh_host_ed25519_key"  # in the overlay's upper directory
_HOSTNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOLDER_APPEARS_SECONDS = 15.0


@dataclass(frozen=True)
class ServerSpec:
    """One lab server (or sensor, or firewall): its namespace is made and addressed already."""

    name: str  # inventory host name, also the hostname
    netns: str
    addresses: tuple[IPv4Address, ...]
    services: tuple[str, ...]  # the inventory's ``provides``
    site_networks: tuple[IPv4Network, ...]  # who may use its services
    ntp_upstreams: tuple[IPv4Address, ...]
    log_host: IPv4Address | None
    dns_records: tuple[tuple[str, IPv4Address], ...] = ()  # what its unbound answers
    dns_servers: tuple[IPv4Address, ...] = ()  # its resolv.conf (none: 127.0.0.1)
    domain: str = ""  # the organisation's domain: LDAP base DN, Kerberos realm, TLS names
    tacacs: TacacsSecrets | None = field(default=None, repr=False)  # key and users for tacacs


@dataclass(frozen=True)
class StartedServer:
    """A running holder: ``pid`` is pid 1 of the server's pid namespace, seen from the host."""

    name: str
    netns: str
    pid: int
    pid_ident: str
    launcher_pid: int
    node_dir: Path
    addresses: tuple[IPv4Address, ...]
    host_key: str  # "ssh-ed25519 AAAA..."
    known_hosts: tuple[str, ...]
    process: subprocess.Popen[bytes] | None = field(default=None, compare=False, repr=False)


def known_hosts_lines(addresses: tuple[IPv4Address, ...], host_key: str) -> tuple[str, ...]:
    """One known_hosts line per address (port 22: the plain ``addr`` form)."""
    return tuple(f"{address} {host_key}" for address in addresses)


def dns_records(inventory: Inventory) -> tuple[tuple[str, IPv4Address], ...]:
    """``<device>.<org domain>`` -> the device's service address, for every inventory device."""
    domain = inventory.org.domain.strip(".")
    return tuple(
        (f"{name}.{domain}", device.service_address())
        for name, device in sorted(inventory.devices.items())
    )


def _validate(spec: ServerSpec, lab_dir: Path) -> None:
    if not _HOSTNAME.match(spec.name):
        raise LabError(f"server {spec.name!r}: not usable as a host name (a-z, 0-9, '-')")
    if not spec.addresses:
        raise LabError(f"server {spec.name}: no address to serve on")
    if not lab_dir.is_absolute():
        raise LabError(f"server {spec.name}: the lab directory {lab_dir} must be absolute")
    if not netns_exists(spec.netns):
        raise LabError(
            f"server {spec.name}: network namespace {spec.netns} does not exist "
            "(create and address it before start_server)"
        )


def _host_key(node: Path, name: str) -> str:
    """The server's ed25519 host key (made once per node directory); its public line."""
    key = node / "upper" / HOST_KEY
    if not key.is_file():
        for directory in (key.parent.parent, key.parent):
            directory.mkdir(mode=0o755, exist_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{name}", "-f", str(key)],
            check=True, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    kind, b64 = key.with_name(key.name + ".pub").read_text(encoding="ascii").split()[:2]
    return f"{kind} {b64}"


def start_server(
    spec: ServerSpec, lab_dir: Path, automation_pubkey: str, record: Recorder
) -> StartedServer:
    """Start the holder of ``spec`` (module docstring); return without waiting for daemons.

    Raises:
        LabError: the spec cannot be served (bad name, no address, no namespace).
        LabServiceError: the holder did not start.
    """
    lab_dir = lab_dir.resolve()
    _validate(spec, lab_dir)
    node = lab_dir / NODES_DIR / spec.name
    record("dir", str(node), role="server", host=spec.name)
    node.mkdir(mode=0o700, parents=True, exist_ok=True)
    for sub, mode in (("upper", 0o755), ("work", 0o700), ("root", 0o755), (LOG_DIR, 0o750)):
        (node / sub).mkdir(mode=mode, exist_ok=True)
    host_key = _host_key(node, spec.name)
    if needs_certificate(spec.services):  # syslog over TLS, LDAPS, HTTPS: from the lab's CA
        # made here, so the holder never loads cryptography
        record("dir", str(lab_ca_files(lab_dir)[0].parent), role="pki")
        ensure_service_certificate(
            ServiceContext(spec.name, spec.addresses, spec.services, domain=spec.domain,
                           root=node / "upper"),
            lab_dir,
        )  # fmt: skip
    elif spec.log_host is not None:  # a syslog-over-TLS client of the log host checks it
        record("dir", str(lab_ca_files(lab_dir)[0].parent), role="pki")
        install_lab_ca(ServiceContext(spec.name, spec.addresses, spec.services,
                                      root=node / "upper"), lab_dir)  # fmt: skip
    if "tacacs" in spec.services and spec.tacacs is not None:  # the key and users, 0600
        write_users(ServiceContext(spec.name, spec.addresses, spec.services, root=node / "upper"),
                    spec.tacacs)  # fmt: skip
    config = HolderConfig(
        name=spec.name,
        node_dir=str(node),
        lab_dir=str(lab_dir),
        addresses=tuple(str(a) for a in spec.addresses),
        provides=tuple(spec.services),
        site_networks=tuple(str(n) for n in spec.site_networks),
        ntp_upstreams=tuple(str(a) for a in spec.ntp_upstreams),
        log_host=str(spec.log_host) if spec.log_host else None,
        dns_records=tuple((n, str(a)) for n, a in spec.dns_records),
        dns_servers=tuple(str(a) for a in spec.dns_servers),
        automation_pubkey=automation_pubkey.strip(),
        domain=spec.domain,
    )
    config_file = write_private(node / "server.json", config.dump())
    argv = [
        "ip", "netns", "exec", spec.netns,
        "unshare", "--mount", "--uts", "--pid", "--fork", "--propagation", "private",
        "--kill-child=SIGTERM",
        sys.executable, "-m", "netwarden.lab.ns.server_init", str(config_file),
    ]  # fmt: skip
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "LANG": "C.UTF-8"}
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    log = (node / HOLDER_LOG).open("ab")
    try:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd="/", env=env, start_new_session=True,
        )  # fmt: skip
    finally:
        log.close()
    launcher = pid_ident(process.pid)
    record("pid", launcher, role="server-launcher", host=spec.name)
    holder = _find_holder(process, node)
    ident = pid_ident(holder)
    record("pid", ident, role="server", host=spec.name)
    logger.info("server %s: holder pid %d in %s", spec.name, holder, spec.netns)
    return StartedServer(
        name=spec.name,
        netns=spec.netns,
        pid=holder,
        pid_ident=ident,
        launcher_pid=process.pid,
        node_dir=node,
        addresses=spec.addresses,
        host_key=host_key,
        known_hosts=known_hosts_lines(spec.addresses, host_key),
        process=process,
    )


def _find_holder(process: subprocess.Popen[bytes], node: Path) -> int:
    """The pid ``unshare --fork`` started (the holder), seen from here."""
    deadline = time.monotonic() + _HOLDER_APPEARS_SECONDS
    while time.monotonic() < deadline:
        found = children(process.pid)
        if found:
            return found[0]
        if process.poll() is not None:
            break
        time.sleep(0.02)
    raise LabServiceError(
        f"{node.name}: the holder did not start (launcher exit {process.poll()}); "
        f"{node / HOLDER_LOG}:\n{log_tail(node / HOLDER_LOG)}"
    )


def _status(node: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((node / STATUS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or mid-replace
        return None
    return data


def _ssh_banner(netns: str, address: IPv4Address) -> bytes:
    try:
        with ns_connect(netns, str(address), 22, timeout=2.0) as sock:
            return sock.recv(256)
    except OSError:
        return b""


def _missing(started: StartedServer, status: dict[str, Any]) -> list[str]:
    """What is not answering yet ([] when ready); raises when a daemon died."""
    node = started.node_dir
    bound = listening(started.pid)
    missing: list[str] = []
    for daemon in status["daemons"]:
        if daemon["exit_status"] is not None:
            log = node / LOG_DIR / f"{daemon['name']}.log"
            raise LabServiceError(
                f"{started.name}: {daemon['name']} exited with status {daemon['exit_status']}; "
                f"{log}:\n{log_tail(log)}"
            )
        for proto, address, port in daemon["listens"]:
            targets = [IPv4Address(address)] if address else list(started.addresses)
            missing += [
                f"{daemon['name']} {proto}/{port} on {target}"
                for target in targets
                if not is_bound(bound, proto, target, port)
            ]
    if not missing:
        missing += [
            f"sshd banner on {a}"
            for a in started.addresses
            if not _ssh_banner(started.netns, a).startswith(b"SSH-2.0-")
        ]
    return missing


def wait_ready(started: StartedServer, timeout: float) -> None:
    """Poll until the server's daemons run and answer (module docstring), at most ``timeout`` s.

    Raises:
        LabServiceError: the holder or a daemon failed, or something did not answer in time.
    """
    node = started.node_dir
    deadline = time.monotonic() + timeout
    missing = ["the holder's status"]
    while True:
        if not alive(started.pid_ident):
            raise LabServiceError(
                f"{started.name}: the holder exited; {node / HOLDER_LOG}:\n"
                f"{log_tail(node / HOLDER_LOG)}"
            )
        status = _status(node)
        if status is not None and status["state"] == "failed":
            raise LabServiceError(f"{started.name}: {status['error']}")
        if status is not None and status["state"] == "running":
            missing = _missing(started, status)
            if not missing:
                logger.info("server %s ready", started.name)
                return
        if time.monotonic() >= deadline:
            raise LabServiceError(
                f"{started.name}: not ready after {timeout:g} s; not answering: "
                + ", ".join(missing)
            )
        time.sleep(0.1)


def stop_server(started: StartedServer, timeout: float = 20.0) -> None:
    """SIGTERM to the holder (it stops its daemons), SIGKILL after ``timeout`` s; reap the launcher."""
    if alive(started.pid_ident):
        os.kill(started.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while alive(started.pid_ident) and time.monotonic() < deadline:
            time.sleep(0.05)
        if alive(started.pid_ident):
            logger.warning("server %s: holder still running after %g s; killing", started.name,
                           timeout)  # fmt: skip
            os.kill(started.pid, signal.SIGKILL)
    if started.process is not None:
        try:
            started.process.wait(timeout)
        except subprocess.TimeoutExpired:
            started.process.kill()
            started.process.wait(timeout)
