"""Failed connection attempts, shared by ``port_scan`` and ``address_scan``.

An attempt is a TCP SYN (without ACK) from a scanner to ``victim:port``. It has
*failed* when the victim answers with a RST, when an ICMP unreachable quoting it
comes back, or when no SYN-ACK arrives within ``answer_timeout`` seconds (the
same notion as Zeek's ``connection_attempt``/``connection_rejected`` that
bro-simple-scan counts). A UDP datagram answered by ICMP port-unreachable is a
failed UDP attempt. Answered attempts are forgotten. Pending attempts are
bounded (``max_pending``); the oldest is finalised as unanswered when full.

"Unanswered" depends on the timeout, so a tracker serves the detectors that use
the same ``answer_timeout`` (:func:`tracker_for`): with the defaults ``port_scan``
and ``address_scan`` share one, and a detector configured with another timeout
gets its own. What both detectors keep of the failures, times by key within a
sliding window, is :class:`FailureWindow`.

Work per batch: vectorised masks select SYNs, SYN-ACKs, RSTs and ICMP
unreachables. The SYNs of a batch join an ordered dict of pending attempts (int
keys) by dict operations on the whole batch; Python touches only those answers
whose (scanner, victim) pair may have a pending SYN (a table of flags by hash of
the pending pairs, read with numpy, selects them). Listeners get the failures of
one update in one call.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import TCP_ACK, TCP_RST, TCP_SYN, Batch
from collectors.auditor.detectors._util import (
    MIX_A,
    BatchView,
    HashFlags,
    payload_slices,
    view,
)

if TYPE_CHECKING:
    from collectors.auditor.detectors.base import DetectorContext


@dataclass(slots=True)
class Failures:
    """The failed attempts of one update, in order, as parallel lists.

    ``key`` is :func:`attempt_key` (scanner, victim, port), ``how`` one of
    ``unanswered``, ``rejected``, ``unreachable``. Ints rather than tuples as keys
    and columns rather than a tuple per failure: cheaper to build and to hash, and
    nothing for the cyclic garbage collector to track. Iterate with :meth:`rows`.
    """

    key: list[int] = field(default_factory=list)
    proto: list[int] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    how: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.key)

    def add(self, key: int, proto: int, ts: float, how: str) -> None:
        self.key.append(key)
        self.proto.append(proto)
        self.ts.append(ts)
        self.how.append(how)

    def rows(self) -> Iterator[tuple[int, int, float, str]]:
        """(key, proto, ts, how) per failure."""
        return zip(self.key, self.proto, self.ts, self.how, strict=True)


# Listeners get every failure of one update at once, in order (one call, not one per failure).
FailedListener = Callable[[Failures], None]

SHARED_NAME = "failed_attempts"
"""Prefix of the trackers' names in ``DetectorContext.shared`` (one per answer timeout)."""
ICMP_UNREACHABLE = 3


def attempt_key(scanner: int, victim: int, port: int) -> int:
    """One int for (scanner, victim, port): ``key >> 16`` is the (scanner, victim) pair.

    Examples:
        >>> k = attempt_key(0x0A000001, 0x0A000002, 22)
        >>> k >> 48, k >> 16 & 0xFFFFFFFF, k & 0xFFFF, k >> 16 == 0x0A000001 << 32 | 0x0A000002
        (167772161, 167772162, 22, True)
    """
    return scanner << 48 | victim << 16 | port


def _keys(
    scanner: npt.NDArray[np.uint32], victim: npt.NDArray[np.uint32], port: npt.NDArray[np.uint16]
) -> list[int]:
    """:func:`attempt_key` of whole columns (numpy for the low 48 bits, Python for the rest)."""
    low = (victim.astype(np.uint64) << np.uint64(16)) | port.astype(np.uint64)
    return [h << 48 | lo for h, lo in zip(scanner.tolist(), low.tolist(), strict=True)]


def _pair(
    scanner: npt.NDArray[np.uint32], victim: npt.NDArray[np.uint32]
) -> npt.NDArray[np.uint64]:
    """``scanner << 32 | victim`` (``attempt_key(...) >> 16``) of whole columns."""
    pair: npt.NDArray[np.uint64] = (scanner.astype(np.uint64) << np.uint64(32)) | victim.astype(
        np.uint64
    )
    return pair


