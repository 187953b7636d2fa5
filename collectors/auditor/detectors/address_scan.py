"""``address_scan``: one source, many hosts on one (or a few) ports, unanswered or rejected.

Counts distinct victims of *failed* attempts (see ``_attempts.py``) per scanner
within ``window_seconds``, whatever the order or pacing of the probes. Like
bro-simple-scan's ``Address_Scan`` the port set may be small (multiport sweeps
of 80/8080/88 are one address scan); the evidence names the ports. One incident
per scanner (key ``(address_scan, src)``). A scanner's count changes at nearly
every batch while it scans: only the updates the incident tracker would write are
reported (``ctx.due``), the rest when the scanner is forgotten or at the end.

The scanners' windows live in compiled code (:class:`NativeScanners`, ``native.c``)
when the kernels load, else in Python (:class:`PyScanners`); both keep the same state
in the same orders (tests/unit/auditor/test_pending.py compares them), and the
detector reports in order of each scanner's first change since the last expire.
"""

from __future__ import annotations

import ctypes
import heapq
import math
import weakref
from bisect import insort
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import Field

from collectors.auditor import native
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
    checked: int = 0  # the number of victims when the detector last looked at it
    peak: int = 0  # the most victims reported (the incident keeps the largest count)
    low: list[int] = field(default_factory=list)  # the SAMPLE lowest victims, sorted

    @property
    def victims(self) -> dict[int, float]:
        """The window's ``times`` by their meaning here: victim -> time of its last failure."""
        return self.times


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a report says of one scanner, taken when it is made (the state moves on).

    ``top``: the most failed (proto << 16 | port, failures), most first, the first to
    fail first among equals; ``distinct`` how many ports failed.
    """

    scanner: int
    n: int
    peak: int
    first: float
    last: float
    low: tuple[int, ...]
    top: tuple[tuple[int, int], ...]
    distinct: int


Changed = tuple[int, int, int, float, int]
"""A scanner taken by ``take_changed``: (scanner, victims, peak, last, index for ``taken``)."""

GROUP_AT = 2048
"""Failures in one update from which they are taken per scanner (see ``PyScanners.failed``)."""
FOLD_FROM = 4
"""A scanner's failures in such an update from which ``_fold`` takes them at once."""


class Reports(Protocol):
    """Scanners that left the table (evicted, idle) with their last state: ``scanners[i]``'s
    report is ``self[i]``, made when asked (most are never reported: nothing skipped)."""

    @property
    def scanners(self) -> list[int]: ...

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> Snapshot: ...


class Listed(list[Snapshot]):
    """:class:`Reports` already made (:class:`PyScanners`)."""

    @property
    def scanners(self) -> list[int]:
        return [snap.scanner for snap in self]


