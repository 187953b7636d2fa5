"""TCP sessions to a few service ports, aggregated per batch with numpy.

A session starts with the client's SYN (sessions already running when capture
starts are ignored) and ends with FIN/RST, after ``idle_timeout`` seconds
without packets, or at the end of input; it is then handed to ``on_close`` once.
Per batch, packets of the service ports are grouped by flow with ``np.unique``
and summed with ``np.bincount``: Python work is per flow, not per packet. Only the
packets of flows that open in the batch or are tracked go that far: flags by flow
hash (:class:`~collectors.auditor.detectors._util.HashFlags`) mark them (a collision
only lets a packet through to the exact per-flow test; flags of closed sessions are
cleared by a rebuild once they outnumber the live ones).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Batch
from collectors.auditor.detectors._util import (
    MIX_A,
    MIX_B,
    BoundedDict,
    HashFlags,
    gather,
    group_rows,
    port_mask,
    view,
)


@dataclass(slots=True)
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


# client, server, client port, server port, last, SYN time, bytes c2s, s2c, SYN?, SYN-ACK?, end?
_FlowRow = tuple[int, int, int, int, float, float, int, int, bool, bool, bool]


@dataclass
class Selection:
    """The batch's packets of the service ports and their direction."""

    idx: npt.NDArray[np.int64]
    c2s: npt.NDArray[np.bool_]


class ServicePackets:
    """TCP packets to or from any port a session tracker of the run watches, once per batch.

    Every tracker registers its ports; the first to look at a batch selects the
    packets of all of them (one pass over the batch), and each tracker then picks
    its own from that small subset. Share one instance per run
    (``ctx.shared_helper``); a tracker without one uses its own.
    """

    def __init__(self) -> None:
        self.ports: tuple[int, ...] = ()
        self._last: Batch | None = None
        self._idx: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)

    def register(self, ports: tuple[int, ...]) -> None:
        self.ports = tuple(sorted({*self.ports, *ports}))
        self._last = None

    def of(self, batch: Batch) -> npt.NDArray[np.int64]:
        """Indices of the batch's TCP packets with a registered source or destination port."""
        if batch is not self._last:
            v = view(batch)
            self._idx = np.flatnonzero(
                v.tcp & (port_mask(v.dport, self.ports) | port_mask(v.sport, self.ports))
            )
            self._last = batch
        return self._idx


