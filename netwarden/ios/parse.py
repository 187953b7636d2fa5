"""IOS configuration as an indentation tree that keeps line numbers.

hier_config does not keep line numbers and parses about 165 configs of 500
lines per second; the audit needs both line numbers (evidence) and more speed,
so this module builds its own light tree: one :class:`Line` per command, its
children by indentation, banners read as one block. hier_config is used only
where it pays: the drift from the intended config (``ios_net``).

Examples:
    >>> cfg = parse_ios("hostname sw1\\n!\\nline vty 0 4\\n login\\n transport input ssh\\n", "sw1.cfg")
    >>> [(ln.number, ln.text) for ln in cfg.top]
    [(1, 'hostname sw1'), (3, 'line vty 0 4')]
    >>> [c.text for c in cfg.sections("line vty")[0].children]
    ['login', 'transport input ssh']
    >>> cfg.first("hostname").number
    1
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from netwarden.ios.normalize import read_banner

_SKIP_PREFIXES = ("Building configuration", "Current configuration", "Last configuration change")


class Line:
    """One command: its text without indentation, 1-based line number, children, parent.

    Children are built on first access from the raw lines below the command, so
    sections no rule looks at cost nothing.
    """

    __slots__ = ("_body", "_children", "_end", "_raw", "indent", "number", "parent", "text")

    def __init__(
        self,
        text: str,
        number: int,
        indent: int = 0,
        parent: Line | None = None,
        *,
        raw: list[str] | None = None,
        end: int = 0,
    ) -> None:
        self.text = text
        self.number = number
        self.indent = indent
        self.parent = parent
        self._raw = raw
        self._end = end
        self._children: list[Line] | None = None if raw is not None else []
        self._body: str | None = None

    def __repr__(self) -> str:
        return f"Line({self.number}, {self.text!r})"

    @property
    def children(self) -> list[Line]:
        if self._children is None:
            self._children = _build_children(self)
        return self._children

    @property
    def body(self) -> str:
        """The raw text below this command, each line prefixed by a newline (fast ``in`` tests)."""
        if self._body is None:
            raw = self._raw
            self._body = "\n" + "\n".join(raw[self.number : self._end]) if raw is not None else ""
        return self._body

    def mentions(self, prefix: str) -> bool:
        """Whether some line below starts with ``prefix`` after its indentation (no tree built).

        A cheap pre-test: True may still need :meth:`child` to confirm the depth.
        """
        if self._raw is None:
            return any(c.text.startswith(prefix) for c in self.children)
        body = self.body
        if ("\n " + prefix) in body:
            return True
        return prefix in body and _prefix_re(prefix).search(body) is not None

    def child_text(self, prefix: str) -> str:
        """The text of the first line below starting with ``prefix`` ("" if none), without a tree."""
        if self._raw is not None:
            body = self.body
            at = body.find("\n " + prefix)
            if at >= 0:
                end = body.find("\n", at + 1)
                return body[at + 2 : end if end >= 0 else len(body)].strip()
            if prefix not in body:
                return ""
        hit = self.child(prefix)
        return hit.text if hit is not None else ""

    def child(self, prefix: str) -> Line | None:
        """The first child whose text starts with ``prefix``."""
        for c in self.children:
            if c.text.startswith(prefix):
                return c
        return None

    def walk(self) -> Iterator[Line]:
        """This line's descendants, depth first, in file order."""
        for c in self.children:
            yield c
            if c.children:
                yield from c.walk()


_PREFIX_RES: dict[str, re.Pattern[str]] = {}


def _prefix_re(prefix: str) -> re.Pattern[str]:
    pat = _PREFIX_RES.get(prefix)
    if pat is None:
        pat = _PREFIX_RES[prefix] = re.compile(r"\n[ \t]+" + re.escape(prefix))
    return pat


def _build_children(parent: Line) -> list[Line]:
    """The subtree below a top-level command, from raw lines ``number .. end``."""
    raw = parent._raw
    assert raw is not None  # noqa: S101  (only lazy lines get here)
    out: list[Line] = []
    stack: list[Line] = [parent]
    for idx in range(parent.number, parent._end):
        s = raw[idx]
        stripped = s.strip()
        if not stripped or stripped[0] == "!":
            continue
        indent = len(s) - len(s.lstrip())
        while len(stack) > 1 and stack[-1].indent >= indent:
            stack.pop()
        node = Line(stripped, idx + 1, indent, stack[-1])
        if len(stack) == 1:
            out.append(node)
        else:
            stack[-1]._children.append(node)  # type: ignore[union-attr]
        stack.append(node)
    return out


