"""Find the record offsets of a capture file chunk: a compiled walk of the chain.

A pcap file is a chain: each record header gives the length of its record, so
the offset of record ``i + 1`` depends on record ``i``. Nothing vectorises that
well: a Python loop over the headers runs at 2-4 million records/s, and numpy
lanes walked in lockstep with speculative starts (this module's first version,
docs/decisions.md 21) at about 5 million. :func:`walk_chain` is the loop of
:func:`walk_scalar` in C (``nw_walk`` in ``native.c``): about 1 ms for an 8 MB
chunk of 19k records, so the walk is no longer a visible share of decoding.
Without a C compiler it is :func:`walk_scalar` itself.

The same walker serves pcapng, whose blocks carry their own total length.
"""

from __future__ import annotations

import ctypes
import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from collectors.auditor import native

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class ChainFormat:
    """How records chain in one file format.

    ``next = pos + add + length`` where ``length`` is the unsigned 32-bit field at
    ``pos + len_at`` in ``byteorder``; a record is *acceptable* (part of a readable
    file) when ``min_len <= length <= max_len`` and ``length % align == 0``.
    """

    byteorder: str  # "<" or ">"
    len_at: int
    add: int
    header: int  # bytes of header needed to read the length
    max_len: int
    min_len: int = 0
    align: int = 1

    def __post_init__(self) -> None:
        # What nw_walk relies on: it reads no byte it did not bound-check, divides by
        # align, and moves forward at every record (so its output array is large enough).
        if self.len_at < 0 or self.header < self.len_at + 4:
            raise ValueError("the length field must lie inside the header")
        if self.align < 1 or self.add < 0 or self.min_len < 0 or self.add + self.min_len < 1:
            raise ValueError("records must have a positive size and an alignment of at least 1")


@dataclass
class WalkResult:
    """Record offsets found in ``buf[start:end]``.

    ``stop`` is the offset of the first record not returned: either incomplete
    (more data is needed) or, when ``bad`` is true, with an unacceptable header.
    """

    offsets: I64
    stop: int
    bad: bool
    heads: U8 | None = None
    """With ``walk_chain(..., head=k)``: the first ``k`` bytes of each record, one row each."""


def walk_scalar(
    buf: bytes | bytearray | memoryview | U8,
    start: int,
    end: int,
    fmt: ChainFormat,
    max_records: int | None = None,
) -> WalkResult:
    """Reference walk: one Python step per record (the specification :func:`walk_chain` meets)."""
    unpack = struct.Struct(fmt.byteorder + "I").unpack_from
    if isinstance(buf, np.ndarray):
        buf = buf.data
    offsets: list[int] = []
    pos = start
    bad = False
    limit = -1 if max_records is None else max_records
    while pos + fmt.header <= end and len(offsets) != limit:
        length = unpack(buf, pos + fmt.len_at)[0]
        if not (fmt.min_len <= length <= fmt.max_len) or length % fmt.align:
            bad = True
            break
        nxt = pos + fmt.add + length
        if nxt > end:
            break
        offsets.append(pos)
        pos = nxt
    return WalkResult(np.array(offsets, np.int64), pos, bad)


def length_view(buf: U8, fmt: ChainFormat) -> npt.NDArray[np.uint32]:
    """The 32-bit field in ``fmt.byteorder`` at every byte offset of ``buf`` (a strided view)."""
    return np.ndarray((max(len(buf) - 3, 0),), dtype=fmt.byteorder + "u4", buffer=buf, strides=(1,))


def walk_chain(buf: U8, start: int, end: int, fmt: ChainFormat, head: int = 0) -> WalkResult:
    """Walk records in ``buf[start:end]``: the offsets, stop and ``bad`` of :func:`walk_scalar`.

    Args:
        buf: the chunk (a ``uint8`` array holding at least ``end`` bytes).
        start: offset of a known record start.
        end: offset after the last valid byte.
        fmt: the chain format.
        head: also return the first ``head`` bytes of each record (``heads``, at most
            ``fmt.header``): copied by the walk, which has them in cache.
    """
    if not 0 <= start <= end <= len(buf):  # the compiled loop does not check its reads
        raise ValueError(f"bad range {start}:{end} of a {len(buf)}-byte buffer")
    if not 0 <= head <= fmt.header:
        raise ValueError(f"head {head} is outside the record header ({fmt.header} bytes)")
    lib = native.library()
    if lib is None:
        res = walk_scalar(buf, start, end, fmt)
        if head:
            res.heads = np.asarray(buf, np.uint8)[res.offsets[:, None] + np.arange(head)]
        return res
    buf = np.ascontiguousarray(buf, np.uint8)
    out = np.empty((end - start) // max(fmt.add + fmt.min_len, 1) + 1, np.int64)
    heads = np.empty((len(out), head), np.uint8)
    stop, bad = ctypes.c_int64(), ctypes.c_int32()
    n = lib.nw_walk(
        buf.ctypes.data,
        start,
        end,
        fmt.byteorder == ">",
        fmt.len_at,
        fmt.add,
        fmt.header,
        fmt.min_len,
        fmt.max_len,
        fmt.align,
        out.ctypes.data,
        len(out),
        ctypes.byref(stop),
        ctypes.byref(bad),
        heads.ctypes.data,
        head,
    )
    return WalkResult(
        out[:n].copy(), stop.value, bool(bad.value), heads[:n].copy() if head else None
    )
