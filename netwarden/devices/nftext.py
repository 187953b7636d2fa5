"""nftables ruleset text: the one form a running ruleset and a rendered one are compared in.

``nft list ruleset`` prints what was loaded with state and layout of its own: a
named counter's values (``packets 12 bytes 3400`` in its body), an anonymous
counter's (``counter packets 0 bytes 0``), blank lines between blocks, and long
set element lists wrapped over several lines. The renderer
(:mod:`netwarden.render.nftables`) prints a file to load: a header comment,
``flush ruleset``, empty counters, one line per element list. :func:`normalize_ruleset`
brings both to the same text, so a firewall that runs its rendered ruleset
compares equal, and any rule, set element, chain or table added, removed or
reordered shows. Indenting tabs become four spaces (diffs print them). What it removes: comments, blank lines, ``flush ruleset``,
counter values and rule handles (``# handle N``: ``nft -a`` is never used,
stripped all the same); it sorts the elements of a named set (the kernel keeps
sets ordered by value, not as written). Rule order, chain policies and anonymous
sets in rules are kept as written: their order is meaningful or printed as loaded.
"""

from __future__ import annotations

import difflib
import re

_COUNTER_VALUES = re.compile(r"\s*\bpackets \d+ bytes \d+")
_HANDLE = re.compile(r"\s*# handle \d+$")
_ELEMENTS = re.compile(r"^(\s*elements = \{)(.*)\}\s*$")


def _joined(lines: list[str]) -> list[str]:
    """Element lists wrapped over several lines, joined into one line each."""
    out: list[str] = []
    pending: str | None = None
    for line in lines:
        if pending is not None:
            pending += " " + line.strip()
            if line.rstrip().endswith("}"):
                out.append(pending)
                pending = None
            continue
        if line.strip().startswith("elements = {") and not line.rstrip().endswith("}"):
            pending = line.rstrip()
            continue
        out.append(line)
    if pending is not None:
        out.append(pending)
    return out


def _sorted_elements(line: str) -> str:
    match = _ELEMENTS.match(line)
    if match is None:
        return line
    elements = sorted(e.strip() for e in match[2].split(",") if e.strip())
    return f"{match[1]} {', '.join(elements)} }}"


def normalize_ruleset(text: str) -> str:
    """The ruleset in the comparison form (see the module docstring); ends with a newline.

    Examples:
        >>> print(normalize_ruleset('''#!/usr/sbin/nft -f
        ... flush ruleset
        ...
        ... table inet t {
        ... \\tcounter c {
        ... \\t\\tpackets 3 bytes 180
        ... \\t}
        ...
        ... \\tset s {
        ... \\t\\telements = { 10.0.2.0/24,
        ... \\t\\t\\t     10.0.1.0/24 }
        ... \\t}
        ... \\tchain input {
        ... \\t\\ttcp dport 22 counter packets 5 bytes 300 accept # handle 4
        ... \\t}
        ... }''').expandtabs(4), end="")
        table inet t {
            counter c {
            }
            set s {
                elements = { 10.0.1.0/24, 10.0.2.0/24 }
            }
            chain input {
                tcp dport 22 counter accept
            }
        }
    """
    lines: list[str] = []
    for raw in _joined(text.splitlines()):
        line = _HANDLE.sub("", raw).rstrip()
        body = line.lstrip("\t")
        line = "    " * (len(line) - len(body)) + body  # tabs shown as spaces in diffs
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped == "flush ruleset":
            continue
        if _COUNTER_VALUES.fullmatch(line):
            continue  # a named counter's values, alone on their line
        line = _COUNTER_VALUES.sub("", line)
        lines.append(_sorted_elements(line))
    return "\n".join(lines) + "\n" if lines else ""


def ruleset_diff(running: str, candidate: str) -> str:
    """A unified diff of two rulesets in the comparison form ("" when equal).

    Examples:
        >>> print(ruleset_diff("table inet t {\\n}\\n", "table inet t {\\n\\tchain c {\\n\\t}\\n}\\n"))
        --- running
        +++ candidate
        @@ -1,2 +1,4 @@
         table inet t {
        +    chain c {
        +    }
         }
    """
    diff = difflib.unified_diff(
        normalize_ruleset(running).splitlines(),
        normalize_ruleset(candidate).splitlines(),
        fromfile="running",
        tofile="candidate",
        lineterm="",
    )
    return "\n".join(diff)
