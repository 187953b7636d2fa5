"""Auditor events: one per incident, updated rather than repeated, written as JSON lines.

An *incident* is what a detector names with a key (``(detector, src)`` for a
scan, ``(detector, claimed IP)`` for ARP spoofing ...). The first time a key is
reported an :class:`Event` is created with a stable ``id``; later reports of the
same key update it (``count``, ``last_seen``, ``evidence``, possibly a higher
``severity``) and, when the change is worth telling, the same ``id`` is emitted
again. A consumer keeps the last line per ``id``.

The schema is versioned (:data:`SCHEMA_VERSION`), documented in
``docs/auditor.md`` and dumped as JSON Schema to ``docs/auditor-event.schema.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol, TypeAlias, TypedDict, TypeVar, Unpack

from pydantic import Field

from netwarden.basemodel import FrozenModel

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1.0"
"""Major bumps break consumers (renamed/removed fields); minor bumps add fields."""

_ID_NAMESPACE = uuid.UUID("6f1c2a52-4a36-4df4-9b0e-5b8f1f0c2a11")


class Severity(StrEnum):
    """Event severity, lowest first. The CLI exits 1 when any event is ``medium`` or above."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    # Hash as the str it is (Enum's default hashes the member name in Python, which made
    # every rank lookup and comparison a Python call; equal strings now hash equal too).
    __hash__ = str.__hash__

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANK[self] >= _RANK[other]  # (not .rank: a property call less)

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANK[self] > _RANK[other]  # (not .rank: a property call less)

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANK[self] <= _RANK[other]  # (not .rank: a property call less)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return _RANK[self] < _RANK[other]  # (not .rank: a property call less)


_RANK = {s: i for i, s in enumerate(Severity)}

T = TypeVar("T")
Lazy: TypeAlias = T | Callable[[], T]
"""A value, or a function of no argument returning it (called only when needed)."""

# RFC 5424 severities (syslog): critical=2, error=3, warning=4, notice=5, informational=6.
_SYSLOG_SEVERITY = {
    Severity.INFO: 6,
    Severity.LOW: 5,
    Severity.MEDIUM: 4,
    Severity.HIGH: 3,
    Severity.CRITICAL: 2,
}


class Event(FrozenModel):
    """One incident as the auditor reports it (schema :data:`SCHEMA_VERSION`).

    ``ts`` is when this version of the event was written (packet time, UTC);
    ``first_seen``/``last_seen`` bound the evidence; ``count`` is how many
    observations (attempts, packets, queries ... as the detector defines) the
    incident holds so far. ``src``/``dst`` are addresses (IP or MAC) as strings,
    empty when not applicable. ``evidence`` never holds a secret: credentials
    appear as a kind and at most a salted hash prefix.
    """

    schema_version: str = SCHEMA_VERSION
    id: str = Field(description="Stable incident id (UUID); the same for every update")
    ts: datetime
    first_seen: datetime
    last_seen: datetime
    site: str = ""
    sensor: str = ""
    detector: str
    severity: Severity
    src: str = ""
    dst: str = ""
    summary: str
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="What the detector saw (its own keys); with evidence capture on, "
        "'pcap' names the incident's evidence pcap, relative to the evidence directory",
    )
    count: int = Field(ge=1)

    def to_json(self) -> str:
        return self.model_dump_json()


# Required keys in a base class rather than NotRequired[...]: with postponed annotations
# only ``total=`` makes ``__required_keys__`` right at run time (``_check_report`` reads it).
class _ReportRequired(TypedDict):
    ts: float
    severity: Severity
    summary: Lazy[str]


class Report(_ReportRequired, total=False):
    """What a detector says about an incident: the keywords of every ``report()``.

    The one definition of them, for :meth:`IncidentTracker.report`, the ``Reporter``
    protocol and ``DetectorContext.report`` (``**report: Unpack[Report]``); the
    incident itself is named apart, by ``detector`` and ``key``. ``ts``, ``severity``
    and ``summary`` are required. Omitted: ``src``/``dst`` are empty (an update's
    empty ``dst`` keeps the previous one), ``evidence`` is empty (an update's keeps the
    previous evidence), ``count`` adds one to the incident's, and ``first_seen`` is
    ``ts``. ``summary`` and ``evidence`` may be functions building them (:data:`Lazy`).
    """

    src: str
    dst: str
    evidence: Lazy[Mapping[str, Any]] | None
    count: int | None
    first_seen: float | None