@dataclass(slots=True)
class Banner:
    kind: str
    first: int
    last: int
    text: str


@dataclass(slots=True)
class IosConfig:
    """A parsed IOS config: raw lines, the top-level commands, an index by first word, banners."""

    path: str
    lines: list[str]
    top: list[Line]
    by_word: dict[str, list[Line]]
    banners: dict[str, Banner]

    def commands(self, word: str) -> list[Line]:
        """Top-level commands whose first word is ``word`` (``no`` for negations)."""
        return self.by_word.get(word, [])

    def first(self, prefix: str) -> Line | None:
        """The first top-level command starting with ``prefix``."""
        for ln in self.by_word.get(prefix.split(" ", 1)[0], ()):
            if ln.text.startswith(prefix):
                return ln
        return None

    def starting(self, prefix: str) -> list[Line]:
        """Every top-level command starting with ``prefix``."""
        return [
            ln for ln in self.by_word.get(prefix.split(" ", 1)[0], ()) if ln.text.startswith(prefix)
        ]

    def sections(self, prefix: str) -> list[Line]:
        """Alias of :meth:`starting` that reads better for parents (``interface``, ``line vty``)."""
        return self.starting(prefix)

    def walk(self) -> Iterator[Line]:
        for ln in self.top:
            yield ln
            if ln.children:
                yield from ln.walk()


def parse_ios(text: str, path: str = "<config>") -> IosConfig:
    """Parse ``text`` into an :class:`IosConfig`; ``!`` comments and blank lines are dropped."""
    raw = text.splitlines()
    # Top-level commands: lines that start with neither a space nor "!" (C-speed scan).
    starts = [i for i, s in enumerate(raw) if s and s[0] not in _NOT_TOP]
    top: list[Line] = []
    by_word: dict[str, list[Line]] = {}
    banners: dict[str, Banner] = {}
    n = len(raw)
    k = 0
    count = len(starts)
    while k < count:
        i = starts[k]
        k += 1
        s = raw[i].rstrip()
        word, _, _ = s.partition(" ")
        if word == "banner":
            banner, nxt = _read_banner(raw, i)
            if banner is not None:
                banners[banner.kind] = banner
                while k < count and starts[k] < nxt:
                    k += 1
            node = Line(s, i + 1)
        elif word == "end" or s.startswith(_SKIP_PREFIXES):
            continue
        else:
            end = starts[k] if k < count else n
            node = Line(s, i + 1, 0, None, raw=raw if end > i + 1 else None, end=end)
        top.append(node)
        lst = by_word.get(word)
        if lst is None:
            by_word[word] = [node]
        else:
            lst.append(node)
    return IosConfig(path, raw, top, by_word, banners)


_NOT_TOP = " \t!"


def _read_banner(raw: list[str], i: int) -> tuple[Banner | None, int]:
    """Read the banner whose command is ``raw[i]``; return it and the index after it.

    :func:`netwarden.ios.normalize.read_banner` reads it, so the audit, plan and
    drift agree on every banner form (one line, several lines, any delimiter).
    """
    span = read_banner(raw, i)
    if span is None:
        return None, i + 1
    return Banner(span.kind, i + 1, span.end, "\n".join(span.body)), span.end


def interface_name(text: str) -> str:
    """The interface name of an ``interface X`` command (``interface`` dropped).

    Examples:
        >>> interface_name("interface GigabitEthernet1/0/1")
        'GigabitEthernet1/0/1'
    """
    return text.split(" ", 1)[1].strip() if " " in text else ""


_ABBREV = (
    ("tengigabitethernet", "te"),
    ("gigabitethernet", "gi"),
    ("fastethernet", "fa"),
    ("ethernet", "et"),
    ("port-channel", "po"),
    ("loopback", "lo"),
    ("vlan", "vl"),
    ("tunnel", "tu"),
)


def canonical_interface(name: str) -> str:
    """A key that equates ``Gi1/0/1``, ``gi 1/0/1`` and ``GigabitEthernet1/0/1``.

    Examples:
        >>> canonical_interface("GigabitEthernet1/0/1") == canonical_interface("Gi1/0/1")
        True
    """
    n = name.replace(" ", "").lower()
    for full, short in _ABBREV:
        if n.startswith(full):
            return short + n[len(full) :]
    m = re.match(r"([a-z-]+)(.*)", n)
    if m:
        for full, short in _ABBREV:
            if full.startswith(m[1]) and len(m[1]) >= 2:
                return short + m[2]
    return n
