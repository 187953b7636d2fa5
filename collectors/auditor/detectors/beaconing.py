"""``beaconing``: periodic connections to one destination (RITA-style score).

Every TCP connection (SYN to FIN/RST, or idle ``flow_idle_seconds``) from a client
to ``(server, port)`` adds its start time and client bytes to that pair's series
(bounded, newest ``max_series``). At every ``evaluate_seconds`` of packet time
and at the end of input, pairs with at least ``min_connections`` are scored after
RITA's beacon analyzer:

- timing: ``1 - |Bowley skewness|`` of the intervals, ``1 - MAD/median`` of the
  intervals, and coverage (``(n-1) x median interval / span``: gaps lower it);
- size: ``1 - |Bowley skewness|`` and ``1 - MAD/median`` of the client bytes, and
  smallness ``1 - mode/65535``;
- score = mean(timing mean, size mean), in [0, 1].

A score of ``threshold`` (RITA's 0.8) or more opens an incident per
(client, server, port); high from ``high_threshold``. ``external_only`` (default)
keeps pairs whose server is outside the address plan (the internet zone, or not a
private address without an inventory): internal monitoring and backups are
periodic by design and stay out.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from ipaddress import IPv4Address
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from collectors.auditor.batch import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._util import (
    BoundedDict,
    gather,
    group_rows,
    ip_str,
    sorted_unique,
    view,
)
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity
from netwarden.inventory.models import EXTERNAL_ZONE

Pair = tuple[int, int, int]
F64 = npt.NDArray[np.float64]


def _bowley(x: F64) -> float:
    q1, q2, q3 = np.percentile(x, (25, 50, 75))
    return 0.0 if q3 == q1 or q2 in (q1, q3) else float((q1 + q3 - 2 * q2) / (q3 - q1))


def _madm(x: F64) -> float:
    med = float(np.median(x))
    if med <= 0:
        return 0.0
    return max(0.0, 1.0 - float(np.median(np.abs(x - med))) / med)


def beacon_score(starts: F64, sizes: F64) -> dict[str, float]:
    """RITA-style beacon score of connection start times and client bytes.

    Examples:
        >>> t = np.arange(30) * 60.0
        >>> beacon_score(t, np.full(30, 300.0))["score"]  # smallness: 1 - 300/65535
        0.9992
    """
    ts = np.sort(starts)
    d = np.diff(ts)
    if len(d) < 2:
        return {"score": 0.0}
    span = float(ts[-1] - ts[0])
    med = float(np.median(d))
    ts_skew = 1.0 - min(1.0, abs(_bowley(d)))
    ts_madm = _madm(d)
    coverage = min(1.0, (len(d) * med) / span) if span > 0 else 0.0
    values, counts = np.unique(sizes, return_counts=True)
    mode = float(values[np.argmax(counts)])
    ds_skew = 1.0 - min(1.0, abs(_bowley(sizes)))
    ds_madm = _madm(sizes) if np.median(sizes) > 0 else 1.0
    small = max(0.0, 1.0 - mode / 65535.0)
    ts_score = (ts_skew + ts_madm + coverage) / 3
    ds_score = (ds_skew + ds_madm + small) / 3
    return {
        "score": round((ts_score + ds_score) / 2, 4),
        "timing": round(ts_score, 4),
        "size": round(ds_score, 4),
        "median_interval_seconds": round(med, 3),
        "mode_bytes": mode,
    }


class BeaconingSettings(DetectorSettings):
    threshold: float = Field(default=0.8, gt=0, le=1)
    high_threshold: float = Field(default=0.95, gt=0, le=1)
    min_connections: int = Field(default=20, ge=4)
    evaluate_seconds: float = Field(default=300.0, gt=0)
    flow_idle_seconds: float = Field(default=120.0, gt=0)
    external_only: bool = True
    max_series: int = Field(default=1000, ge=10)
    max_pairs: int = Field(default=100_000, ge=100)
    max_flows: int = Field(default=200_000, ge=100)


@dataclass
class _Series:
    conns: deque[tuple[float, float]]
    scored: int = 0


@dataclass
class _Open:
    pair: Pair
    client_is_low: bool
    start: float
    last: float
    nbytes: float = 0.0


@register
class Beaconing:
    name: ClassVar[str] = "beaconing"
    Settings: ClassVar[type[DetectorSettings]] = BeaconingSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: BeaconingSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.open: BoundedDict[tuple[int, int], _Open] = BoundedDict(settings.max_flows + 1)
        self.series: BoundedDict[Pair, _Series] = BoundedDict(settings.max_pairs)
        self.external: BoundedDict[int, bool] = BoundedDict(100_000)
        self.next_eval: float | None = None
        self._servers: Counter[int] = Counter()  # open connections per server

    def _is_external(self, ip: int) -> bool:
        ext = self.external.get(ip)
        if ext is None:
            if self.ctx.policy is not None:
                ext = self.ctx.policy.place(IPv4Address(ip)).zone == EXTERNAL_ZONE
            else:
                addr = IPv4Address(ip)
                ext = addr.is_global
            self.external[ip] = ext
        return ext

    def _selection(self, batch: Batch) -> npt.NDArray[np.int64]:
        """TCP packets that may open or update a tracked connection.

        With ``external_only`` a connection opens only with a SYN to an external
        server, and a tracked one has its server as one endpoint: so only packets
        to or from those servers (this batch's external SYN destinations and the
        servers of open connections) are looked at. A flow's packets share their
        endpoints, so a flow is selected whole or not at all.
        """
        v = view(batch)
        tcp = v.tcp
        if not self.s.external_only:
            return np.flatnonzero(tcp)
        servers = [d for d in sorted_unique(v.dst4[v.syn]).tolist() if self._is_external(d)]
        servers.extend(self._servers)
        if not servers:
            return np.empty(0, dtype=np.int64)
        wanted = np.array(servers, dtype=np.uint32)
        sel = tcp & (np.isin(v.src4, wanted) | np.isin(v.dst4, wanted))
        return np.flatnonzero(sel)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        idx = self._selection(batch)
        if len(idx) == 0:
            return
        q = gather(batch, idx)
        a = (q["src4"].astype(np.uint64) << np.uint64(16)) | q["sport"].astype(np.uint64)
        b = (q["dst4"].astype(np.uint64) << np.uint64(16)) | q["dport"].astype(np.uint64)
        low_is_src = a <= b
        low, high = np.where(low_is_src, a, b), np.where(low_is_src, b, a)
        first, inv, n = group_rows(low, high)
        flags = q["tcp_flags"]
        syn = (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN
        end = (flags & (TCP_FIN | TCP_RST)) != 0
        plen = q["payload_len"].astype(np.float64)
        bytes_low = np.bincount(inv, weights=np.where(low_is_src, plen, 0.0), minlength=n).tolist()
        bytes_high = np.bincount(inv, weights=np.where(low_is_src, 0.0, plen), minlength=n).tolist()
        has_end = (np.bincount(inv, weights=end, minlength=n) > 0).tolist()
        last = np.full(n, -np.inf)
        np.maximum.at(last, inv, q["ts"])
        last_l = last.tolist()
        syn_rows = np.flatnonzero(syn)
        syn_of = dict(zip(inv[syn_rows].tolist(), syn_rows.tolist(), strict=False))
        opened = self.open
        for f, key in enumerate(zip(low[first].tolist(), high[first].tolist(), strict=True)):
            conn = opened.get(key)
            if conn is None:
                row = syn_of.get(f)
                if row is None:
                    continue
                server = int(q["dst4"][row])
                if self.s.external_only and not self._is_external(server):
                    continue
                conn = _Open(
                    pair=(int(q["src4"][row]), server, int(q["dport"][row])),
                    client_is_low=bool(low_is_src[row]),
                    start=float(q["ts"][row]),
                    last=last_l[f],
                )
                if len(opened) >= self.s.max_flows:
                    _, old = opened.popitem(last=False)
                    self._close(old)
                opened[key] = conn
                self._servers[server] += 1
            else:
                opened.move_to_end(key)
            conn.last = max(conn.last, last_l[f])
            conn.nbytes += bytes_low[f] if conn.client_is_low else bytes_high[f]
            if has_end[f]:
                del opened[key]
                self._close(conn)

    def _close(self, conn: _Open) -> None:
        server = conn.pair[1]
        left = self._servers[server] - 1
        if left > 0:
            self._servers[server] = left
        else:
            del self._servers[server]
        series = self.series.get(conn.pair)
        if series is None:
            series = _Series(deque(maxlen=self.s.max_series))
            self.series[conn.pair] = series
        else:
            self.series.touch(conn.pair)
        series.conns.append((conn.start, conn.nbytes))

    def expire(self, now: float) -> None:
        flows = self.open
        while flows:
            key, conn = next(iter(flows.items()))
            if now - conn.last <= self.s.flow_idle_seconds:
                break
            del flows[key]
            self._close(conn)
        if self.next_eval is None and np.isfinite(now):
            self.next_eval = now + self.s.evaluate_seconds
        if not np.isfinite(now) or (self.next_eval is not None and now >= self.next_eval):
            self._evaluate()
            if np.isfinite(now):
                self.next_eval = now + self.s.evaluate_seconds

    def _evaluate(self) -> None:
        for pair, series in self.series.items():
            n = len(series.conns)
            if n < self.s.min_connections or n == series.scored:
                continue
            series.scored = n
            arr = np.array(series.conns, dtype=np.float64)
            result = beacon_score(arr[:, 0], arr[:, 1])
            if result["score"] < self.s.threshold:
                continue
            client, server = ip_str(pair[0]), ip_str(pair[1])
            self.ctx.report(
                self.name,
                (client, server, pair[2]),
                ts=float(arr[:, 0].max()),
                first_seen=float(arr[:, 0].min()),
                severity=Severity.HIGH
                if result["score"] >= self.s.high_threshold
                else Severity.MEDIUM,
                src=client,
                dst=server,
                count=n,
                summary=f"{client} -> {server}:{pair[2]} beacons: {n} connections every "
                f"~{result['median_interval_seconds']:.0f} s, score {result['score']:.2f}",
                evidence={
                    "connections": n,
                    "port": pair[2],
                    **result,
                    "threshold": self.s.threshold,
                },
            )
