"""``port_scan``: one source, many ports of one host, unanswered or rejected.

Counts *failed* attempts (see ``_attempts.py``) per (scanner, victim): distinct
ports within ``window_seconds``. Port order and pacing do not matter: a slow scan
is caught as long as ``threshold`` ports fail inside the window. One incident per
scanner (key ``(port_scan, src)``); its count is the largest number of distinct
failed ports on one victim.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
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


class PortScanSettings(DetectorSettings):
    threshold: int = Field(default=10, ge=2, description="distinct failed ports on one host")
    window_seconds: float = Field(default=300.0, gt=0)
    answer_timeout_seconds: float = Field(default=5.0, gt=0)
    high_threshold: int = Field(default=100, ge=2, description="ports for severity high")
    max_pairs: int = Field(default=50_000, ge=100)


@dataclass(slots=True)
class _Pair(FailureWindow):
    # times: (proto << 16 | port) -> time of its last failure (int keys: out of the GC)
    how: dict[str, int] = field(default_factory=dict)
    reported: int = 0


@register
class PortScan:
    name: ClassVar[str] = "port_scan"
    Settings: ClassVar[type[DetectorSettings]] = PortScanSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: PortScanSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        # shared with address_scan when both have the same answer timeout
        self.tracker = tracker_for(ctx, settings.answer_timeout_seconds)
        self.tracker.subscribe(self._failed)
        # scanner << 32 | victim -> its failures (int keys: cheap, and not tracked by the GC)
        self.pairs: BoundedDict[int, _Pair | tuple[float, int, str]] = BoundedDict(
            settings.max_pairs
        )
        self.active: set[int] = set()
        self.changed: set[int] = set()  # pairs with failures since the last expire
        self.floor = math.inf  # <= every active pair's oldest failure time

    def _failed(self, failures: Failures) -> None:
        pairs, changed = self.pairs, self.changed
        put = OrderedDict.__setitem__  # the bound is applied once, after the loop
        threshold, window = self.s.threshold, self.s.window_seconds
        for akey, proto, ts, how in failures.rows():
            key = akey >> 16  # scanner << 32 | victim
            pp = proto << 16 | (akey & 0xFFFF)
            pair = pairs.get(key)
            if pair is None:
                # A pair's first failure is kept as a plain tuple: most pairs never get a
                # second one (threshold >= 2), and a tuple costs neither a dataclass nor dicts.
                put(pairs, key, (ts, pp, how))
                continue
            pairs.move_to_end(key)
            changed.add(key)
            if isinstance(pair, tuple):
                first_ts, first_pp, first_how = pair
                pair = _Pair(first=first_ts, floor=first_ts, last=first_ts)
                pair.times[first_pp] = first_ts
                pair.how[first_how] = 1
                pairs[key] = pair
            ports = pair.times
            before = ports.get(pp)
            ports[pp] = ts
            if ts < pair.floor:  # noqa: PLR1730  (hot loop: no call to min)
                pair.floor = ts
            if ts >= pair.last:
                pair.last = ts
            elif before is not None and before >= pair.last:
                pair.stale = True  # the latest time went back (unsorted trace): recompute
            outcomes = pair.how
            outcomes[how] = outcomes.get(how, 0) + 1
            if len(ports) >= threshold:
                horizon = ts - window
                if pair.floor < horizon:  # (else nothing to prune: no call)
                    pair.prune(horizon)
                if len(pair.times) >= threshold:
                    self.active.add(key)
        pairs.trim()

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        self.tracker.observe(batch)

    def expire(self, now: float) -> None:
        self.tracker.expire(now)
        # Only pairs with new failures can have a new count to report ...
        changed, self.changed = self.changed, set()
        for key in changed & self.active:
            pair = self.pairs.get(key)
            if not isinstance(pair, _Pair):  # evicted (an active pair is never a tuple)
                self.active.discard(key)
                continue
            self.floor = min(self.floor, pair.floor)
            if len(pair.times) != pair.reported:
                pair.settle()
                self._report(key, pair)
        # ... and none can be past its window before the oldest failure time of all is.
        if now - self.s.window_seconds > self.floor:
            self.floor = drop_idle(self.active, self.pairs, now, self.s.window_seconds)

    def _report(self, key: int, pair: _Pair) -> None:
        scanner, victim = ip_str(key >> 32), ip_str(key & 0xFFFFFFFF)
        n = len(pair.times)
        pair.reported = n
        last = pair.last
        first = min(min(pair.times.values()), pair.first)  # noqa: PLW3301  (flat: a tuple of all)
        tcp = sorted(pp & 0xFFFF for pp in pair.times if pp >> 16 == 6)
        udp = sorted(pp & 0xFFFF for pp in pair.times if pp >> 16 == 17)
        severity = Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM
        self.ctx.report(
            self.name,
            (scanner,),
            ts=last,
            first_seen=first,
            severity=severity,
            src=scanner,
            dst=victim,
            count=n,
            summary=f"{scanner} probed {n} ports of {victim} without being answered "
            f"in {last - first:.0f} s",
            evidence={
                "victim": victim,
                "ports": n,
                "tcp_ports_sample": tcp[:20],
                "udp_ports_sample": udp[:20],
                "outcomes": dict(sorted(pair.how.items())),
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
