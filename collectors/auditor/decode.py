"""The auditor's fast path: capture files and live frames to :class:`Batch` objects.

No scapy packet is built here and no Python loop runs per packet: a file is read
in chunks of a few megabytes, the record offsets of a chunk are found with a
compiled walk (:mod:`collectors.auditor.walk`), and every header field of a
whole batch is decoded at once (:mod:`collectors.auditor.headers`: a C kernel, or
numpy gathers without a compiler).
Memory stays bounded whatever the file size: one chunk and the batches a
consumer still holds.

Problems in a packet set its ``error`` field and are counted, never raised. A
damaged file (a record header that cannot be right, a file cut short) ends that
file's batches cleanly and is counted in :attr:`DecodeStats.file_errors`. Only a
file that is not a capture at all raises :class:`CaptureFormatError`.

A capture compressed with gzip, bzip2, xz, zstd or lz4 (``.pcap.gz`` and the like, as
public traces are often published, and as tshark reads them) is decompressed as it is read,
told by its first bytes, not its name; a compressed stream that is cut short or
damaged ends the file where it breaks, counted like a damaged capture.

A batch's ``data`` is a read-only view of the chunk it came from (8 MB), shared
with the other batches of that chunk: a consumer that keeps packets for long
should keep ``raw(i)``/``payload(i)`` copies, not batches.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from scapy.layers.inet import IP, TCP
    >>> from scapy.layers.l2 import Ether
    >>> from scapy.utils import wrpcap
    >>> path = Path(tempfile.mkdtemp()) / "one.pcap"
    >>> wrpcap(str(path), [Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=22)])
    >>> stats = DecodeStats()
    >>> batch = next(iter_batches(path, stats=stats))
    >>> int(batch.packets["dport"][0]), int(batch.packets["tcp_flags"][0]), stats.packets
    (22, 2, 1)
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import (
    LINKTYPE_ETHERNET_DEFAULT,
    LINKTYPE_MIXED,
    Batch,
    DecodeError,
)
from collectors.auditor.headers import PAD, decode_headers
from collectors.auditor.pcapng import (
    BAD_BLOCK,  # noqa: F401  (re-exported: the third file_errors kind, see below)
    PcapngSection,
    pcapng_records,
)
from collectors.auditor.walk import ChainFormat, WalkResult, length_view, walk_chain
from netwarden.errors import NetwardenError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

logger = logging.getLogger(__name__)

#: Bytes read from a file at a time (the unit of memory use).
CHUNK_BYTES: Final = 8 << 20
#: Bytes of a pcap chunk read and walked at a time (:func:`_read_records`): the L2 cache's half.
READ_STEP: Final = 1 << 20
#: Largest captured length accepted in a record header; beyond it the file is damaged.
MAX_CAPLEN: Final = 1 << 20
#: File-level problems counted in :attr:`DecodeStats.file_errors` (and pcapng's BAD_BLOCK).
TRUNCATED_FILE: Final = "truncated_file"
BAD_RECORD_HEADER: Final = "bad_record_header"
#: A compressed capture whose stream ends before its end marker, or holds bad data.
TRUNCATED_STREAM: Final = "truncated_compressed_file"
BAD_COMPRESSED_DATA: Final = "bad_compressed_data"

_DECOMPRESS_STEP: Final = 64 << 10
"""Bytes asked of a decompressor at a time (what a damaged stream's break can cost)."""
_COMPRESSED: Final = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"\x04\x22\x4d\x18": "lz4",
}
"""Compressions read as they are (the stream's first bytes, as tshark tells them)."""

_PCAP_MAGIC: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
_PCAP_HEADER: Final = 24


class CaptureFormatError(NetwardenError):
    """A file given as a capture is neither pcap nor pcapng."""


