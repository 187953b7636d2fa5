"""Text from devices and files made safe for the places people read it.

Device data (descriptions, banners, SNMP location, file names that become
device names) is untrusted. Printed raw, an ``ESC`` sequence clears the
terminal, retitles it or plants a hyperlink; a bidi override makes a line read
differently from what it holds; a CSV cell starting with ``=`` or ``@`` is a
formula to a spreadsheet. Two functions, for the two kinds of human output:

- :func:`printable`: every control character shown as a visible escape
  (``\\x1b``, ``\\u202e``): C0 controls (``\\n`` and ``\\t`` kept where they are
  the structure: ``multiline=True``), DEL, C1 controls, and the bidi embeddings,
  overrides and isolates (U+202A-U+202E, U+2066-U+2069). Used by every terminal
  table, diff and message, the HTML report and CSV exports.
- :func:`csv_cell`: :func:`printable`, then the OWASP rule against formula
  injection: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR (or
  their full-width forms) gets a leading ``'``.

Machine output (JSON) keeps the raw characters (JSON escapes C0 itself), and
backups keep the device's bytes: a backup is a copy of the config, not a display.

Examples:
    >>> printable("desc \\x1b[2J\\x1b]8;;http://x\\x07link")
    'desc \\\\x1b[2J\\\\x1b]8;;http://x\\\\x07link'
    >>> printable("a\\tb\\nc"), printable("a\\tb\\nc", multiline=False)
    ('a\\tb\\nc', 'a\\\\x09b\\\\x0ac')
    >>> printable("abc\\u202edcba \\u0627\\u0644")
    'abc\\\\u202edcba \\u0627\\u0644'
    >>> csv_cell("=HYPERLINK(\\"http://x\\")"), csv_cell("@SUM(1+1)"), csv_cell("jed-sw1")
    ('\\'=HYPERLINK("http://x")', "'@SUM(1+1)", 'jed-sw1')
    >>> csv_cell("-1"), csv_cell("\\tx"), csv_cell("\\rx"), csv_cell("")
    ("'-1", "'\\tx", '\\\\x0dx', '')
"""

from __future__ import annotations

import re

CONTROL_CHARS = "\x00-\x1f\x7f-\x9f"
"""Unicode category Cc (C0 controls, DEL, C1 controls), as the body of a regex character class."""
CONTROL_CHARS_BUT_LAYOUT = "\x00-\x08\x0b-\x1f\x7f-\x9f"
"""The same less tab and line feed, the layout of multi-line text."""
_BIDI = "\u202a-\u202e\u2066-\u2069"
_CONTROLS = re.compile(f"[{CONTROL_CHARS}{_BIDI}]")
_CONTROLS_BUT_LAYOUT = re.compile(f"[{CONTROL_CHARS_BUT_LAYOUT}{_BIDI}]")

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""Cell starts a spreadsheet may read as a formula (OWASP CSV injection, plus full-width forms)."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, multiline: bool = True) -> str:
    """``text`` with control and bidi characters shown as ``\\xNN``/``\\uNNNN``.

    ``multiline``: newlines and tabs are the text's layout and stay; without it
    (a one-line field: a device name, a table cell) they are escaped too.
    """
    pattern = _CONTROLS_BUT_LAYOUT if multiline else _CONTROLS
    return pattern.sub(_escape, text)


def csv_cell(value: object) -> str:
    """One CSV cell for people: control characters escaped, formula starts neutralised."""
    text = printable("" if value is None else str(value))
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