_REPORT_REQUIRED = Report.__required_keys__
_REPORT_KEYS = Report.__required_keys__ | Report.__optional_keys__


def _check_report(report: Mapping[str, object]) -> None:
    """The keywords a report may not do without or may not have, as a ``TypeError``.

    What a signature with named keywords checked by itself (``**report`` takes any):
    a misspelt optional keyword must not be silently ignored.
    """
    keys = report.keys()
    if not keys >= _REPORT_REQUIRED or not keys <= _REPORT_KEYS:
        missing, unknown = sorted(_REPORT_REQUIRED - keys), sorted(keys - _REPORT_KEYS)
        raise TypeError(
            f"report(): missing keyword(s) {missing}, unexpected keyword(s) {unknown}; "
            f"expected {sorted(_REPORT_KEYS)}"
        )


def event_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Event` (written to ``docs/auditor-event.schema.json``)."""
    schema = Event.model_json_schema()
    schema["$id"] = f"https://netwarden.invalid/schemas/auditor-event-{SCHEMA_VERSION}.json"
    schema["title"] = "netwarden auditor event"
    return schema


def incident_id(name: str) -> str:
    """``str(uuid.uuid5(_ID_NAMESPACE, name))`` without building a ``UUID`` (it is per incident).

    Examples:
        >>> incident_id("s|port_scan|10.0.0.1|1.5") == str(uuid.uuid5(_ID_NAMESPACE, "s|port_scan|10.0.0.1|1.5"))
        True
    """
    h = bytearray(hashlib.sha1(_ID_NAMESPACE.bytes + name.encode("utf-8")).digest()[:16])  # noqa: S324  (RFC 4122 UUIDv5 is SHA-1 by definition, not a security use)
    h[6] = (h[6] & 0x0F) | 0x50  # version 5
    h[8] = (h[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = h.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def utc(ts: float) -> datetime:
    """Packet time (seconds since the epoch) as an aware UTC datetime."""
    return datetime.fromtimestamp(ts, tz=UTC)


class EventSink(Protocol):
    """Where events go. ``emit`` may be called several times with the same ``id`` (updates)."""

    def emit(self, event: Event) -> None: ...

    def close(self) -> None: ...


class ListSink:
    """Keeps every emitted event in memory (tests, the engine's summary)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def close(self) -> None:
        return None

    def latest(self) -> list[Event]:
        """The last version of each incident, in order of first emission."""
        last: dict[str, Event] = {}
        for ev in self.events:
            last[ev.id] = ev
        return list(last.values())


class JsonLinesSink:
    """One JSON object per line; a later line with the same ``id`` supersedes earlier ones.

    ``render`` makes the line of an event: its own JSON, or its ECS document
    (``collectors.auditor.ecs.ecs_json``).
    """

    def __init__(
        self, target: Path | IO[str], render: Callable[[Event], str] = Event.to_json
    ) -> None:
        self.render = render
        if isinstance(target, Path):
            target.parent.mkdir(parents=True, exist_ok=True)
            self._fh: IO[str] = target.open("a", encoding="utf-8")
            self._owned = True
        else:
            self._fh = target
            self._owned = False

    def emit(self, event: Event) -> None:
        self._fh.write(self.render(event) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if self._owned:
            self._fh.close()


_RAW_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
"""What JSON leaves raw that a terminal acts on: DEL, C1 controls (``\\x9b`` is a CSI), bidi."""


def _terminal_safe_json(text: str) -> str:
    """JSON text with DEL, C1 and bidi characters written as ``\\uNNNN`` escapes.

    The same JSON value (a parser reads back the same strings), but safe on the terminal
    of whoever tails the syslog file: JSON itself already escapes C0 (``ESC`` is ``\\u001b``).

    Examples:
        >>> raw = json.dumps("a" + chr(0x1B) + "[2J" + chr(0x9B) + "2J" + chr(0x202E), ensure_ascii=False)
        >>> chr(0x9B) in raw, _terminal_safe_json(raw)
        (True, '"a\\\\u001b[2J\\\\u009b2J\\\\u202e"')
    """
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m[0]):04x}", text)


def rfc5424(event: Event, body: str, *, hostname: str, facility: int = 20) -> bytes:
    """An event as one RFC 5424 message whose MSG is ``body`` (made terminal-safe).

    ``<PRI>1 TIMESTAMP HOSTNAME netwarden-auditor - DETECTOR - BODY``: PRI from the
    facility and the event's severity, the timestamp the event's (UTC, microseconds),
    MSGID the detector name (at most 32 characters, RFC 5424's bound). ``body`` is
    JSON (the event's, or its ECS document) with the characters JSON leaves raw but a
    terminal acts on written as ``\\uNNNN`` (:func:`_terminal_safe_json`).
    """
    pri = facility * 8 + _SYSLOG_SEVERITY[event.severity]
    stamp = event.ts.isoformat(timespec="microseconds").replace("+00:00", "Z")
    msgid = event.detector[:32] or "-"
    line = f"<{pri}>1 {stamp} {hostname} netwarden-auditor - {msgid} - {_terminal_safe_json(body)}"
    return line.encode("utf-8")


class SyslogSink:
    """RFC 5424 messages over UDP, the JSON event as the message (one datagram per emission).

    The JSON is the event's (or what ``render`` makes of it: its ECS document), with
    the characters JSON leaves raw but a terminal acts on (DEL, C1 controls, bidi
    overrides) written as ``\\uNNNN``: the same value to a parser, and packet data
    cannot drive the terminal of someone reading the log.

    ``<PRI>1 TIMESTAMP HOSTNAME netwarden-auditor - DETECTOR - JSON``, facility
    local4 (20) unless told otherwise (:func:`rfc5424`). Over TCP or TLS, queued and
    spooled: ``collectors.auditor.forward.TcpSyslogSink``.
    """

    def __init__(
        self,
        host: str,
        port: int = 514,
        *,
        facility: int = 20,
        hostname: str | None = None,
        render: Callable[[Event], str] = Event.to_json,
    ) -> None:
        self.address = (host, port)
        self.facility = facility
        self.hostname = hostname or socket.gethostname() or "-"
        self.render = render
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_DGRAM)

    def format(self, event: Event) -> bytes:
        return rfc5424(event, self.render(event), hostname=self.hostname, facility=self.facility)

    def emit(self, event: Event) -> None:
        try:
            self._sock.sendto(self.format(event), self.address)
        except OSError as exc:
            logger.warning("syslog %s:%d: cannot send event %s: %s", *self.address, event.id, exc)

    def close(self) -> None:
        self._sock.close()


@dataclass(slots=True)
class _Incident:
    """An open incident: its last built event plus the updates not folded into it yet.

    Updates that are not emitted are kept as plain values (``update``) and the
    frozen :class:`Event` is rebuilt only when it is emitted or read: a detector
    reporting often costs a few attribute writes per report, not a model copy.
    """

    event: Event
    emitted_count: int
    emitted_ts: float
    emitted_severity: Severity
    last_ts: float
    count: int
    severity: Severity
    dirty: bool = False
    update: dict[str, Any] | None = None
    extra: dict[str, Any] | None = None  # what ``on_open`` added to the evidence: kept

    def current(self) -> Event:
        """The incident's state as an event (folding pending updates in)."""
        upd = self.update
        if upd is not None:
            upd["ts"] = utc(upd["ts"])
            upd["last_seen"] = utc(upd["last_seen"])
            if callable(upd["summary"]):
                upd["summary"] = upd["summary"]()
            if callable(upd.get("evidence")):
                upd["evidence"] = dict(upd["evidence"]())
            if self.extra and "evidence" in upd:
                upd["evidence"] = {**upd["evidence"], **self.extra}
            self.event = self.event.model_copy(update=upd)
            self.update = None
        return self.event


@dataclass
class IncidentTracker:
    """Turns detector reports into events: one per incident key, updated, throttled, expired.

    A report of a known key updates the incident. It is emitted again when the
    severity rises, when ``count`` has doubled since the last emission, or when
    ``reemit_seconds`` of packet time have passed; :meth:`flush` emits every
    incident changed since its last emission. An incident with no report for
    ``idle_seconds`` is closed; the key then starts a new incident (new id).
    ``suppress`` decides whether a report is allowlisted (it is then dropped).
    ``on_emit(event, escalated)`` is called after every emission; ``escalated`` is
    True when the emission opens the incident or raises its severity above the
    severity last emitted for it (what ``netwarden_auditor_events_total`` counts).
    ``on_open(event)`` is called when an incident opens, before it is emitted; what it
    returns is added to the incident's ``evidence`` in every version of the event
    (the evidence pcap's name, :mod:`collectors.auditor.evidence`).
    """

    site: str
    sensor: str
    sinks: list[EventSink]
    reemit_seconds: float = 300.0
    idle_seconds: float = 3600.0
    max_incidents: int = 100_000
    suppress: Callable[[str, str, str, float], bool] | None = None
    on_emit: Callable[[Event, bool], None] | None = None
    on_open: Callable[[Event], Mapping[str, Any] | None] | None = None
    max_closed: int = 10_000
    _open: dict[tuple[str, ...], _Incident] = field(default_factory=dict)
    closed: list[Event] = field(default_factory=list)
    suppressed: int = 0
    _earliest: float = math.inf  # a lower bound of every open incident's last_ts

    def report(
        self, *, detector: str, key: Iterable[object], **report: Unpack[Report]
    ) -> Event | None:
        """Create or update the incident ``(detector, *key)``; return the event if emitted.

        ``count`` is the incident's total so far when the detector knows it
        (a scan's distinct ports); otherwise every report adds one. ``summary``
        and ``evidence`` may be functions of no argument returning them: they are
        then called only if this report's content is ever written (emitted, or
        read through :meth:`incidents`), so a detector that reports often pays for
        the text only when it is used. Such a function must describe the state
        *at the report* (capture what it needs), and its evidence replaces the
        previous evidence even when empty. (The keywords: :class:`Report`.)
        """
        _check_report(report)
        ts, severity, summary = report["ts"], report["severity"], report["summary"]
        src, dst = report.get("src", ""), report.get("dst", "")
        evidence, count = report.get("evidence"), report.get("count")
        if self.suppress is not None and self.suppress(detector, src, dst, ts):
            self.suppressed += 1
            return None
        full_key = (detector, *map(str, key))
        inc = self._open.get(full_key)
        if inc is not None and ts - inc.last_ts > self.idle_seconds:
            self._close(full_key)
            inc = None
        if inc is None:
            first_seen = report.get("first_seen")
            first = min(ts, first_seen) if first_seen is not None else ts
            now = utc(ts)
            event = Event(
                id=incident_id("|".join((self.sensor, *full_key, repr(first)))),
                ts=now,
                first_seen=now if first == ts else utc(first),
                last_seen=now,
                site=self.site,
                sensor=self.sensor,
                detector=detector,
                severity=severity,
                src=src,
                dst=dst,
                summary=summary() if callable(summary) else summary,
                evidence=(evidence() if callable(evidence) else evidence) or {},  # copied
                count=max(1, count or 1),
            )
            added = self.on_open(event) if self.on_open is not None else None
            extra = dict(added) if added else None
            if extra:
                event = event.model_copy(update={"evidence": {**event.evidence, **extra}})
            if len(self._open) >= self.max_incidents:
                self._close(next(iter(self._open)))
            self._earliest = min(self._earliest, ts)
            self._open[full_key] = _Incident(
                event, event.count, ts, severity, ts, event.count, severity, extra=extra
            )
            self._emit(event, escalated=True)
            return event
        new_severity = severity if severity > inc.severity else inc.severity
        new_count = max(inc.count, count) if count is not None else inc.count + 1
        inc.last_ts = max(inc.last_ts, ts)
        update = inc.update if inc.update is not None else {}
        update["ts"] = ts
        update["last_seen"] = inc.last_ts
        update["severity"] = new_severity
        update["summary"] = summary
        update["count"] = new_count
        if callable(evidence):
            update["evidence"] = evidence
        elif evidence:
            update["evidence"] = dict(evidence)
        if dst:
            update["dst"] = dst
        inc.update = update
        inc.count = new_count
        inc.severity = new_severity
        inc.dirty = True
        if self._emits(inc, ts, new_severity, new_count):
            return self._emit_update(inc, ts)
        return None

    def _emits(self, inc: _Incident, ts: float, severity: Severity, count: int) -> bool:
        """Whether an update of ``inc`` to these values is emitted (the throttle)."""
        return (
            severity > inc.emitted_severity
            or count >= 2 * inc.emitted_count
            or ts - inc.emitted_ts >= self.reemit_seconds
        )

    def due(
        self, *, detector: str, key: Iterable[object], ts: float, severity: Severity, count: int
    ) -> bool:
        """Whether a report of this total ``count`` would open an incident or be emitted now.

        A detector whose incidents grow at every batch (a scan) may skip reports
        that are not due, at a dictionary lookup instead of a report's cost, on
        three conditions: it keeps reporting while due; it reports the state it
        skipped before forgetting it (window expiry, eviction, end of input); and it
        reports it by :meth:`report_by` at the latest, so that the incident is never
        closed as idle with the skipped state unread. Not due means the report would
        only update a pending state that nobody reads before then. Always due when
        the incident is not open, once half of ``idle_seconds`` has passed since its
        last report, and when the tracker is full (an incident may be evicted).
        """
        inc = self._open.get((detector, *map(str, key)))
        if (
            inc is None
            or 2 * (ts - inc.last_ts) >= self.idle_seconds
            or len(self._open) >= self.max_incidents
        ):
            return True
        new_severity = severity if severity > inc.severity else inc.severity
        return self._emits(inc, ts, new_severity, max(inc.count, count))

    def report_by(self, *, detector: str, key: Iterable[object]) -> float:
        """The packet time by which a skipped update of this incident must be reported.

        Half of ``idle_seconds`` after its last report (see :meth:`due`); -inf when the
        incident is not open (report now). :meth:`expire` closes nothing before twice
        that delay, so a report made by then keeps it open.
        """
        inc = self._open.get((detector, *map(str, key)))
        return -math.inf if inc is None else inc.last_ts + self.idle_seconds / 2

    def _mark_emitted(self, inc: _Incident, ts: float) -> None:
        inc.current()
        inc.emitted_count = inc.event.count
        inc.emitted_ts = ts
        inc.emitted_severity = inc.event.severity
        inc.dirty = False

    def _emit_update(self, inc: _Incident, ts: float) -> Event:
        """Emit an incident's current state (an update: it was emitted when opened)."""
        before = inc.emitted_severity
        self._mark_emitted(inc, ts)
        self._emit(inc.event, escalated=inc.emitted_severity > before)
        return inc.event

    def _emit(self, event: Event, *, escalated: bool) -> None:
        for sink in self.sinks:
            sink.emit(event)
        if self.on_emit is not None:
            self.on_emit(event, escalated)

    def _close(self, key: tuple[str, ...]) -> None:
        inc = self._open.pop(key)
        if inc.dirty:
            self._emit_update(inc, inc.last_ts)
        if len(self.closed) < self.max_closed:
            self.closed.append(inc.current())

    def expire(self, now: float) -> None:
        """Close incidents idle for ``idle_seconds`` (emitting their final state if changed)."""
        if now - self._earliest <= self.idle_seconds:
            return  # nothing can be idle yet: no scan of every open incident per batch
        for key in [k for k, inc in self._open.items() if now - inc.last_ts > self.idle_seconds]:
            self._close(key)
        self._earliest = min((inc.last_ts for inc in self._open.values()), default=math.inf)

    def flush(self) -> None:
        """Emit every incident changed since its last emission (end of input)."""
        for inc in self._open.values():
            if inc.dirty:
                self._emit_update(inc, inc.last_ts)

    def incidents(self) -> list[Event]:
        """The current state of every open incident."""
        return [inc.current() for inc in self._open.values()]

    def open_count(self) -> int:
        """How many incidents are open (O(1), unlike ``len(incidents())``)."""
        return len(self._open)

    def all_incidents(self) -> list[Event]:
        """Closed incidents (the first ``max_closed``) and open ones, oldest first."""
        return [*self.closed, *self.incidents()]


def read_events(path: Path) -> list[Event]:
    """The last version of each incident in a JSON-lines file (first-emission order)."""
    latest: dict[str, Event] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                ev = Event.model_validate(json.loads(line))
                latest[ev.id] = ev
    return list(latest.values())
