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

import ctypes
import math
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from collectors.auditor import native
from collectors.auditor.batch import TCP_ACK, TCP_RST, TCP_SYN, Batch
from collectors.auditor.detectors._util import (
    MIX_A,
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
    # the same failures as numpy columns (pair = scanner << 32 | victim, port, ts) when
    # they came from the compiled table in one piece (a listener in C takes them as is)
    arrays: (
        tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint16], npt.NDArray[np.float64]] | None
    ) = None

    def __len__(self) -> int:
        return len(self.key)

    def add(self, key: int, proto: int, ts: float, how: str) -> None:
        self.arrays = None
        self.key.append(key)
        self.proto.append(proto)
        self.ts.append(ts)
        self.how.append(how)

    def extend(self, keys: list[int], proto: int, times: list[float], how: str) -> None:
        """Failures of one protocol and outcome, in order."""
        self.arrays = None
        self.key += keys
        self.proto += [proto] * len(keys)
        self.ts += times
        self.how += [how] * len(keys)

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


class PyPending:
    """The pending attempts in Python, when there is no compiled code (``NETWARDEN_NO_NATIVE``).

    An ordered dict of attempt keys (int) to SYN times, oldest first. A batch's SYNs
    join it by dict operations on the whole batch; only the answers whose (scanner,
    victim) pair may have a pending SYN (a table of flags by hash of the pending pairs,
    read with numpy, selects them) reach the dict.
    """

    def __init__(self) -> None:
        self.d: OrderedDict[int, float] = OrderedDict()
        # the (scanner, victim) pairs of pending attempts, by hash: answers worth a dict lookup
        self._pairs = HashFlags()

    def __len__(self) -> int:
        return len(self.d)

    def items(self) -> list[tuple[int, float]]:
        return list(self.d.items())

    def syns(
        self,
        scanner: npt.NDArray[np.uint32],
        victim: npt.NDArray[np.uint32],
        port: npt.NDArray[np.uint16],
        ts: npt.NDArray[np.float64],
        *,
        max_pending: int,
        failures: Failures,
    ) -> None:
        """The first SYN of a key starts the attempt; repeats (retransmissions) do not."""
        pending = self.d
        keys = _keys(scanner, victim, port)
        times = ts.tolist()
        if self._pairs.stale(len(pending), factor=4, slack=65_536):  # only a cost: rebuilt
            self._pairs.rebuild(_pair_hash(np.array([k >> 16 for k in pending], np.uint64)))
        self._pairs.mark(_pair_hash(_pair(scanner, victim)))
        # Each key's first SYN of the batch, in order, with its time (dict operations in C:
        # fromkeys keeps the first position, the reversed pairs leave the first time) ...
        fresh: dict[int, float] = dict.fromkeys(keys, 0.0)
        fresh.update(zip(reversed(keys), reversed(times), strict=True))
        if not pending.keys().isdisjoint(fresh):  # ... less the keys already pending
            for k in fresh.keys() & pending.keys():
                del fresh[k]
        if len(pending) + len(fresh) <= max_pending:
            pending.update(fresh)  # what the loop below does when nothing overflows
            return
        for k, t in zip(keys, times, strict=True):
            if k not in pending:
                if len(pending) >= max_pending:
                    old, old_ts = pending.popitem(last=False)
                    failures.add(old, 6, old_ts, "unanswered")
                pending[k] = t

    def answered(
        self,
        scanner: npt.NDArray[np.uint32],
        victim: npt.NDArray[np.uint32],
        port: npt.NDArray[np.uint16],
    ) -> None:
        """SYN-ACKs: their attempts leave, not as failures."""
        sel = self._pairs.holds(_pair_hash(_pair(scanner, victim)))
        pop = self.d.pop
        for k in _keys(scanner[sel], victim[sel], port[sel]):
            pop(k, None)

    def rejected(
        self,
        scanner: npt.NDArray[np.uint32],
        victim: npt.NDArray[np.uint32],
        port: npt.NDArray[np.uint16],
        ts: npt.NDArray[np.float64],
        failures: Failures,
    ) -> None:
        """RSTs: their attempts leave as ``rejected`` failures."""
        sel = self._pairs.holds(_pair_hash(_pair(scanner, victim)))
        pending = self.d
        keys = _keys(scanner[sel], victim[sel], port[sel])
        for k, t in zip(keys, ts[sel].tolist(), strict=True):
            if k in pending:
                del pending[k]
                failures.add(k, 6, t, "rejected")

    def take(self, keys: list[int]) -> list[bool]:
        """Each key leaves if pending (in order); whether it was."""
        pending = self.d
        return [pending.pop(k, None) is not None for k in keys]

    def expire(self, now: float, timeout: float) -> tuple[list[int], list[float]]:
        """The oldest attempts while their SYN time + ``timeout`` <= ``now``, taken out."""
        pending = self.d
        n = 0
        for ts in pending.values():  # oldest first
            if ts + timeout > now:
                break
            n += 1
        if n == 0:
            return [], []
        keys = list(islice(pending, n))
        times = list(islice(pending.values(), n))
        if n == len(pending):
            pending.clear()
        else:
            for k in keys:
                del pending[k]
        return keys, times


