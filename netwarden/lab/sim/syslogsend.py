"""The simulator's syslog: each log line also goes to the ``logging host`` s of the running config.

As IOS does: UDP to port 514 unless ``logging host X transport udp port P`` says
otherwise (``transport tcp`` hosts are skipped: the simulator sends UDP only), facility
local7, only severities at or above ``logging trap`` (default informational). The line
is IOS's: ``<PRI>`` then the sequence number with ``service sequence-numbers``,
the hostname with ``logging origin-id hostname``, the timestamp as ``service
timestamps log`` says (``*`` while no ``ntp server`` is set), then
``%FACILITY-SEVERITY-MNEMONIC: text``.

Where it may send: a device serving on its own address in a lab namespace sends to
any host, from that address (as ``logging source-interface`` on the management
interface); a fleet on 127.0.0.1 sends only to loopback hosts (127.0.0.0/8), as it
never connects out for TACACS+ either (:mod:`~netwarden.lab.sim.tacacsauth`).

Examples:
    >>> from datetime import datetime
    >>> from netwarden.lab.sim.config import ConfigTree
    >>> from netwarden.lab.sim.showmodel import LogEntry
    >>> tree = ConfigTree.build(
    ...     "service sequence-numbers\\nservice timestamps log datetime msec\\n"
    ...     "logging origin-id hostname\\nlogging host 127.0.0.1 transport udp port 5514\\n",
    ...     frozenset())
    >>> settings_of(tree).hosts
    (('127.0.0.1', 5514),)
    >>> entry = LogEntry(datetime(2026, 12, 6, 5, 1, 2, 3000), "SYS-5-CONFIG_I",
    ...                  "Configured from console by admin on vty0 (10.0.0.9)")
    >>> line(settings_of(tree), "sw1", 7, entry)
    '<189>000007: sw1: *Dec  6 05:01:02.003: %SYS-5-CONFIG_I: Configured from console by admin on vty0 (10.0.0.9)'
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address

from netwarden.lab.sim.config import ConfigTree
from netwarden.lab.sim.showmodel import LogEntry

logger = logging.getLogger(__name__)

SYSLOG_PORT = 514
LOCAL7 = 23
_TRAP_LEVELS = {
    "emergencies": 0, "alerts": 1, "critical": 2, "errors": 3,
    "warnings": 4, "notifications": 5, "informational": 6, "debugging": 7,
}  # fmt: skip


@dataclass(frozen=True)
class SyslogSettings:
    hosts: tuple[tuple[str, int], ...]
    trap: int = 6
    sequence: bool = False
    origin: bool = False
    stamp: tuple[str, ...] | None = ("datetime", "msec")
    synchronized: bool = False


def settings_of(tree: ConfigTree) -> SyslogSettings:
    """The syslog settings of a running config."""
    hosts: list[tuple[str, int]] = []
    for node in tree.root:
        words = node.words()
        if words[:1] != ["logging"] or len(words) < 2:
            continue
        if words[1] == "host" and len(words) > 2:
            rest = words[3:]
            if "tcp" in rest:
                continue
            port = SYSLOG_PORT
            if "port" in rest and rest.index("port") + 1 < len(rest):
                value = rest[rest.index("port") + 1]
                port = int(value) if value.isdigit() else SYSLOG_PORT
            hosts.append((words[2], port))
        elif _is_address(words[1]):  # the old form: "logging 10.0.0.5"
            hosts.append((words[1], SYSLOG_PORT))
    trap = (tree.value("logging trap") or "informational").split()[0]
    stamp_node = tree.value("service timestamps log")
    no_stamp = any(n.text.startswith("no service timestamps log") for n in tree.root)
    return SyslogSettings(
        hosts=tuple(hosts),
        trap=int(trap) if trap.isdigit() else _TRAP_LEVELS.get(trap, 6),
        sequence=any(n.text == "service sequence-numbers" for n in tree.root),
        origin=any(n.text == "logging origin-id hostname" for n in tree.root),
        stamp=None if no_stamp else tuple((stamp_node or "datetime msec").split()),
        synchronized=bool(tree.top_starting("ntp server")),
    )


def _is_address(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def _stamp(settings: SyslogSettings, when: datetime) -> str:
    options = settings.stamp or ()
    if options[:1] == ("uptime",):
        return ""  # uptime stamps: the simulator sends none
    stamp = f"{when:%b} {when.day:>2} "
    if "year" in options:
        stamp += f"{when.year} "
    stamp += f"{when:%H:%M:%S}"
    if "msec" in options:
        stamp += f".{when.microsecond // 1000:03d}"
    return ("" if settings.synchronized else "*") + stamp


def line(settings: SyslogSettings, hostname: str, sequence: int, entry: LogEntry) -> str:
    """The syslog line IOS sends for one log entry."""
    when, tag, text = entry.when, entry.facility_mnemonic, entry.message
    head = f"<{LOCAL7 * 8 + severity_of(tag)}>"
    if settings.sequence:
        head += f"{sequence:06d}: "
    if settings.origin:
        head += f"{hostname}: "
    stamp = _stamp(settings, when) if settings.stamp is not None else ""
    if stamp:
        head += f"{stamp}: "
    return f"{head}%{tag}: {text}"


def severity_of(tag: str) -> int:
    parts = tag.split("-")
    return int(parts[1]) if len(parts) >= 3 and parts[1].isdigit() else 5


def send(settings: SyslogSettings, payload: str, severity: int, source: str | None) -> None:
    """One UDP datagram to each host (``source``: the device's own address, or loopback only)."""
    if severity > settings.trap:
        return
    for host, port in settings.hosts:
        try:
            address = ip_address(host)
        except ValueError:
            continue  # a name: the simulator resolves none
        if source is None and not address.is_loopback:
            continue  # a fleet on 127.0.0.1 never sends out
        try:
            with socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                               socket.SOCK_DGRAM) as sock:  # fmt: skip
                if source is not None and address.version == 4:
                    sock.bind((source, 0))
                sock.sendto(payload.encode("utf-8"), (host, port))
        except OSError as exc:
            logger.debug("syslog to %s:%d: %s", host, port, exc)