def _pair_hash(pairs: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """A multiplicative hash of (scanner, victim) pairs, for :class:`HashFlags`."""
    mixed: npt.NDArray[np.uint64] = np.multiply(pairs, MIX_A, dtype=np.uint64)
    return mixed


@dataclass
class AttemptTracker:
    answer_timeout: float = 5.0
    max_pending: int = 200_000
    listeners: list[FailedListener] = field(default_factory=list)
    # attempt_key -> SYN time, oldest first; bounded by hand (finalised as unanswered)
    pending: OrderedDict[int, float] = field(default_factory=OrderedDict)
    # the (scanner, victim) pairs of pending attempts, by hash: answers worth a dict lookup
    _pairs: HashFlags = field(default_factory=HashFlags)
    _last_batch: Batch | None = None

    def subscribe(self, listener: FailedListener) -> None:
        self.listeners.append(listener)

    def _tell(self, failures: Failures) -> None:
        if failures:
            for listener in self.listeners:
                listener(failures)

    def observe(self, batch: Batch) -> None:
        """Update from one batch; several detectors may call this for the same batch."""
        if batch is self._last_batch:
            return
        self._last_batch = batch
        v = view(batch)
        failures = Failures()
        self._syns(v, failures)
        if self.pending:
            self._answers(v, failures)
        unreach = np.flatnonzero(v.icmp & (batch.packets["icmp_type"] == ICMP_UNREACHABLE))
        if len(unreach):
            self._unreachable(batch, unreach, failures)
        self._tell(failures)

    def _syns(self, v: BatchView, failures: Failures) -> None:
        """The first SYN of a key starts the attempt; repeats (retransmissions) do not."""
        idx = np.flatnonzero(v.syn)
        if len(idx) == 0:
            return
        pending, maxp = self.pending, self.max_pending
        keys = _keys(v.src4[idx], v.dst4[idx], v.dport[idx])
        times = v.ts[idx].tolist()
        if self._pairs.stale(len(pending), factor=4, slack=65_536):  # only a cost: rebuilt
            self._pairs.rebuild(_pair_hash(np.array([k >> 16 for k in pending], np.uint64)))
        self._pairs.mark(_pair_hash(_pair(v.src4[idx], v.dst4[idx])))
        # Each key's first SYN of the batch, in order, with its time (dict operations in C:
        # fromkeys keeps the first position, the reversed pairs leave the first time) ...
        fresh: dict[int, float] = dict.fromkeys(keys, 0.0)
        fresh.update(zip(reversed(keys), reversed(times), strict=True))
        if not pending.keys().isdisjoint(fresh):  # ... less the keys already pending
            for k in fresh.keys() & pending.keys():
                del fresh[k]
        if len(pending) + len(fresh) <= maxp:
            pending.update(fresh)  # what the loop below does when nothing overflows
            return
        for k, ts in zip(keys, times, strict=True):
            if k not in pending:
                if len(pending) >= maxp:
                    old, old_ts = pending.popitem(last=False)
                    failures.add(old, 6, old_ts, "unanswered")
                pending[k] = ts

    def _answers(self, v: BatchView, failures: Failures) -> None:
        """SYN-ACKs answer, RSTs reject (the victim is the source, the scanner the destination).

        Only answers whose (scanner, victim) pair has a pending SYN reach the Python dict.
        """
        pending = self.pending
        tcp, flags = v.tcp, v.flags
        idx = np.flatnonzero(tcp & ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)))
        idx = idx[self._pairs.holds(_pair_hash(_pair(v.dst4[idx], v.src4[idx])))]
        pop = pending.pop
        for k in _keys(v.dst4[idx], v.src4[idx], v.sport[idx]):
            pop(k, None)
        idx = np.flatnonzero(tcp & ((flags & TCP_RST) != 0))
        idx = idx[self._pairs.holds(_pair_hash(_pair(v.dst4[idx], v.src4[idx])))]
        keys = _keys(v.dst4[idx], v.src4[idx], v.sport[idx])
        for k, ts in zip(keys, v.ts[idx].tolist(), strict=True):
            if k in pending:
                del pending[k]
                failures.add(k, 6, ts, "rejected")

    def _unreachable(self, batch: Batch, idx: npt.NDArray[np.int64], failures: Failures) -> None:
        """ICMP unreachables quoting a pending TCP SYN, or any UDP datagram."""
        pending = self.pending
        for data, ts in zip(
            payload_slices(batch, idx), batch.packets["ts"][idx].tolist(), strict=True
        ):
            quoted = _quoted_ip(data)
            if quoted is None:
                continue
            proto, osrc, odst, dport = quoted
            k = attempt_key(osrc, odst, dport)
            if proto == 6 and k in pending:
                del pending[k]
                failures.add(k, 6, ts, "unreachable")
            elif proto == 17:
                failures.add(k, 17, ts, "unreachable")

    def expire(self, now: float) -> None:
        """Finalise SYNs unanswered for ``answer_timeout`` (all of them when ``now`` is inf)."""
        pending = self.pending
        timeout = self.answer_timeout
        n = 0
        for ts in pending.values():  # oldest first
            if ts + timeout > now:
                break
            n += 1
        if n == 0:
            return
        keys = list(islice(pending, n))
        times = list(islice(pending.values(), n))
        if n == len(pending):
            pending.clear()
        else:
            for k in keys:
                del pending[k]
        self._tell(Failures(keys, [6] * n, times, ["unanswered"] * n))


