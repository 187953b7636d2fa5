"""Show commands of the IOS simulator, rendered in the format of real Cisco IOS.

The session layer calls :func:`render_show` with the words typed after ``show``
(possibly abbreviated, as IOS allows) and a :class:`ShowContext`; pipes
(``| include`` ...) are applied by the caller. A command is a path of keywords in
a small tree; each word the user typed must be an unambiguous prefix of one
keyword at its level (an exact keyword always wins). Words left over after the
deepest keyword are the renderer's arguments (an interface name, ``detail``...).

The formats follow real devices (a Catalyst 3750-X on IOS 15.2 for switch
ports; NAPALM's ``ios`` driver and ntc-templates parse them), which the unit and
fidelity tests check with the real parsers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from netwarden.lab.sim import (
    shows_acl,
    shows_cdp,
    shows_health,
    shows_interfaces,
    shows_l2,
    shows_l3,
    shows_neighbors,
    shows_stp,
    shows_system,
)
from netwarden.lab.sim.showmodel import ShowContext

Renderer: TypeAlias = Callable[[ShowContext, Sequence[str]], str | None]
"""A renderer gets the context and the words after its keywords; None means invalid input."""


def _interfaces(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show interfaces [NAME [switchport|transceiver]]``: IOS takes the name before them."""
    if len(args) >= 2 and len(args[-1]) >= 2:
        last = args[-1].lower()
        for keyword, renderer in (
            ("switchport", shows_l2.interfaces_switchport),
            ("transceiver", shows_l2.interfaces_transceiver),
        ):
            if keyword.startswith(last):
                return renderer(ctx, args[:-1])
    return shows_interfaces.interfaces(ctx, args)


COMMANDS: tuple[tuple[tuple[str, ...], Renderer], ...] = (
    (("version",), shows_system.version),
    (("running-config",), shows_system.running_config),
    (("running-config", "all"), lambda ctx, args: shows_system.running_config(ctx, ["all", *args])),
    (
        ("running-config", "interface"),
        lambda ctx, args: shows_system.running_config(ctx, ["interface", *args]),
    ),
    (("startup-config",), shows_system.startup_config),
    (("clock",), shows_system.clock),
    (("users",), shows_system.users),
    (("hosts",), shows_system.hosts),
    (("inventory",), shows_system.inventory),
    (("interfaces",), _interfaces),
    (("interfaces", "summary"), shows_interfaces.interface_summary),
    (("interfaces", "counters"), shows_interfaces.interface_counters),
    (("interfaces", "status"), shows_interfaces.interface_status),
    (("interfaces", "description"), shows_interfaces.interface_description),
    (("ip", "interface"), shows_interfaces.ip_interface),
    (("ip", "interface", "brief"), shows_interfaces.ip_interface_brief),
    (("ipv6", "interface"), shows_interfaces.ipv6_interface),
    (("vlan",), shows_interfaces.vlan),
    (("vlan", "brief"), shows_interfaces.vlan_brief),
    (("vlan", "all-ports"), shows_interfaces.vlan_all_ports),
    (("arp",), shows_neighbors.arp),
    (("ip", "arp"), shows_neighbors.arp),
    (("lldp",), shows_neighbors.lldp),
    (("lldp", "neighbors"), shows_neighbors.lldp_neighbors),
    (("lldp", "neighbors", "detail"), shows_neighbors.lldp_neighbors_detail),
    (("processes", "cpu"), shows_health.processes_cpu),
    (("memory", "statistics"), shows_health.memory_statistics),
    (("environment",), shows_health.environment_all),
    (("environment", "all"), shows_health.environment_all),
    (("environment", "temperature"), shows_health.environment_temperature),
    (("environment", "temperature", "status"), shows_health.environment_temperature_status),
    (("logging",), shows_health.logging),
    (("snmp",), shows_health.snmp),
    (("snmp", "chassis"), shows_health.snmp_chassis),
    (("snmp", "community"), shows_health.snmp_community),
    (("snmp", "contact"), shows_health.snmp_contact),
    (("snmp", "location"), shows_health.snmp_location),
    (("ntp", "associations"), shows_health.ntp_associations),
    (("ntp", "status"), shows_health.ntp_status),
    (("mac", "address-table"), shows_l2.mac_address_table),
    (
        ("mac", "address-table", "dynamic"),
        lambda ctx, a: shows_l2.mac_address_table(ctx, ["dynamic", *a]),
    ),
    (("mac-address-table",), shows_l2.mac_address_table),
    (("spanning-tree",), shows_stp.spanning_tree),
    (("spanning-tree", "vlan"), lambda ctx, a: shows_stp.spanning_tree(ctx, ["vlan", *a])),
    (("spanning-tree", "root"), shows_stp.spanning_tree_root),
    (("spanning-tree", "summary"), shows_stp.spanning_tree_summary),
    (("interfaces", "switchport"), shows_l2.interfaces_switchport),
    (("interfaces", "trunk"), shows_l2.interfaces_trunk),
    (("interfaces", "transceiver"), shows_l2.interfaces_transceiver),
    (("etherchannel", "summary"), shows_l2.etherchannel_summary),
    (("lacp", "sys-id"), shows_l2.lacp_sys_id),
    (("cdp",), shows_cdp.cdp),
    (("cdp", "neighbors"), shows_cdp.cdp_neighbors),
    (("cdp", "neighbors", "detail"), shows_cdp.cdp_neighbors_detail),
    (("lldp", "interface"), shows_cdp.lldp_interface),
    (("ip", "route"), shows_l3.ip_route),
    (("ip", "route", "vrf"), lambda ctx, a: shows_l3.ip_route(ctx, ["vrf", *a])),
    (("vrf",), shows_l3.vrf),
    (("ipv6", "neighbors"), shows_l3.ipv6_neighbors),
    (("access-lists",), shows_acl.access_lists),
    (("ip", "access-lists"), shows_acl.access_lists),
    (("snmp", "user"), shows_acl.snmp_user),
    (("banner", "motd"), shows_acl.banner_motd),
)
"""Keyword paths and their renderers. Add a command by adding a row."""