@dataclass
class DecodeStats:
    """What was decoded, and what could not be, across every batch produced.

    ``errors`` counts packets by :class:`DecodeError` name; ``file_errors`` counts
    damaged files by kind (``truncated_file``, ``bad_record_header``, ``bad_block``,
    and for a compressed file ``truncated_compressed_file``, ``bad_compressed_data``).
    ``kernel`` holds a live ring's ``PACKET_STATISTICS`` added up (``packets``,
    ``drops``, ``freezes``: :mod:`collectors.auditor.ring`); empty for other inputs.
    """

    files: int = 0
    packets: int = 0
    bytes: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    file_errors: Counter[str] = field(default_factory=Counter)
    kernel: Counter[str] = field(default_factory=Counter)

    def add(self, packets: npt.NDArray[np.void]) -> None:
        """Count one decoded batch."""
        self.packets += len(packets)
        self.bytes += int(packets["caplen"].sum(dtype=np.int64))
        codes = np.bincount(packets["error"], minlength=len(DecodeError))
        for code in np.flatnonzero(codes[1:]) + 1:
            name = DecodeError(int(code)).name if code < len(DecodeError) else str(code)
            self.errors[name] += int(codes[code])

    @property
    def decode_errors(self) -> int:
        """Packets whose headers could not be fully decoded."""
        return sum(self.errors.values())


class _Chunks:
    """Fresh, padded buffers of file bytes, each starting with the previous chunk's tail.

    A buffer is never reused: batches handed out keep referring to theirs.
    """

    def __init__(self, fh: io.BufferedReader, chunk_bytes: int) -> None:
        self.fh = fh
        self.chunk_bytes = chunk_bytes
        self.eof = False

    def next(self, carry: memoryview, need: int) -> tuple[npt.NDArray[np.uint8], int]:
        """A buffer holding ``carry`` then at least ``need`` more bytes (fewer at EOF)."""
        buf, n, size = self.new(carry, need)
        n = self.read(buf, n, size)
        self.pad(buf, n)
        return buf, n

    def new(self, carry: memoryview, need: int) -> tuple[npt.NDArray[np.uint8], int, int]:
        """A buffer for ``carry`` then at least ``need`` more bytes: (buffer, bytes in it,
        bytes it is for); :meth:`read` fills it, :meth:`pad` ends it."""
        size = len(carry) + max(self.chunk_bytes, need)
        buf = np.empty(size + PAD, np.uint8)  # no zero-fill: every byte is written
        buf[: len(carry)] = np.frombuffer(carry, np.uint8)
        return buf, len(carry), size

    def read(self, buf: npt.NDArray[np.uint8], n: int, upto: int) -> int:
        """Read into ``buf[n:upto]`` (less at EOF); the bytes in ``buf`` now."""
        view = buf.data
        while n < upto and not self.eof:
            got = self.fh.readinto(view[n:upto])
            if not got:
                self.eof = True
            n += got or 0
        return n

    @staticmethod
    def pad(buf: npt.NDArray[np.uint8], n: int) -> None:
        buf[n : n + PAD] = 0


def _batches(  # noqa: PLR0917 - one private call site, every argument named there
    buf: npt.NDArray[np.uint8],
    n: int,
    starts: npt.NDArray[np.int64],
    caplens: npt.NDArray[np.int64],
    wirelens: npt.NDArray[np.int64],
    ts: npt.NDArray[np.float64],
    linktypes: int | npt.NDArray[np.int64],
    source: str,
    first_index: int,
    batch_size: int,
    stats: DecodeStats,
) -> Iterator[Batch]:
    """Decode packets whose bytes are in ``buf`` and yield them in batches."""
    data = buf.data[:n].toreadonly()
    for lo in range(0, len(starts), batch_size):
        hi = min(lo + batch_size, len(starts))
        lts = linktypes if isinstance(linktypes, int) else linktypes[lo:hi]
        packets = decode_headers(buf, starts[lo:hi], caplens[lo:hi], lts)
        packets["ts"] = ts[lo:hi]
        packets["wirelen"] = wirelens[lo:hi]
        stats.add(packets)
        yield Batch(
            packets,
            data,
            starts[lo:hi].astype(np.uint64),
            source,
            first_index + lo,
            _one_linktype(lts),
        )


def _one_linktype(linktypes: int | npt.NDArray[np.int64]) -> int:
    """``Batch.linktype``: the link type of every packet, or ``LINKTYPE_MIXED``."""
    if isinstance(linktypes, int):
        return linktypes
    if len(linktypes) == 0:
        return LINKTYPE_ETHERNET_DEFAULT
    first = int(linktypes[0])
    return first if bool((linktypes == first).all()) else LINKTYPE_MIXED


