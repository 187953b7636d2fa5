"""Vector helpers and bounded containers shared by the detectors."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from ipaddress import IPv4Address
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import Batch, Columns

K = TypeVar("K")
V = TypeVar("V")

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


BatchView = Columns
"""The per-batch columns every detector shares (:class:`~collectors.auditor.batch.Columns`)."""


def view(batch: Batch) -> BatchView:
    """The shared columns of ``batch`` (:meth:`Batch.columns <collectors.auditor.batch.Batch.columns>`)."""
    return batch.columns()


def port_mask(ports: npt.NDArray[np.uint16], wanted: tuple[int, ...]) -> BoolArray:
    """``ports`` in ``wanted``."""
    if len(wanted) > 8:
        many: BoolArray = np.isin(ports, np.asarray(wanted, dtype=np.uint16))
        return many
    mask: BoolArray = np.zeros(ports.shape, dtype=np.bool_)
    for port in wanted:  # a few comparisons beat isin's sort for a handful of ports
        mask |= ports == port
    return mask


@lru_cache(maxsize=65_536)
def ip_str(value: int) -> str:
    """``0x0a0b1e05`` -> ``10.11.30.5`` (as ``str(IPv4Address(value))``; memoised: reports
    format the same few addresses over and over).

    Examples:
        >>> ip_str(0x0A0B1E05), ip_str(0), ip_str(0xFFFFFFFF)
        ('10.11.30.5', '0.0.0.0', '255.255.255.255')
    """
    v = int(value)
    if not 0 <= v <= 0xFFFFFFFF:
        return str(IPv4Address(v))  # raises AddressValueError quoting the value
    return f"{v >> 24}.{v >> 16 & 255}.{v >> 8 & 255}.{v & 255}"


def mac_str(value: int) -> str:
    """48-bit integer -> ``aa:bb:cc:dd:ee:ff``."""
    v = int(value)
    return ":".join(f"{(v >> s) & 0xFF:02x}" for s in range(40, -8, -8))


def mac_int(text: str) -> int:
    """``aa:bb:cc:dd:ee:ff`` (or ``aabb.ccdd.eeff``) -> 48-bit integer."""
    digits = "".join(c for c in text.lower() if c in "0123456789abcdef")
    if len(digits) != 12:
        raise ValueError(f"{text!r} is not a MAC address")
    return int(digits, 16)


def payload_prefix(batch: Batch, idx: IntArray, n: int) -> npt.NDArray[np.uint8]:
    """The first ``n`` payload bytes of packets ``idx`` as a (len(idx), n) array, zero-padded.

    Vectorised: one gather of ``n``-byte windows of the capture buffer, no per-packet Python.
    """
    out = np.zeros((len(idx), n), dtype=np.uint8)
    if len(idx) == 0 or n == 0:
        return out
    buf = np.frombuffer(batch.data, dtype=np.uint8)
    start = payload_starts(batch, idx)
    length = view(batch).payload_len[idx].astype(np.int64)
    cols = np.arange(n, dtype=np.int64)
    inside = start <= len(buf) - n  # the whole window lies in the buffer (all but the last few)
    if len(buf) >= n and inside.any():
        windows = np.lib.stride_tricks.sliding_window_view(buf, n)
        rows = np.flatnonzero(inside)
        got = windows[start[rows]]
        got[cols[None, :] >= length[rows, None]] = 0
        out[rows] = got
    if not inside.all():
        rest = np.flatnonzero(~inside)
        pos = start[rest, None] + cols[None, :]
        valid = (cols[None, :] < length[rest, None]) & (pos < len(buf))
        part = np.zeros((len(rest), n), dtype=np.uint8)
        part[valid] = buf[pos[valid]]
        out[rest] = part
    return out


def gather(batch: Batch, idx: IntArray) -> dict[str, npt.NDArray[Any]]:
    """Packets ``idx`` as the fields most detectors read, each a contiguous array, keyed as
    ``Batch.packets``' fields (``ts src4 dst4 proto sport dport tcp_flags payload_len``).

    What ``batch.packets[idx]`` gives for those fields, from the batch's columns: a
    gather of each column rather than a copy of every whole 117-byte record.
    """
    v = view(batch)
    return {
        "ts": v.ts[idx],
        "src4": v.src4[idx],
        "dst4": v.dst4[idx],
        "proto": v.proto[idx],
        "sport": v.sport[idx],
        "dport": v.dport[idx],
        "tcp_flags": v.flags[idx],
        "payload_len": v.payload_len[idx],
    }


def payload_starts(batch: Batch, idx: IntArray) -> IntArray:
    """Offsets in ``batch.data`` of the payloads of packets ``idx``."""
    start: IntArray = view(batch).payload_at[idx]
    return start


def payload_slices(batch: Batch, idx: IntArray) -> list[bytes]:
    """The captured payloads of packets ``idx`` (one ``bytes`` each, no per-packet numpy indexing)."""
    data = batch.data
    start = payload_starts(batch, idx)
    end = start + view(batch).payload_len[idx]
    return [bytes(data[a:b]) for a, b in zip(start.tolist(), end.tolist(), strict=True)]


def prefix_in(prefixes: npt.NDArray[np.uint8], words: tuple[bytes, ...]) -> BoolArray:
    """Rows of ``prefixes`` that start with one of ``words`` (each at most the row width)."""
    mask = np.zeros(len(prefixes), dtype=np.bool_)
    width = prefixes.shape[1] if prefixes.ndim == 2 else 0
    if len(prefixes) and width and all(len(w) <= 8 for w in words):
        # each row's first 8 bytes as one little-endian integer: a word is a masked compare
        head = np.zeros((len(prefixes), 8), dtype=np.uint8)
        head[:, : min(width, 8)] = prefixes[:, :8]
        key = head.view("<u8")[:, 0]
        for word in words:
            if len(word) > width:
                continue
            bits = np.uint64((1 << (8 * len(word))) - 1) if len(word) < 8 else np.uint64(2**64 - 1)
            mask |= (key & bits) == np.uint64(int.from_bytes(word, "little"))
        return mask
    for word in words:
        if len(word) > width:
            continue
        w = np.frombuffer(word, dtype=np.uint8)
        mask |= np.all(prefixes[:, : len(w)] == w, axis=1)
    return mask


class BoundedDict(OrderedDict[K, V], Generic[K, V]):
    """An insertion/recency-ordered dict that evicts its oldest entries past ``maxlen``.

    ``touch(key)`` moves a key to the young end; ``on_evict(key, value)``, if given,
    hears of each eviction (a detector that holds unreported state reports it there).
    """

    def __init__(self, maxlen: int, on_evict: Callable[[K, V], None] | None = None) -> None:
        super().__init__()
        self.maxlen = maxlen
        self.on_evict = on_evict

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if len(self) > self.maxlen:
            self.trim()

    def touch(self, key: K) -> None:
        self.move_to_end(key)

    def trim(self) -> None:
        """Evict the oldest entries past ``maxlen`` (after bulk inserts with ``OrderedDict.__setitem__``,
        which hot loops use to skip the per-insert bound check)."""
        while len(self) > self.maxlen:
            key, value = self.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(key, value)


def sorted_unique(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.unique(values)`` of a 1-D integer array: one sort and a comparison of neighbours
    (floats would keep every NaN, which ``np.unique`` merges into one).

    numpy 2's ``np.unique`` goes through a hash table before it sorts (3-4x slower on
    the auditor's uint64 keys, measured) and imports ``numpy.ma`` on its first call.

    Examples:
        >>> sorted_unique(np.array([5, 1, 5, 3], np.uint64)).tolist(), len(sorted_unique(np.empty(0)))
        ([1, 3, 5], 0)
    """
    out = np.sort(values)
    if len(out) < 2:
        return out
    new = np.empty(len(out), dtype=np.bool_)
    new[0] = True
    np.not_equal(out[1:], out[:-1], out=new[1:])
    unique: npt.NDArray[Any] = out[new]
    return unique


