"""Scan probes counted per source as distinct (host, port) targets in a sliding window.

What ``stealth_scan`` (segments no stack sends), ``ack_scan`` (bare ACKs the target
rejects) and ``tiny_fragment`` (fragments too small for the transport header) keep:
per source, the time of the last probe of each target (``host << 16 | port``) within
``window_seconds``, how many probes of each kind, and which sources have reached the
threshold since the last expire. Such a detector subclasses :class:`ProbeDetector`
(its settings :class:`ProbeSettings`), decides in ``process`` what a probe is and
hands the probes to ``self.table`` (:class:`ProbeTable`); the base reports them in
the words of its ``what`` and ``tail``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field

from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import FailureWindow, drop_idle
from collectors.auditor.detectors._util import BoundedDict, ip_str
from collectors.auditor.detectors.base import DetectorContext
from collectors.auditor.events import Severity

SAMPLE_HOSTS = 10
SAMPLE_PORTS = 20


@dataclass(slots=True)
class Prober(FailureWindow):
    """One source's probes. ``times``: ``host << 16 | port`` -> time of its last probe."""

    kinds: Counter[str] = field(default_factory=Counter)
    probes: int = 0
    reported: int = 0


@dataclass
class ProbeTable:
    """Per source, the distinct targets probed within ``window`` (bounded, LRU)."""

    threshold: int
    window: float
    max_sources: int
    max_targets: int
    sources: BoundedDict[int, Prober] = field(init=False)
    active: set[int] = field(default_factory=set)  # at or over the threshold
    changed: set[int] = field(default_factory=set)  # probed since the last expire
    floor: float = math.inf  # <= every active source's oldest probe time

    def __post_init__(self) -> None:
        self.sources = BoundedDict(self.max_sources)

    def add(self, rows: Iterable[tuple[int, int, int, str, float]]) -> None:
        """Count probes given as ``(src, host, port, kind, ts)``, in packet order."""
        sources, threshold, window = self.sources, self.threshold, self.window
        for src, host, port, kind, ts in rows:
            st = sources.get(src)
            if st is None:
                st = Prober(first=ts, floor=ts, last=ts)
                sources[src] = st
            else:
                sources.move_to_end(src)
            st.probes += 1
            st.kinds[kind] += 1
            target = host << 16 | port
            targets = st.times
            before = targets.get(target)
            if before is not None or len(targets) < self.max_targets:
                targets[target] = ts
                st.floor = min(st.floor, ts)
                st.first = min(st.first, ts)
                if ts >= st.last:
                    st.last = ts
                elif before is not None and before >= st.last:
                    st.stale = True  # the latest time went back (unsorted trace)
            self.changed.add(src)
            if len(targets) >= threshold:
                horizon = ts - window
                if st.floor < horizon:
                    st.prune(horizon)
                if len(st.times) >= threshold:
                    self.active.add(src)

    def expire(self, now: float) -> Iterator[tuple[int, Prober]]:
        """The sources to report (at the threshold, probed since their last report); then
        forget those idle for the window. Consume the iterator before the next call."""
        changed, self.changed = self.changed, set()
        for src in changed & self.active:
            st = self.sources.get(src)
            if st is None:  # evicted
                self.active.discard(src)
                continue
            self.floor = min(self.floor, st.floor)
            if st.probes != st.reported:
                st.settle()
                st.reported = st.probes
                yield src, st
        if now - self.window > self.floor:
            self.floor = drop_idle(self.active, self.sources, now, self.window)


class ProbeSettings(DetectorSettings):
    """The settings every probe-counting detector has (a subclass may change defaults)."""

    threshold: int = Field(default=5, ge=1, description="distinct (host, port) targets")
    window_seconds: float = Field(default=300.0, gt=0)
    high_threshold: int = Field(default=100, ge=1, description="targets for severity high")
    max_sources: int = Field(default=50_000, ge=100)
    max_targets: int = Field(default=65_536, ge=100, description="per source")


class ProbeDetector:
    """Base of a detector counting probes per source: ``process`` is the subclass's."""

    name: ClassVar[str]
    what: ClassVar[str]
    """What the probes are, after "probed N ports of H with" in the summary."""
    tail: ClassVar[str]
    """The end of the summary (what the scan is)."""

    def __init__(self, settings: ProbeSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.table = ProbeTable(
            settings.threshold,
            settings.window_seconds,
            settings.max_sources,
            settings.max_targets,
        )

    def expire(self, now: float) -> None:
        for src, st in self.table.expire(now):
            self._report(src, st)

    def _report(self, src_ip: int, st: Prober) -> None:
        """Report one source's probes, in the words of ``what`` and ``tail``."""
        src = ip_str(src_ip)
        n = len(st.times)
        hosts = sorted({t >> 16 for t in st.times})
        ports = sorted({t & 0xFFFF for t in st.times})
        kinds = dict(sorted(st.kinds.items()))
        dst = ip_str(hosts[0]) if len(hosts) == 1 else ""
        where = f"{n} ports of {dst}" if dst else f"{n} ports on {len(hosts)} hosts"
        counted = ", ".join(f"{k} {c}" for k, c in kinds.items())
        self.ctx.report(
            self.name,
            (src,),
            ts=st.last,
            first_seen=st.first,
            severity=Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM,
            src=src,
            dst=dst,
            count=n,
            summary=f"{src} probed {where} with {self.what} ({counted}) "
            f"in {st.last - st.first:.0f} s{self.tail}",
            evidence={
                "targets": n,
                "probes": st.probes,
                "kinds": kinds,
                "hosts": len(hosts),
                "hosts_sample": [ip_str(h) for h in hosts[:SAMPLE_HOSTS]],
                "ports": len(ports),
                "ports_sample": ports[:SAMPLE_PORTS],
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