def _read_records(
    chunks: _Chunks, carry: memoryview, need: int, fmt: ChainFormat
) -> tuple[npt.NDArray[np.uint8], int, WalkResult, npt.NDArray[np.uint32]]:
    """The next chunk of a pcap file, its records, and their header fields (one row per
    record: seconds, fraction, captured and wire length), walked and copied as it is
    read, :data:`READ_STEP` at a time.

    The same records as one walk of the whole chunk (a walk stops before a record that
    is not all there, and the next step goes on from it), but each step's record headers
    are read while the step is still in the CPU's cache: the chain is a dependent load
    per record, and a whole 8 MiB chunk has left the (2 MiB) L2 cache by the time a walk
    of it would start (measured: the walk of 1M records 3-4x quicker).
    """
    buf, n, size = chunks.new(carry, need)
    parts: list[npt.NDArray[np.int64]] = []
    heads: list[npt.NDArray[np.uint8]] = []
    pos = 0
    while True:
        n = chunks.read(buf, n, min(n + READ_STEP, size))
        res = walk_chain(buf, pos, n, fmt, head=16)  # < 16 bytes: no record, stop there
        parts.append(res.offsets)
        heads.append(cast("npt.NDArray[np.uint8]", res.heads))  # (asked for: not None)
        pos = res.stop
        if res.bad or n >= size or chunks.eof:
            break
    chunks.pad(buf, n)
    offsets = parts[0] if len(parts) == 1 else np.concatenate(parts)
    head = heads[0] if len(heads) == 1 else np.concatenate(heads)
    fields = head.view(fmt.byteorder + "u4").reshape(-1, 4)  # sec, frac, caplen, wirelen
    return buf, n, WalkResult(offsets, pos, res.bad), fields


def _iter_pcap(
    fh: io.BufferedReader, header: bytes, source: str, batch_size: int, stats: DecodeStats
) -> Iterator[Batch]:
    byteorder, scale = _PCAP_MAGIC[header[:4]]
    snaplen, linkfield = struct.unpack(byteorder + "II", header[16:24])
    linktype = linkfield & 0x0FFFFFFF
    max_caplen = max(snaplen, 262144) if snaplen <= MAX_CAPLEN else MAX_CAPLEN
    fmt = ChainFormat(byteorder, len_at=8, add=16, header=16, max_len=max_caplen)
    chunks = _Chunks(fh, CHUNK_BYTES)
    carry = memoryview(b"")
    need = 16
    index = 0
    while True:
        buf, n, res, fields = _read_records(chunks, carry, need, fmt)
        u32 = length_view(buf, fmt)
        offsets = res.offsets
        stop = res.stop
        if not chunks.eof and len(offsets) > batch_size:
            # keep batches full: the records after the last full batch go round again
            keep = len(offsets) // batch_size * batch_size
            stop = int(offsets[keep]) if keep < len(offsets) else stop
            offsets = offsets[:keep]
            fields = fields[:keep]
        tail: list[int] = []
        if res.bad and stop == res.stop:
            stats.file_errors[BAD_RECORD_HEADER] += 1
            logger.warning(
                "%s: damaged record header at byte %d of a chunk; file ends here", source, stop
            )
        elif chunks.eof and stop < n:
            stats.file_errors[TRUNCATED_FILE] += 1
            logger.warning("%s: file ends inside a packet record", source)
            if n - stop > 16:
                tail = [stop]
        sec = fields[:, 0].astype(np.float64)
        frac = fields[:, 1].astype(np.float64)
        cap = fields[:, 2].astype(np.int64)
        wire = fields[:, 3].astype(np.int64)
        if tail:  # the packet cut by the end of the file, as far as it goes
            t = np.array(tail, np.int64)
            offsets = np.concatenate([offsets, t])
            cap = np.concatenate([cap, [n - stop - 16]])
            sec = np.concatenate([sec, u32[t].astype(np.float64)])
            frac = np.concatenate([frac, u32[t + 4].astype(np.float64)])
            wire = np.concatenate([wire, u32[t + 12].astype(np.int64)])
        yield from _batches(
            buf,
            n,
            offsets + 16,
            cap,
            wire,
            sec + frac * scale,
            linktype,
            source,
            index,
            batch_size,
            stats,
        )
        index += len(offsets)
        if chunks.eof or (res.bad and stop == res.stop) or tail:
            return
        carry = buf.data[stop:n]
        need = 16 + int(u32[stop + 8]) if n - stop >= 16 else 16


