"""Config text as plan, apply and drift compare it: noise out, order-insensitive parts sorted.

Two running configs that mean the same must compare equal, or every plan shows
changes that apply cannot make. :data:`IGNORED_LINES` lists what is dropped and
why; :func:`canonical` also sorts what IOS does not keep in a meaningful order.

Ignored lines (on both sides of every comparison):

- ``snmp-server user ...``: IOS stores SNMPv3 users outside the running config
  and never prints them, so the intended line would look missing forever.
- ``file prompt quiet``: NAPALM turns it on for its file operations and off when
  it closes; a revert timer that fires after a lost session restores it.
- ``ntp clock-period``: IOS writes it by itself (NAPALM ignores it too).
- ``version``, ``boot-start-marker``, ``boot-end-marker``: IOS writes them;
  ``configure replace`` cannot remove them.
- The headers IOS prints before the config (``Building configuration...``,
  ``Current configuration : N bytes``, ``! Last configuration change ...``),
  ``!`` comment lines, blank lines and ``end``.

Order: top-level blocks are sorted (IOS decides their order, not the engineer);
a block's children are sorted too, except under parents where order is meaning
(:data:`ORDERED_PARENTS`: ACLs, route-maps, policy-maps, ...). Numbered
``access-list N`` lines keep their order among themselves.

Examples:
    >>> running = "Building configuration...\\n!\\nversion 15.2\\nntp server 10.0.0.2\\nhostname a\\nend\\n"
    >>> print(canonical(running))
    hostname a
    ntp server 10.0.0.2
    >>> canonical("hostname a\\nsnmp-server user u g v3") == canonical("hostname a")
    True
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

IGNORED_LINES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^snmp-server user "), "IOS never prints SNMPv3 users in the running config"),
    (re.compile(r"^file prompt quiet$"), "NAPALM toggles it around its file operations"),
    (re.compile(r"^ntp clock-period "), "IOS writes it by itself"),
    (re.compile(r"^version \S+$"), "IOS writes it; configure replace cannot remove it"),
    (re.compile(r"^boot-(?:start|end)-marker$"), "IOS writes them around boot statements"),
)
"""Top-level lines left out of every comparison, with the reason."""

_HEADERS = re.compile(
    r"^(?:Building configuration\.\.\.|Current configuration\s*:.*|Using \d+ out of \d+ bytes)$"
)

ORDERED_PARENTS: tuple[str, ...] = (
    "ip access-list ",
    "ipv6 access-list ",
    "route-map ",
    "policy-map ",
    "class-map ",
    "ip prefix-list ",
    "key chain ",
    "banner ",
)
"""Parents whose children's order is part of their meaning: never sorted."""


def ignored(line: str) -> bool:
    """Whether a top-level line is left out of comparisons (see :data:`IGNORED_LINES`).

    Examples:
        >>> ignored("snmp-server user nw-monitor NW-RO v3 encrypted auth sha 00:11")
        True
        >>> ignored("snmp-server group NW-RO v3 priv")
        False
    """
    return any(pattern.search(line) for pattern, _why in IGNORED_LINES)


@dataclass
class Block:
    """A top-level line and its indented lines (kept as text, with their indentation)."""

    line: str
    children: list[str] = field(default_factory=list)


def blocks(text: str) -> list[Block]:
    """Top-level blocks of a config, without headers, comments, blank lines, ``end`` and ignored lines.

    A banner (``banner motd ^C ... ^C``) is one block however many lines it spans.
    """
    out: list[Block] = []
    current: Block | None = None
    banner_end: str | None = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if banner_end is not None and current is not None:
            current.children.append(line)
            if banner_end in line:
                banner_end = None
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("!") or _HEADERS.match(stripped):
            continue
        if line == "end":
            break
        if not line.startswith(" "):
            if ignored(line):
                current = None
                continue
            current = Block(line)
            out.append(current)
            banner_end = _banner_delimiter(line)
        elif current is not None:
            current.children.append(line)
    return out


def _banner_delimiter(line: str) -> str | None:
    """The delimiter a banner line still waits for, None when it is complete (or not a banner)."""
    match = re.match(r"^banner \S+ (\^C|\S)(.*)$", line)
    if match is None:
        return None
    delim, rest = match.groups()
    return None if delim in rest else delim


def _sort_key(block: Block) -> tuple[str, ...]:
    words = block.line.split()
    if words[:1] == ["access-list"] and len(words) > 1:
        return ("access-list", words[1])  # stable sort: entries keep their order
    return (block.line,)


def canonical_lines(text: str) -> list[str]:
    """The config as sorted, filtered lines (see the module docstring)."""
    out: list[str] = []
    for block in sorted(blocks(text), key=_sort_key):
        out.append(block.line)
        if block.line.startswith(ORDERED_PARENTS):
            out.extend(block.children)
        else:
            out.extend(_sorted_children(block.children))
    return out


def _sorted_children(children: list[str]) -> list[str]:
    """Sort sibling groups (a child with its own deeper lines moves as one)."""
    groups: list[list[str]] = []
    for line in children:
        depth = len(line) - len(line.lstrip(" "))
        if groups and depth > len(groups[-1][0]) - len(groups[-1][0].lstrip(" ")):
            groups[-1].append(line)
        else:
            groups.append([line])
    return [line for group in sorted(groups, key=lambda g: g[0]) for line in group]


def canonical(text: str) -> str:
    """:func:`canonical_lines` joined (no trailing newline)."""
    return "\n".join(canonical_lines(text))


_VOLATILE = re.compile(
    r"^(?:Building configuration\.\.\.|Current configuration\s*:.*|Using \d+ out of \d+ bytes"
    r"|! Last configuration change at .*|! NVRAM config last updated at .*"
    r"|! No configuration change since last restart.*|ntp clock-period \d+)$"
)


def strip_volatile(text: str) -> str:
    """The config as shown, less the lines that change without a config change (for backups).

    Examples:
        >>> strip_volatile("Building configuration...\\n\\nCurrent configuration : 9 bytes\\n!\\n"
        ...                "! Last configuration change at 10:00:01 UTC Fri Mar 1 2024 by nw\\nhostname a\\nend\\n")
        'hostname a\\nend\\n'
    """
    kept = [line for line in text.splitlines() if not _VOLATILE.match(line.rstrip())]
    while kept and kept[0].strip() in ("", "!"):
        kept.pop(0)
    return "\n".join(kept).rstrip("\n") + "\n"


def filtered(text: str) -> str:
    """The config without headers, comments and ignored lines, in its own order (for hier_config)."""
    out: list[str] = []
    for block in blocks(text):
        out.append(block.line)
        out.extend(block.children)
    return "\n".join(out) + "\n"


def filter_device_diff(diff: str) -> str:
    """A device's own diff (``show archive config differences``) without ignored lines.

    Examples:
        >>> filter_device_diff("+snmp-server user a b v3\\n+ntp server 10.0.0.9\\n-file prompt quiet")
        '+ntp server 10.0.0.9'
    """
    out = []
    for line in diff.splitlines():
        body = line[1:] if line[:1] in "+-" else line
        if body.strip() and not body.startswith(" ") and ignored(body):
            continue
        if not line.strip() or line.startswith("!"):
            continue
        out.append(line)
    return "\n".join(out)
