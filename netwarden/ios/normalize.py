"""Config text as plan, apply and drift compare it: noise out, order-insensitive parts sorted.

Two running configs that mean the same must compare equal, or every plan shows
changes that apply cannot make. :data:`IGNORED_LINES` lists what is dropped and
why; :func:`canonical` also sorts what IOS does not keep in a meaningful order.

Ignored lines (on both sides of every comparison):

- ``snmp-server user ...``: IOS stores SNMPv3 users outside the running config
  and never prints them, so the intended line would look missing forever. They
  are write-only: rendered and pushed, then read back with ``show snmp user``, not
  compared. The simulator keeps them out of its running config the same way
  (``netwarden.lab.sim.snmpusers``), so a converged lab device shows no diff.
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

Banners: every IOS form (one line or several, ``^C``, a literal Ctrl-C or any
other delimiter) is read by :func:`read_banner` and compared in the form
``show running-config`` prints (``banner KIND ^C``, the text lines, ``^C``);
:func:`filtered` hands hier_config that form with the text lines it would take
for a banner's end made inert (:func:`from_hier` restores them).

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
from collections.abc import Sequence
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


BANNER_DELIMITER = "^C"
"""The delimiter every banner is rewritten with: what ``show running-config`` prints."""

_BANNER_RE = re.compile(r"^banner[ \t]+(\S+)[ \t]+(\S.*)$")


@dataclass(frozen=True, slots=True)
class BannerSpan:
    """A banner command read from config lines, whatever form it was written in.

    ``start`` is the index of the ``banner`` line, ``end`` the index after its last
    line; ``body`` the text lines between the delimiters (no empty first line when
    the text starts on the line after the opening delimiter, no empty last line when
    the closing delimiter stands alone); ``closed`` is False when the closing
    delimiter never came (the banner then runs to the end of the text).
    """

    kind: str
    delimiter: str
    body: tuple[str, ...]
    start: int
    end: int
    closed: bool = True

    def canonical(self) -> list[str]:
        """The banner as IOS shows it: ``banner KIND ^C``, the text lines, ``^C``."""
        return [f"banner {self.kind} {BANNER_DELIMITER}", *self.body, BANNER_DELIMITER]


def read_banner(lines: Sequence[str], start: int) -> BannerSpan | None:
    """Read the banner whose command is ``lines[start]``; None when that line starts none.

    Every IOS form reads the same: the delimiter is ``^C`` (caret and C, as
    ``show running-config`` prints it) or the first character after the banner
    kind (``#``, ``%``, a literal Ctrl-C ...); the text is on the command's line
    (``banner exec ^CAuthorised use only^C``) or spans lines, the closing
    delimiter at the end of a later line or alone. Text after the closing
    delimiter is ignored, as IOS does. This is the one banner reader of plan,
    drift, normalisation and the compliance parser.

    Examples:
        >>> read_banner(["banner exec ^CAuthorised use only^C"], 0).body
        ('Authorised use only',)
        >>> b = read_banner(["banner motd #", "Line one", "Line two#", "hostname a"], 0)
        >>> b.kind, b.delimiter, b.body, b.end
        ('motd', '#', ('Line one', 'Line two'), 3)
        >>> read_banner(["banner motd ^C", "Hello", "^C"], 0).canonical()
        ['banner motd ^C', 'Hello', '^C']
        >>> read_banner(["banner motd"], 0) is None
        True
    """
    match = _BANNER_RE.match(lines[start].rstrip())
    if match is None:
        return None
    kind, rest = match.groups()
    delim = BANNER_DELIMITER if rest.startswith(BANNER_DELIMITER) else rest[0]
    after = rest[len(delim) :]
    if delim in after:
        text = after.split(delim, 1)[0]
        return BannerSpan(kind, delim, (text,) if text else (), start, start + 1)
    body = [after] if after.strip() else []
    for j in range(start + 1, len(lines)):
        line = lines[j].rstrip()
        if delim in line:
            before = line.split(delim, 1)[0]
            if before:
                body.append(before)
            return BannerSpan(kind, delim, tuple(body), start, j + 1)
        body.append(line)
    return BannerSpan(kind, delim, tuple(body), start, len(lines), closed=False)


def blocks(text: str) -> list[Block]:
    """Top-level blocks of a config, without headers, comments, blank lines, ``end`` and ignored lines.

    A banner is one block however it was written (:func:`read_banner`): its line is
    ``banner KIND ^C``, its children the text lines then ``^C``.
    """
    out: list[Block] = []
    current: Block | None = None
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        stripped = line.strip()
        if not stripped or stripped.startswith("!") or _HEADERS.match(stripped):
            continue
        if line == "end":
            break
        if not line.startswith(" "):
            if ignored(line):
                current = None
                continue
            banner = read_banner(lines, i - 1) if line.startswith("banner") else None
            if banner is not None:
                if not banner.closed:
                    logger.warning("banner %s: no closing %r", banner.kind, banner.delimiter)
                head, *rest = banner.canonical()
                out.append(Block(head, rest))
                current = None
                i = banner.end
                continue
            current = Block(line)
            out.append(current)
        elif current is not None:
            current.children.append(line)
    return out


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


_HIER_ESCAPE = "\ue000"
_HIER_CARET_C = "\ue001"
_HIER_BANNER_ENDS = frozenset({"EOF", "%", "!"})
"""Banner text lines hier_config (3.x) takes for the end of a banner, whatever its delimiter."""


def _hier_inert(line: str) -> str:
    """A line hier_config would misread (as a banner's end or start), made inert; see :func:`from_hier`."""
    if line.startswith(("^", "banner ")) or line in _HIER_BANNER_ENDS or BANNER_DELIMITER in line:
        return _HIER_ESCAPE + line.replace(BANNER_DELIMITER, _HIER_CARET_C)
    return line


def from_hier(text: str) -> str:
    """Undo what :func:`filtered` did to banner text for hier_config (in its output).

    Examples:
        >>> from_hier(filtered("banner motd #\\n!\\n^^ warning ^C ^^\\n#\\n"))
        'banner motd ^C\\n!\\n^^ warning ^C ^^\\n^C\\n'
    """
    return text.replace(_HIER_CARET_C, BANNER_DELIMITER).replace(_HIER_ESCAPE, "")


def filtered(text: str) -> str:
    """The config without headers, comments and ignored lines, in its own order (for hier_config).

    Banners are in their canonical form (:func:`read_banner`): ``banner KIND ^C``,
    the text lines, ``^C``. hier_config's own banner reader ends a banner at a text
    line that starts with ``^``, contains ``^C`` or is ``!``, ``%`` or ``EOF``, and
    raises on a one-line banner placed last: such text lines (and a ``banner`` line
    without a delimiter) are escaped, and :func:`from_hier` restores them in
    hier_config's output.
    """
    out: list[str] = []
    for block in blocks(text):
        if block.line.startswith("banner ") and block.children[-1:] == [BANNER_DELIMITER]:
            out.append(block.line)
            out.extend(_hier_inert(line) for line in block.children[:-1])
            out.append(BANNER_DELIMITER)
            continue
        out.append(_hier_inert(block.line) if block.line.startswith("banner") else block.line)
        out.extend(block.children)
    return "\n".join(out) + "\n"


def banner_kind(command: str) -> str | None:
    """The banner kind of a (remediation) command, ``no`` form too; None for other commands.

    Examples:
        >>> banner_kind("no banner exec ^C\\nhello\\n^C"), banner_kind("hostname a")
        ('exec', None)
    """
    words = command.split(None, 3)
    if words[:1] == ["no"]:
        words = words[1:]
    return words[1] if len(words) >= 2 and words[0] == "banner" else None


def tidy_remediation(commands: Sequence[str]) -> tuple[str, ...]:
    """hier_config's remediation as IOS takes it: decoded, banners replaced, not negated whole.

    A new ``banner KIND`` replaces the old one, so its ``no banner KIND <old text>``
    goes; a banner to remove is ``no banner KIND``.

    Examples:
        >>> tidy_remediation(["no banner exec ^C\\nold\\n^C", "banner exec ^C\\nnew\\n^C"])
        ('banner exec ^C\\nnew\\n^C',)
        >>> tidy_remediation(["no banner login ^C\\nold\\n^C", "no ntp server 10.0.0.1"])
        ('no banner login', 'no ntp server 10.0.0.1')
    """
    decoded = [from_hier(c) for c in commands]
    replaced = {banner_kind(c) for c in decoded if not c.startswith("no ")} - {None}
    out: list[str] = []
    for command in decoded:
        kind = banner_kind(command)
        if kind is not None and command.startswith("no "):
            if kind not in replaced:
                out.append(f"no banner {kind}")
            continue
        out.append(command)
    return tuple(out)


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
