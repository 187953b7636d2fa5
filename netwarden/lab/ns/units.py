"""The lab holder's control interface: restart a daemon as a Debian unit would run it.

Lab servers have no systemd: the holder (:mod:`~netwarden.lab.ns.server_init`) is
pid 1 and runs each daemon in the foreground. Configuration management on a lab
server (the ``linux_server`` Ansible role) changes the Debian configuration files
(``/etc/ssh/sshd_config``, ``/etc/chrony/chrony.conf``, ``/etc/rsyslog.d/``) and
then has to restart the daemon, as ``systemctl restart <unit>`` does on a real
server. Inside the server, as root::

    netwarden-lab-unit restart <unit>      # ssh, chrony, rsyslog, prometheus-node-exporter,
                                           # prometheus, netwarden-exporter,
                                           # netwarden-access-exporter

The script (written by the holder at start, :data:`UNIT_SCRIPT`) drops the request
``<unit>.restart`` into :data:`CONTROL_DIR`, sends SIGUSR1 to pid 1 and waits
(bounded) for ``<unit>.result``: ``ok <pid>`` or ``failed: <why>`` (exit 1). The
holder checks the new configuration (``sshd -t``), stops the unit's running
daemon (SIGTERM, bounded wait) and starts the daemon as
:func:`unit_daemon` describes: the Debian paths, always in the foreground, and
chronyd always with ``-x`` (the clock is not namespaced: a lab server never steers
the host's clock). The check runs before the stop: a configuration that fails it
leaves the running daemon as it was, and the result says why.

rsyslog keeps the lab's own configuration file (it holds the lab receiver's TLS
inputs and includes ``/etc/rsyslog.d/*.conf``, where a role puts its forwarding):
a restart re-reads it and the drop-ins.

The monitoring stack (the ``monitoring`` role) has three units. ``prometheus`` runs
Debian's Prometheus on the Debian paths (``/etc/prometheus/prometheus.yml``, checked
with ``promtool check config`` first; data in ``/var/lib/prometheus/metrics2``) on
tcp/9090, replacing the lab's own Prometheus of a ``prometheus-federate`` server
(:mod:`~netwarden.lab.ns.services.monitoring`), which holds that port until the role
runs. ``netwarden-exporter`` and ``netwarden-access-exporter`` run netwarden's
``exporter serve`` and ``exporter access`` with the holder's own interpreter (as the
TACACS+ daemon does) and the options the role writes in
``/etc/default/<unit>`` (``ARGS="..."``, the file the systemd units read too), as the
role's dedicated user :data:`EXPORTER_USER`, with their state in ``/var/lib/<unit>``.
"""

from __future__ import annotations

import logging
import os
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from netwarden.lab.ns.services import Daemon, Listen, ServiceContext
from netwarden.lab.ns.services.monitoring import PROMETHEUS_PORT, node_exporter

logger = logging.getLogger(__name__)

CONTROL_DIR = "/run/netwarden-lab/units"
UNIT_SCRIPT = "/usr/local/sbin/netwarden-lab-unit"
EXPORTER_UNITS = {"netwarden-exporter": "serve", "netwarden-access-exporter": "access"}
UNITS = (
    "ssh",
    "chrony",
    "rsyslog",
    "prometheus-node-exporter",
    "prometheus",
    *EXPORTER_UNITS,
)
DAEMON_OF = {"ssh": "sshd", "chrony": "chronyd", "rsyslog": "rsyslogd"}  # else the unit's name
EXPORTER_USER = "netwarden-exporter"  # made by the monitoring role (a system user)
CHECKOUT = Path(__file__).resolve().parents[3]  # where this netwarden is imported from
PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml"
PROMETHEUS_DATA = "/var/lib/prometheus/metrics2"
WAIT_TENTHS = 600  # the script waits at most 60 s for the holder's answer

SCRIPT = f"""#!/bin/sh
# netwarden lab: restart a daemon of this lab server (no systemd here; the holder, pid 1,
# runs the daemons). Written by the holder at start: netwarden/lab/ns/units.py.
set -eu
usage() {{ echo "usage: $0 restart {{{"|".join(UNITS)}}}" >&2; exit 2; }}
[ "$#" -eq 2 ] && [ "$1" = restart ] || usage
case "$2" in {"|".join(UNITS)}) ;; *) usage ;; esac
dir={CONTROL_DIR}
rm -f "$dir/$2.result"
: > "$dir/$2.restart"
kill -USR1 1
i=0
while [ ! -s "$dir/$2.result" ]; do
    i=$((i + 1)); [ "$i" -le {WAIT_TENTHS} ] || {{ echo "$2: no answer from the holder" >&2; exit 1; }}
    sleep 0.1
done
result=$(cat "$dir/$2.result")
echo "$2: $result"
case "$result" in ok*) exit 0 ;; *) exit 1 ;; esac
"""


@dataclass(frozen=True)
class Unit:
    """How a unit's daemon runs in the lab (it replaces the running daemon of that name)."""

    name: str
    daemon: Daemon
    directories: tuple[tuple[str, int, str | None], ...] = ()  # (path, mode, owner) made first


def daemon_name(unit: str) -> str:
    """The holder's name for the daemon ``unit`` runs (``ssh`` -> ``sshd``)."""
    return DAEMON_OF.get(unit, unit)


