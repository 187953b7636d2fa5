"""``udp_sweep``: one source sends to one UDP port on many addresses, and nothing answers.

A UDP datagram gets no handshake: a sweep of an unused range (a worm looking for
SNMP, NTP or SSDP reflectors, a scanner mapping a subnet at one datagram per
second) leaves no RST and, from a host that does not exist or drops silently, no
ICMP either. Zeek counts such unanswered attempts as scan attempts; ``address_scan``
only sees the UDP attempts an ICMP port-unreachable rejects, so this detector counts
the silent ones.

An *attempt* is a UDP datagram from ``S`` to ``D:port`` (unicast destinations only:
multicast and broadcast discovery - mDNS, SSDP, NetBIOS - is not a sweep). It is
*answered* when, within ``answer_timeout_seconds`` either side of it, ``D`` sends
UDP from ``port`` to ``S`` or an ICMP error quoting it (port-unreachable included:
the host exists; ``address_scan`` counts that as a rejection). Unanswered attempts
are counted per ``(S, port)`` across distinct destinations within
``window_seconds``; ``threshold`` of them open an incident (key
``(udp_sweep, S, udp/port)``), ``high_threshold`` make it high. The defaults are
Zeek's address-scan threshold and interval (25 hosts in 5 minutes).

Monitoring systems are not sweeps: an address of an inventory device that
provides one of ``monitoring_provides`` (or listed in ``monitoring_hosts``)
polling the inventory's own device addresses (SNMP 161, NTP 123, ...) is not
counted, answered or not: a device that is down or filters the poller is what
monitoring is for. The same poller sweeping addresses outside the inventory is
counted like any other source.

Work per batch, vectorised: the UDP attempts and answers of the batch (and the
few ICMP errors, parsed in Python) are appended as numpy columns; every
``answer_timeout_seconds`` of packet time the attempts old enough are judged in
one grouping (:func:`~collectors.auditor.detectors._util.group_rows`) against the
answers kept, the unanswered ones merged into a sorted table of distinct
``(source, port, destination)`` with their last time, and the destinations per
``(source, port)`` counted there. Python touches only the ICMP errors and the
``(source, port)`` groups past the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import ICMP_UNREACHABLE
from collectors.auditor.detectors._attempts import _quoted_ip as quoted_ip
from collectors.auditor.detectors._util import group_rows, ip_str, payload_slices, sorted_in, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

MULTICAST = 0xE0000000
"""Destinations from 224.0.0.0 up (multicast, class E, limited broadcast) are not attempts."""
SAMPLE = 10
"""Destinations named in the evidence (the lowest addresses)."""


class UdpSweepSettings(DetectorSettings):
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


@register
class UdpSweep:
    name: ClassVar[str] = "udp_sweep"
    Settings: ClassVar[type[DetectorSettings]] = UdpSweepSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: UdpSweepSettings, ctx: DetectorContext) -> None:
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

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        idx = np.flatnonzero(v.udp)
        if len(idx):
            src, dst, ts = v.src4[idx], v.dst4[idx], v.ts[idx]
            sport, dport = v.sport[idx], v.dport[idx]
            # Every UDP datagram may answer an attempt the other way (victim = its source).
            self.answers.add(_group(dst, sport), src.astype(np.uint64), ts)
            attempt = (dst < MULTICAST) & (dst != 0) & (src != 0) & (dport != 0)
            if len(self.monitors):
                attempt &= ~(sorted_in(src, self.monitors) & sorted_in(dst, self.devices))
            sel = np.flatnonzero(attempt)
            self.attempts.add(_group(src[sel], dport[sel]), dst[sel].astype(np.uint64), ts[sel])
        icmp = np.flatnonzero(v.icmp & (batch.packets["icmp_type"] == ICMP_UNREACHABLE))
        if len(icmp):
            self._icmp_errors(batch, icmp)
        if self.attempts.rows + self.answers.rows > self.s.max_rows and len(v.ts):
            # bounded: judge early what is old enough, then, if still too much, everything
            self._judge(float(v.ts[-1]), everything=False)
            if self.attempts.rows + self.answers.rows > self.s.max_rows:
                self._judge(float(v.ts[-1]), everything=True)

    def _icmp_errors(self, batch: Batch, idx: npt.NDArray[np.int64]) -> None:
        """An ICMP error quoting a UDP datagram, sent by its destination, answers it."""
        groups, victims, times = [], [], []
        senders = batch.packets["src4"][idx].tolist()
        rows = zip(
            payload_slices(batch, idx), senders, batch.packets["ts"][idx].tolist(), strict=True
        )
        for data, sender, ts in rows:
            quoted = quoted_ip(data)
            if quoted is not None and quoted[0] == 17 and quoted[2] == sender:
                _proto, osrc, odst, dport = quoted
                groups.append(osrc << 16 | dport)
                victims.append(odst)
                times.append(ts)
        self.answers.add(
            np.array(groups, np.uint64), np.array(victims, np.uint64), np.array(times, np.float64)
        )

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
        src, port, n = ip_str(key >> 16), key & 0xFFFF, len(victims)
        first, last = float(times.min()), float(times.max())
        self.ctx.report(
            self.name,
            (src, f"udp/{port}"),
            ts=last,
            first_seen=first,
            severity=Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM,
            src=src,
            count=n,
            summary=f"{src} sent to udp/{port} on {n} hosts without an answer in {last - first:.0f} s",
            evidence={
                "hosts": n,
                "hosts_sample": [ip_str(int(x)) for x in victims[:SAMPLE].tolist()],
                "port": f"udp/{port}",
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )


def _group(address: npt.NDArray[np.uint32], port: npt.NDArray[np.uint16]) -> U64:
    """``address << 16 | port`` of whole columns."""
    out: U64 = (address.astype(np.uint64) << np.uint64(16)) | port.astype(np.uint64)
    return out
