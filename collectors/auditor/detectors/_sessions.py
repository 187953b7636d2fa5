"""TCP sessions to a few service ports, aggregated per batch with numpy.

A session starts with the client's SYN (sessions already running when capture
starts are ignored) and ends with FIN/RST, after ``idle_timeout`` seconds
without packets, or at the end of input; it is then handed to ``on_close`` once.
Per batch, packets of the service ports are grouped by flow with ``np.unique``
and summed with ``np.bincount``: Python work is per flow, not per packet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Batch
from collectors.auditor.detectors._util import BoundedDict, ipv4_mask, port_mask


@dataclass
class Session:
    client: int
    server: int
    cport: int
    sport: int
    start: float
    last: float
    c2s_bytes: int = 0
    s2c_bytes: int = 0
    established: bool = False
    failures: int = 0

    @property
    def key(self) -> tuple[int, int, int, int]:
        return (self.client, self.server, self.cport, self.sport)

    @property
    def duration(self) -> float:
        return self.last - self.start


@dataclass
class Selection:
    """The batch's packets of the service ports and their direction."""

    idx: npt.NDArray[np.int64]
    c2s: npt.NDArray[np.bool_]


class SessionTracker:
    def __init__(
        self,
        ports: tuple[int, ...],
        on_close: Callable[[Session], None],
        *,
        idle_timeout: float = 60.0,
        max_sessions: int = 100_000,
    ) -> None:
        self.ports = ports
        self.on_close = on_close
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.sessions: BoundedDict[tuple[int, int, int, int], Session] = BoundedDict(
            max_sessions + 1
        )

    def observe(
        self, batch: Batch, inspect: Callable[[Batch, Selection], None] | None = None
    ) -> Selection:
        """Update sessions from ``batch``; ``inspect`` sees the selection before any session closes."""
        p = batch.packets
        tcp = ipv4_mask(batch) & (p["proto"] == 6)
        to_svc = tcp & port_mask(p["dport"], self.ports)
        from_svc = tcp & ~to_svc & port_mask(p["sport"], self.ports)
        idx = np.flatnonzero(to_svc | from_svc)
        c2s = to_svc[idx]
        if len(idx) == 0:
            return Selection(idx, c2s)
        if inspect is not None:
            inspect(batch, Selection(idx, c2s))
        q = p[idx]
        src = q["src4"].astype(np.uint64)
        dst = q["dst4"].astype(np.uint64)
        client = np.where(c2s, src, dst)
        server = np.where(c2s, dst, src)
        cport = np.where(c2s, q["sport"], q["dport"]).astype(np.uint64)
        sport = np.where(c2s, q["dport"], q["sport"]).astype(np.uint64)
        keys = np.stack([(client << np.uint64(32)) | server, (cport << np.uint64(16)) | sport], 1)
        agg = _aggregate(keys, q, c2s)
        first, last, syn_ts = agg.first, agg.last, agg.syn_ts
        c2s_bytes, s2c_bytes = agg.c2s_bytes, agg.s2c_bytes
        has_syn, has_synack, has_end = agg.has_syn, agg.has_synack, agg.has_end
        for f in np.argsort(first, kind="stable"):
            key = (
                int(client[first[f]]),
                int(server[first[f]]),
                int(cport[first[f]]),
                int(sport[first[f]]),
            )
            sess = self.sessions.get(key)
            if sess is None:
                if not has_syn[f]:
                    continue  # mid-stream or a trailing packet of a closed session
                sess = Session(*key, start=float(syn_ts[f]), last=float(last[f]))
                if len(self.sessions) >= self.max_sessions:
                    _, old = self.sessions.popitem(last=False)
                    self.on_close(old)
                self.sessions[key] = sess
            else:
                self.sessions.touch(key)
            sess.last = max(sess.last, float(last[f]))
            sess.c2s_bytes += int(c2s_bytes[f])
            sess.s2c_bytes += int(s2c_bytes[f])
            sess.established |= bool(has_synack[f])
            if has_end[f]:
                del self.sessions[key]
                self.on_close(sess)
        return Selection(idx, c2s)

    def find(self, client: int, server: int, cport: int, sport: int) -> Session | None:
        return self.sessions.get((client, server, cport, sport))

    def expire(self, now: float) -> None:
        """Close sessions idle for ``idle_timeout`` (every session when ``now`` is inf)."""
        sessions = self.sessions  # least recently active first (touched on every update)
        while sessions:
            key, sess = next(iter(sessions.items()))
            if now - sess.last <= self.idle_timeout:
                break
            del sessions[key]
            self.on_close(sess)


@dataclass
class _Flows:
    """Per-flow aggregates of one batch (index ``f`` = the f-th unique flow key)."""

    first: npt.NDArray[np.int64]
    last: npt.NDArray[np.float64]
    syn_ts: npt.NDArray[np.float64]
    c2s_bytes: npt.NDArray[Any]
    s2c_bytes: npt.NDArray[Any]
    has_syn: npt.NDArray[np.bool_]
    has_synack: npt.NDArray[np.bool_]
    has_end: npt.NDArray[np.bool_]


def _aggregate(
    keys: npt.NDArray[np.uint64], q: npt.NDArray[np.void], c2s: npt.NDArray[np.bool_]
) -> _Flows:
    """Group packets by flow key and reduce them (np.unique + bincount, no Python loop)."""
    uniq, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    n = len(uniq)
    ts = q["ts"]
    last = np.full(n, -np.inf)
    np.maximum.at(last, inv, ts)
    plen = q["payload_len"].astype(np.float64)
    flags = q["tcp_flags"]
    syn = c2s & ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
    synack = ~c2s & ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
    end = (flags & (TCP_FIN | TCP_RST)) != 0
    syn_ts = np.full(n, np.inf)
    np.minimum.at(syn_ts, inv[syn], ts[syn])
    return _Flows(
        first=first,
        last=last,
        syn_ts=syn_ts,
        c2s_bytes=np.bincount(inv, weights=np.where(c2s, plen, 0.0), minlength=n),
        s2c_bytes=np.bincount(inv, weights=np.where(c2s, 0.0, plen), minlength=n),
        has_syn=np.bincount(inv, weights=syn, minlength=n) > 0,
        has_synack=np.bincount(inv, weights=synack, minlength=n) > 0,
        has_end=np.bincount(inv, weights=end, minlength=n) > 0,
    )