class PyScanners:
    """The scanners' failure windows in Python (``NETWARDEN_NO_NATIVE``, no compiler).

    ``scanners`` in recency order (the least recent evicted past ``max_scanners``);
    ``changed``: the scanners with failures since the last :meth:`take_changed`, in
    order of first failure; ``active``: those that reached ``threshold`` victims, in
    order. Ordered dicts, not sets: the order of the reports must not depend on how a
    set lays its integers out (:class:`NativeScanners` keeps the same orders).
    """

    def __init__(self, s: AddressScanSettings) -> None:
        self.s = s
        self.scanners: BoundedDict[int, _Scanner] = BoundedDict(
            s.max_scanners, on_evict=self._evicted
        )
        self.active: dict[int, None] = {}
        self.changed: dict[int, None] = {}
        self._gone: list[Snapshot] = []  # evicted during the update in hand
        self._taken: list[tuple[int, _Scanner]] = []  # by the last take_changed

    def __len__(self) -> int:
        return len(self.scanners)

    def _evicted(self, scanner: int, st: _Scanner) -> None:
        self.active.pop(scanner, None)
        self._gone.append(_snapshot(scanner, st))

    def failed(self, failures: Failures) -> Reports:
        """Add failures (in order); the scanners evicted meanwhile, as they were."""
        if len(failures) < GROUP_AT:
            self._one_by_one(failures)
        else:
            self._grouped(failures)
        gone, self._gone = self._gone, []
        return Listed(gone)

    def _grouped(self, failures: Failures) -> None:
        """A big update (end of input, a flood): each scanner's failures together, the
        scanners in order of first failure; folded at once where that is exact."""
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
            st = _Scanner(first=times[0])
            self.scanners[scanner] = st
        else:
            self.scanners.move_to_end(scanner)
        self.changed[scanner] = None
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
            self.active[scanner] = None
        return True

    def _one_by_one(self, failures: Failures) -> None:  # noqa: PLR0912  (one hot loop, inlined)
        scanners, changed, active = self.scanners, self.changed, self.active
        threshold, window = self.s.threshold, self.s.window_seconds
        max_victims = self.s.max_victims
        for akey, proto, ts, _how in failures.rows():
            scanner = akey >> 48
            victim = akey >> 16 & 0xFFFFFFFF
            pp = proto << 16 | (akey & 0xFFFF)
            st = scanners.get(scanner)
            if st is None:
                st = _Scanner(first=ts)
                scanners[scanner] = st
            else:
                scanners.move_to_end(scanner)
            changed[scanner] = None
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
                    active[scanner] = None

    def take_changed(self) -> tuple[list[Changed], float]:
        """The active scanners changed since the last call whose victim count moved since
        it was last taken, in order of first change (settled, their peak raised), and the
        lowest floor of every active changed scanner (inf if none). :meth:`taken` makes
        the report of one of them, until the next failure."""
        changed, self.changed = self.changed, {}
        scanners, active = self.scanners, self.active
        floor = math.inf
        out: list[Changed] = []
        taken: list[tuple[int, _Scanner]] = []
        for scanner in changed:
            if scanner not in active:
                continue
            st = scanners[scanner]  # (an evicted or dropped scanner left ``active`` too)
            if st.floor < floor:  # noqa: PLR1730
                floor = st.floor
            n = len(st.times)
            if n != st.checked:
                st.checked = n
                if n > st.peak:  # noqa: PLR1730
                    st.peak = n
                out.append((scanner, n, st.peak, st.settle(), len(taken)))
                taken.append((scanner, st))
        self._taken = taken
        return out, floor

    def taken(self, i: int) -> Snapshot:
        return _snapshot(*self._taken[i])

    def snapshot(self, scanner: int) -> Snapshot:
        """One scanner's report as it stands (the scanner is in the table)."""
        return _snapshot(scanner, self.scanners[scanner])

    def drop_idle(self, now: float) -> tuple[Reports, float]:
        """Forget the active scanners idle for the window (:func:`drop_idle`)."""
        gone: list[Snapshot] = []
        floor = drop_idle(
            self.active,
            self.scanners,
            now,
            self.s.window_seconds,
            lambda scanner, st: gone.append(_snapshot(scanner, st)),
        )
        return Listed(gone), floor


def _snapshot(scanner: int, st: _Scanner) -> Snapshot:
    """The report of ``st`` (settled; its peak raised to its count, as reporting does)."""
    st.settle()
    n = len(st.times)
    if n > st.peak:  # noqa: PLR1730
        st.peak = n
    top = sorted(st.ports.items(), key=itemgetter(1), reverse=True)[:5]
    return Snapshot(
        scanner, n, st.peak, st.first, st.last, tuple(st.low), tuple(top), len(st.ports)
    )


class Records:
    """:class:`Reports` from the compiled table's records (``NwScanSnap``), each made into
    a :class:`Snapshot` when asked for (the columns become lists once, on the first)."""

    def __init__(self, recs: npt.NDArray[np.void]) -> None:
        self.recs = recs
        self.scanners: list[int] = recs["scanner"].tolist()
        self._cols: tuple[list[Any], ...] | None = None

    def __len__(self) -> int:
        return len(self.scanners)

    def __getitem__(self, i: int) -> Snapshot:
        cols = self._cols
        if cols is None:
            r = self.recs
            names = ("n", "peak", "first", "last", "low", "nlow", "top_pp", "top_count", "ntop")
            cols = self._cols = (*(r[name].tolist() for name in names), r["distinct"].tolist())
        n, peak, first, last, low, nlow, pps, counts, ntop, distinct = cols
        k = ntop[i]
        return Snapshot(
            self.scanners[i],
            n[i],
            peak[i],
            first[i],
            last[i],
            tuple(low[i][: nlow[i]]),
            tuple(zip(pps[i][:k], counts[i][:k], strict=True)),
            distinct[i],
        )


