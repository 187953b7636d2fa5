"""``address_scan``: one source, many hosts on one (or a few) ports, unanswered or rejected.

Counts distinct victims of *failed* attempts (see ``_attempts.py``) per scanner
within ``window_seconds``, whatever the order or pacing of the probes. Like
bro-simple-scan's ``Address_Scan`` the port set may be small (multiport sweeps
of 80/8080/88 are one address scan); the evidence names the ports. One incident
per scanner (key ``(address_scan, src)``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import shared_tracker
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


@dataclass
class _Scanner:
    victims: dict[int, float] = field(default_factory=dict)
    ports: Counter[tuple[int, int]] = field(default_factory=Counter)
    first: float = 0.0
    reported: int = 0


@register
class AddressScan:
    name: ClassVar[str] = "address_scan"
    Settings: ClassVar[type[DetectorSettings]] = AddressScanSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: AddressScanSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.tracker = shared_tracker(ctx.shared, settings.answer_timeout_seconds)
        self.tracker.subscribe(self._failed)
        self.scanners: BoundedDict[int, _Scanner] = BoundedDict(settings.max_scanners)
        self.active: set[int] = set()

    def _failed(  # noqa: PLR0917  (the attempt tracker's listener signature)
        self,
        scanner: int,
        victim: int,
        port: int,
        proto: int,
        ts: float,
        how: str,  # noqa: ARG002
    ) -> None:
        st = self.scanners.get(scanner)
        if st is None:
            st = _Scanner(first=ts)
            self.scanners[scanner] = st
        else:
            self.scanners.touch(scanner)
        if victim in st.victims or len(st.victims) < self.s.max_victims:
            st.victims[victim] = ts
        st.ports[(proto, port)] += 1
        if len(st.victims) >= self.s.threshold:
            horizon = ts - self.s.window_seconds
            if min(st.victims.values()) < horizon:
                st.victims = {v: t for v, t in st.victims.items() if t >= horizon}
                st.first = min(st.victims.values())
            if len(st.victims) >= self.s.threshold:
                self.active.add(scanner)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        self.tracker.observe(batch)

    def expire(self, now: float) -> None:
        self.tracker.expire(now)
        for scanner in list(self.active):
            st = self.scanners.get(scanner)
            if st is None:
                self.active.discard(scanner)
                continue
            if len(st.victims) != st.reported:
                self._report(scanner, st)
            if now - max(st.victims.values()) > self.s.window_seconds:
                self.active.discard(scanner)
                del self.scanners[scanner]

    def _report(self, scanner_ip: int, st: _Scanner) -> None:
        scanner = ip_str(scanner_ip)
        n = len(st.victims)
        st.reported = n
        last = max(st.victims.values())
        first = min(*st.victims.values(), st.first)
        ports = [
            f"{'tcp' if proto == 6 else 'udp'}/{port}"
            for (proto, port), _ in st.ports.most_common(5)
        ]
        sample = [ip_str(v) for v in sorted(st.victims)[:10]]
        severity = Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM
        self.ctx.report(
            self.name,
            (scanner,),
            ts=last,
            first_seen=first,
            severity=severity,
            src=scanner,
            count=n,
            summary=f"{scanner} probed {n} hosts on {', '.join(ports)} without being answered "
            f"in {last - first:.0f} s",
            evidence={
                "hosts": n,
                "hosts_sample": sample,
                "ports": ports,
                "distinct_ports": len(st.ports),
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
