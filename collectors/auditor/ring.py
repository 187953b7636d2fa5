"""Live capture through Linux's ``AF_PACKET`` ``TPACKET_V3`` receive ring.

The kernel writes frames into a ring of blocks shared with the process (``mmap``);
a block is handed to user space when full or after ``retire_ms``. :class:`RingSource`
polls the socket, and ``nw_tp3_take`` (``native.c``) walks every ready block, copies
the frames out and gives the blocks back to the kernel in one call: no system call
and no Python per packet; the copy lets a block go back before decoding, so the
ring is free for the kernel while the detectors work. The copies are decoded like a
capture file's bytes (:func:`collectors.auditor.headers.decode_headers`).

- **Filter**: the ``--bpf`` expression (tcpdump syntax) is compiled by libpcap's
  ``pcap_compile`` through scapy's ctypes binding (what the scapy path used, so an
  expression means the same) and attached with ``SO_ATTACH_FILTER`` *before* the
  socket is bound to the interface: no unfiltered frame enters the ring.
- **Kernel counters**: ``PACKET_STATISTICS`` (``tpacket_stats_v3``: packets, drops,
  freezes) is read at most every ``stats_seconds`` and when the source stops; the
  kernel resets it at each read, so the source adds them up in
  ``DecodeStats.kernel`` (exported as ``netwarden_auditor_kernel_*_total``).
  ``drops`` are frames the kernel had no room for in the ring: the auditor fell
  behind (or the ring is too small).
- **Fanout**: with ``fanout=(group, mode)`` the socket joins a ``PACKET_FANOUT``
  group; every worker process of ``netwarden auditor --workers N`` opens its own ring
  in the same group and the kernel spreads the frames (see :mod:`collectors.auditor.fanout`).

Needs Linux, ``CAP_NET_RAW`` and the compiled kernels; :func:`ring_available` says
whether it can work, and ``netwarden auditor --interface`` falls back to the scapy
:class:`~collectors.auditor.capture.LiveSource` otherwise.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Final

import numpy as np

from collectors.auditor import native
from collectors.auditor.batch import IDLE_TICK_SECONDS, PACKET_DTYPE, Batch
from collectors.auditor.decode import DecodeStats
from collectors.auditor.headers import LINKTYPE_ETHERNET, PAD, decode_headers

logger = logging.getLogger(__name__)

# linux/if_packet.h, linux/if_ether.h, asm-generic/socket.h
SOL_PACKET: Final = 263
PACKET_RX_RING: Final = 5
PACKET_STATISTICS: Final = 6
PACKET_VERSION: Final = 10
PACKET_FANOUT: Final = 18
TPACKET_V3: Final = 2
ETH_P_ALL: Final = 0x0003
PACKET_FANOUT_HASH: Final = 0
PACKET_FANOUT_CBPF: Final = 6
PACKET_FANOUT_DATA: Final = 22
_TPACKET3_HDRLEN: Final = 48
"""``sizeof(struct tpacket3_hdr)``: each frame in a block takes at least this much."""

#: ``DecodeStats.kernel`` keys.
KERNEL_PACKETS: Final = "packets"
KERNEL_DROPS: Final = "drops"
KERNEL_FREEZES: Final = "freezes"


def ring_available() -> bool:
    """Whether a ring can be opened here: Linux packet sockets, the privilege, the kernels."""
    if native.library() is None or not hasattr(socket, "AF_PACKET"):
        return False
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except OSError:
        return False
    with sock:
        try:
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        except OSError:
            return False
    return True


class RingSource:
    """Frames of a live interface through a ``TPACKET_V3`` ring, decoded in batches.

    Args:
        interface: the interface to capture on.
        bpf_filter: a kernel BPF filter in tcpdump syntax.
        block_size: bytes per ring block (a multiple of the page size).
        block_nr: blocks in the ring (memory: ``block_size * block_nr``, locked by the kernel).
        frame_size: the ring's nominal frame size (V3 packs frames of any length).
        retire_ms: a block holding at least one frame is handed over after this long.
        max_blocks: blocks taken per batch at most.
        flush_seconds: how long a poll waits for a block before checking ``stop()``.
        stats_seconds: how often the kernel counters are read.
        fanout: ``(group id, PACKET_FANOUT mode and flags)`` to share the frames with the
            other sockets of the group, or None.
        snaplen: bytes kept of each frame (the rest is counted in ``wirelen`` only).
    """

    def __init__(
        self,
        interface: str,
        bpf_filter: str | None = None,
        *,
        block_size: int = 1 << 20,
        block_nr: int = 64,
        frame_size: int = 2048,
        retire_ms: int = 100,
        max_blocks: int = 8,
        flush_seconds: float = 0.2,
        stats_seconds: float = 1.0,
        fanout: tuple[int, int] | None = None,
        stats: DecodeStats | None = None,
    ) -> None:
        lib = native.library()
        if lib is None:
            raise OSError("the TPACKET_V3 ring needs the compiled kernels (native.c)")
        self._lib = lib
        self.interface = interface
        self.bpf_filter = bpf_filter
        self.block_size = block_size
        self.block_nr = block_nr
        self.max_blocks = max(1, min(max_blocks, block_nr))
        self.flush_seconds = flush_seconds
        self.stats_seconds = stats_seconds
        self.stats = stats if stats is not None else DecodeStats()
        self.linktype = LINKTYPE_ETHERNET
        self._stop = threading.Event()
        self._index = 0
        self._block = 0
        self._stats_at = 0.0
        self._sock = self._open(frame_size, retire_ms, fanout)
        try:
            self._ring = mmap.mmap(
                self._sock.fileno(),
                block_size * block_nr,
                mmap.MAP_SHARED,
                mmap.PROT_READ | mmap.PROT_WRITE,
            )
        except OSError:
            self._sock.close()
            raise
        self._ring_view: ctypes.c_char | None = ctypes.c_char.from_buffer(self._ring)
        self._ring_addr = ctypes.addressof(self._ring_view)
        self._closed = False

    def _open(
        self, frame_size: int, retire_ms: int, fanout: tuple[int, int] | None
    ) -> socket.socket:
        """The packet socket: filter, ring and fanout set up before it is bound (no frame
        enters the ring unfiltered, and none arrives before the ring exists)."""
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: nothing yet
        try:
            if self.bpf_filter:
                _attach_filter(sock, self.bpf_filter, self.interface)
            sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
            req = struct.pack(
                "7I",
                self.block_size,
                self.block_nr,
                frame_size,
                self.block_size // frame_size * self.block_nr,
                retire_ms,
                0,  # sizeof_priv
                0,  # feature_req_word
            )
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, req)
            sock.bind((self.interface, ETH_P_ALL))
            if fanout is not None:  # after bind: the group is per interface and protocol
                group, mode = fanout
                sock.setsockopt(SOL_PACKET, PACKET_FANOUT, (group & 0xFFFF) | (mode << 16))
                if mode & 0xFF == PACKET_FANOUT_CBPF:  # the group's program (same in each)
                    _set_program(sock, PACKET_FANOUT_DATA, HOST_PAIR_PROGRAM)
        except BaseException:
            sock.close()
            raise
        return sock

    def fileno(self) -> int:
        """The packet socket (for e.g. a fanout program to be attached to it)."""
        return self._sock.fileno()

    def stop(self) -> None:
        """End iteration (from any thread) once the blocks ready now are handed out (at
        most one ring's worth: a flood that never pauses does not keep it going)."""
        self._stop.set()

    def __iter__(self) -> Iterator[Batch]:
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN | select.POLLERR)
        # Once stopped, what the ring holds is still handed out, but no more than one
        # ring's worth of takes: under a flood that never pauses, iteration still ends.
        last_takes = -(-self.block_nr // self.max_blocks) + 1
        heard = time.monotonic()  # the last packet, or the last idle tick
        try:
            while True:
                stopping = self._stop.is_set()
                batch = self._take()
                self._read_kernel_stats()
                if stopping:
                    last_takes -= 1
                    if batch is not None:
                        yield batch
                    if batch is None or last_takes <= 0:
                        return
                    continue
                if batch is not None:
                    heard = time.monotonic()
                    yield batch
                    continue
                if time.monotonic() - heard >= IDLE_TICK_SECONDS:
                    heard = time.monotonic()
                    yield self._idle()
                poller.poll(int(self.flush_seconds * 1000))
        finally:
            self.close()

    def _idle(self) -> Batch:
        """No packet for a while: an empty batch carrying the capture clock (the kernel
        stamps frames with the real-time clock, so packet time and this one agree)."""
        return Batch(
            np.empty(0, PACKET_DTYPE),
            b"",
            np.empty(0, np.uint64),
            self.interface,
            self._index,
            clock=time.time(),
        )

    def _take(self) -> Batch | None:
        """The frames of every ready block (up to ``max_blocks``), as one batch."""
        cap = self.max_blocks * self.block_size
        max_pkts = cap // _TPACKET3_HDRLEN + 1
        buf = np.empty(cap + PAD, np.uint8)
        starts = np.empty(max_pkts, np.int64)
        caplens = np.empty(max_pkts, np.int64)
        wirelens = np.empty(max_pkts, np.int64)
        stamps = np.empty(max_pkts, np.float64)
        next_block = ctypes.c_int64(0)
        used = ctypes.c_int64(0)
        n = int(
            self._lib.nw_tp3_take(
                self._ring_addr,
                self.block_size,
                self.block_nr,
                self._block,
                self.max_blocks,
                buf.ctypes.data,
                cap,
                starts.ctypes.data,
                caplens.ctypes.data,
                wirelens.ctypes.data,
                stamps.ctypes.data,
                max_pkts,
                ctypes.byref(next_block),
                ctypes.byref(used),
            )
        )
        taken = next_block.value != self._block
        self._block = next_block.value
        if n == 0:
            return None if not taken else self._take()  # empty blocks (timer retired): next
        end = used.value
        buf[end : end + PAD] = 0
        packets = decode_headers(buf, starts[:n], caplens[:n], self.linktype)
        packets["ts"] = stamps[:n]
        packets["wirelen"] = wirelens[:n]
        self.stats.add(packets)
        batch = Batch(
            packets,
            buf.data[:end].toreadonly(),
            starts[:n].astype(np.uint64),
            self.interface,
            self._index,
        )
        self._index += n
        return batch

    def _read_kernel_stats(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._stats_at < self.stats_seconds:
            return
        self._stats_at = now
        try:
            raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)
        except OSError as exc:
            logger.debug("PACKET_STATISTICS on %s: %s", self.interface, exc)
            return
        packets, drops, freezes = struct.unpack("3I", raw)
        kernel = self.stats.kernel
        kernel[KERNEL_PACKETS] += packets  # (the kernel counts dropped frames in it too)
        kernel[KERNEL_DROPS] += drops
        kernel[KERNEL_FREEZES] += freezes

    def close(self) -> None:
        """Read the last kernel counters and release the ring and the socket (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._read_kernel_stats(force=True)
        self._ring_addr = 0
        self._ring_view = None  # the only export of the mapping: it can be unmapped now
        self._ring.close()
        self._sock.close()


_SKF_AD_PROTOCOL: Final = 0xFFFFF000  # SKF_AD_OFF + SKF_AD_PROTOCOL: skb->protocol
_NET: Final = 0xFFF00000  # SKF_NET_OFF: loads relative to the network header
HOST_PAIR_PROGRAM: Final = (
    # (code, jt, jf, k): classic BPF, linux/filter.h
    (0x20, 0, 0, _SKF_AD_PROTOCOL),  # 0  A = ethertype (the inner one for a stripped VLAN tag)
    (0x15, 1, 0, 0x0800),  # 1  IPv4 -> 3
    (0x15, 4, 15, 0x86DD),  # 2  IPv6 -> 7, else -> 18
    (0x20, 0, 0, _NET + 12),  # 3  A = IPv4 source
    (0x07, 0, 0, 0),  # 4  X = A
    (0x20, 0, 0, _NET + 16),  # 5  A = IPv4 destination
    (0x05, 0, 0, 3),  # 6  -> 10
    (0x20, 0, 0, _NET + 20),  # 7  A = last 32 bits of the IPv6 source
    (0x07, 0, 0, 0),  # 8  X = A
    (0x20, 0, 0, _NET + 36),  # 9  A = last 32 bits of the IPv6 destination
    (0xAC, 0, 0, 0),  # 10 A ^= X: the same both ways
    (0x07, 0, 0, 0),  # 11 X = A
    (0x74, 0, 0, 16),  # 12 A >>= 16
    (0xAC, 0, 0, 0),  # 13 A ^= X (fold the high half in: hosts of one subnet differ low)
    (0x07, 0, 0, 0),  # 14 X = A
    (0x74, 0, 0, 8),  # 15 A >>= 8
    (0xAC, 0, 0, 0),  # 16 A ^= X
    (0x16, 0, 0, 0),  # 17 return A (the kernel takes it modulo the number of sockets)
    (0x06, 0, 0, 0),  # 18 not IP (ARP ...): the first socket
)
"""The fanout program of ``--workers``: the worker of a frame is a hash of its two IP
addresses, the same in both directions, so every flow between two hosts (and a port
scan of one host by another, whatever its ports) reaches one worker
(docs/decisions.md, live capture). A load past a short frame's end returns 0."""


def _set_program(
    sock: socket.socket, option: int, program: tuple[tuple[int, int, int, int], ...]
) -> None:
    """``setsockopt(SOL_PACKET, option, struct sock_fprog)`` with a classic BPF program."""
    insns = b"".join(struct.pack("HBBI", *insn) for insn in program)
    buf = ctypes.create_string_buffer(insns, len(insns))
    fprog = struct.pack("HL", len(program), ctypes.addressof(buf))  # (len, padding, pointer)
    sock.setsockopt(SOL_PACKET, option, fprog)


def _attach_filter(sock: socket.socket, expression: str, interface: str) -> None:
    """Compile ``expression`` with libpcap (through scapy) and attach it to ``sock``.

    Raises:
        ValueError: the expression does not compile.
    """
    from scapy.arch.linux import attach_filter  # noqa: PLC0415 - libpcap, only with --bpf
    from scapy.error import Scapy_Exception  # noqa: PLC0415

    try:
        attach_filter(sock, expression, interface)
    except (Scapy_Exception, ImportError) as exc:
        raise ValueError(f"BPF filter {expression!r}: {exc}") from exc