class SessionTracker:
    def __init__(
        self,
        ports: tuple[int, ...],
        on_close: Callable[[Session], None],
        *,
        idle_timeout: float = 60.0,
        max_sessions: int = 100_000,
        shared: ServicePackets | None = None,
    ) -> None:
        self.packets = shared if shared is not None else ServicePackets()
        self.packets.register(ports)
        self.ports = ports
        self.on_close = on_close
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.sessions: BoundedDict[tuple[int, int, int, int], Session] = BoundedDict(
            max_sessions + 1
        )
        self._flows = HashFlags()  # the flows that may be tracked, by flow hash

    def observe(
        self, batch: Batch, inspect: Callable[[Batch, Selection], None] | None = None
    ) -> Selection:
        """Update sessions from ``batch``; ``inspect`` sees the selection before any session closes."""
        v = view(batch)
        cand = self.packets.of(batch)
        to_svc = port_mask(v.dport[cand], self.ports)
        from_svc = ~to_svc & port_mask(v.sport[cand], self.ports)
        mine = to_svc | from_svc
        idx, c2s = cand[mine], to_svc[mine]
        if len(idx) == 0:
            return Selection(idx, c2s)
        if inspect is not None:
            inspect(batch, Selection(idx, c2s))
        src = v.src4[idx].astype(np.uint64)
        dst = v.dst4[idx].astype(np.uint64)
        sp = v.sport[idx].astype(np.uint64)
        dp = v.dport[idx].astype(np.uint64)
        client = np.where(c2s, src, dst)
        server = np.where(c2s, dst, src)
        cport = np.where(c2s, sp, dp)
        sport = np.where(c2s, dp, sp)
        # Only flows that open here (a client SYN) or are already tracked can change a
        # session: select their packets by a flow hash (a collision only lets a packet
        # through to the exact per-flow test below), so Python work is per session.
        h = _flow_hash(client, server, cport, sport)
        flags = v.flags[idx]
        opening = h[c2s & ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)]
        if len(opening):
            self._mark(opening)  # a session may start (a superset: some exist already)
        elif not self.sessions:
            return Selection(idx, c2s)
        keep = self._flows.holds(h)
        if not keep.any():
            return Selection(idx, c2s)
        client, server, cport, sport = client[keep], server[keep], cport[keep], sport[keep]
        agg = _aggregate(
            (client << np.uint64(32)) | server,
            (cport << np.uint64(16)) | sport,
            gather(batch, idx[keep]),
            c2s[keep],
        )
        order = np.argsort(agg.first, kind="stable")
        at = agg.first[order]
        rows = zip(
            client[at].tolist(),
            server[at].tolist(),
            cport[at].tolist(),
            sport[at].tolist(),
            agg.last[order].tolist(),
            agg.syn_ts[order].tolist(),
            agg.c2s_bytes[order].astype(np.int64).tolist(),  # (summed as float64: exact)
            agg.s2c_bytes[order].astype(np.int64).tolist(),
            agg.has_syn[order].tolist(),
            agg.has_synack[order].tolist(),
            agg.has_end[order].tolist(),
            strict=True,
        )
        self._update(rows)
        return Selection(idx, c2s)

    def _update(self, rows: Iterable[_FlowRow]) -> None:
        """Fold one batch's per-flow aggregates into the sessions, in order of first packet."""
        sessions = self.sessions
        put = OrderedDict.__setitem__
        for cl, sv, cp, spt, last, syn_ts, c2s_b, s2c_b, has_syn, has_synack, has_end in rows:
            key = (cl, sv, cp, spt)
            sess = sessions.get(key)
            if sess is None:
                if not has_syn:
                    continue  # mid-stream or a trailing packet of a closed session
                sess = Session(cl, sv, cp, spt, syn_ts, last, c2s_b, s2c_b, has_synack)
                if len(sessions) >= self.max_sessions:
                    _, old = sessions.popitem(last=False)
                    self.on_close(old)
                put(sessions, key, sess)  # bounded by the eviction just above
            else:
                sessions.move_to_end(key)
                if last > sess.last:  # noqa: PLR1730  (hot loop: no call to max)
                    sess.last = last
                sess.c2s_bytes += c2s_b
                sess.s2c_bytes += s2c_b
                if has_synack:
                    sess.established = True
            if has_end:
                del sessions[key]
                self.on_close(sess)

    def _mark(self, hashes: npt.NDArray[np.uint64]) -> None:
        """Mark flows by hash; first rebuild from the live sessions when the flags of
        closed ones outnumber them."""
        flows = self._flows
        if flows.stale(len(self.sessions), factor=2, slack=4096):
            k = np.array(list(self.sessions), dtype=np.uint64).reshape(-1, 4)
            flows.rebuild(_flow_hash(k[:, 0], k[:, 1], k[:, 2], k[:, 3]))
        flows.mark(hashes)

    def expire(self, now: float) -> None:
        """Close sessions idle for ``idle_timeout`` (every session when ``now`` is inf)."""
        sessions = self.sessions  # least recently active first (touched on every update)
        idle = self.idle_timeout
        if math.isinf(now):
            done = list(sessions.values())
            sessions.clear()
        else:
            done = []
            for sess in sessions.values():
                if now - sess.last <= idle:
                    break
                done.append(sess)
            for sess in done:
                del sessions[sess.key]
        for sess in done:
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


def _flow_hash(
    client: npt.NDArray[np.uint64],
    server: npt.NDArray[np.uint64],
    cport: npt.NDArray[np.uint64],
    sport: npt.NDArray[np.uint64],
) -> npt.NDArray[np.uint64]:
    """A 64-bit mix of a flow key (equal keys, equal hashes; used only to pre-select)."""
    a = (client << np.uint64(32)) | server
    b = (cport << np.uint64(16)) | sport
    h: npt.NDArray[np.uint64] = np.multiply(a, MIX_A, dtype=np.uint64)  # wraps modulo 2**64
    h += np.multiply(b ^ (a >> np.uint64(29)), MIX_B, dtype=np.uint64)
    return h


def _aggregate(
    k0: npt.NDArray[np.uint64],
    k1: npt.NDArray[np.uint64],
    q: Mapping[str, npt.NDArray[Any]],
    c2s: npt.NDArray[np.bool_],
) -> _Flows:
    """Group packets by flow key ``(k0, k1)`` and reduce them (grouping + bincount, no Python loop)."""
    first, inv, n = group_rows(k0, k1)
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
