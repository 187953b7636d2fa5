"""The lab holder's control interface: restart a daemon as a Debian unit would run it.

Lab servers have no systemd: the holder (:mod:`~netwarden.lab.ns.server_init`) is
pid 1 and runs each daemon in the foreground. Configuration management on a lab
server (the ``linux_server`` Ansible role) changes the Debian configuration files
(``/etc/ssh/sshd_config``, ``/etc/chrony/chrony.conf``, ``/etc/rsyslog.d/``) and
then has to restart the daemon, as ``systemctl restart <unit>`` does on a real
server. Inside the server, as root::

    netwarden-lab-unit restart <unit>      # ssh, chrony, rsyslog, prometheus-node-exporter

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
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from netwarden.lab.ns.services import Daemon, Listen, ServiceContext
from netwarden.lab.ns.services.monitoring import node_exporter

logger = logging.getLogger(__name__)

CONTROL_DIR = "/run/netwarden-lab/units"
UNIT_SCRIPT = "/usr/local/sbin/netwarden-lab-unit"
UNITS = ("ssh", "chrony", "rsyslog", "prometheus-node-exporter")
DAEMON_OF = {"ssh": "sshd", "chrony": "chronyd", "rsyslog": "rsyslogd"}  # else the unit's name
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
    raise ValueError(f"{unit!r} is not a lab unit; the lab restarts {', '.join(UNITS)}")
