"""``address_scan``: one source, many hosts on one (or a few) ports, unanswered or rejected.

Counts distinct victims of *failed* attempts (see ``_attempts.py``) per scanner
within ``window_seconds``, whatever the order or pacing of the probes. Like
bro-simple-scan's ``Address_Scan`` the port set may be small (multiport sweeps
of 80/8080/88 are one address scan); the evidence names the ports. One incident
per scanner (key ``(address_scan, src)``). A scanner's count changes at nearly
every batch while it scans: only the updates the incident tracker would write are
reported (``ctx.due``), the rest when the scanner is forgotten or at the end.
"""

from __future__ import annotations

import heapq
import math
from bisect import insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import ClassVar

from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import (
    Failures,
    FailureWindow,
    drop_idle,
    tracker_for,
)
from collectors.auditor.detectors._util import BoundedDict, ip_str
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity


class AddressScanSettings(DetectorSettings):
    threshold: int = Field(default=8, ge=2, description="distinct hosts with failed attempts")
    window_seconds: float = Field(default=300.0, gt=0)
    answer_timeout_seconds: float = Field(default=5.0, gt=0)
    high_threshold: int = Field(default=64, ge=2, description="hosts for severity high")
    max_scanners: int = Field(default=50_000, ge=100)
    max_victims: int = Field(default=65_536, ge=100, description="per scanner")


SAMPLE = 10
"""Victims named in the evidence (the lowest addresses)."""


@dataclass(slots=True)
class _Scanner(FailureWindow):
    # times: victim -> time of its last failure
    ports: dict[int, int] = field(default_factory=dict)  # proto << 16 | port -> failures
    checked: int = 0  # the number of victims at the last expire that looked at it
    peak: int = 0  # the most victims at an expire (the tracker keeps the largest count)
    report_by: float = math.inf  # when unreported: report by this packet time (ctx.report_by)
    low: list[int] = field(default_factory=list)  # the SAMPLE lowest victims, sorted
    name: str = ""  # the scanner's address, as reported

    @property
    def victims(self) -> dict[int, float]:
        """The window's ``times`` by their meaning here: victim -> time of its last failure."""
        return self.times


GROUP_AT = 2048
"""Failures in one update from which they are folded per scanner (see ``_fold``)."""
FOLD_FROM = 4
"""A scanner's failures in such an update from which ``_fold`` takes them at once."""