def _iter_pcapng(
    fh: io.BufferedReader, header: bytes, source: str, batch_size: int, stats: DecodeStats
) -> Iterator[Batch]:
    chunks = _Chunks(fh, CHUNK_BYTES)
    carry = memoryview(header)
    need = 0
    index = 0
    section = PcapngSection()
    while True:
        buf, n = chunks.next(carry, need)
        recs = pcapng_records(buf, n, section, batch_size, final=chunks.eof)
        for kind in recs.problems:
            stats.file_errors[kind] += 1
            logger.warning("%s: %s", source, kind.replace("_", " "))
        yield from _batches(
            buf,
            n,
            recs.starts,
            recs.caplens,
            recs.wirelens,
            recs.ts,
            recs.linktypes,
            source,
            index,
            batch_size,
            stats,
        )
        index += len(recs.starts)
        if recs.done or (recs.stop >= n and chunks.eof):
            return
        if recs.incomplete and chunks.eof:
            stats.file_errors[TRUNCATED_FILE] += 1
            logger.warning("%s: file ends inside a block", source)
            return
        carry = buf.data[recs.stop : n]
        need = recs.need


class _Decompressed(io.RawIOBase):
    """The bytes of a compressed capture, decompressed as they are read.

    A stream cut short (``EOFError``) or damaged (``errors``, or an ``OSError`` with no
    errno: a bad header or checksum) reads as the end of the file there, what was read
    before being decoded, and is counted in ``stats.file_errors``; an I/O error of the
    file itself (an ``OSError`` with an errno) is raised as for any file.
    """

    def __init__(
        self,
        stream: io.BufferedIOBase | io.RawIOBase,
        errors: tuple[type[Exception], ...],
        source: str,
        stats: DecodeStats,
    ) -> None:
        super().__init__()
        self.stream = stream
        self.errors = errors
        self.source = source
        self.stats = stats
        self.broken = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self.broken:
            return 0
        try:  # a piece at a time: a break loses at most the piece it falls in
            return self.stream.readinto(memoryview(buffer)[:_DECOMPRESS_STEP])
        except EOFError:
            kind = TRUNCATED_STREAM
        except OSError as exc:
            if exc.errno is not None:
                raise
            kind = BAD_COMPRESSED_DATA
        except Exception as exc:
            if not isinstance(exc, self.errors):
                raise
            kind = BAD_COMPRESSED_DATA
        self.broken = True
        self.stats.file_errors[kind] += 1
        logger.warning("%s: %s", self.source, kind.replace("_", " "))
        return 0


def _compression(fh: io.BufferedReader) -> str | None:
    """The compression of the file ``fh`` reads (gzip, bzip2, xz, zstd, lz4), or None."""
    head = fh.peek(6)[:6]
    return next((k for m, k in _COMPRESSED.items() if head.startswith(m)), None)


def _open_capture(
    fh: io.BufferedReader, kind: str | None, path: Path, stats: DecodeStats
) -> io.BufferedReader:
    """``fh``, or a decompressing reader of it when the file is compressed (``kind``, of
    :func:`_compression`: the modules are imported only then, for the start-up's sake)."""
    if kind is None:
        return fh
    stream: io.BufferedIOBase | io.RawIOBase
    errors: tuple[type[Exception], ...]
    if kind == "gzip":
        try:  # ISA-L's inflate: ~4.5x zlib's speed on a capture (docs/decisions.md 125)
            from isal import igzip, isal_zlib  # noqa: PLC0415

            stream = igzip.GzipFile(fileobj=fh, mode="rb")  # type: ignore[no-untyped-call]
            errors = (cast("type[Exception]", isal_zlib.error),)  # (its stub says an instance)
        except ImportError:  # (a platform without its wheel: the standard library's)
            import gzip  # noqa: PLC0415
            import zlib  # noqa: PLC0415

            stream, errors = gzip.GzipFile(fileobj=fh, mode="rb"), (zlib.error,)
    elif kind == "bzip2":
        import bz2  # noqa: PLC0415

        stream, errors = bz2.BZ2File(fh), ()
    elif kind == "xz":
        import lzma  # noqa: PLC0415

        stream, errors = lzma.LZMAFile(fh), (lzma.LZMAError,)  # noqa: SIM115  (read until the with ends)
    elif kind == "zstd":
        import zstandard  # noqa: PLC0415

        # frames one after the other, as zstd -d reads a file; every read bounded (its
        # decompressobj has no bound: 1.5 KB of zstd can be 50 MB). It ends a file cut
        # inside a frame without a word: only the cut record is counted then.
        reader = zstandard.ZstdDecompressor().stream_reader(
            fh, read_across_frames=True, closefd=False
        )
        stream, errors = cast(io.RawIOBase, reader), (zstandard.ZstdError,)
    else:
        import lz4.frame  # noqa: PLC0415

        # (lz4 reports a bad block as RuntimeError)
        stream, errors = lz4.frame.LZ4FrameFile(fh), (RuntimeError,)
    return io.BufferedReader(_Decompressed(stream, errors, str(path), stats))


