"""Helpers shared by the show-command renderers: interface names, time, config lookups.

Everything here is a pure function of its arguments, so the renderers stay pure
functions of a :class:`~netwarden.lab.sim.showmodel.ShowContext`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from netwarden.lab.sim.showmodel import InterfaceView, ShowContext


@dataclass(frozen=True)
class InterfaceKind:
    """What IOS prints for one family of interfaces."""

    long: str  # "GigabitEthernet"
    short: str  # "Gi"
    hardware: str  # text after "Hardware is"
    media: str  # "media type is ..." for physical ports ("" for logical ones)
    delay_usec: int
    physical: bool


_KINDS: tuple[InterfaceKind, ...] = (
    InterfaceKind("FastEthernet", "Fa", "Fast Ethernet", "10/100BaseTX", 100, True),
    InterfaceKind("GigabitEthernet", "Gi", "Gigabit Ethernet", "10/100/1000BaseTX", 10, True),
    InterfaceKind(
        "AppGigabitEthernet", "Ap", "App-hosting Gigabit Ethernet", "App-hosting", 10, True
    ),
    InterfaceKind(
        "TwoGigabitEthernet", "Tw", "Two Gigabit Ethernet", "100/1000/2.5GBaseTX", 10, True
    ),
    InterfaceKind("TenGigabitEthernet", "Te", "Ten Gigabit Ethernet", "SFP-10GBase-SR", 10, True),
    InterfaceKind(
        "TwentyFiveGigE", "Twe", "Twenty Five Gigabit Ethernet", "SFP-25GBase-SR", 10, True
    ),
    InterfaceKind("FortyGigabitEthernet", "Fo", "Forty Gigabit Ethernet", "QSFP-40G-SR4", 10, True),
    InterfaceKind("HundredGigE", "Hu", "Hundred Gigabit Ethernet", "QSFP-100G-SR4", 10, True),
    InterfaceKind("Ethernet", "Et", "Ethernet", "10BaseT", 1000, True),
    InterfaceKind("Port-channel", "Po", "EtherChannel", "", 10, False),
    InterfaceKind("Vlan", "Vl", "EtherSVI", "", 10, False),
    InterfaceKind("Loopback", "Lo", "Loopback", "", 5000, False),
    InterfaceKind("Tunnel", "Tu", "Tunnel", "", 50000, False),
)
_OTHER = InterfaceKind("", "", "Unknown", "", 10, False)
_NAME_RE = re.compile(r"^([A-Za-z][A-Za-z-]*?)\s*(\d[\d/.:]*)$")


def split_name(name: str) -> tuple[str, str]:
    """Split an interface name into its type and its number.

    Examples:
        >>> split_name("GigabitEthernet1/0/1")
        ('GigabitEthernet', '1/0/1')
        >>> split_name("Port-channel 10")
        ('Port-channel', '10')
    """
    match = _NAME_RE.match(name.strip())
    if match is None:
        return name, ""
    return match.group(1), match.group(2)


def kind_of(name: str) -> InterfaceKind:
    """The :class:`InterfaceKind` of a full interface name (``_OTHER`` when unknown)."""
    kind_name, _ = split_name(name)
    for kind in _KINDS:
        if kind.long.lower() == kind_name.lower():
            return kind
    return _OTHER


def abbreviate(name: str) -> str:
    """The short IOS form of an interface name, as LLDP and ``show vlan`` print it.

    Examples:
        >>> abbreviate("GigabitEthernet1/0/48")
        'Gi1/0/48'
        >>> abbreviate("Vlan10")
        'Vl10'
        >>> abbreviate("Weird0")
        'Weird0'
    """
    kind = kind_of(name)
    if not kind.long:
        return name
    return kind.short + split_name(name)[1]


def full_name(name: str) -> str:
    """The long form of an interface name, ``Gi1/0/48`` -> ``GigabitEthernet1/0/48``.

    A full name, or a type this module does not know, keeps its type.

    Examples:
        >>> full_name("Gi1/0/48"), full_name("TenGigabitEthernet1/1/1"), full_name("Weird0")
        ('GigabitEthernet1/0/48', 'TenGigabitEthernet1/1/1', 'Weird0')
    """
    kind_name, number = split_name(name)
    kind = next((k for k in _KINDS if k.short == kind_name), None)
    return (kind.long if kind is not None else kind_name) + number


def find_interface(ctx: ShowContext, words: list[str]) -> InterfaceView | None:
    """Resolve a user-typed interface (``gi1/0/1``, ``Gi 1/0/1``, ``vlan 10``) as IOS does.

    The type may be any prefix of the long name (or the short name); it must be
    unambiguous among the types the device has.
    """
    typed_type, typed_number = split_name("".join(words))
    if not typed_number:
        return None
    typed = typed_type.lower()
    candidates = [
        itf
        for itf in ctx.interfaces
        if split_name(itf.name)[1] == typed_number
        and (
            split_name(itf.name)[0].lower().startswith(typed)
            or kind_of(itf.name).short.lower() == typed
        )
    ]
    return candidates[0] if len(candidates) == 1 else None


def link_state(itf: InterfaceView) -> tuple[str, str]:
    """(status, protocol) as ``show interfaces`` and ``show ip interface brief`` print them."""
    if itf.shutdown:
        return "administratively down", "down"
    if itf.line_protocol_up:
        return "up", "up"
    return "down", "down"


def dotted_to_colon(mac: str) -> str:
    """``0024.f7dd.7700`` -> ``00:24:F7:DD:77:00`` (the form ``show version`` uses).

    Examples:
        >>> dotted_to_colon("0024.f7dd.7700")
        '00:24:F7:DD:77:00'
    """
    digits = mac.replace(".", "").upper()
    return ":".join(digits[i : i + 2] for i in range(0, len(digits), 2))


def prefix_to_netmask(prefix: int) -> str:
    """``24`` -> ``255.255.255.0``.

    Examples:
        >>> prefix_to_netmask(27)
        '255.255.255.224'
    """
    value = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" + ("" if count == 1 else "s")


def uptime_text(seconds: float) -> str:
    """IOS's ``uptime is`` wording: years, weeks, days, hours, minutes; zero parts omitted.

    Examples:
        >>> uptime_text(16676160)
        '27 weeks, 4 days, 16 minutes'
        >>> uptime_text(59)
        '0 minutes'
        >>> uptime_text(365 * 86400 + 3600)
        '1 year, 1 hour'
    """
    remaining = int(seconds) // 60
    parts: list[str] = []
    for unit, size in (("year", 525_600), ("week", 10_080), ("day", 1_440), ("hour", 60)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(_plural(count, unit))
    if remaining or not parts:
        parts.append(_plural(remaining, "minute"))
    return ", ".join(parts)


def short_uptime(seconds: float) -> str:
    """The compact form used by ``service timestamps ... uptime`` and ``show users``.

    Examples:
        >>> short_uptime(3725)
        '01:02:05'
        >>> short_uptime(2 * 86400 + 3 * 3600)
        '2d03h'
        >>> short_uptime(9 * 86400)
        '1w2d'
    """
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days >= 7:
        return f"{days // 7}w{days % 7}d"
    if days:
        return f"{days}d{hours:02d}h"
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def clock_text(when: datetime, timezone: str) -> str:
    """``10:21:33.123 AST Mon Jan 5 2026`` (the day of month is not zero-padded)."""
    millis = when.microsecond // 1000
    return f"{when:%H:%M:%S}.{millis:03d} {timezone} {when:%a %b} {when.day} {when.year}"


def clock_synchronized(ctx: ShowContext) -> bool:
    """IOS marks an unsynchronised clock with ``*``; the simulator syncs when NTP is set."""
    return bool(ctx.ntp_servers)


def config_lines(config: str, pattern: str) -> list[re.Match[str]]:
    """All top-level config lines matching ``pattern`` (anchored at the line start)."""
    regex = re.compile(pattern)
    matches = [regex.match(line) for line in config.splitlines()]
    return [m for m in matches if m is not None]


def config_value(config: str, pattern: str, default: str = "") -> str:
    """Group 1 of the first top-level config line matching ``pattern``, else ``default``.

    Examples:
        >>> config_value("hostname sw1\\nip domain name example.org\\n", r"ip domain[ -]name (\\S+)")
        'example.org'
    """
    found = config_lines(config, pattern)
    return found[0].group(1) if found else default
