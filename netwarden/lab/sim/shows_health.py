"""Health and management-plane show commands: CPU, memory, environment, logging, SNMP, NTP."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from datetime import datetime

from netwarden.lab.sim.showmodel import LogEntry, ShowContext
from netwarden.lab.sim.shows_util import (
    clock_synchronized,
    config_lines,
    config_value,
    short_uptime,
)

_PROCESSES = (
    "Chunk Manager",
    "Load Meter",
    "Check heaps",
    "Pool Manager",
    "Timers",
    "ARP Input",
    "ARP Background",
    "Entity MIB API",
    "IPC Event Notifi",
    "Net Background",
    "Logger",
    "TTY Background",
    "Net Input",
    "Compute load avg",
    "Per-minute Jobs",
    "Per-Second Jobs",
    "HC Counter Timer",
    "Hulc LED Process",
    "Spanning Tree",
    "CDP Protocol",
    "IP Input",
    "SSH Process",
    "SNMP ENGINE",
    "NTP",
    "LLDP Protocol",
)
_YELLOW_CELSIUS = 88
_RED_CELSIUS = 93
# A Catalyst 9300's sensor thresholds (IOS-XE 17 `show environment temperature`).
_C9K_INLET_YELLOW, _C9K_INLET_RED = 46, 56
_C9K_HOTSPOT_YELLOW, _C9K_HOTSPOT_RED = 105, 125
_DEFAULT_BUFFER_BYTES = 4096


def processes_cpu(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show processes cpu [sorted]``: the utilisation line NAPALM reads, then a process table."""
    words = [word.lower() for word in args]
    if words and not (len(words) == 1 and "sorted".startswith(words[0])):
        return None
    load = round(ctx.cpu_percent)
    uptime = max(int(ctx.uptime_seconds), 1)
    lines = [
        f"CPU utilization for five seconds: {load}%/0%; one minute: {load}%; five minutes: {load}%",
        " PID Runtime(ms)     Invoked      uSecs   5Sec   1Min   5Min TTY Process",
    ]
    for pid, name in enumerate(_PROCESSES, start=1):
        invoked = uptime * (pid % 7 + 1) // 3 + 1
        runtime = uptime * (pid % 5) // 4
        share = f"{(ctx.cpu_percent / len(_PROCESSES)) if pid % 4 == 0 else 0.0:.2f}%"
        lines.append(
            f"{pid:>4}{runtime:>12}{invoked:>12}{runtime * 1000 // invoked:>11}"
            f"{share:>7}{share:>7}{share:>7}{0:>4} {name[:16]}"
        )
    return "\n".join(lines)