@register
class AddressScan:
    name: ClassVar[str] = "address_scan"
    Settings: ClassVar[type[DetectorSettings]] = AddressScanSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: AddressScanSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        # shared with port_scan when both have the same answer timeout
        self.tracker = tracker_for(ctx, settings.answer_timeout_seconds)
        self.tracker.subscribe(self._failed)
        self.scanners: BoundedDict[int, _Scanner] = BoundedDict(
            settings.max_scanners, on_evict=self._forget
        )
        self.active: set[int] = set()
        self.changed: set[int] = set()  # scanners with failures since the last expire
        self.unreported: set[int] = set()  # scanners whose last change was not due (ctx.due)
        self.deadlines: list[tuple[float, int]] = []  # (ctx.report_by, scanner), a heap
        self.floor = math.inf  # <= every active scanner's oldest victim time

    def _failed(self, failures: Failures) -> None:
        if len(failures) < GROUP_AT:
            self._one_by_one(failures)
            return
        # A big update (end of input, a flood): fold each scanner's failures at once.
        keys, protos, times = failures.key, failures.proto, failures.ts
        by: dict[int, list[int]] = {}
        for i, akey in enumerate(keys):
            scanner = akey >> 48
            rows = by.get(scanner)
            if rows is None:
                by[scanner] = [i]
            else:
                rows.append(i)
        for scanner, rows in by.items():
            if len(rows) >= FOLD_FROM:
                pick = itemgetter(*rows)  # (a tuple of each column's rows, in C)
                if self._fold(scanner, pick(keys), pick(protos), pick(times)):
                    continue
            self._one_by_one(
                Failures(
                    [keys[i] for i in rows],
                    [protos[i] for i in rows],
                    [times[i] for i in rows],
                    [failures.how[i] for i in rows],
                )
            )

    def _fold(
        self,
        scanner: int,
        keys: Sequence[int],
        protos: Sequence[int],
        times: Sequence[float],
    ) -> bool:
        """Add one scanner's failures in bulk when that is exactly the same as one by one.

        It is when no failure can prune (every victim time stays within the window of
        the latest failure) and the victim cap cannot be reached; else return False.
        """
        st = self.scanners.get(scanner)
        floor = min(times)
        if st is not None and st.floor < floor:
            floor = st.floor
        latest = max(times)
        known = len(st.times) if st is not None else 0
        if floor < latest - self.s.window_seconds or known + len(keys) > self.s.max_victims:
            return False
        if st is None:
            st = _Scanner(first=times[0], name=ip_str(scanner))
            self.scanners[scanner] = st
        else:
            self.scanners.move_to_end(scanner)
        self.changed.add(scanner)
        victims = st.times
        new = {akey >> 16 & 0xFFFFFFFF: ts for akey, ts in zip(keys, times, strict=True)}
        if len(new) < len(keys) or not victims.keys().isdisjoint(new):
            st.stale = True  # a time may have been replaced by an earlier one: recompute
        victims.update(new)
        st.low = sorted({*st.low, *new})[:SAMPLE]  # (heapq.nsmallest: 3x slower on a few)
        st.first = min(st.first, floor)
        st.floor = floor
        st.last = max(st.last, latest)
        ports = st.ports
        for akey, proto in zip(keys, protos, strict=True):
            pp = proto << 16 | (akey & 0xFFFF)
            ports[pp] = ports.get(pp, 0) + 1
        if len(victims) >= self.s.threshold:
            self.active.add(scanner)
        return True

    def _one_by_one(self, failures: Failures) -> None:  # noqa: PLR0912  (one hot loop, inlined)
        scanners, changed = self.scanners, self.changed
        threshold, window = self.s.threshold, self.s.window_seconds
        max_victims = self.s.max_victims
        for akey, proto, ts, _how in failures.rows():
            scanner = akey >> 48
            victim = akey >> 16 & 0xFFFFFFFF
            pp = proto << 16 | (akey & 0xFFFF)
            st = scanners.get(scanner)
            if st is None:
                st = _Scanner(first=ts, name=ip_str(scanner))
                scanners[scanner] = st
            else:
                scanners.move_to_end(scanner)
            changed.add(scanner)
            victims = st.times
            before = victims.get(victim)
            if before is not None or len(victims) < max_victims:
                victims[victim] = ts
                if ts < st.floor:  # noqa: PLR1730  (hot loop: no call to min)
                    st.floor = ts
                if ts < st.first:  # noqa: PLR1730
                    st.first = ts
                if before is None:  # a new victim: kept if among the SAMPLE lowest (sorted)
                    low = st.low
                    if len(low) < SAMPLE:
                        insort(low, victim)
                    elif victim < low[-1]:
                        insort(low, victim)
                        low.pop()
                if ts >= st.last:
                    st.last = ts
                elif before is not None and before >= st.last:
                    st.stale = True  # the latest time went back (unsorted trace): recompute
            ports = st.ports
            ports[pp] = ports.get(pp, 0) + 1
            if len(victims) >= threshold:
                horizon = ts - window
                if st.floor < horizon and st.prune(horizon):  # (no call when nothing to prune)
                    st.low = heapq.nsmallest(SAMPLE, st.times)
                if len(st.times) >= threshold:
                    self.active.add(scanner)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        self.tracker.observe(batch)

    def expire(self, now: float) -> None:
        self.tracker.expire(now)
        final = now == math.inf
        # Only scanners with new failures can have a new count to report ...
        changed, self.changed = self.changed, set()
        for scanner in changed & self.active:
            st = self.scanners.get(scanner)
            if st is None:
                self.active.discard(scanner)
                continue
            self.floor = min(self.floor, st.floor)
            n = len(st.times)
            if n != st.checked:
                st.checked = n
                if n > st.peak:  # noqa: PLR1730
                    st.peak = n
                st.settle()
                if final or self._due(st):
                    self._report(scanner, st)
                elif scanner not in self.unreported:
                    self.unreported.add(scanner)
                    st.report_by = self.ctx.report_by(self.name, (st.name,))
                    heapq.heappush(self.deadlines, (st.report_by, scanner))
        if final:
            for scanner in list(self.unreported):
                self._report_skipped(scanner, self.scanners[scanner])
        deadlines = self.deadlines
        while deadlines and deadlines[0][0] <= now:  # skipped too long: the incident would idle
            by, scanner = heapq.heappop(deadlines)
            if scanner in self.unreported and self.scanners[scanner].report_by == by:
                self._report_skipped(scanner, self.scanners[scanner])  # (else: reported since)
        # ... and none can be past its window before the oldest victim time of all is.
        if now - self.s.window_seconds > self.floor:
            self.floor = drop_idle(
                self.active, self.scanners, now, self.s.window_seconds, self._forget
            )

    def _forget(self, scanner: int, st: _Scanner) -> None:
        """A scanner leaves the table (window expiry or eviction): report what was skipped."""
        if scanner in self.unreported:
            self._report_skipped(scanner, st)
        self.active.discard(scanner)

    def _report_skipped(self, scanner: int, st: _Scanner) -> None:
        st.settle()
        self._report(scanner, st)

    def _severity(self, n: int) -> Severity:
        return Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM

    def _due(self, st: _Scanner) -> bool:
        severity = self._severity(len(st.times))
        return self.ctx.due(self.name, (st.name,), ts=st.last, severity=severity, count=st.peak)

    def _report(self, scanner_ip: int, st: _Scanner) -> None:
        self.unreported.discard(scanner_ip)
        n = len(st.times)
        if n > st.peak:  # noqa: PLR1730  (reported between expires: an eviction)
            st.peak = n
        scanner = st.name
        # The text is built only if this report is written (most updates are not):
        # capture the state it describes now (small: a few ports, SAMPLE victims).
        text = _Text(self, scanner, n, st.last, st.first, dict(st.ports), tuple(st.low))
        self.ctx.report(
            self.name,
            (scanner,),
            ts=st.last,
            first_seen=st.first,
            severity=self._severity(n),
            src=scanner,
            count=st.peak,
            summary=text.summary,
            evidence=text.evidence,
        )


@dataclass(slots=True)
class _Text:
    """The summary and evidence of one address-scan report, built on first use."""

    det: AddressScan
    scanner: str
    n: int
    last: float
    first: float
    ports: dict[int, int]
    lowest: tuple[int, ...]
    top: list[str] | None = None  # _ports(), computed once

    def _ports(self) -> list[str]:
        if self.top is None:
            top = sorted(self.ports.items(), key=itemgetter(1), reverse=True)[:5]
            self.top = [f"{'tcp' if pp >> 16 == 6 else 'udp'}/{pp & 0xFFFF}" for pp, _ in top]
        return list(self.top)

    def summary(self) -> str:
        return (
            f"{self.scanner} probed {self.n} hosts on {', '.join(self._ports())} without being "
            f"answered in {self.last - self.first:.0f} s"
        )

    def evidence(self) -> dict[str, object]:
        return {
            "hosts": self.n,
            "hosts_sample": [ip_str(v) for v in self.lowest],
            "ports": self._ports(),
            "distinct_ports": len(self.ports),
            "window_seconds": self.det.s.window_seconds,
            "threshold": self.det.s.threshold,
        }
