"""``spanning-tree vlan ...`` in configuration mode, stored the way IOS stores it.

IOS keeps one line per priority value with the VLANs that have it
(``spanning-tree vlan 1-9,11 priority 4096``) and one ``no spanning-tree vlan LIST``
for the VLANs whose instance is stopped; setting VLAN 10 to another priority splits
the line. ``spanning-tree vlan N root primary|secondary`` is a macro: it is not
stored, the priority it picks is (24576 when that makes this bridge the root, else
4096 below the current root's; 28672 for secondary).

Examples:
    >>> outcome = vlan_command("spanning-tree vlan 10,20 priority 4096".split(), [])
    >>> outcome.lines
    ['spanning-tree vlan 10,20 priority 4096']
    >>> vlan_command("spanning-tree vlan 20 priority 8192".split(), outcome.lines).lines
    ['spanning-tree vlan 10 priority 4096', 'spanning-tree vlan 20 priority 8192']
    >>> vlan_command("spanning-tree vlan 10 priority 5000".split(), []).message.splitlines()[0]
    '% Bridge Priority must be in increments of 4096.'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from netwarden.lab.sim.stp import (
    DEFAULT_PRIORITY,
    PRIORITY_STEP,
    BridgeId,
    expand_vlans,
    settings_from,
    vlan_ranges,
)

logger = logging.getLogger(__name__)

RootView = Callable[[int], tuple[BridgeId | None, str]]
"""The current root of a VLAN as this bridge sees it (None: none known) and the bridge's own MAC."""

PRIMARY = 24576
SECONDARY = 28672
MAX_PRIORITY = 61440
PRIORITY_HELP = (
    "% Bridge Priority must be in increments of 4096.\n"
    "% Allowed values are:\n"
    "  0     4096  8192  12288 16384 20480 24576 28672\n"
    "  32768 36864 40960 45056 49152 53248 57344 61440"
)
_VLAN_LIST = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")


@dataclass
class VlanOutcome:
    """What one command did: the new per-VLAN lines, or IOS's error.

    ``error`` is "" (``lines`` holds the new lines), ``invalid`` (the caret under word
    ``error_word``), ``incomplete`` or ``refused`` (IOS prints ``message``).
    """

    lines: list[str] = field(default_factory=list)
    error: str = ""
    message: str = ""
    error_word: int = 0


def is_vlan_line(text: str) -> bool:
    """A stored line this module owns (``spanning-tree vlan L priority P``, ``no spanning-tree vlan L``)."""
    words = text.split()
    if words[:3] == ["no", "spanning-tree", "vlan"]:
        return len(words) == 4
    return words[:2] == ["spanning-tree", "vlan"] and len(words) == 5 and words[3] == "priority"


def expand(words: Sequence[str]) -> list[str]:
    """``words`` with the keywords after the VLAN list spelled out (``pri`` -> ``priority``).

    Examples:
        >>> expand("spanning-tree vlan 10 ro pri".split())
        ['spanning-tree', 'vlan', '10', 'root', 'primary']
        >>> expand("snmp-server community n3tw4rden RO 10".split())[3]
        'RO'
    """
    out = list(words)
    at = 1 if out[:1] in (["no"], ["default"]) else 0
    if out[at : at + 2] != ["spanning-tree", "vlan"]:
        return out
    for index, choices in ((at + 3, _OPTIONS), (at + 4, ("primary", "secondary"))):
        if index < len(out) and (index == at + 3 or out[at + 3] == "root"):
            found = [c for c in choices if c.startswith(out[index].lower())]
            out[index] = found[0] if len(found) == 1 else out[index]
    return out


_OPTIONS = ("priority", "root", "hello-time", "forward-time", "max-age")


def handles(words: Sequence[str]) -> bool:
    """Whether ``words`` (expanded, global mode) is a command of this module.

    ``spanning-tree vlan L hello-time|forward-time|max-age ...`` are stored as typed.
    """
    rest = list(words[1:]) if words[:1] in (["no"], ["default"]) else list(words)
    if rest[:2] != ["spanning-tree", "vlan"]:
        return False
    return len(rest) <= 3 or rest[3] in ("priority", "root")


