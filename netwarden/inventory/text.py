"""Which characters an inventory string may hold: one printable line unless declared otherwise.

Inventory strings end up in device configurations, one command per line. A
line break inside a value (``model: "C9200\\nusername evil ..."``) would become
a command of its own, and a control character (ESC, NUL, DEL ...) has no place
in a config. So every string is one line of printable text, except the few
declared multi-line (the legal banners), which may hold plain line breaks and
tabs but no other control character. A string shown inside an IOS banner may
not hold the banner's delimiter (``^``), which would end the banner early and
turn the rest of it into commands.

The same rules serve the inventory models (``models.py``, where a finding names
file and line) and the render-time guard (``netwarden.render``, which names
device and template variable).

Unicode text is fine (Arabic, accents, ``RLM`` marks); only characters of the
Unicode categories Cc (C0/C1 controls, DEL), Zl/Zp (line and paragraph
separators) and Cs (lone surrogates, from a file that is not UTF-8) are refused.
"""

from __future__ import annotations

import re
import unicodedata

from netwarden.textsafe import CONTROL_CHARS, CONTROL_CHARS_BUT_LAYOUT

IOS_BANNER_DELIMITER = "^"
"""The character that ends an IOS banner as netwarden renders it (``banner login ^C``)."""

# Every character Python's str.splitlines() breaks on, i.e. what counts as a line break.
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

_NAMES = {
    "\x00": "NUL",
    "\t": "a tab",
    "\n": "a line feed",
    "\v": "a vertical tab",
    "\f": "a form feed",
    "\r": "a carriage return",
    "\x1b": "ESC",
    "\x7f": "DEL",
    "\x85": "a NEXT LINE character",
    "\u2028": "a LINE SEPARATOR",
    "\u2029": "a PARAGRAPH SEPARATOR",
}

# Cc (C0 controls, DEL, C1 controls; the same class textsafe escapes), Zl, Zp and
# lone surrogates (Cs).
_SINGLE_LINE_BAD = re.compile(f"[{CONTROL_CHARS}\u2028\u2029\ud800-\udfff]")
# The same, less LF and TAB: what a multi-line value may not hold.
_MULTI_LINE_BAD = re.compile(f"[{CONTROL_CHARS_BUT_LAYOUT}\u2028\u2029\ud800-\udfff]")


def describe(char: str) -> str:
    """A readable name for a refused character, with its code point.

    Examples:
        >>> describe("\\x1b")
        'ESC (U+001B)'
        >>> describe("\\u2028")
        'a LINE SEPARATOR (U+2028)'
        >>> describe("\\x01")
        'the control character U+0001'
    """
    code = f"U+{ord(char):04X}"
    if char in _NAMES:
        return f"{_NAMES[char]} ({code})"
    if unicodedata.category(char) == "Cs":
        return f"an invalid character {code} (the file is not valid UTF-8)"
    return f"the control character {code}"


IOS_TEXT_MAX = 240
"""The longest free text IOS takes on one line (an interface ``description``): a one-line
value longer than this is not something a device command can carry."""


def text_problem(
    value: str, *, multiline: bool = False, forbid: str = "", max_length: int | None = None
) -> str | None:
    """Why ``value`` may not go into a device configuration, or None when it may.

    ``multiline`` allows line feeds and tabs (and nothing else of the kind);
    ``forbid`` lists further characters refused here (the IOS banner delimiter);
    ``max_length`` caps the length (the render guard: what reaches a device command).

    Examples:
        >>> text_problem("C9200L-24P-4G") is None
        True
        >>> print(text_problem("C9200L\\nusername evil"))  # doctest: +ELLIPSIS
        contains a line feed (U+000A) at character 7; expected one line (a line break would ...)
        >>> text_problem("Gi1/0/1\\x1b[2J")
        'contains ESC (U+001B) at character 8; expected printable text'
        >>> text_problem("line one\\nline two", multiline=True) is None
        True
        >>> text_problem("authorised ^ only", multiline=True, forbid="^")
        "contains '^' at character 12, which ends an IOS banner (the banner delimiter); remove it"
        >>> text_problem("x" * 241, max_length=240)
        'is 241 characters long; at most 240 fit in one device command'
    """
    if max_length is not None and len(value) > max_length:
        return f"is {len(value)} characters long; at most {max_length} fit in one device command"
    bad = (_MULTI_LINE_BAD if multiline else _SINGLE_LINE_BAD).search(value)
    if bad is not None:
        char = bad.group()
        where = f"at character {bad.start() + 1}"
        if char in LINE_BREAKS and multiline:
            return (
                f"contains {describe(char)} {where}, a line break; a multi-line value takes "
                "plain line feeds (\\n) only"
            )
        if char in LINE_BREAKS:
            return (
                f"contains {describe(char)} {where}; expected one line (a line break would "
                "start a new device command; a folded block '>-' keeps long YAML text on one line)"
            )
        return f"contains {describe(char)} {where}; expected printable text"
    hits = [i for i in (value.find(char) for char in forbid) if i >= 0]
    if hits:
        first = min(hits)
        return (
            f"contains {value[first]!r} at character {first + 1}, which ends an IOS banner "
            "(the banner delimiter); remove it"
        )
    return None
