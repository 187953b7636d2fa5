"""IPv4 reassembly of the datagrams whose first fragment cuts the transport header.

A first fragment too small for the TCP or UDP header (RFC 1858's *tiny fragment*:
``nmap -f`` splits a probe's 20-byte TCP header over three 8-byte fragments) leaves
the decoder without ports or flags: the packet counts as a ``truncated_l4`` decode
error and every detector skips it, so a fragmented scan went unseen. No stack
fragments that small on its own (the smallest IPv4 MTU, 68 bytes, leaves a first
fragment 48 bytes of data), which is why an IDS reassembles before it inspects
(Snort's frag3, Suricata's defrag, Zeek).

:class:`Defragmenter` keeps the fragments of such datagrams only, keyed as RFC 791
says (source, destination, protocol, identification), and hands back each whole
datagram as one frame: the first fragment's link-layer header, its IP header with
the fragment fields cleared and the length set, the data in order. The engine runs
the detectors on those frames after the batch that completed them (a batch of its
own, not counted as captured packets). Datagrams whose first fragment holds the
transport header are not kept: the detectors already read it.

Fragments may come in any order (``fragroute`` reverses them): a later fragment
waits for its first. Bounds: a datagram is forgotten ``timeout`` seconds (packet
time) after its first fragment to arrive (Linux's ``ipfrag_time``, 30 s), at most
``max_datagrams`` are pending (the oldest forgotten first) and a datagram over 65,535
bytes is dropped; the fragments held are at most ``max_bytes`` (8 MiB). Overlapping
fragments keep the bytes that came first (what BSD and Windows do; an evader counting
on the other order is still reassembled into something, and counted as
``overlapping``). Counted in ``counts``: ``reassembled``, ``expired``, ``overlapping``,
``oversized``, ``too_fragmented`` (over :data:`MAX_PIECES` fragments: dropped).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import ETH_IPV4, LINKTYPE_MIXED, Batch, DecodeError
from collectors.auditor.decode import decode_frames

MAX_DATAGRAM = 65_535
MAX_PIECES = 256
"""Fragments of one datagram kept at most (8-byte fragments of a 1500-byte packet: 188;
the check of each new fragment against the kept ones stays cheap)."""
REASSEMBLY_OUTCOMES = ("reassembled", "overlapping", "expired", "oversized", "too_fragmented")
"""What ``Defragmenter.counts`` counts (``netwarden_auditor_reassembly_total{outcome}``)."""
_MF = 0x2000
_OFFSET = 0x1FFF


@dataclass(slots=True)
class _Datagram:
    first_ts: float
    head: bytes = b""  # link-layer header and IP header of the first fragment
    ihl: int = 0
    total: int = -1  # data length, known once the last fragment (MF clear) is seen
    pieces: dict[int, bytes] = field(default_factory=dict)  # data offset -> bytes
    overlap: bool = False


def _ip_start(data: memoryview | bytes, start: int, l4: int) -> int | None:
    """Where the IPv4 header ends at ``l4`` begins: the IHL byte there must say so."""
    for ihl in range(20, 64, 4):
        at = l4 - ihl
        if at >= start and data[at] == 0x40 | ihl // 4:
            return at
    return None


def cut_transport(p: npt.NDArray[np.void]) -> npt.NDArray[np.bool_]:
    """IPv4 TCP/UDP packets whose transport header was cut short: where tiny first
    fragments are (:func:`first_fragment` tells them from packets the capture cut)."""
    mask: npt.NDArray[np.bool_] = (
        (p["error"] == DecodeError.TRUNCATED_L4)
        & (p["ethertype"] == ETH_IPV4)
        & (p["ip_version"] == 4)
        & ((p["proto"] == 6) | (p["proto"] == 17))
    )
    return mask


def first_fragment(batch: Batch, i: int) -> tuple[int, int] | None:
    """(source, destination) of packet ``i`` if it is an IPv4 first fragment (offset 0,
    More Fragments set), else None. For packets whose transport header was cut."""
    start = int(batch.offsets[i])
    data = batch.data
    ip = _ip_start(data, start, start + int(batch.packets["payload_off"][i]))
    if ip is None or int.from_bytes(data[ip + 6 : ip + 8], "big") & (_MF | _OFFSET) != _MF:
        return None
    return int.from_bytes(data[ip + 12 : ip + 16], "big"), int.from_bytes(
        data[ip + 16 : ip + 20], "big"
    )


@dataclass
class Defragmenter:
    timeout: float = 30.0
    max_datagrams: int = 10_000
    max_bytes: int = 8 << 20
    pending: OrderedDict[tuple[int, int, int, int], _Datagram] = field(default_factory=OrderedDict)
    counts: Counter[str] = field(default_factory=Counter)
    held: int = 0  # bytes of the pending fragments

    def feed(self, batch: Batch) -> Batch | None:
        """Take this batch's fragments; the datagrams they complete as a batch, or None."""
        if batch.linktype == LINKTYPE_MIXED or len(batch) == 0:
            return None
        p = batch.packets
        v4 = (p["ethertype"] == ETH_IPV4) & (p["ip_version"] == 4)
        l4 = (p["proto"] == 6) | (p["proto"] == 17)
        tiny = cut_transport(p)
        # later fragments: no transport header decoded (ports 0), possibly before the first
        later = v4 & l4 & (p["error"] == 0) & (p["sport"] == 0) & (p["dport"] == 0)
        rows = np.flatnonzero(tiny | later)
        done: list[tuple[bytes, float]] = []
        if len(rows):
            data, offsets = batch.data, batch.offsets
            for i in rows.tolist():
                row = p[i]
                start = int(offsets[i])
                l4_at = start + int(row["payload_off"])
                ip = _ip_start(data, start, l4_at)
                if ip is None:
                    continue
                end = min(
                    start + int(row["caplen"]), ip + int.from_bytes(data[ip + 2 : ip + 4], "big")
                )
                frame = self._fragment(data, start, ip, l4_at, end=end, ts=float(row["ts"]))
                if frame is not None:
                    done.append(frame)
        self._expire(float(p["ts"].max()))
        if not done:
            return None
        return decode_frames(
            [f for f, _ in done],
            [t for _, t in done],
            batch.linktype,
            source=f"{batch.source} (reassembled)",
        )

    def _fragment(
        self, data: memoryview | bytes, start: int, ip: int, l4: int, *, end: int, ts: float
    ) -> tuple[bytes, float] | None:
        word = int.from_bytes(data[ip + 6 : ip + 8], "big")
        offset, more = (word & _OFFSET) * 8, bool(word & _MF)
        if offset == 0 and not more:
            return None  # not a fragment (a truncated packet, or ports 0)
        key = (
            int.from_bytes(data[ip + 12 : ip + 16], "big"),
            int.from_bytes(data[ip + 16 : ip + 20], "big"),
            data[ip + 9],
            int.from_bytes(data[ip + 4 : ip + 6], "big"),
        )
        dg = self.pending.get(key)
        if dg is None:
            # (a later fragment may come first: kept until its first fragment says whether
            # the datagram needs reassembling; one whose first fragment was whole expires)
            dg = self.pending[key] = _Datagram(ts)
        if offset == 0:
            dg.head, dg.ihl = bytes(data[start:l4]), l4 - ip
        if not more:
            dg.total = offset + (end - l4)
        piece = bytes(data[l4:end])
        if len(dg.pieces) >= MAX_PIECES and offset not in dg.pieces:
            self._drop(key, done=True)
            self.counts["too_fragmented"] += 1
            return None
        for at, old in dg.pieces.items():  # the bytes that came first stay
            if at < offset + len(piece) and offset < at + len(old) and old != piece:
                dg.overlap = True  # (a fragment sent twice is not an overlap)
        if offset not in dg.pieces:
            dg.pieces[offset] = piece
            self.held += len(piece)
        while len(self.pending) > self.max_datagrams or self.held > self.max_bytes:
            self._drop(next(iter(self.pending)))  # the oldest first
        if key not in self.pending:
            return None
        return self._whole(key, dg, ts)

    def _drop(self, key: tuple[int, int, int, int], *, done: bool = False) -> None:
        dg = self.pending.pop(key)
        self.held -= sum(len(b) for b in dg.pieces.values())
        if not done and dg.head:  # (not: later fragments of a datagram whose first was whole)
            self.counts["expired"] += 1

    def _whole(
        self, key: tuple[int, int, int, int], dg: _Datagram, ts: float
    ) -> tuple[bytes, float] | None:
        if dg.total < 0 or not dg.head:
            return None
        if dg.ihl + dg.total > MAX_DATAGRAM:
            self._drop(key, done=True)
            self.counts["oversized"] += 1
            return None
        body = bytearray(dg.total)
        covered = np.zeros(dg.total, np.bool_)
        for at, piece in reversed(dg.pieces.items()):  # the first to arrive is written last
            cut = piece[: max(0, dg.total - at)]
            body[at : at + len(cut)] = cut
            covered[at : at + len(cut)] = True
        if not covered.all():
            return None  # a hole: wait for the rest
        self._drop(key, done=True)
        self.counts["reassembled"] += 1
        if dg.overlap:
            self.counts["overlapping"] += 1
        head = bytearray(dg.head)
        ip = len(head) - dg.ihl
        head[ip + 2 : ip + 4] = (dg.ihl + dg.total).to_bytes(2, "big")
        flags = int.from_bytes(head[ip + 6 : ip + 8], "big") & 0x4000  # DF kept; MF, offset 0
        head[ip + 6 : ip + 8] = flags.to_bytes(2, "big")
        return bytes(head) + bytes(body), ts

    def _expire(self, now: float) -> None:
        pending = self.pending
        while pending:
            key, dg = next(iter(pending.items()))
            if now - dg.first_ts <= self.timeout:
                break
            self._drop(key)