def memory_statistics(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show memory statistics``: Processor and I/O pools summing to the context's totals."""
    if args:
        return None
    total, used = ctx.memory_total_bytes, min(ctx.memory_used_bytes, ctx.memory_total_bytes)
    io_total = total // 8
    io_used = used * io_total // total if total else 0
    pools = (
        ("Processor", "277B88C", total - io_total, used - io_used),
        ("I/O", "2C00000", io_total, io_used),
    )
    lines = ["                Head    Total(b)     Used(b)     Free(b)   Lowest(b)  Largest(b)"]
    for name, head, pool_total, pool_used in pools:
        free = pool_total - pool_used
        lines.append(
            f"{name:>9} {head:>10}{pool_total:>12}{pool_used:>12}{free:>12}"
            f"{free * 9 // 10:>12}{free * 8 // 10:>12}"
        )
    return "\n".join(lines)


def _temperature_block(ctx: ShowContext) -> list[str]:
    value = round(ctx.temperature_celsius)
    state = "GREEN"
    if value >= _RED_CELSIUS:
        state = "RED"
    elif value >= _YELLOW_CELSIUS:
        state = "YELLOW"
    return [
        f"System Temperature Value: {value} Degree Celsius",
        f"System Temperature State: {state}",
        f"Yellow Threshold : {_YELLOW_CELSIUS} Degree Celsius",
        f"Red Threshold    : {_RED_CELSIUS} Degree Celsius",
    ]


def _temperature_ok(ctx: ShowContext) -> str:
    return "OK" if round(ctx.temperature_celsius) < _RED_CELSIUS else "FAULTY"


def _catalyst_9000(ctx: ShowContext) -> bool:
    """A Catalyst 9000 (IOS-XE): its environment shows are per stack member."""
    return ctx.model.upper().startswith("C9")


def _sensor(name: str, value: int, yellow: int, red: int) -> list[str]:
    state = "RED" if value >= red else "YELLOW" if value >= yellow else "GREEN"
    return [
        f"{name} Temperature Value: {value} Degree Celsius",
        f"Temperature State: {state}",
        f"Yellow Threshold : {yellow} Degree Celsius",
        f"Red Threshold    : {red} Degree Celsius",
    ]


def _stack_temperature(ctx: ShowContext) -> list[str]:
    """A Catalyst 9000's temperature block for stack member 1 (inlet and hotspot sensors).

    Examples:
        >>> from types import SimpleNamespace
        >>> ctx = SimpleNamespace(temperature_celsius=40.2, model="C9300-48P")
        >>> print("\\n".join(_stack_temperature(ctx)[:3]))  # doctest: +NORMALIZE_WHITESPACE
        Switch 1: SYSTEM TEMPERATURE is OK
        Inlet Temperature Value: 28 Degree Celsius
        Temperature State: GREEN
    """
    hotspot = round(ctx.temperature_celsius)
    state = "OK" if hotspot < _C9K_HOTSPOT_RED else "FAULTY"
    return [
        f"Switch 1: SYSTEM TEMPERATURE is {state}",
        *_sensor("Inlet", hotspot - 12, _C9K_INLET_YELLOW, _C9K_INLET_RED),
        "",
        *_sensor("Hotspot", hotspot, _C9K_HOTSPOT_YELLOW, _C9K_HOTSPOT_RED),
    ]


def environment_temperature_status(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show env temperature status`` (what NAPALM's get_environment reads)."""
    if args:
        return None
    return "\n".join(_stack_temperature(ctx) if _catalyst_9000(ctx) else _temperature_block(ctx))


def environment_temperature(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show env temperature``: a Catalyst 9000 prints each member's sensors."""
    if args:
        return None
    if _catalyst_9000(ctx):
        return "\n".join(_stack_temperature(ctx))
    return f"SYSTEM TEMPERATURE is {_temperature_ok(ctx)}"


def environment_all(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show environment`` and ``show env all``."""
    if args:
        return None
    if _catalyst_9000(ctx):
        return "\n".join(
            [
                *(f"Switch 1 FAN {fan} is OK" for fan in (1, 2, 3)),
                "FAN PS-1 is OK",
                "FAN PS-2 is NOT PRESENT",
                *_stack_temperature(ctx),
            ]
        )
    return "\n".join(
        [
            "FAN is OK",
            f"SYSTEM TEMPERATURE is {_temperature_ok(ctx)}",
            *_temperature_block(ctx),
            "POWER is OK",
            "RPS is NOT PRESENT",
        ]
    )


def _timestamp_options(config: str) -> list[str] | None:
    """The options of ``service timestamps log ...`` in the running config; None when off."""
    setting = config_lines(config, r"(no )?service timestamps log ?(.*)$")
    if setting and setting[0].group(1):
        return None
    return (setting[0].group(2) if setting else "datetime msec").split()


def _timestamp(ctx: ShowContext, when: datetime, options: list[str] | None) -> str:
    """The log timestamp in the style ``options`` (:func:`_timestamp_options`) asks."""
    if options is None:
        return ""
    star = "" if clock_synchronized(ctx) else "*"
    if options and options[0] == "uptime":
        age = (ctx.now - when).total_seconds()
        return star + short_uptime(max(ctx.uptime_seconds - age, 0.0))
    stamp = f"{when:%b} {when.day:>2} "
    if "year" in options:
        stamp += f"{when.year} "
    stamp += f"{when:%H:%M:%S}"
    if "msec" in options:
        stamp += f".{when.microsecond // 1000:03d}"
    if "show-timezone" in options:
        stamp += f" {ctx.timezone}"
    return star + stamp


def _log_line(
    ctx: ShowContext,
    entry: LogEntry,
    sequence: int,
    *,
    numbered: bool,
    options: list[str] | None,
) -> str:
    prefix = f"{sequence:06d}: " if numbered else ""
    stamp = _timestamp(ctx, entry.when, options)
    head = f"{stamp}: " if stamp else ""
    return f"{prefix}{head}%{entry.facility_mnemonic}: {entry.message}"


def logging(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show logging``: the logging settings, then the newest lines that fit the buffer."""
    if args:
        return None
    config = ctx.running_config
    buffer_bytes = int(config_value(config, r"logging buffered (\d+)", str(_DEFAULT_BUFFER_BYTES)))
    trap_level = config_value(config, r"logging trap (\S+)", "informational")
    log_hosts = [
        m.group(1) for m in config_lines(config, r"logging (?:host )?(\d+\.\d+\.\d+\.\d+)")
    ]
    count = len(ctx.log)
    lines = [
        (
            "Syslog logging: enabled (0 messages dropped, 0 messages rate-limited, 0 flushes, "
            "0 overruns, xml disabled, filtering disabled)"
        ),
        "",
        "No Active Message Discriminator.",
        "",
        "",
        "",
        "No Inactive Message Discriminator.",
        "",
        "",
        f"    Console logging: level debugging, {count} messages logged, xml disabled,",
        "                     filtering disabled",
        "    Monitor logging: level debugging, 0 messages logged, xml disabled,",
        "                     filtering disabled",
        f"    Buffer logging:  level debugging, {count} messages logged, xml disabled,",
        "                    filtering disabled",
        "    Exception Logging: size (4096 bytes)",
        "    Count and timestamp logging messages: disabled",
        "    Persistent logging: disabled",
        "",
        "No active filter modules.",
        "",
        f"    Trap logging: level {trap_level}, {count} message lines logged",
    ]
    for host in log_hosts:
        lines += [
            f"        Logging to {host}  (udp port 514, audit disabled,",
            "              link up),",
            f"              {count} message lines logged,",
            "              0 message lines rate-limited,",
            "              0 message lines dropped-by-MD,",
            "              xml disabled, sequence number disabled",
            "              filtering disabled",
        ]
    lines += [
        "        Logging Source-Interface:       VRF Name:",
        "",
        f"Log Buffer ({buffer_bytes} bytes):",
        "",
    ]
    numbered = bool(config_value(config, r"(service sequence-numbers)"))
    options = _timestamp_options(config)
    kept: list[str] = []
    size = 0
    for sequence, entry in reversed(list(enumerate(ctx.log, start=1))):
        text = _log_line(ctx, entry, sequence, numbered=numbered, options=options)
        size += len(text) + 1
        if size > buffer_bytes:
            break
        kept.append(text)
    lines += reversed(kept)
    return "\n".join(lines)


def _snmp_enabled(ctx: ShowContext) -> bool:
    return bool(
        ctx.snmp_communities
        or ctx.snmp_contact
        or ctx.snmp_location
        or ctx.snmp_users
        or config_lines(ctx.running_config, r"snmp-server ")
    )


def _chassis_id(ctx: ShowContext) -> str:
    return ctx.snmp_chassis_id or ctx.serial


def snmp(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show snmp``: agent summary with chassis, contact, location and packet counters."""
    if args:
        return None
    if not _snmp_enabled(ctx):
        return "%SNMP agent not enabled"
    lines = [f"Chassis: {_chassis_id(ctx)}"]
    if ctx.snmp_contact:
        lines.append(f"Contact: {ctx.snmp_contact}")
    if ctx.snmp_location:
        lines.append(f"Location: {ctx.snmp_location}")
    lines += [
        "0 SNMP packets input",
        "    0 Bad SNMP version errors",
        "    0 Unknown community name",
        "    0 Illegal operation for community name supplied",
        "    0 Encoding errors",
        "    0 Number of requested variables",
        "    0 Number of altered variables",
        "    0 Get-request PDUs",
        "    0 Get-next PDUs",
        "    0 Set-request PDUs",
        "    0 Input queue packet drops (Maximum queue size 1000)",
        "0 SNMP packets output",
        "    0 Too big errors (Maximum packet size 1500)",
        "    0 No such name errors",
        "    0 Bad values errors",
        "    0 General errors",
        "    0 Response PDUs",
        "    0 Trap PDUs",
        "SNMP Dispatcher:",
        "   queue 0/75 (current/max), 0 dropped",
        "SNMP Engine:",
        "   queue 0/1000 (current/max), 0 dropped",
        "",
        "SNMP logging: disabled",
    ]
    return "\n".join(lines)


def snmp_chassis(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show snmp chassis`` (NAPALM's get_snmp_information falls back to it)."""
    if args:
        return None
    return _chassis_id(ctx) if _snmp_enabled(ctx) else "%SNMP agent not enabled"


def snmp_contact(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show snmp contact``."""
    return None if args else ctx.snmp_contact


def snmp_location(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show snmp location``."""
    return None if args else ctx.snmp_location


def snmp_community(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show snmp community``."""
    if args:
        return None
    if not _snmp_enabled(ctx):
        return "%SNMP agent not enabled"
    lines = [""]
    for index, (name, _mode, acl) in enumerate(ctx.snmp_communities):
        access = f" access-list: {acl}" if acl else ""
        lines += [
            f"Community name: {name}",
            f"Community Index: cisco{index}",
            f"Community SecurityName: {name}",
            f"storage-type: nonvolatile        active{access}",
            "",
            "",
        ]
    return "\n".join(lines)


def _ntp_address(hosts: dict[str, str], server: str) -> str:
    """The address IOS shows for an NTP server: it resolves names, it never prints them.

    A name is looked up in the ``ip host`` table; a name the simulator cannot
    resolve (no DNS in the lab) gets a fixed address of its own in 198.18.0.0/15,
    the range RFC 2544 sets aside for benchmarks, so it is plainly synthetic.

    Examples:
        >>> hosts = {"ntp1": "10.0.0.9"}
        >>> _ntp_address(hosts, "ntp1"), _ntp_address(hosts, "10.1.1.1")
        ('10.0.0.9', '10.1.1.1')
        >>> _ntp_address(hosts, "jed-ntp1").startswith(("198.18.", "198.19."))
        True
    """
    known = hosts.get(server)
    if known is not None:
        return known
    try:
        return str(ipaddress.ip_address(server))
    except ValueError:
        digest = hashlib.sha256(server.lower().encode()).digest()
        return f"198.{18 + digest[0] % 2}.{digest[1]}.{1 + digest[2] % 254}"


def ntp_associations(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show ntp associations``: the first configured server is the system peer."""
    if args:
        return None
    if not ctx.ntp_servers:
        return "%NTP is not enabled."
    lines = ["  address         ref clock       st   when   poll reach  delay  offset   disp"]
    for index, server in enumerate(ctx.ntp_servers):
        mark = "*" if index == 0 else "+"
        when = (int(ctx.uptime_seconds) + 17 * index) % 64
        delay = 1.0 + 0.25 * index
        offset = 0.125 * (index + 1) * (-1) ** index
        address = _ntp_address(dict(ctx.hosts), server)
        lines.append(
            f"{mark}~{address:<15} {'.GPS.':<15} {1:>2} {when:>6} {64:>6} {377:>5} "
            f"{delay:>6.3f} {offset:>7.3f} {0.5:>6.3f}"
        )
    lines.append(" * sys.peer, # selected, + candidate, - outlyer, x falseticker, ~ configured")
    return "\n".join(lines)


def ntp_status(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show ntp status``."""
    if args:
        return None
    if not ctx.ntp_servers:
        return "%NTP is not enabled."
    peer = _ntp_address(dict(ctx.hosts), ctx.ntp_servers[0])
    return "\n".join(
        [
            f"Clock is synchronized, stratum 2, reference is {peer}",
            "nominal freq is 286.1023 Hz, actual freq is 286.1023 Hz, precision is 2**21",
            "ntp uptime is 1000 (1/100 of seconds), resolution is 3496",
            "root delay is 1.00 msec, root dispersion is 2.00 msec, peer dispersion is 0.50 msec",
            "loopfilter state is 'CTRL' (Normal Controlled Loop), drift is 0.000000000 s/s",
            "system poll interval is 64, last update was 17 sec ago.",
        ]
    )
