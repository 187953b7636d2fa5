"""The holder of a lab server: ``python -m netwarden.lab.ns.server_init <server.json>``.

Started by :func:`netwarden.lab.ns.servers.start_server` as::

    ip netns exec <ns> unshare --mount --uts --pid --fork --propagation private \\
        --kill-child=SIGTERM <python> -m netwarden.lab.ns.server_init <node>/server.json

so it is pid 1 of a new pid namespace, in a new mount and UTS namespace, inside the
server's network namespace. It sets the hostname, builds the server's root
(:mod:`~netwarden.lab.ns.rootfs`: overlay over ``/``, own /proc, /dev, /run, /tmp)
and pivots into it, writes the server's identity and automation user
(:mod:`~netwarden.lab.ns.sysprep`) and each daemon's config (the registered
:mod:`~netwarden.lab.ns.services` writers), checks the configs, and starts the
daemons in the foreground as its children. Then it reaps (its daemons and any
orphan of the namespace) until SIGTERM, SIGINT or SIGHUP, stops the daemons
(SIGTERM, then SIGKILL to everything left in the namespace) and exits. SIGUSR1
asks it to answer the unit restart requests waiting in ``/run/netwarden-lab/units``
(:mod:`~netwarden.lab.ns.units`: how configuration management restarts a daemon
on a server without systemd).

Killing the holder with SIGKILL ends every process of its pid namespace (the kernel
does it for pid 1), and with the last process its mount namespace and every mount
in it go: nothing remains on the host. ``<node>/status.json`` tells ``wait_ready``
what runs, what failed and what the inventory asks for that the lab lacks;
``<node>/logs/<daemon>.log`` has each daemon's output.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pwd
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from netwarden.lab.ns.rootfs import build_root, pivot_root
from netwarden.lab.ns.services import Daemon, ServiceContext, plan_services
from netwarden.lab.ns.services.base import AUTOMATION_USER, Registration
from netwarden.lab.ns.sysprep import add_automation_user, write_identity
from netwarden.lab.ns.units import (
    CONTROL_DIR,
    SCRIPT,
    UNIT_SCRIPT,
    UNITS,
    daemon_name,
    unit_daemon,
)

logger = logging.getLogger("netwarden.lab.ns.server_init")  # also when run as __main__

STATUS_FILE = "status.json"
LOG_DIR = "logs"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
CONTROL_SIGNAL = signal.SIGUSR1  # a unit restart request waits in CONTROL_DIR (units.py)
WATCHED = {*STOP_SIGNALS, signal.SIGCHLD, CONTROL_SIGNAL}
UNIT_STOP_SECONDS = 10.0
STOP_GRACE_SECONDS = 10.0
CHECK_TIMEOUT_SECONDS = 60.0
DAEMON_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}


@dataclass(frozen=True)
class HolderConfig:
    """What the holder needs (``<node>/server.json``, written 0600 by ``start_server``)."""

    name: str
    node_dir: str
    lab_dir: str
    addresses: tuple[str, ...]
    provides: tuple[str, ...]
    site_networks: tuple[str, ...]
    ntp_upstreams: tuple[str, ...]
    log_host: str | None
    dns_records: tuple[tuple[str, str], ...]
    dns_servers: tuple[str, ...]
    automation_pubkey: str
    domain: str = ""

    def dump(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def load(cls, path: Path) -> HolderConfig:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        for key in ("addresses", "provides", "site_networks", "ntp_upstreams", "dns_servers"):
            data[key] = tuple(data[key])
        data["dns_records"] = tuple((str(n), str(a)) for n, a in data["dns_records"])
        return cls(**data)

    def context(self, *, local_syslog: bool) -> ServiceContext:
        return ServiceContext(
            hostname=self.name,
            addresses=tuple(IPv4Address(a) for a in self.addresses),
            provides=self.provides,
            site_networks=tuple(IPv4Network(n) for n in self.site_networks),
            ntp_upstreams=tuple(IPv4Address(a) for a in self.ntp_upstreams),
            log_host=IPv4Address(self.log_host) if self.log_host else None,
            dns_records=tuple((n, IPv4Address(a)) for n, a in self.dns_records),
            local_syslog=local_syslog,
            domain=self.domain,
        )


@dataclass
class _Running:
    registration: Registration | None  # None: started by a unit restart (units.py)
    daemon: Daemon
    process: subprocess.Popen[bytes]
    exit_status: int | None = None


def _unblock_signals() -> None:  # in the child, before exec: daemons get default signals
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _primary_group(user: str | None) -> int | None:
    return pwd.getpwnam(user).pw_gid if user else None


class Holder:
    """One server's pid 1 (module docstring)."""

    def __init__(self, config: HolderConfig) -> None:
        self.config = config
        self.node = Path(config.node_dir)
        self.node_fd = -1
        self.running: dict[int, _Running] = {}
        self.notes: dict[str, list[str]] = {"not_provided": [], "not_installed": []}
        self.ctx = config.context(local_syslog=False)

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        if os.getpid() != 1:
            logger.error("%s: the holder must be pid 1 of a new pid namespace (start it with "
                         "netwarden.lab.ns.servers.start_server), not pid %d", self.config.name, os.getpid())  # fmt: skip
            return 2
        for signum in WATCHED:  # pid 1 gets only signals it handles; they are taken by sigtimedwait
            signal.signal(signum, lambda *_: None)
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        self.node_fd = os.open(self.node, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        with contextlib.suppress(FileExistsError):
            os.mkdir(LOG_DIR, 0o750, dir_fd=self.node_fd)
        try:
            self._status("starting")
            self._setup()
            self._start_daemons()
        except Exception as exc:
            logger.exception("%s: start failed", self.config.name)
            self._status("failed", error=str(exc))
            self._stop_all()
            return 1
        self._status("running")
        logger.info("%s: %d daemons running", self.config.name, len(self.running))
        self._supervise()
        self._stop_all()
        self._status("stopped")
        logger.info("%s: stopped", self.config.name)
        return 0

    def _setup(self) -> None:
        config = self.config
        socket.sethostname(config.name)
        root = build_root(self.node, Path(config.lab_dir))
        pivot_root(root)
        subprocess.run(["/sbin/ip", "link", "set", "lo", "up"], check=True, capture_output=True)
        write_identity(
            Path("/"),
            config.name,
            tuple(IPv4Address(a) for a in config.addresses),
            tuple(IPv4Address(a) for a in config.dns_servers),
        )
        add_automation_user(Path("/"), AUTOMATION_USER, config.automation_pubkey)
        Path(CONTROL_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
        script = Path(UNIT_SCRIPT)
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(SCRIPT, encoding="utf-8")
        script.chmod(0o755)

    def _start_daemons(self) -> None:
        config = self.config
        log_host = IPv4Address(config.log_host) if config.log_host else None
        plan = plan_services(config.provides, log_host=log_host)
        for service in plan.not_provided:
            logger.warning("%s: service %r is not provided in the lab (no lab daemon for it); "
                           "skipped", config.name, service)  # fmt: skip
            self.notes["not_provided"].append(service)
        for service, registration in plan.not_installed:
            logger.warning("%s: service %r needs %s from the Debian package %s, which is not "
                           "installed; skipped", config.name, service, registration.binary,
                           registration.package)  # fmt: skip
            self.notes["not_installed"].append(service)
        ctx = config.context(local_syslog=any(r.daemon == "rsyslogd" for r in plan.daemons))
        self.ctx = ctx
        for registration in plan.daemons:
            daemon = registration.writer(ctx)
            for command in daemon.prepare:  # shown by program only: it may carry a lab secret
                self._check(daemon, command, shown=command[0])
            if daemon.check is not None:
                self._check(daemon, daemon.check)
            self._spawn(registration, daemon)
            self._status("starting")

    def _log_fd(self, name: str) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        return os.open(f"{LOG_DIR}/{name}.log", flags, 0o640, dir_fd=self.node_fd)

    def _check(self, daemon: Daemon, check: tuple[str, ...], shown: str = "") -> None:
        result = subprocess.run(
            check, capture_output=True, text=True, timeout=CHECK_TIMEOUT_SECONDS,
            env={**DAEMON_ENV, **daemon.env}, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            output = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise ValueError(
                f"{daemon.name}: {shown or ' '.join(check)} failed "
                f"(exit {result.returncode}): " + " | ".join(output)
            )

    def _spawn(self, registration: Registration | None, daemon: Daemon) -> int:
        fd = self._log_fd(daemon.name)
        try:
            process = subprocess.Popen(
                daemon.argv,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                cwd="/",
                env={**DAEMON_ENV, **daemon.env},
                user=daemon.user,
                group=_primary_group(daemon.user),
                extra_groups=[] if daemon.user else None,
                preexec_fn=_unblock_signals,  # noqa: PLW1509 - the holder is single-threaded
            )
        finally:
            os.close(fd)
        self.running[process.pid] = _Running(registration, daemon, process)
        logger.info("%s: %s started (pid %d in the server): %s", self.config.name, daemon.name,
                    process.pid, " ".join(daemon.argv))  # fmt: skip
        return process.pid

    # ------------------------------------------------------------ supervise
    def _supervise(self) -> None:
        while True:
            info = signal.sigtimedwait(WATCHED, 5.0)
            if self._reap():
                self._status("running")
            if info is not None and info.si_signo == CONTROL_SIGNAL:
                self._control()
                self._status("running")
            if info is not None and info.si_signo in STOP_SIGNALS:
                logger.info("%s: %s received, stopping", self.config.name,
                            signal.Signals(info.si_signo).name)  # fmt: skip
                return

    def _reap(self) -> bool:
        """Reap every exited child; True when one of the daemons was among them."""
        changed = False
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return changed
            if pid == 0:
                return changed
            entry = self.running.get(pid)
            if entry is not None and entry.exit_status is None:
                entry.exit_status = os.waitstatus_to_exitcode(status)
                entry.process.returncode = entry.exit_status
                logger.warning("%s: %s (pid %d) exited with status %d", self.config.name,
                               entry.daemon.name, pid, entry.exit_status)  # fmt: skip
                changed = True

    # -------------------------------------------------------------- control
    def _control(self) -> None:
        """Answer every unit restart request in CONTROL_DIR (units.py); never raises."""
        try:
            requests = sorted(p for p in Path(CONTROL_DIR).glob("*.restart") if p.is_file())
        except OSError as exc:
            logger.warning("%s: cannot read %s: %s", self.config.name, CONTROL_DIR, exc)
            return
        for request in requests:
            unit = request.name.removesuffix(".restart")
            request.unlink(missing_ok=True)
            if unit not in UNITS:
                logger.warning("%s: ignored restart request for %r", self.config.name, unit)
                continue
            try:
                answer = f"ok {self._restart_unit(unit)}"
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                answer = f"failed: {exc}"
            logger.info("%s: unit %s restart: %s", self.config.name, unit, answer)
            result = Path(CONTROL_DIR) / f"{unit}.result"
            tmp = result.with_suffix(".tmp")
            tmp.write_text(answer + "\n", encoding="utf-8")
            tmp.replace(result)

    def _restart_unit(self, unit: str) -> int:
        """Stop the unit's daemon, check the new configuration, start it; return its pid."""
        running = [r for r in self._alive() if r.daemon.name == daemon_name(unit)]
        spec = unit_daemon(unit, self.ctx, running[0].daemon if running else None)
        for path, mode, owner in spec.directories:
            self.ctx.directory(path, mode, owner=owner)
        if spec.daemon.check is not None:  # before the stop: a bad config keeps the old daemon
            self._check(spec.daemon, spec.daemon.check)
        for entry in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(entry.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + UNIT_STOP_SECONDS
        while any(e.exit_status is None for e in running) and time.monotonic() < deadline:
            signal.sigtimedwait({signal.SIGCHLD}, 0.2)
            self._reap()
        for entry in running:
            if entry.exit_status is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(entry.process.pid, signal.SIGKILL)
                entry.process.wait(UNIT_STOP_SECONDS)
                entry.exit_status = entry.process.returncode
        for pid in [p for p, r in self.running.items() if r in running]:
            del self.running[pid]  # stopped on purpose: not a daemon that died
        return self._spawn(None, spec.daemon)

    def _alive(self) -> list[_Running]:
        return [r for r in self.running.values() if r.exit_status is None]

    def _stop_all(self) -> None:
        for entry in self._alive():
            try:
                os.kill(entry.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while self._alive() and (left := deadline - time.monotonic()) > 0:
            signal.sigtimedwait({signal.SIGCHLD}, min(left, 0.5))
            self._reap()
        if os.getpid() == 1:
            # everything else in this pid namespace (daemons' children, stragglers)
            with contextlib.suppress(ProcessLookupError):
                os.kill(-1, signal.SIGKILL)
        for _ in range(1000):  # bounded: each round reaps at least one child or ends
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break

    # --------------------------------------------------------------- status
    def _status(self, state: str, error: str = "") -> None:
        daemons = [
            {
                "name": r.daemon.name,
                "pid": pid,
                "exit_status": r.exit_status,
                "listens": [
                    [listen.proto, str(listen.address) if listen.address else "", listen.port]
                    for listen in r.daemon.listens
                ],
            }
            for pid, r in self.running.items()
        ]
        data = {"state": state, "error": error, "daemons": daemons, **self.notes}
        tmp = f".{STATUS_FILE}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=self.node_fd)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
        os.replace(tmp, STATUS_FILE, src_dir_fd=self.node_fd, dst_dir_fd=self.node_fd)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s"
    )
    if len(args) != 1:
        logger.error("usage: python -m netwarden.lab.ns.server_init <server.json>")
        return 2
    return Holder(HolderConfig.load(Path(args[0]))).run()


if __name__ == "__main__":
    sys.exit(main())