class TableFullError(MemoryError):
    """The compiled table ran out of memory part-way through an update; ``gone`` are the
    scanners it evicted before that (their skipped reports are still due)."""

    def __init__(self, gone: Records) -> None:
        super().__init__("no memory for address_scan's scanners")
        self.gone = gone


class NativeScanners:
    """:class:`PyScanners` in compiled code (``native.c``, ``nw_as_*``): the same state,
    operation by operation, and the same orders; reports leave as records (``_SNAP``)."""

    _SNAP = np.dtype(
        {
            "names": [
                "scanner",
                "nlow",
                "ntop",
                "n",
                "peak",
                "distinct",
                "first",
                "last",
                "low",
                "top_pp",
                "top_count",
            ],
            "formats": [
                np.uint32,
                np.int32,
                np.int32,
                np.int64,
                np.int64,
                np.int64,
                np.float64,
                np.float64,
                (np.uint32, SAMPLE),
                (np.uint32, 5),
                (np.int64, 5),
            ],
            "offsets": [0, 4, 8, 16, 24, 32, 40, 48, 64, 104, 128],
            "itemsize": 168,
        }
    )

    def __init__(self, lib: ctypes.CDLL, s: AddressScanSettings) -> None:
        if lib.nw_as_snap_size() != self._SNAP.itemsize:
            raise RuntimeError("native.c's NwScanSnap does not match NativeScanners._SNAP")
        self._lib = lib
        handle = lib.nw_as_new(s.max_scanners, s.max_victims, s.threshold, s.window_seconds)
        if not handle:
            raise MemoryError("no memory for address_scan's scanners")
        self._h = handle
        self._free = weakref.finalize(self, lib.nw_as_free, handle)
        self._taken = Records(np.empty(0, self._SNAP))  # by the last take_changed

    def __len__(self) -> int:
        n: int = self._lib.nw_as_len(self._h)
        return n

    def failed(self, failures: Failures) -> Reports:
        keys = failures.key
        n = len(keys)
        if n == 0:
            return Listed()
        if failures.arrays is not None:  # straight from the compiled attempt table
            pair, port, ts = failures.arrays
            scanner = (pair >> np.uint64(32)).astype(np.uint32)
            victim = pair.astype(np.uint32)  # (the low 32 bits)
            pp = np.array(failures.proto, np.uint32) << np.uint32(16) | port
        else:
            scanner = np.array([k >> 48 for k in keys], np.uint32)
            low48 = np.array([k & 0xFFFFFFFFFFFF for k in keys], np.uint64)
            victim = (low48 >> np.uint64(16)).astype(np.uint32)
            pp = (np.array(failures.proto, np.uint32) << np.uint32(16)) | (
                low48 & np.uint64(0xFFFF)
            ).astype(np.uint32)
            ts = np.array(failures.ts, np.float64)
        gone = np.empty(n, self._SNAP)
        oom = ctypes.c_int32()
        k = self._lib.nw_as_failed(
            self._h,
            scanner.ctypes.data,
            victim.ctypes.data,
            pp.ctypes.data,
            ts.ctypes.data,
            n,
            n >= GROUP_AT,
            gone.ctypes.data,
            ctypes.byref(oom),
        )
        if oom.value:
            raise TableFullError(Records(gone[:k]))
        return Records(gone[:k])

    def take_changed(self) -> tuple[list[Changed], float]:
        out = np.empty(self._lib.nw_as_changed_len(self._h), self._SNAP)
        floor = ctypes.c_double()
        n = self._lib.nw_as_take_changed(self._h, out.ctypes.data, ctypes.byref(floor))
        out = out[:n]
        self._taken = Records(out)
        rows = zip(
            out["scanner"].tolist(),
            out["n"].tolist(),
            out["peak"].tolist(),
            out["last"].tolist(),
            range(n),
            strict=True,
        )
        return list(rows), floor.value

    def taken(self, i: int) -> Snapshot:
        return self._taken[i]

    def snapshot(self, scanner: int) -> Snapshot:
        out = np.empty(1, self._SNAP)
        if not self._lib.nw_as_snapshot(self._h, scanner, out.ctypes.data):
            raise KeyError(scanner)
        return Records(out)[0]

    def drop_idle(self, now: float) -> tuple[Reports, float]:
        out = np.empty(self._lib.nw_as_active_len(self._h), self._SNAP)
        floor = ctypes.c_double()
        n = self._lib.nw_as_drop_idle(self._h, now, out.ctypes.data, ctypes.byref(floor))
        return Records(out[:n]), floor.value


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
        lib = native.library()
        self.table: PyScanners | NativeScanners = (
            NativeScanners(lib, settings) if lib is not None else PyScanners(settings)
        )
        # scanners whose last change was not reported (not ctx.due) -> ctx.report_by
        self.unreported: dict[int, float] = {}
        self.deadlines: list[tuple[float, int]] = []  # (ctx.report_by, scanner), a heap
        self.floor = math.inf  # <= every active scanner's oldest victim time

    def _failed(self, failures: Failures) -> None:
        try:
            gone = self.table.failed(failures)
        except TableFullError as exc:  # out of memory: the scanners evicted before it still count
            self._forget(exc.gone)
            raise
        self._forget(gone)  # evicted: report what was skipped

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        self.tracker.observe(batch)

    def expire(self, now: float) -> None:
        self.tracker.expire(now)
        final = now == math.inf
        # Only scanners with new failures can have a new count to report ...
        table = self.table
        taken, floor = table.take_changed()
        if floor < self.floor:  # noqa: PLR1730
            self.floor = floor
        for scanner, n, peak, last, i in taken:
            if final or self._due(scanner, n, peak, last):
                self._report(table.taken(i))
            elif scanner not in self.unreported:
                by = self.ctx.report_by(self.name, (ip_str(scanner),))
                self.unreported[scanner] = by
                heapq.heappush(self.deadlines, (by, scanner))
        if final:
            for scanner in list(self.unreported):
                self._report(self.table.snapshot(scanner))
        deadlines = self.deadlines
        while deadlines and deadlines[0][0] <= now:  # skipped too long: the incident would idle
            by, scanner = heapq.heappop(deadlines)
            if self.unreported.get(scanner) == by:  # (else: reported since)
                self._report(self.table.snapshot(scanner))
        # ... and none can be past its window before the oldest victim time of all is.
        if now - self.s.window_seconds > self.floor:
            gone, self.floor = self.table.drop_idle(now)
            self._forget(gone)

    def _forget(self, gone: Reports) -> None:
        """Scanners left the table (window expiry or eviction): report what was skipped."""
        unreported = self.unreported
        if unreported:
            for i, scanner in enumerate(gone.scanners):
                if scanner in unreported:
                    self._report(gone[i])

    def _severity(self, n: int) -> Severity:
        return Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM

    def _due(self, scanner: int, n: int, peak: int, last: float) -> bool:
        return self.ctx.due(
            self.name, (ip_str(scanner),), ts=last, severity=self._severity(n), count=peak
        )

    def _report(self, snap: Snapshot) -> None:
        self.unreported.pop(snap.scanner, None)
        scanner = ip_str(snap.scanner)
        # The text is built only if this report is written (most updates are not).
        text = _Text(self, scanner, snap)
        self.ctx.report(
            self.name,
            (scanner,),
            ts=snap.last,
            first_seen=snap.first,
            severity=self._severity(snap.n),
            src=scanner,
            count=snap.peak,
            summary=text.summary,
            evidence=text.evidence,
        )


@lru_cache(maxsize=4096)
def _port_name(pp: int) -> str:
    """``proto << 16 | port`` as ``tcp/22`` or ``udp/53``."""
    return f"{'tcp' if pp >> 16 == 6 else 'udp'}/{pp & 0xFFFF}"


@dataclass(slots=True)
class _Text:
    """The summary and evidence of one address-scan report, built on first use."""

    det: AddressScan
    scanner: str
    snap: Snapshot
    ports: list[str] | None = None  # _ports(), made once

    def _ports(self) -> list[str]:
        if self.ports is None:
            self.ports = [_port_name(pp) for pp, _ in self.snap.top]
        return list(self.ports)

    def summary(self) -> str:
        snap = self.snap
        return (
            f"{self.scanner} probed {snap.n} hosts on {', '.join(self._ports())} without being "
            f"answered in {snap.last - snap.first:.0f} s"
        )

    def evidence(self) -> dict[str, object]:
        snap = self.snap
        return {
            "hosts": snap.n,
            "hosts_sample": [ip_str(v) for v in snap.low],
            "ports": self._ports(),
            "distinct_ports": snap.distinct,
            "window_seconds": self.det.s.window_seconds,
            "threshold": self.det.s.threshold,
        }