MIX_A = np.uint64(0x9E3779B97F4A7C15)
"""Odd 64-bit multipliers for multiplicative hashes of packed keys (the golden ratio's, and
murmur3's ``C2B2AE3D27D4EB4F``); multiplication wraps modulo 2**64, the top bits mix best."""
MIX_B = np.uint64(0xC2B2AE3D27D4EB4F)

HASH_FLAG_BITS = 20
"""A :class:`HashFlags` holds 2**20 flags (one MiB)."""


class HashFlags:
    """Flags indexed by the top bits of 64-bit hashes: which keys *may* be in a set.

    A pre-selection: a key marked is always found, another key only when it shares the
    flag (a collision), so whatever is selected must still be tested exactly. Flags
    are never cleared one by one; :meth:`rebuild` starts again from the live keys,
    when :meth:`stale` says the flags marked since outnumber them.
    """

    def __init__(self) -> None:
        self.flags: BoolArray = np.zeros(1 << HASH_FLAG_BITS, dtype=np.bool_)
        self.marked = 0  # keys marked since the last rebuild (an upper bound of the flags)

    @staticmethod
    def _slots(hashes: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
        out: npt.NDArray[np.uint64] = hashes >> np.uint64(64 - HASH_FLAG_BITS)
        return out

    def mark(self, hashes: npt.NDArray[np.uint64]) -> None:
        self.flags[self._slots(hashes)] = True
        self.marked += len(hashes)

    def holds(self, hashes: npt.NDArray[np.uint64]) -> BoolArray:
        """Whether each hash may be marked (True for every one that is)."""
        found: BoolArray = self.flags[self._slots(hashes)]
        return found

    def stale(self, live: int, *, factor: int, slack: int) -> bool:
        """Whether more than ``factor * live + slack`` keys were marked since the rebuild."""
        return self.marked > factor * live + slack

    def rebuild(self, live: npt.NDArray[np.uint64]) -> None:
        """Clear every flag, then mark the hashes of the live keys."""
        self.flags[:] = False
        self.marked = 0
        self.mark(live)


def sorted_in(values: npt.NDArray[Any], table: npt.NDArray[Any]) -> BoolArray:
    """``np.isin(values, table)`` for a *sorted* ``table`` (binary search, no sort of ``values``)."""
    if len(table) == 0:
        return np.zeros(values.shape, dtype=np.bool_)
    pos = table.searchsorted(values)
    np.minimum(pos, len(table) - 1, out=pos)
    found: BoolArray = table[pos] == values
    return found


def group_rows(
    k0: npt.NDArray[np.uint64], k1: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Group rows by the key pair ``(k0, k1)``: ``(first, inverse, groups)``.

    What ``np.unique(np.stack([k0, k1], 1), axis=0, return_index=True,
    return_inverse=True)`` returns (groups in key order, ``first`` the lowest row of
    each), with one stable ``lexsort`` instead of a sort of structured rows.

    Examples:
        >>> first, inv, n = group_rows(np.array([5, 1, 5], np.uint64), np.array([0, 2, 0], np.uint64))
        >>> first.tolist(), inv.tolist(), n
        ([1, 0], [1, 0, 1], 2)
    """
    if len(k0) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), 0
    order = np.lexsort((k1, k0))
    s0, s1 = k0[order], k1[order]
    new = np.empty(len(order), dtype=np.bool_)
    new[0] = True
    np.not_equal(s0[1:], s0[:-1], out=new[1:])
    new[1:] |= s1[1:] != s1[:-1]
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    first: npt.NDArray[np.int64] = order[new]
    return first, inverse, int(new.sum())