class NativePending:
    """:class:`PyPending` in compiled code (``native.c``, ``nw_pend_*``): the same results.

    A hash table and a ring of the attempts in arrival order, probed per SYN and per
    answer in C: no Python int or dictionary operation per packet.
    """

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        handle = lib.nw_pend_new()
        if not handle:
            raise MemoryError("no memory for the pending connection attempts")
        self._h = handle
        self._free = weakref.finalize(self, lib.nw_pend_free, handle)
        # the columns of what the last expire returned (pair, port, time)
        self.expired: tuple[_U64, _U16, _F64] = self._out(0)

    def __len__(self) -> int:
        n: int = self._lib.nw_pend_len(self._h)
        return n

    def _out(self, n: int) -> tuple[_U64, _U16, _F64]:
        return np.empty(n, np.uint64), np.empty(n, np.uint16), np.empty(n, np.float64)

    def items(self) -> list[tuple[int, float]]:
        pair, port, ts = self._out(len(self))
        n = self._lib.nw_pend_items(self._h, pair.ctypes.data, port.ctypes.data, ts.ctypes.data)
        return list(zip(_joined(pair[:n], port[:n]), ts[:n].tolist(), strict=True))

    def syns(
        self,
        scanner: npt.NDArray[np.uint32],
        victim: npt.NDArray[np.uint32],
        port: npt.NDArray[np.uint16],
        ts: npt.NDArray[np.float64],
        *,
        max_pending: int,
        failures: Failures,
    ) -> None:
        pair = _pair(scanner, victim)
        port = np.ascontiguousarray(port, np.uint16)
        ts = np.ascontiguousarray(ts, np.float64)
        o_pair, o_port, o_ts = self._out(len(pair))
        oom = ctypes.c_int32()
        n = self._lib.nw_pend_syns(
            self._h,
            pair.ctypes.data,
            port.ctypes.data,
            ts.ctypes.data,
            len(pair),
            max_pending,
            o_pair.ctypes.data,
            o_port.ctypes.data,
            o_ts.ctypes.data,
            ctypes.byref(oom),
        )
        if n:
            failures.extend(_joined(o_pair[:n], o_port[:n]), 6, o_ts[:n].tolist(), "unanswered")
        if oom.value:  # (the attempts that left before it are in ``failures``: told)
            raise MemoryError("no memory for the pending connection attempts")

    def _answer(
        self, pair: npt.NDArray[np.uint64], port: npt.NDArray[np.uint16]
    ) -> npt.NDArray[np.bool_]:
        port = np.ascontiguousarray(port, np.uint16)
        hit = np.empty(len(pair), np.bool_)
        self._lib.nw_pend_answer(
            self._h, pair.ctypes.data, port.ctypes.data, len(pair), hit.ctypes.data
        )
        return hit

    def answered(
        self,
        scanner: npt.NDArray[np.uint32],
        victim: npt.NDArray[np.uint32],
        port: npt.NDArray[np.uint16],
    ) -> None:
        if len(scanner):
            self._answer(_pair(scanner, victim), port)

    def rejected(
        self,
        scanner: npt.NDArray[np.uint32],
        victim: npt.NDArray[np.uint32],
        port: npt.NDArray[np.uint16],
        ts: npt.NDArray[np.float64],
        failures: Failures,
    ) -> None:
        if not len(scanner):
            return
        pair = _pair(scanner, victim)
        hit = self._answer(pair, port)
        if hit.any():
            failures.extend(_joined(pair[hit], port[hit]), 6, ts[hit].tolist(), "rejected")

    def take(self, keys: list[int]) -> list[bool]:
        pair = np.array([k >> 16 for k in keys], np.uint64)
        port = np.array([k & 0xFFFF for k in keys], np.uint16)
        hit: list[bool] = self._answer(pair, port).tolist()
        return hit

    def expire(self, now: float, timeout: float) -> tuple[list[int], list[float]]:
        pair, port, ts = self._out(len(self))
        n = self._lib.nw_pend_expire(
            self._h, now, timeout, pair.ctypes.data, port.ctypes.data, ts.ctypes.data, len(pair)
        )
        self.expired = (pair[:n], port[:n], ts[:n])
        return _joined(pair[:n], port[:n]), ts[:n].tolist()


