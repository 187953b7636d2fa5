"""pcapng blocks of one chunk to packet records, vectorised over the packet blocks.

Section header blocks (SHB) and interface description blocks (IDB) are few and
parsed one by one; enhanced, simple and (obsolete) packet blocks are located by
the compiled walk of :mod:`collectors.auditor.walk` and their fields read with
numpy gathers. Each interface keeps its link type, ``if_tsresol`` and
``if_tsoffset``; a section header resets the interfaces and may change the byte
order. Simple packet blocks carry no timestamp: their ``ts`` is 0.
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from collectors.auditor.walk import ChainFormat, length_view, walk_chain

I64 = npt.NDArray[np.int64]

SHB: Final = 0x0A0D0D0A
IDB: Final = 1
PB: Final = 2  # obsolete packet block
SPB: Final = 3
EPB: Final = 6
_BOM: Final = 0x1A2B3C4D
_MAX_BLOCK: Final = 1 << 24
_NO_INTERFACE: Final = 0xFFFF  # a link type nobody decodes: packets of unknown interfaces
BAD_BLOCK: Final = "bad_block"


@dataclass
class PcapngSection:
    """The state a pcapng file carries from block to block."""

    byteorder: str = "<"
    linktypes: list[int] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    per_second: list[int] = field(default_factory=list)  # time units in a second
    offsets: list[float] = field(default_factory=list)

    def add_interface(self, block: bytes) -> None:
        """Record an interface description block."""
        bo = self.byteorder
        linktype = struct.unpack_from(bo + "H", block, 8)[0]
        scale, per_second, offset = 1e-6, 10**6, 0.0
        pos = 16
        while pos + 4 <= len(block) - 4:
            code, length = struct.unpack_from(bo + "HH", block, pos)
            value = block[pos + 4 : pos + 4 + length]
            if code == 0:
                break
            if code == 9 and length >= 1:  # if_tsresol
                res = value[0]
                scale = 2.0 ** -(res & 0x7F) if res & 0x80 else 10.0 ** -(res & 0x7F)
                per_second = 2 ** (res & 0x7F) if res & 0x80 else 10 ** (res & 0x7F)
            elif code == 14 and length == 8:  # if_tsoffset
                offset = float(struct.unpack(bo + "q", value)[0])
            pos += 4 + (length + 3) // 4 * 4
        self.linktypes.append(linktype)
        self.scales.append(scale)
        self.per_second.append(min(per_second, 2**63))  # (beyond: every time is a fraction)
        self.offsets.append(offset)


@dataclass
class PcapngRecords:
    """Packets found in one chunk, and where the next chunk must start."""

    starts: I64
    caplens: I64
    wirelens: I64
    ts: npt.NDArray[np.float64]
    linktypes: I64
    stop: int  # offset of the first block not consumed
    need: int  # bytes wanted from ``stop`` on (when the block there is incomplete)
    incomplete: bool  # the block at ``stop`` does not fit in the chunk
    done: bool  # the file cannot be read further
    problems: Counter[str] = field(default_factory=Counter)


def _empty(stop: int, need: int, *, incomplete: bool, done: bool) -> PcapngRecords:
    z = np.zeros(0, np.int64)
    return PcapngRecords(z, z, z, z.astype(np.float64), z, stop, need, incomplete, done)


def _section_header(
    buf: npt.NDArray[np.uint8], n: int, section: PcapngSection
) -> PcapngRecords | int:
    """Parse the SHB at offset 0: its length, or what to return instead."""
    if n < 12:
        return _empty(0, 12, incomplete=True, done=False)
    for bo in "<>":
        if struct.unpack_from(bo + "I", buf.data, 8)[0] == _BOM:
            break
    else:
        out = _empty(0, 0, incomplete=False, done=True)
        out.problems[BAD_BLOCK] += 1
        return out
    blen = int(struct.unpack_from(bo + "I", buf.data, 4)[0])
    if blen < 28 or blen % 4 or blen > _MAX_BLOCK:
        out = _empty(0, 0, incomplete=False, done=True)
        out.problems[BAD_BLOCK] += 1
        return out
    if blen > n:
        return _empty(0, blen, incomplete=True, done=False)
    section.byteorder = bo
    section.linktypes.clear()
    section.scales.clear()
    section.offsets.clear()
    return blen


def pcapng_records(
    buf: npt.NDArray[np.uint8], n: int, section: PcapngSection, batch_size: int, *, final: bool
) -> PcapngRecords:
    """The packets of ``buf[:n]`` up to the next section header, a damaged block or the end.

    Args:
        buf: the chunk, starting at a block boundary, padded after ``n``.
        n: valid bytes in ``buf``.
        section: state carried from the previous chunk (updated).
        batch_size: unless ``final``, stop after a multiple of this many packets.
        final: no more bytes will follow ``buf[:n]``.
    """
    pos = 0
    if n >= 4 and struct.unpack_from("<I", buf.data, 0)[0] == SHB:
        shb = _section_header(buf, n, section)
        if isinstance(shb, PcapngRecords):
            return shb
        pos = shb
    fmt = ChainFormat(
        section.byteorder, len_at=4, add=0, header=8, max_len=_MAX_BLOCK, min_len=12, align=4
    )
    walk = walk_chain(buf, pos, n, fmt)
    u32 = length_view(buf, fmt)
    offs = walk.offsets
    types = u32[offs].astype(np.int64)
    stop = walk.stop
    cut = np.flatnonzero(types == SHB)
    if len(cut):
        stop = int(offs[cut[0]])
        offs, types = offs[: cut[0]], types[: cut[0]]
    is_pkt = (types == EPB) | (types == SPB) | (types == PB)
    n_pkt = int(is_pkt.sum())
    if not final and n_pkt > batch_size:
        keep = n_pkt // batch_size * batch_size
        first_left = int(np.flatnonzero(is_pkt)[keep]) if keep < n_pkt else len(offs)
        if first_left < len(offs):
            stop = int(offs[first_left])
            offs, types, is_pkt = offs[:first_left], types[:first_left], is_pkt[:first_left]
    for at in offs[types == IDB]:
        blen = int(u32[at + 4])
        section.add_interface(bytes(buf[at : at + blen]))
    out = _packets(buf, u32, offs[is_pkt], types[is_pkt], section=section, stop=stop)
    at_shb = len(cut) > 0 or (stop + 4 <= n and int(u32[stop]) == SHB)
    out.done = walk.bad and not at_shb and stop == walk.stop
    if out.done:
        out.problems[BAD_BLOCK] += 1
    out.incomplete = not out.done and not at_shb and stop < n and stop == walk.stop
    if out.incomplete:
        out.need = int(u32[stop + 4]) if stop + 8 <= n else 12
    return out


def _packets(
    arr: npt.NDArray[np.uint8],
    u32: npt.NDArray[np.uint32],
    offs: I64,
    types: I64,
    *,
    section: PcapngSection,
    stop: int,
) -> PcapngRecords:
    """Fields of the packet blocks at ``offs`` (EPB, SPB or PB), vectorised."""
    problems: Counter[str] = Counter()
    blen = u32[offs + 4].astype(np.int64)
    spb = types == SPB
    u16 = np.ndarray(
        (max(len(arr) - 1, 0),), dtype=section.byteorder + "u2", buffer=arr, strides=(1,)
    )
    iface = np.where(spb, 0, np.where(types == PB, u16[offs + 8], u32[offs + 8]).astype(np.int64))
    orig = np.where(spb, u32[offs + 8], u32[offs + 24]).astype(np.int64)
    room = blen - np.where(spb, 16, 32)
    cap = np.where(spb, np.minimum(orig, room), u32[offs + 20].astype(np.int64))
    over = (cap > room) | (room < 0)
    if over.any():
        problems[BAD_BLOCK] += int(over.sum())
        cap = np.clip(cap, 0, np.maximum(room, 0))
    units = (u32[offs + 12].astype(np.uint64) << np.uint64(32)) | u32[offs + 16].astype(np.uint64)
    known = iface < len(section.linktypes)
    slot = np.where(known, iface, len(section.linktypes))
    linktypes = np.array([*section.linktypes, _NO_INTERFACE], np.int64)[slot]
    scales = np.array([*section.scales, 1e-6])[slot]
    per_second = np.array([*section.per_second, 10**6], np.uint64)[slot]
    offsets = np.array([*section.offsets, 0.0])[slot]
    # seconds + fraction, as a pcap's time is made: the same float for the same instant
    # (units * scale rounds otherwise, and loses nanoseconds past 2**53 units)
    sec, frac = np.divmod(units, per_second)
    ts = np.where(spb, 0.0, sec.astype(np.float64) + frac.astype(np.float64) * scales + offsets)
    return PcapngRecords(
        offs + np.where(spb, 12, 28),
        cap,
        orig,
        ts,
        linktypes,
        stop,
        0,
        incomplete=False,
        done=False,
        problems=problems,
    )
