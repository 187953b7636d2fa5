"""Vector helpers and bounded containers shared by the detectors."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from ipaddress import IPv4Address
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import ETH_ARP, ETH_IPV4, Batch

K = TypeVar("K")
V = TypeVar("V")

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


def ipv4_mask(batch: Batch) -> BoolArray:
    """Packets with a cleanly decoded IPv4 header."""
    p = batch.packets
    mask: BoolArray = (p["error"] == 0) & (p["ip_version"] == 4) & (p["ethertype"] == ETH_IPV4)
    return mask


def arp_mask(batch: Batch) -> BoolArray:
    """Cleanly decoded ARP packets."""
    p = batch.packets
    mask: BoolArray = (p["error"] == 0) & (p["ethertype"] == ETH_ARP)
    return mask


def port_mask(ports: npt.NDArray[np.uint16], wanted: tuple[int, ...]) -> BoolArray:
    """``ports`` in ``wanted``."""
    mask: BoolArray = np.isin(ports, np.asarray(wanted, dtype=np.uint16))
    return mask


def ip_str(value: int) -> str:
    """``0x0a0b1e05`` -> ``10.11.30.5``."""
    return str(IPv4Address(int(value)))


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

    Vectorised: one fancy-index into the capture buffer, no per-packet Python.
    """
    out = np.zeros((len(idx), n), dtype=np.uint8)
    if len(idx) == 0:
        return out
    buf = np.frombuffer(batch.data, dtype=np.uint8)
    p = batch.packets[idx]
    start = batch.offsets[idx].astype(np.int64) + p["payload_off"].astype(np.int64)
    length = p["payload_len"].astype(np.int64)
    cols = np.arange(n, dtype=np.int64)
    pos = start[:, None] + cols[None, :]
    valid = (cols[None, :] < length[:, None]) & (pos < len(buf))
    out[valid] = buf[pos[valid]]
    return out


def prefix_in(prefixes: npt.NDArray[np.uint8], words: tuple[bytes, ...]) -> BoolArray:
    """Rows of ``prefixes`` that start with one of ``words`` (each at most the row width)."""
    mask = np.zeros(len(prefixes), dtype=np.bool_)
    for word in words:
        w = np.frombuffer(word, dtype=np.uint8)
        mask |= np.all(prefixes[:, : len(w)] == w, axis=1)
    return mask


class BoundedDict(OrderedDict[K, V], Generic[K, V]):
    """An insertion/recency-ordered dict that evicts its oldest entries past ``maxlen``.

    ``touch(key)`` moves a key to the young end; ``evicted`` counts evictions (a
    metric of memory pressure).
    """

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen
        self.evicted = 0

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self.maxlen:
            self.popitem(last=False)
            self.evicted += 1

    def touch(self, key: K) -> None:
        self.move_to_end(key)

    def oldest(self) -> Iterator[tuple[K, V]]:
        """Items from the oldest; stop iterating before mutating."""
        return iter(list(self.items()))


def fmt_ports(ports: list[int], limit: int = 20) -> list[int]:
    """A sorted sample of ports for evidence."""
    return sorted(ports)[:limit]