def iter_batches(
    path: Path, batch_size: int = 65536, stats: DecodeStats | None = None
) -> Iterator[Batch]:
    """Decode a pcap or pcapng file in batches of at most ``batch_size`` packets.

    Args:
        path: a pcap (either byte order, micro- or nanosecond) or pcapng file, plain or
            compressed (gzip, bzip2, xz, zstd, lz4), or ``-`` for standard input.
        batch_size: packets per batch (every batch but a chunk's last is full).
        stats: counters to add this file's packets and errors to.

    Raises:
        CaptureFormatError: the file is neither pcap nor pcapng (an empty or cut
            short file is not an error: it is counted and yields nothing).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    stats = stats if stats is not None else DecodeStats()
    source = str(path)
    stdin = source == "-"  # standard input (a pipe: read once, in order, not closed)
    opened = (
        contextlib.nullcontext(cast(io.BufferedReader, sys.stdin.buffer))
        if stdin
        else Path(path).open("rb")  # noqa: SIM115  (closed by the with below)
    )
    with opened as raw:
        compressed = _compression(raw)
        fh = _open_capture(raw, compressed, path, stats)
        header = fh.read(_PCAP_HEADER)
        stats.files += 1
        if header[:4] in _PCAP_MAGIC:
            if len(header) < _PCAP_HEADER:
                stats.file_errors[TRUNCATED_FILE] += 1
                return
            yield from _iter_pcap(fh, header, source, batch_size, stats)
        elif header[:4] == _PCAPNG_MAGIC:
            yield from _iter_pcapng(fh, header, source, batch_size, stats)
        elif len(header) < 4:
            if header:
                stats.file_errors[TRUNCATED_FILE] += 1
        else:
            what = f"{compressed}-compressed, and then starts" if compressed else "starts"
            raise CaptureFormatError(
                f"{path}: not a pcap or pcapng file ({what} with {header[:4].hex()}, "
                "expected a pcap magic number or a pcapng section header)"
            )


def decode_frames(
    frames: Sequence[bytes],
    timestamps: Sequence[float] | npt.NDArray[np.float64],
    linktype: int,
    *,
    source: str = "live",
    first_index: int = 0,
    wirelens: Sequence[int] | None = None,
) -> Batch:
    """Decode frames captured live (one link type) into one batch.

    Examples:
        >>> from scapy.layers.l2 import ARP, Ether
        >>> batch = decode_frames([bytes(Ether() / ARP(pdst="10.0.0.9"))], [1.5], 1)
        >>> int(batch.packets["arp_op"][0]), float(batch.packets["ts"][0])
        (1, 1.5)
    """
    lens = np.fromiter((len(f) for f in frames), np.int64, len(frames))
    starts = np.zeros(len(frames), np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    total = int(lens.sum())
    buf = bytearray(total + PAD)
    buf[:total] = b"".join(frames)
    arr = np.frombuffer(buf, np.uint8)
    packets = decode_headers(arr, starts, lens, linktype)  # no frames: an empty array
    packets["ts"] = np.asarray(timestamps, np.float64)
    packets["wirelen"] = lens if wirelens is None else np.asarray(wirelens, np.int64)
    return Batch(
        packets,
        memoryview(buf)[:total].toreadonly(),
        starts.astype(np.uint64),
        source,
        first_index,
        linktype,
    )