# Keywords IOS knows at a level but this module does not render. They take part in
# abbreviation matching, so that ``show in`` is ambiguous (interfaces, inventory) and
# ``show i`` is not silently taken for ``ip``, exactly as on a device; the session
# renders a few of them itself (``archive``, ``flash:``) once :func:`resolve` has
# named them.
_SIBLINGS: tuple[tuple[str, ...], ...] = (
    ("archive",),
    ("boot",),
    ("configuration",),
    ("controllers",),
    ("debugging",),
    ("flash:",),
    ("history",),
    ("ip", "ssh"),
    ("license",),
    ("line",),
    ("mac",),
    ("memory",),
    ("processes",),
    ("privilege",),
    ("sessions",),
    ("ssh",),
    ("switch",),
    ("terminal",),
)


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    renderer: Renderer | None = None


def _build(
    commands: Sequence[tuple[tuple[str, ...], Renderer]],
    siblings: Sequence[tuple[str, ...]],
) -> _Node:
    root = _Node()
    for path in siblings:
        node = root
        for word in path:
            node = node.children.setdefault(word, _Node())
    for path, renderer in commands:
        node = root
        for word in path:
            node = node.children.setdefault(word, _Node())
        node.renderer = renderer
    return root


_ROOT = _build(COMMANDS, _SIBLINGS)


def _child_key(node: _Node, word: str) -> tuple[str | None, bool]:
    """(keyword of the matching child, ambiguous?) for one typed word at ``node``."""
    typed = word.lower()
    if typed in node.children:
        return typed, False
    matches = [key for key in node.children if key.startswith(typed)]
    if len(matches) == 1:
        return matches[0], False
    return None, len(matches) > 1


@dataclass(frozen=True)
class Resolved:
    """What :func:`resolve` made of the words after ``show``.

    ``path`` holds the full keywords matched (``("ip", "interface", "brief")``),
    ``rest`` the words left over for the renderer, ``renderer`` the renderer of
    the deepest keyword (None for a keyword the simulator renders elsewhere or
    not at all), and ``ambiguous`` tells that a word is a prefix of several
    keywords at its level (IOS's ``% Ambiguous command``).
    """

    path: tuple[str, ...]
    rest: list[str]
    renderer: Renderer | None
    ambiguous: bool = False


def resolve(args: Sequence[str]) -> Resolved:
    """Match ``args`` (the words after ``show``) against the keyword tree, as IOS does.

    Examples:
        >>> resolve(["ru", "int", "vlan10"]).path, resolve(["ru", "int", "vlan10"]).rest
        (('running-config', 'interface'), ['vlan10'])
        >>> resolve(["arch", "config"]).path
        ('archive',)
        >>> resolve(["s"]).ambiguous
        True
    """
    node = _ROOT
    path: list[str] = []
    index = 0
    while index < len(args):
        key, ambiguous = _child_key(node, args[index])
        if ambiguous:
            return Resolved(tuple(path), list(args[index:]), None, ambiguous=True)
        if key is None:
            break
        path.append(key)
        node = node.children[key]
        index += 1
    return Resolved(tuple(path), list(args[index:]), node.renderer)


def keywords_at(path: Sequence[str]) -> list[str]:
    """The keywords that may follow the full keyword ``path`` (for ``?`` and Tab).

    Examples:
        >>> keywords_at(("ip", "interface"))
        ['brief']
    """
    node = _ROOT
    for word in path:
        node = node.children[word]
    return list(node.children)


def match_command(args: Sequence[str]) -> tuple[Renderer, list[str]] | None:
    """Find the renderer for ``args`` (the words after ``show``) and its leftover words.

    Examples:
        >>> renderer, rest = match_command(["ip", "int", "br"])
        >>> renderer.__name__, rest
        ('ip_interface_brief', [])
        >>> match_command(["int", "gi1/0/1"])[1]
        ['gi1/0/1']
        >>> match_command(["in"]) is None  # interfaces or inventory: ambiguous
        True
    """
    found = resolve(args)
    if found.ambiguous or found.renderer is None:
        return None
    return found.renderer, found.rest


def render_show(args: list[str], ctx: ShowContext) -> str | None:
    """Render ``show <args>`` for the device described by ``ctx``.

    ``args`` are the words after ``show``, possibly abbreviated as IOS allows
    (``sh ip int br`` -> ``["ip", "int", "br"]``). Returns the output text, or None
    when the command is unknown or its arguments are invalid (the caller prints
    ``% Invalid input detected at '^' marker.``).
    """
    found = match_command(args)
    if found is None:
        return None
    renderer, rest = found
    return renderer(ctx, rest)
