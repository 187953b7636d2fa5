"""``port_scan``: one source, many ports of one host, unanswered or rejected.

Counts *failed* attempts (see ``_attempts.py``) per (scanner, victim): distinct
ports within ``window_seconds``. Port order and pacing do not matter: a slow scan
is caught as long as ``threshold`` ports fail inside the window. One incident per
scanner (key ``(port_scan, src)``); its count is the largest number of distinct
failed ports on one victim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import shared_tracker
from collectors.auditor.detectors._util import BoundedDict, ip_str
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity


class PortScanSettings(DetectorSettings):
    threshold: int = Field(default=10, ge=2, description="distinct failed ports on one host")
    window_seconds: float = Field(default=300.0, gt=0)
    answer_timeout_seconds: float = Field(default=5.0, gt=0)
    high_threshold: int = Field(default=100, ge=2, description="ports for severity high")
    max_pairs: int = Field(default=50_000, ge=100)


@dataclass
class _Pair:
    ports: dict[tuple[int, int], float] = field(default_factory=dict)
    how: dict[str, int] = field(default_factory=dict)
    first: float = 0.0
    reported: int = 0


@register
class PortScan:
    name: ClassVar[str] = "port_scan"
    Settings: ClassVar[type[DetectorSettings]] = PortScanSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: PortScanSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.tracker = shared_tracker(ctx.shared, settings.answer_timeout_seconds)
        self.tracker.subscribe(self._failed)
        self.pairs: BoundedDict[tuple[int, int], _Pair] = BoundedDict(settings.max_pairs)
        self.active: set[tuple[int, int]] = set()

    def _failed(  # noqa: PLR0917  (the attempt tracker's listener signature)
        self, scanner: int, victim: int, port: int, proto: int, ts: float, how: str
    ) -> None:
        key = (scanner, victim)
        pair = self.pairs.get(key)
        if pair is None:
            pair = _Pair(first=ts)
            self.pairs[key] = pair
        else:
            self.pairs.touch(key)
        pair.ports[(proto, port)] = ts
        pair.how[how] = pair.how.get(how, 0) + 1
        if len(pair.ports) >= self.s.threshold:
            horizon = ts - self.s.window_seconds
            if min(pair.ports.values()) < horizon:
                pair.ports = {k: t for k, t in pair.ports.items() if t >= horizon}
                pair.first = min(pair.ports.values())
            if len(pair.ports) >= self.s.threshold:
                self.active.add(key)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        self.tracker.observe(batch)

    def expire(self, now: float) -> None:
        self.tracker.expire(now)
        for key in list(self.active):
            pair = self.pairs.get(key)
            if pair is None:
                self.active.discard(key)
                continue
            if len(pair.ports) != pair.reported:
                self._report(key, pair)
            if now - max(pair.ports.values()) > self.s.window_seconds:
                self.active.discard(key)
                del self.pairs[key]

    def _report(self, key: tuple[int, int], pair: _Pair) -> None:
        scanner, victim = ip_str(key[0]), ip_str(key[1])
        n = len(pair.ports)
        pair.reported = n
        last = max(pair.ports.values())
        first = min(*pair.ports.values(), pair.first)
        tcp = sorted(p for proto, p in pair.ports if proto == 6)
        udp = sorted(p for proto, p in pair.ports if proto == 17)
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
