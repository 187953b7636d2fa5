"""Silent sweeps: one source's attempts to many destinations that nothing answers.

The machinery ``udp_sweep`` (datagrams to one UDP port) and ``ping_sweep`` (ICMP echo
requests) share; each detector says what an attempt and an answer are (its ``process``)
and how an incident reads (its ``_report``). An *attempt* is a row ``(group, victim,
ts)``: ``group`` is ``source << 16 | port`` (the port is 0 where there is none), the
victim the destination. An *answer* is the same row seen the other way: the victim
replying to that source (for that port) within ``answer_timeout_seconds`` either side
of the attempt.

Work per batch, vectorised: the attempts and answers of the batch are appended as numpy
columns; every ``answer_timeout_seconds`` of packet time the attempts old enough are
judged in one grouping (:func:`~collectors.auditor.detectors._util.group_rows`) against
the answers kept, the unanswered ones merged into a sorted table of distinct ``(group,
destination)`` with their last time, and the destinations per group counted there.
Python touches only the groups past the threshold.

Monitoring systems are not sweeps: an address of an inventory device that provides one of
``monitoring_provides`` (or listed in ``monitoring_hosts``) probing the inventory's own
device addresses is not counted (:meth:`SilentSweep.monitored`), answered or not: a device
that is down or filters the poller is what monitoring is for. The same poller sweeping
addresses outside the inventory is counted like any other source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import group_rows, sorted_in
from collectors.auditor.detectors.base import DetectorContext

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

MULTICAST = 0xE0000000
"""Destinations from 224.0.0.0 up (multicast, class E, limited broadcast) are not attempts."""
SAMPLE = 10
"""Destinations named in the evidence (the lowest addresses)."""


class SweepSettings(DetectorSettings):
    """What every silent-sweep detector is tuned by (defaults: Zeek's 25 hosts in 5 minutes)."""

    threshold: int = Field(default=25, ge=2, description="distinct unanswered destinations")
    window_seconds: float = Field(default=300.0, gt=0)
    answer_timeout_seconds: float = Field(default=5.0, gt=0)
    high_threshold: int = Field(default=100, ge=2, description="destinations for severity high")
    monitoring_provides: list[str] = Field(
        default_factory=lambda: ["prometheus-federate", "prometheus", "nms", "snmp-manager"],
        description="an inventory device providing one of these is a monitoring system",
    )
    monitoring_hosts: list[str] = Field(
        default_factory=list, description="more monitoring systems, by IPv4 address"
    )
    max_rows: int = Field(
        default=2_000_000, ge=1000, description="attempts, answers and table rows kept"
    )

    @field_validator("monitoring_hosts")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for text in value:
            IPv4Address(text)  # raises with the bad value quoted
        return value


@dataclass
class _Columns:
    """Rows ``(group, victim, ts)`` appended per batch, concatenated when read.

    ``group`` is ``source << 16 | port`` (an attempt's; for an answer, the attempt
    it answers), ``victim`` the destination address.
    """

    group: list[U64] = field(default_factory=list)
    victim: list[U64] = field(default_factory=list)
    ts: list[F64] = field(default_factory=list)
    rows: int = 0

    def add(self, group: U64, victim: U64, ts: F64) -> None:
        if len(group):
            self.group.append(group)
            self.victim.append(victim)
            self.ts.append(ts)
            self.rows += len(group)

    def take(self) -> tuple[U64, U64, F64]:
        """Every row, as three arrays; the columns are left empty."""
        if not self.group:
            empty = np.empty(0, np.uint64)
            return empty, empty, np.empty(0, np.float64)
        out = np.concatenate(self.group), np.concatenate(self.victim), np.concatenate(self.ts)
        self.group, self.victim, self.ts, self.rows = [], [], [], 0
        return out


def _sorted_addresses(addresses: set[int]) -> npt.NDArray[np.uint32]:
    return np.array(sorted(addresses), dtype=np.uint32)


class SilentSweep:
    """The shared state and judgement of a silent-sweep detector (not registered itself).

    A subclass sets ``name``, ``Settings`` and ``needs_inventory``, feeds ``attempts``
    and ``answers`` in ``process`` (:meth:`monitored` tells which attempts are a
    monitoring system's) and writes the incident in ``_report``.
    """

    name: ClassVar[str] = ""

    def __init__(self, settings: SweepSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.attempts = _Columns()
        self.answers = _Columns()
        # distinct unanswered (group, victim), sorted, with the time of the last attempt
        self.table_group: U64 = np.empty(0, np.uint64)
        self.table_victim: U64 = np.empty(0, np.uint64)
        self.table_ts: F64 = np.empty(0, np.float64)
        self.next_judgement = -math.inf
        self.reported: dict[int, int] = {}  # group -> destinations last reported
        monitors = {int(IPv4Address(a)) for a in settings.monitoring_hosts}
        devices: set[int] = set()
        if ctx.inventory is not None:
            wanted = set(settings.monitoring_provides)
            for dev in ctx.inventory.devices.values():
                addrs = {int(a) for _, a in dev.addresses()}
                devices |= addrs
                if wanted & set(dev.provides):
                    monitors |= addrs
        self.monitors = _sorted_addresses(monitors)
        self.devices = _sorted_addresses(devices)

    def monitored(
        self, src: npt.NDArray[np.uint32], dst: npt.NDArray[np.uint32]
    ) -> npt.NDArray[np.bool_]:
        """Which of these attempts are a monitoring system's, to an inventory device."""
        if not len(self.monitors):
            return np.zeros(len(src), np.bool_)
        mask: npt.NDArray[np.bool_] = sorted_in(src, self.monitors) & sorted_in(dst, self.devices)
        return mask

    def bounded(self, now: float) -> None:
        """Judge early when the columns outgrow ``max_rows`` (call at the end of ``process``)."""
        if self.attempts.rows + self.answers.rows > self.s.max_rows:
            # bounded: judge early what is old enough, then, if still too much, everything
            self._judge(now, everything=False)
            if self.attempts.rows + self.answers.rows > self.s.max_rows:
                self._judge(now, everything=True)

    def expire(self, now: float) -> None:
        if now >= self.next_judgement:
            self._judge(now, everything=now == math.inf)

    def _judge(self, now: float, *, everything: bool) -> None:
        """Judge the attempts older than the answer timeout; count and report per group."""
        timeout = self.s.answer_timeout_seconds
        self.next_judgement = now + timeout
        group, victim, ts = self.attempts.take()
        a_group, a_victim, a_ts = self.answers.take()
        latest = float(ts.max()) if len(ts) else -math.inf
        due = np.ones(len(ts), np.bool_) if everything else ts <= now - timeout
        if not due.all():  # too recent: judged next time
            keep = ~due
            self.attempts.add(group[keep], victim[keep], ts[keep])
            group, victim, ts = group[due], victim[due], ts[due]
        if not everything and len(a_ts):  # answers may come first: keep two timeouts of them
            keep = a_ts >= now - 2 * timeout
            self.answers.add(a_group[keep], a_victim[keep], a_ts[keep])
        if len(ts):
            _, inverse, groups = group_rows(
                np.concatenate((group, a_group)), np.concatenate((victim, a_victim))
            )
            answered = np.zeros(groups, np.bool_)
            answered[inverse[len(ts) :]] = True
            silent = ~answered[inverse[: len(ts)]]
            self._merge(group[silent], victim[silent], ts[silent])
        if not len(self.table_ts):
            return
        self._count()
        # an attempt still pending is newer than now - timeout: older rows can no longer count
        horizon = (latest if everything else now - timeout) - self.s.window_seconds
        if self.table_ts.min() < horizon:
            fresh = self.table_ts >= horizon
            self.table_group = self.table_group[fresh]
            self.table_victim = self.table_victim[fresh]
            self.table_ts = self.table_ts[fresh]

    def _merge(self, group: U64, victim: U64, ts: F64) -> None:
        """Add unanswered attempts to the table (one row per distinct (group, victim), last time)."""
        if not len(ts):
            return
        g = np.concatenate((self.table_group, group))
        v = np.concatenate((self.table_victim, victim))
        t = np.concatenate((self.table_ts, ts))
        first, inverse, n = group_rows(g, v)
        last = np.full(n, -math.inf)
        np.maximum.at(last, inverse, t)
        self.table_group, self.table_victim, self.table_ts = g[first], v[first], last
        if n > self.s.max_rows:  # bounded: the oldest rows go first
            keep = np.sort(np.argsort(last, kind="stable")[n - self.s.max_rows :])
            self.table_group = self.table_group[keep]
            self.table_victim = self.table_victim[keep]
            self.table_ts = self.table_ts[keep]

    def _count(self) -> None:
        """Report every (source, port) with ``threshold`` distinct unanswered destinations
        within ``window_seconds`` of its latest one (the table is sorted by group)."""
        g, ts = self.table_group, self.table_ts
        starts = np.flatnonzero(np.concatenate(([True], g[1:] != g[:-1])))
        sizes = np.diff(np.append(starts, len(g)))
        if not (sizes >= self.s.threshold).any():
            return
        latest = np.repeat(np.maximum.reduceat(ts, starts), sizes)
        inside = ts >= latest - self.s.window_seconds
        counts = np.add.reduceat(inside.astype(np.int64), starts)
        for start, size, n in zip(starts.tolist(), sizes.tolist(), counts.tolist(), strict=True):
            if n < self.s.threshold:
                continue
            key = int(g[start])
            if self.reported.get(key) == n:
                continue
            self.reported[key] = n
            rows = np.flatnonzero(inside[start : start + size]) + start
            self._report(key, self.table_victim[rows], ts[rows])
        if len(self.reported) > 65_536:
            self.reported.clear()  # a re-report is harmless (the incident tracker keeps one event)

    def _report(self, key: int, victims: U64, times: F64) -> None:
        raise NotImplementedError


def group_key(address: npt.NDArray[np.uint32], port: npt.NDArray[np.uint16]) -> U64:
    """``address << 16 | port`` of whole columns."""
    out: U64 = (address.astype(np.uint64) << np.uint64(16)) | port.astype(np.uint64)
    return out