_U64 = npt.NDArray[np.uint64]
_U16 = npt.NDArray[np.uint16]
_F64 = npt.NDArray[np.float64]


def _joined(pair: npt.NDArray[np.uint64], port: npt.NDArray[np.uint16]) -> list[int]:
    """Attempt keys (``pair << 16 | port``) of whole columns, as Python ints."""
    return [p << 16 | q for p, q in zip(pair.tolist(), port.tolist(), strict=True)]


@dataclass
class AttemptTracker:
    """The pending attempts of a run and the failures they become (module docstring).

    ``native``: None uses the compiled table when the kernels load (:class:`NativePending`),
    else :class:`PyPending`; True or False asks for one of them (the tests compare both).
    """

    answer_timeout: float = 5.0
    max_pending: int = 200_000
    listeners: list[FailedListener] = field(default_factory=list)
    native: bool | None = None
    _store: PyPending | NativePending = field(init=False, repr=False)
    _last_batch: Batch | None = None

    def __post_init__(self) -> None:
        lib = native.library() if self.native is not False else None
        if self.native and lib is None:
            raise RuntimeError("the compiled kernels are not available")
        self._store = NativePending(lib) if lib is not None else PyPending()

    @property
    def pending(self) -> dict[int, float]:
        """attempt_key -> SYN time, oldest first (a copy: for inspection and tests)."""
        return dict(self._store.items())

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
        failures = Failures()
        try:
            self._observe(batch, failures)
        finally:  # (out of memory: what had already failed is not lost)
            self._tell(failures)

    def _observe(self, batch: Batch, failures: Failures) -> None:
        v = view(batch)
        store = self._store
        idx = np.flatnonzero(v.syn)
        if len(idx):
            store.syns(
                v.src4[idx],
                v.dst4[idx],
                v.dport[idx],
                v.ts[idx],
                max_pending=self.max_pending,
                failures=failures,
            )
        if len(store):
            # SYN-ACKs answer, RSTs reject (the victim is the source, the scanner the destination)
            tcp, flags = v.tcp, v.flags
            idx = np.flatnonzero(tcp & ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK)))
            store.answered(v.dst4[idx], v.src4[idx], v.sport[idx])
            idx = np.flatnonzero(tcp & ((flags & TCP_RST) != 0))
            store.rejected(v.dst4[idx], v.src4[idx], v.sport[idx], v.ts[idx], failures)
        unreach = np.flatnonzero(v.icmp & (batch.packets["icmp_type"] == ICMP_UNREACHABLE))
        if len(unreach):
            self._unreachable(batch, unreach, failures)

    def _unreachable(self, batch: Batch, idx: npt.NDArray[np.int64], failures: Failures) -> None:
        """ICMP unreachables quoting a pending TCP SYN, or any UDP datagram."""
        quoted: list[tuple[int, int, float]] = []  # (proto, key, ts)
        for data, ts in zip(
            payload_slices(batch, idx), batch.packets["ts"][idx].tolist(), strict=True
        ):
            q = _quoted_ip(data)
            if q is not None and q[0] in (6, 17):
                proto, osrc, odst, dport = q
                quoted.append((proto, attempt_key(osrc, odst, dport), ts))
        tcp = [k for proto, k, _ in quoted if proto == 6]
        was = iter(self._store.take(tcp) if tcp else [])
        for proto, k, ts in quoted:
            if proto == 17:
                failures.add(k, 17, ts, "unreachable")
            elif next(was):
                failures.add(k, 6, ts, "unreachable")

    def expire(self, now: float) -> None:
        """Finalise SYNs unanswered for ``answer_timeout`` (all of them when ``now`` is inf)."""
        if not len(self._store):
            return
        store = self._store
        keys, times = store.expire(now, self.answer_timeout)
        if keys:
            n = len(keys)
            arrays = store.expired if isinstance(store, NativePending) else None
            self._tell(Failures(keys, [6] * n, times, ["unanswered"] * n, arrays))


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
            # (empty only when a capped window refused the failure that pruned it)
            self.first = oldest = min(times.values(), default=math.inf)
            self.last, self.stale = max(times.values(), default=-math.inf), False
        self.floor = oldest
        return pruned

    def settle(self) -> float:
        """``last``, recomputed first if it went stale."""
        if self.stale:
            self.last, self.stale = max(self.times.values()), False
        return self.last


def drop_idle(
    active: set[int] | dict[int, None],
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
    forget = active.discard if isinstance(active, set) else lambda k: active.pop(k, None)
    for key in list(active):
        entry = table.get(key)
        if not isinstance(entry, FailureWindow):
            forget(key)
            continue
        if now - entry.settle() > window:
            forget(key)
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