def vlan_command(
    words: Sequence[str], stored: Sequence[str], root_view: RootView | None = None
) -> VlanOutcome:
    """Apply ``[no|default] spanning-tree vlan LIST [priority P | root primary|secondary]``.

    ``stored`` are the lines this module owns, as in the running config now.
    """
    at = 1 if words[0] in ("no", "default") else 0  # index of "spanning-tree"
    rest = list(words[at + 2 :])
    if not rest:
        return VlanOutcome(error="incomplete")
    if not _VLAN_LIST.fullmatch(rest[0]) or not all(1 <= v <= 4094 for v in expand_vlans(rest[0])):
        return VlanOutcome(error="invalid", error_word=at + 2)
    vlans = sorted(expand_vlans(rest[0]))
    settings = settings_from(stored)
    priorities = dict(settings.priorities)
    disabled = set(settings.disabled)
    option = rest[1:]
    if at and option:  # ``no ... priority [P]``, ``no ... root``: back to the default priority
        chosen: dict[int, int] | VlanOutcome = dict.fromkeys(vlans, DEFAULT_PRIORITY)
    elif not option:  # the instance itself: stopped by ``no``, started again without it
        if words[0] == "no":
            disabled.update(vlans)
        else:
            disabled.difference_update(vlans)
        chosen = dict.fromkeys(vlans, DEFAULT_PRIORITY) if words[0] == "default" else {}
    elif option[0] == "priority":
        chosen = _priority(option, vlans, at + 4)
    else:
        chosen = _root(option, vlans, at + 4, root_view)
    if isinstance(chosen, VlanOutcome):
        return chosen
    priorities.update(chosen)
    return VlanOutcome(lines=render_lines(priorities, disabled))


def _priority(
    option: Sequence[str], vlans: Sequence[int], word: int
) -> dict[int, int] | VlanOutcome:
    """``priority P`` (``word``: the index of P in the command)."""
    if len(option) < 2:
        return VlanOutcome(error="incomplete")
    if not option[1].isdigit() or int(option[1]) > MAX_PRIORITY or len(option) > 2:
        return VlanOutcome(error="invalid", error_word=word + (len(option) > 2))
    if int(option[1]) % PRIORITY_STEP:
        return VlanOutcome(error="refused", message=PRIORITY_HELP)
    return dict.fromkeys(vlans, int(option[1]))


def _root(
    option: Sequence[str], vlans: Sequence[int], word: int, root_view: RootView | None
) -> dict[int, int] | VlanOutcome:
    """``root primary|secondary [diameter N [hello-time N]]`` (the options after are accepted)."""
    if len(option) < 2:
        return VlanOutcome(error="incomplete")
    if option[1] not in ("primary", "secondary"):
        return VlanOutcome(error="invalid", error_word=word)
    chosen: dict[int, int] = {}
    for vlan in vlans:
        value = SECONDARY if option[1] == "secondary" else _primary(vlan, root_view)
        if value is None:
            return VlanOutcome(error="refused", message=_cannot_be_root(vlan))
        chosen[vlan] = value
    return chosen


def _primary(vlan: int, root_view: RootView | None) -> int | None:
    """The priority ``root primary`` picks for ``vlan`` (None: no priority makes this bridge root)."""
    root, own_mac = root_view(vlan) if root_view is not None else (None, "")
    if root is None or root.mac == own_mac or BridgeId(PRIMARY + vlan, own_mac) < root:
        return PRIMARY
    below = root.base_priority - PRIORITY_STEP
    if below >= 0:
        return below
    return 0 if BridgeId(vlan, own_mac) < root else None


def _cannot_be_root(vlan: int) -> str:
    return (
        f"% Failed to make the bridge root for vlan {vlan}\n"
        "% It may be possible to make the bridge root by setting the priority\n"
        "% for some (or all) of these instances to zero."
    )


def render_lines(priorities: dict[int, int], disabled: set[int]) -> list[str]:
    """The stored lines: one per priority value (in the order of their first VLAN), then
    the stopped instances.

    Examples:
        >>> render_lines({1: 4096, 2: 4096, 10: 8192, 11: DEFAULT_PRIORITY}, {30})
        ['spanning-tree vlan 1-2 priority 4096', 'spanning-tree vlan 10 priority 8192', 'no spanning-tree vlan 30']
    """
    by_value: dict[int, list[int]] = {}
    for vlan, value in sorted(priorities.items()):
        if value != DEFAULT_PRIORITY:
            by_value.setdefault(value, []).append(vlan)
    lines = [
        f"spanning-tree vlan {vlan_ranges(vlans)} priority {value}"
        for value, vlans in sorted(by_value.items(), key=lambda item: item[1][0])
    ]
    if disabled:
        lines.append(f"no spanning-tree vlan {vlan_ranges(disabled)}")
    return lines