def tracker_for(ctx: DetectorContext, answer_timeout: float) -> AttemptTracker:
    """The run's tracker with this ``answer_timeout``: detectors that agree on it share one.

    Sharing saves the second pass over the SYNs and answers of every batch; it cannot
    span two timeouts, since a tracker finalises a SYN as unanswered by its own.
    """
    return ctx.shared_helper(
        f"{SHARED_NAME}/{answer_timeout!r}", lambda: AttemptTracker(answer_timeout=answer_timeout)
    )


@dataclass(slots=True)
class FailureWindow:
    """Failure times by key (a port, a victim) inside a sliding window, with cheap bounds.

    The base of what ``port_scan`` keeps per (scanner, victim) and ``address_scan`` per
    scanner. ``times`` maps a key to the time of its last failure; ``floor`` is a lower
    bound of those times, so the O(keys) :meth:`prune` runs only when ``floor`` is
    older than the window; ``last`` is the latest time unless ``stale`` (an unsorted
    trace sent a time backwards), when :meth:`settle` recomputes it. Detectors update
    ``times`` and the bounds inline in their hot loops.

    Examples:
        >>> w = FailureWindow(times={22: 10.0, 23: 50.0, 25: 90.0}, first=10.0, floor=10.0, last=90.0)
        >>> w.prune(horizon=40.0), w.times, w.first, w.floor, w.last
        (True, {23: 50.0, 25: 90.0}, 50.0, 50.0, 90.0)
        >>> w.prune(horizon=45.0), w.floor
        (False, 50.0)
    """

    times: dict[int, float] = field(default_factory=dict)
    first: float = 0.0  # <= min(times.values()) since the last prune
    floor: float = math.inf  # a lower bound of min(times.values())
    last: float = -math.inf  # max(times.values()) unless stale
    stale: bool = False

    def prune(self, horizon: float) -> bool:
        """Forget the times before ``horizon``, tighten ``floor``; True when some were.

        Call it when ``floor < horizon`` (else there is nothing to forget) and the
        window holds at least one time that is not before ``horizon`` (the latest).
        """
        times = self.times
        oldest = min(times.values())
        pruned = oldest < horizon
        if pruned:
            self.times = times = {k: t for k, t in times.items() if t >= horizon}
            self.first = oldest = min(times.values())
            self.last, self.stale = max(times.values()), False
        self.floor = oldest
        return pruned

    def settle(self) -> float:
        """``last``, recomputed first if it went stale."""
        if self.stale:
            self.last, self.stale = max(self.times.values()), False
        return self.last


def drop_idle(
    active: set[int],
    table: dict[int, Any],
    now: float,
    window: float,
    on_drop: Callable[[int, Any], None] | None = None,
) -> float:
    """Forget the ``active`` entries of ``table`` without a failure for ``window`` seconds.

    An active key whose entry has left ``table`` (evicted), or is not a
    :class:`FailureWindow`, leaves ``active``. ``on_drop(key, entry)`` hears of each
    entry dropped. Returns the lowest ``floor`` of the entries kept (inf if none).
    """
    floor = math.inf
    for key in list(active):
        entry = table.get(key)
        if not isinstance(entry, FailureWindow):
            active.discard(key)
            continue
        if now - entry.settle() > window:
            active.discard(key)
            del table[key]
            if on_drop is not None:
                on_drop(key, entry)
        else:
            floor = min(floor, entry.floor)
    return floor


def _quoted_ip(data: bytes) -> tuple[int, int, int, int] | None:
    """(proto, src, dst, dport) of the IPv4 header an ICMP error quotes, or None."""
    for start in (0, 4):
        if len(data) >= start + 24 and data[start] >> 4 == 4:
            ihl = (data[start] & 0x0F) * 4
            if ihl < 20 or len(data) < start + ihl + 4:
                continue
            proto = data[start + 9]
            src = int.from_bytes(data[start + 12 : start + 16], "big")
            dst = int.from_bytes(data[start + 16 : start + 20], "big")
            dport = int.from_bytes(data[start + ihl + 2 : start + ihl + 4], "big")
            return proto, src, dst, dport
    return None