def unit_daemon(unit: str, ctx: ServiceContext, running: Daemon | None) -> Unit:
    """The daemon ``unit`` restarts into (module docstring); ``running``: the one it replaces.

    Raises:
        ValueError: not a unit of the lab, or rsyslog when the server runs none.
    """
    if unit == "ssh":
        config = "/etc/ssh/sshd_config"
        argv = ["/usr/sbin/sshd", "-D", "-f", config]
        if not ctx.local_syslog:
            argv.append("-e")
        daemon = Daemon(
            name="sshd",
            argv=tuple(argv),
            listens=tuple(Listen("tcp", 22, a) for a in ctx.addresses),
            check=("/usr/sbin/sshd", "-t", "-f", config),
        )
        return Unit(unit, daemon, (("/run/sshd", 0o755, None),))
    if unit == "chrony":
        daemon = Daemon(
            name="chronyd",
            argv=("/usr/sbin/chronyd", "-d", "-x", "-f", "/etc/chrony/chrony.conf"),
        )
        dirs = (("/run/chrony", 0o750, "_chrony"), ("/var/lib/chrony", 0o750, "_chrony"))
        return Unit(unit, daemon, dirs)
    if unit == "rsyslog":
        if running is None:
            raise ValueError("rsyslog: this lab server runs no rsyslogd (it has no log host)")
        return Unit(unit, running)
    if unit == "prometheus-node-exporter":
        return Unit(unit, node_exporter(ctx))
    if unit == "prometheus":
        daemon = Daemon(
            name="prometheus",
            argv=(
                "/usr/bin/prometheus",
                f"--config.file={PROMETHEUS_CONFIG}",
                f"--storage.tsdb.path={PROMETHEUS_DATA}",
                f"--web.listen-address=0.0.0.0:{PROMETHEUS_PORT}",
                *default_args(ctx, "prometheus"),
            ),
            listens=tuple(Listen("tcp", PROMETHEUS_PORT, a) for a in ctx.addresses),
            check=("/usr/bin/promtool", "check", "config", PROMETHEUS_CONFIG),
            user="prometheus",
        )
        return Unit(unit, daemon, ((PROMETHEUS_DATA, 0o750, "prometheus"),))
    if unit in EXPORTER_UNITS:
        return Unit(unit, exporter_daemon(unit, ctx), ((f"/var/lib/{unit}", 0o750, EXPORTER_USER),))
    raise ValueError(f"{unit!r} is not a lab unit; the lab restarts {', '.join(UNITS)}")


def has_user(ctx: ServiceContext, user: str) -> bool:
    """Whether the server's ``/etc/passwd`` lists ``user``."""
    try:
        lines = ctx.path("/etc/passwd").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(line.split(":", 1)[0] == user for line in lines)


def default_args(ctx: ServiceContext, unit: str) -> tuple[str, ...]:
    """The ``ARGS="..."`` options of ``/etc/default/<unit>`` (sh quoting), none without one.

    The systemd units read the same file (``EnvironmentFile=``, ``$ARGS``).

    Raises:
        ValueError: the ``ARGS`` line cannot be split (unbalanced quotes).
    """
    path = ctx.path(f"/etc/default/{unit}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    args: tuple[str, ...] = ()
    for line in text.splitlines():
        if line.strip().startswith("ARGS="):
            try:
                (value,) = shlex.split(line.strip().removeprefix("ARGS=")) or ("",)
                args = tuple(shlex.split(value))
            except ValueError as exc:
                raise ValueError(f"/etc/default/{unit}: ARGS: {exc}") from exc
    return args


def exporter_daemon(unit: str, ctx: ServiceContext) -> Daemon:
    """``netwarden exporter serve|access`` with ``/etc/default/<unit>``'s options.

    Raises:
        ValueError: no options written (the monitoring role has not run here).
    """
    args = default_args(ctx, unit)
    if not args:
        raise ValueError(
            f"{unit}: /etc/default/{unit} gives no ARGS (the monitoring role writes it)"
        )
    if not has_user(ctx, EXPORTER_USER):
        raise ValueError(f"{unit}: no user {EXPORTER_USER} (the monitoring role makes it)")
    # the holder's own netwarden (its checkout first, then whatever PYTHONPATH it had)
    path = [str(CHECKOUT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {
        "NETWARDEN_LOCK_DIR": f"/var/lib/{unit}/locks",
        "HOME": f"/var/lib/{unit}",
        "PYTHONPATH": os.pathsep.join(path),
    }
    user: str | None = EXPORTER_USER
    if not others_can_run(Path(sys.executable), Path(sys.base_prefix), CHECKOUT):
        # a lab limitation, not the role's: the holder's interpreter lies where only
        # root may go (a pyenv under a 0700 /root); a real server runs it as the user
        logger.warning("%s: netwarden's interpreter or checkout is not readable by other "
                       "users; the lab runs it as root", unit)  # fmt: skip
        user = None
    return Daemon(
        name=unit,
        argv=(sys.executable, "-m", "netwarden.cli", "exporter", EXPORTER_UNITS[unit], *args),
        env=env,
        user=user,
    )


def others_can_run(*paths: Path) -> bool:
    """Whether a user that is not root (nor in a file's group) can reach every one of
    ``paths`` (each folder on the way searchable by others, the end readable)."""
    for path in paths:
        real = path.resolve()
        try:
            if not real.stat().st_mode & stat.S_IROTH:
                return False
            if any(not d.stat().st_mode & stat.S_IXOTH for d in real.parents):
                return False
        except OSError:
            return False
    return True
