"""Whether a file given to the audit is a config at all: text first, then the platform's shape.

An executable or a random file in ``audit --configs DIR`` used to be audited as an
IOS config, and passed every rule that looks for something absent (e.g. no
``ip http server``). A file is now *unreadable* (reported with the reason, not
audited, not counted in any score, and the run exits 1) when

- it is not text (a UTF-8 byte order mark is dropped): it holds a NUL byte; or more than :data:`MAX_INVALID_UTF8` of its
  bytes are not UTF-8 (a few are tolerated: an old banner in Latin-1); or more than
  :data:`MAX_CONTROL` of its characters are control characters other than tab,
  newlines, form feed and Ctrl-C (a banner delimiter);
- it does not have the platform's shape (:func:`shape_problem`): an IOS config has
  a top-level ``hostname`` or ``interface`` line (``show running-config`` always
  prints both); nftables and Linux files are checked by their parsers (JSON with an
  ``nftables`` list; ``#@ <section>`` headers or known file names).

Examples:
    >>> text_of(b"hostname sw1\\n", "sw1.cfg")
    'hostname sw1\\n'
    >>> text_of(b"\\x7fELF\\x02\\x01\\x01\\x00\\x00", "tool")
    Traceback (most recent call last):
    ...
    netwarden.compliance.sniff.NotAConfig: tool: not a text file (NUL byte at offset 7)
    >>> shape_problem("ios", "Hello world\\n")
    'does not look like an IOS config: no top-level `hostname` or `interface` line (show running-config always has both)'
    >>> shape_problem("ios", "!\\nhostname sw1\\n") is None
    True
"""

from __future__ import annotations

import re

MAX_INVALID_UTF8 = 0.01
"""Share of a file's bytes that may be invalid UTF-8 (replaced by U+FFFD) in a text file."""
MAX_CONTROL = 0.01
"""Share of a file's characters that may be control characters in a text file."""
_CONTROL_RE = re.compile(r"[\x00-\x02\x04-\x08\x0b\x0e-\x1f\x7f]")
_IOS_SHAPE = re.compile(r"^(?:hostname|interface)[ \t]+\S", re.MULTILINE)


class NotAConfig(ValueError):  # noqa: N818  (reads as the condition it reports)
    """A file that is not a config of the platform it was given as (the message says why)."""


def text_of(data: bytes, path: str) -> str:
    """The file's text, or :class:`NotAConfig` naming the file and why it is not text."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise NotAConfig(f"{path}: not a text file (NUL byte at offset {nul})")
    text = data.decode("utf-8", errors="surrogateescape")
    invalid = sum(1 for ch in text if "\udc80" <= ch <= "\udcff")
    if invalid > MAX_INVALID_UTF8 * len(data):
        raise NotAConfig(
            f"{path}: not a text file ({invalid} of {len(data)} bytes are not UTF-8; "
            f"at most {MAX_INVALID_UTF8:.0%} are tolerated)"
        )
    controls = len(_CONTROL_RE.findall(text))
    if controls > MAX_CONTROL * len(text):
        raise NotAConfig(
            f"{path}: not a text file ({controls} control characters in {len(text)}; "
            f"at most {MAX_CONTROL:.0%} are tolerated)"
        )
    if invalid:
        text = data.decode("utf-8", errors="replace")
    return text.removeprefix("\ufeff")


def shape_problem(platform: str, text: str) -> str | None:
    """Why ``text`` is not a config of ``platform`` (None when it looks like one).

    Only IOS is checked here: the nftables and Linux parsers reject what they
    cannot read, and the engine reports that the same way.
    """
    if platform == "ios" and _IOS_SHAPE.search(text) is None:
        return (
            "does not look like an IOS config: no top-level `hostname` or `interface` "
            "line (show running-config always has both)"
        )
    return None
