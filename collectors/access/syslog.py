"""Syslog messages: RFC 5424, RFC 3164 (with or without a hostname) and Cisco IOS's variant.

:func:`parse` turns one message (the bytes of a UDP datagram or one TCP frame) into a
:class:`SyslogMessage`, or raises :class:`UnparsedError` with a short reason. IOS
sends RFC 3164 with its own header: an optional sequence number, an optional
``logging origin-id`` hostname, a timestamp that ``*`` marks as unsynchronised (or
none), then ``%FACILITY-SEVERITY-MNEMONIC: text``. The text is kept whole; what it
means is :mod:`collectors.access.events`' business.

Examples:
    >>> m = parse(b"<38>Dec  6 05:12:01 web1 sshd[811]: Invalid user bob from 10.0.0.9 port 2")
    >>> m.hostname, m.app, m.text
    ('web1', 'sshd', 'Invalid user bob from 10.0.0.9 port 2')
    >>> m = parse(b"<189>000042: *Dec  6 05:12:01.123: %SYS-5-CONFIG_I: Configured from console")
    >>> m.hostname, m.app, m.text
    (None, '%SYS-5-CONFIG_I', 'Configured from console')
    >>> parse(b"hello")
    Traceback (most recent call last):
    ...
    collectors.access.syslog.UnparsedError: no <PRI> header
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

MAX_PRI: Final = 191

_PRI = re.compile(rb"<(\d{1,3})>")
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# "Dec  6 05:12:01", "Dec 6 2026 05:12:01.123 UTC", with an optional leading "*" or "."
_STAMP3164 = (
    rf"[*.]?(?:{_MONTHS}) +\d{{1,2}} (?:\d{{4}} )?\d\d:\d\d:\d\d(?:\.\d{{1,6}})?(?: [A-Z]{{2,5}})?"
)
_IOS = re.compile(
    r"^(?:(?P<seq>\d{1,10}): )?"
    # "logging origin-id hostname" (not an uptime stamp)
    r"(?:(?!\d+[dwhms]\w*: |\d\d:\d\d)(?P<origin>[A-Za-z0-9][\w.-]{0,62}): )?"
    rf"(?:(?P<stamp>{_STAMP3164}|[*.]?\d+[dwhms][\dhmsdw:]*"
    r"|[*.]?\d\d:\d\d:\d\d(?:\.\d{1,6})?): )?"
    r"(?P<tag>%[A-Z0-9_]{1,32}-\d-[A-Z0-9_]{1,40}): ?(?P<text>.*)$",
    re.DOTALL,
)
_BSD = re.compile(
    rf"^(?P<stamp>{_STAMP3164}) (?:(?P<host>[\w.:-]{{1,255}}) )?"
    r"(?P<tag>[\w./-]{1,48})(?:\[(?P<pid>\d{1,10})\])?: ?(?P<text>.*)$",
    re.DOTALL,
)
_NIL = "-"


class UnparsedError(ValueError):
    """A message that is not syslog this receiver reads; the message says why (no content)."""


@dataclass(frozen=True)
class SyslogMessage:
    """One syslog message: header fields and the free text."""

    facility: int
    severity: int
    hostname: str | None
    app: str | None
    """The program (``sshd``), or the IOS tag (``%SYS-5-CONFIG_I``)."""
    text: str
    sequence: int | None = None
    structured: dict[str, dict[str, str]] = field(default_factory=dict)
    """RFC 5424 structured data: SD-ID to its parameters."""


def parse(data: bytes) -> SyslogMessage:
    """One message (no framing); trailing newlines and NULs are ignored.

    Raises:
        UnparsedError: no ``<PRI>``, a PRI over 191, not UTF-8, or neither RFC 5424,
            RFC 3164 nor IOS after the PRI.
    """
    data = data.rstrip(b"\r\n\x00")
    head = _PRI.match(data)
    if head is None:
        raise UnparsedError("no <PRI> header")
    pri = int(head.group(1))
    if pri > MAX_PRI:
        raise UnparsedError(f"PRI {pri} over {MAX_PRI}")
    try:
        rest = data[head.end() :].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnparsedError("not UTF-8") from exc
    rest = rest.removeprefix("\ufeff")
    facility, severity = divmod(pri, 8)
    if rest.startswith("1 "):
        return _rfc5424(facility, severity, rest[2:])
    ios = _IOS.match(rest)
    if ios is not None:
        seq = ios.group("seq")
        return SyslogMessage(
            facility,
            severity,
            ios.group("origin"),
            ios.group("tag"),
            ios.group("text").removeprefix("\ufeff"),
            sequence=int(seq) if seq else None,
        )
    bsd = _BSD.match(rest)
    if bsd is not None:
        return SyslogMessage(
            facility, severity, bsd.group("host"), bsd.group("tag"), bsd.group("text")
        )
    raise UnparsedError("neither RFC 5424, RFC 3164 nor IOS after <PRI>")


def _rfc5424(facility: int, severity: int, rest: str) -> SyslogMessage:
    parts = rest.split(" ", 5)
    if len(parts) < 6:
        raise UnparsedError("RFC 5424 header too short")
    _stamp, host, app, _procid, _msgid, tail = parts
    structured, text = _structured(tail)
    return SyslogMessage(
        facility,
        severity,
        None if host == _NIL else host,
        None if app == _NIL else app,
        text.removeprefix("\ufeff"),
        structured=structured,
    )


_SD_PARAM = re.compile(r' ([^\s=\]"]{1,32})="((?:[^"\\\]]|\\.)*)"')


def _structured(tail: str) -> tuple[dict[str, dict[str, str]], str]:
    """The SD elements at the start of ``tail`` and the message after them."""
    if tail.startswith(_NIL):
        return {}, tail[2:]
    out: dict[str, dict[str, str]] = {}
    pos = 0
    while pos < len(tail) and tail[pos] == "[":
        ident = re.compile(r"[^\s=\]\"]{1,32}").match(tail, pos + 1)
        if ident is None:
            raise UnparsedError("RFC 5424 structured data: no SD-ID")
        params: dict[str, str] = {}
        pos = ident.end()
        while (param := _SD_PARAM.match(tail, pos)) is not None:
            params[param.group(1)] = re.sub(r"\\(.)", r"\1", param.group(2))
            pos = param.end()
        if pos >= len(tail) or tail[pos] != "]":
            raise UnparsedError("RFC 5424 structured data: element not closed")
        out[ident.group(0)] = params
        pos += 1
    if not out:
        raise UnparsedError("RFC 5424: neither '-' nor '[' where structured data begins")
    return out, tail[pos + 1 :] if tail[pos : pos + 1] == " " else tail[pos:]
