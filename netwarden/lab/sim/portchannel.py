"""EtherChannel: ``channel-group`` makes the Port-channel; bundles follow the members' links.

As on a Catalyst:

- ``channel-group N mode active|passive|on|desirable|auto`` under a port checks
  its words (IOS's caret on the first bad one), and creates ``interface
  Port-channelN`` when it is absent, with the port's Layer-2 settings (or
  ``no switchport``) and IOS's message ``Creating a port-channel interface
  Port-channel N``; the config applier (:mod:`netwarden.lab.sim.config`) calls
  :func:`check_channel_group` and :func:`inherited`.
- ``no channel-group`` on the last member leaves the Port-channel in place;
  ``no interface Port-channelN`` removes it and the ``channel-group N`` line of
  every member (:func:`is_member_line` finds them).
- Show commands see the bundle through :func:`bundle`: a member with link is
  bundled (``P``) unless its switchport settings differ from the Port-channel's
  (suspended, ``s``); a member without link, or of a shut Port-channel, is down
  (``D``). The Port-channel is up when a member is bundled; its bandwidth is the
  sum of the bundled members', its counters the sum of its members', its MAC the
  first member's. The simulated partner is taken to agree (LACP active/passive,
  PAgP desirable/auto, on/on): the simulator has no LACP or PAgP between devices.

Examples:
    >>> check_channel_group(["channel-group", "1", "mode", "act"], "GigabitEthernet1/0/1")
    (['channel-group', '1', 'mode', 'active'], '', 0)
    >>> check_channel_group(["channel-group", "1", "mode", "lacp"], "GigabitEthernet1/0/1")[1:]
    ('invalid', 3)
    >>> inherited(["description up", "switchport mode trunk", "channel-group 1 mode on"])
    ['switchport mode trunk']
"""

from __future__ import annotations

import dataclasses
import logging

from netwarden.lab.sim.showmodel import InterfaceCounters, InterfaceView

logger = logging.getLogger(__name__)

PREFIX = "Port-channel"
PROTOCOLS = {"active": "LACP", "passive": "LACP", "desirable": "PAgP", "auto": "PAgP", "on": "-"}
"""Each ``channel-group`` mode and the protocol ``show etherchannel summary`` names."""
MAX_GROUP = 128  # Catalyst 9000 (IOS-XE); older Catalysts stop at 48
_LOGICAL = ("Port-channel", "Vlan", "Loopback", "Tunnel", "BDI", "Null")
_NOT_INHERITED = ("switchport port-security", "switchport voice", "switchport nonegotiate")


def check_channel_group(  # noqa: PLR0911 - one return per IOS error
    words: list[str], interface: str
) -> tuple[list[str], str, int]:
    """``channel-group N mode M [non-silent]`` typed under ``interface``.

    Returns the words with the keywords expanded, and "" or the error
    (``invalid``/``incomplete``) with the index of the word the caret points at.
    """
    if interface.startswith(_LOGICAL):
        return words, "invalid", 0
    number = words[1]
    if not number.isdigit() or not 1 <= int(number) <= MAX_GROUP:
        return words, "invalid", 1
    if len(words) < 4:
        return words, "incomplete", 0
    if not "mode".startswith(words[2].lower()):
        return words, "invalid", 2
    modes = [m for m in PROTOCOLS if m.startswith(words[3].lower())]
    if len(modes) != 1:
        return words, "invalid", 3
    expanded = ["channel-group", str(int(number)), "mode", modes[0]]
    rest = words[4:]
    if rest and modes[0] in ("desirable", "auto") and "non-silent".startswith(rest[0].lower()):
        expanded.append("non-silent")
        rest = rest[1:]
    if rest:
        return words, "invalid", len(expanded)
    return expanded, "", 0


def inherited(member_lines: list[str]) -> list[str]:
    """The lines a new Port-channel takes from its first member: Layer 2 or Layer 3."""
    if "no switchport" in member_lines:
        return ["no switchport", "no ip address"]
    return [
        line
        for line in member_lines
        if line.startswith("switchport ") and not line.startswith(_NOT_INHERITED)
    ]


def channel_number(line: str) -> int | None:
    """N of an ``interface Port-channelN`` line, else None.

    Examples:
        >>> channel_number("interface Port-channel12"), channel_number("interface Vlan1")
        (12, None)
    """
    name = line[len("interface ") :] if line.startswith("interface ") else ""
    number = name[len(PREFIX) :]
    return int(number) if name.startswith(PREFIX) and number.isdigit() else None


def is_member_line(line: str, number: str) -> bool:
    """Whether an interface's line puts it in bundle ``number`` (``channel-group N ...``)."""
    words = line.split()
    return words[:1] == ["channel-group"] and words[1:2] == [number]


def _layer2(itf: InterfaceView) -> tuple[object, ...]:
    return (itf.switchport_mode, itf.access_vlan, itf.native_vlan, itf.trunk_allowed)


def _sum(counters: list[InterfaceCounters]) -> InterfaceCounters:
    names = [f.name for f in dataclasses.fields(InterfaceCounters)]
    return InterfaceCounters(**{n: sum(getattr(c, n) for c in counters) for n in names})


def bundle(views: tuple[InterfaceView, ...]) -> tuple[InterfaceView, ...]:
    """Interface views with the bundle state: members' flags, Port-channels' link and sums."""
    channels = {
        int(v.name[len(PREFIX) :]): v
        for v in views
        if v.name.startswith(PREFIX) and v.name[len(PREFIX) :].isdigit()
    }
    flags: dict[str, str] = {}
    for view in views:
        channel = channels.get(view.channel_group) if view.channel_group is not None else None
        if channel is None:
            continue
        if channel.shutdown or view.shutdown or not view.line_protocol_up:
            flags[view.name] = "D"
        elif _layer2(view) != _layer2(channel):
            flags[view.name] = "s"
        else:
            flags[view.name] = "P"
    numbers = {channel.name: number for number, channel in channels.items()}
    out: list[InterfaceView] = []
    for view in views:
        if view.name in flags:
            out.append(dataclasses.replace(view, bundle_flag=flags[view.name]))
            continue
        number = numbers.get(view.name)
        if number is None:
            out.append(view)
            continue
        members = [v for v in views if v.channel_group == number and v.name in flags]
        bundled = [m for m in members if flags[m.name] == "P"]
        up = bool(bundled) and not view.shutdown
        out.append(
            dataclasses.replace(
                view,
                line_protocol_up=up,
                members=tuple(m.name for m in members),
                mac=members[0].mac if members else view.mac,
                speed_mbps=bundled[0].speed_mbps if bundled else view.speed_mbps,
                bandwidth_kbit=(
                    view.bandwidth_kbit
                    if view.bandwidth_kbit is not None or not bundled
                    else sum(m.speed_mbps for m in bundled) * 1000
                ),
                duplex="Full" if up else "Auto",
                counters=_sum([m.counters for m in members]),
                last_flapped_seconds=max(m.last_flapped_seconds for m in bundled) if up else -1.0,
            )
        )
    return tuple(out)
