"""A bounded, ordered, restartable store of outgoing messages: the auditor's spool for HQ.

While HQ's log server cannot be reached (the WAN is down, the server restarts, TLS
is refused), the messages the sensor would have sent wait here and are replayed in
order when it is back. Two kinds behind one interface (:class:`Spool`):

* :class:`DiskSpool`, a directory of segment files (``--spool DIR``): survives a
  restart of the sensor (the next run replays it first);
* :class:`MemorySpool`, the same thing in memory (no ``--spool``): survives an
  outage, not a restart.

Both are bounded in bytes. When a new message does not fit, the **oldest** messages
are dropped (a disk spool drops its oldest segment, a whole file) and counted in
``dropped`` by reason (``spool_full``; ``too_large`` for one message bigger than the
whole bound; ``corrupt`` for a damaged record found when a disk spool is reopened):
the newest alerts matter most, and a lost one is never silent
(``netwarden_auditor_events_dropped_total``).

The reading side is a cursor: :meth:`Spool.next` hands out the next message not yet
handed out, :meth:`Spool.commit` says that the first ``count`` handed out (default:
all) were delivered (they are then forgotten), :meth:`Spool.rewind` that the others
were not (they are handed out again). A
message is forgotten only once committed, so delivery is at-least-once.

**Disk format.** Segment files ``<20-digit sequence>.seg`` of records
``>II(length, crc32) + bytes``; the name order is the message order. A ``position``
file holds the committed cursor (``<segment> <offset>``), replaced atomically
(written aside, renamed). A ``lock`` file is ``flock``-ed so two auditors cannot
share a spool.

**When it reaches the disk (fsync policy).** A message is written (``write(2)``) as
it is spooled, so a crash of the auditor loses nothing that was spooled. ``fsync``
is not per message (an alert burst would wait on the disk): the sender thread calls
:meth:`DiskSpool.sync` about once a second, which fsyncs what was written since and
every segment closed since, and :meth:`close` fsyncs everything and writes the
position. A power loss or kernel crash can therefore lose about the last second of
spooled messages, as with rsyslog's disk-assisted queues without
``queue.syncQueueFiles`` and Fluent Bit's ``storage.sync normal``. A damaged record
left by such a crash (a torn tail) is found by its CRC when the spool is reopened;
the segment is cut there and the loss counted (``corrupt``). The position file is
written at most once a second and at close: after a crash it may be behind, and a
few delivered messages are sent again (at-least-once, never lost by it).
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import time
import zlib
from collections import Counter, deque
from pathlib import Path
from typing import Protocol

from netwarden.errors import NetwardenError

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")
DEFAULT_SPOOL_BYTES = 100 * 1024 * 1024
"""The default bound of a spool (``--spool-max-bytes``)."""

_POSITION_EVERY = 1.0
"""Seconds between two writes of a disk spool's position file (and at close)."""


class SpoolError(NetwardenError):
    """A spool directory that cannot be used (not writable, already in use)."""


class Spool(Protocol):
    """A bounded FIFO of messages with a delivery cursor (see the module docstring)."""

    dropped: Counter[str]

    def append(self, message: bytes) -> None: ...

    def next(self) -> bytes | None: ...

    def commit(self, count: int | None = None) -> None: ...

    def rewind(self) -> None: ...

    def pending(self) -> int: ...

    def size_bytes(self) -> int: ...

    def sync(self) -> None: ...

    def close(self) -> None: ...


class MemorySpool:
    """A spool in memory: bounded in bytes, oldest dropped first; lost at exit."""

    def __init__(self, max_bytes: int = DEFAULT_SPOOL_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self.dropped: Counter[str] = Counter()
        self._items: deque[bytes] = deque()
        self._bytes = 0
        self._handed = 0  # messages handed out by next(), not committed yet

    def append(self, message: bytes) -> None:
        size = len(message) + _HEADER.size
        if size > self.max_bytes:
            self.dropped["too_large"] += 1
            return
        while self._bytes + size > self.max_bytes:
            old = self._items.popleft()
            self._bytes -= len(old) + _HEADER.size
            self._handed = max(0, self._handed - 1)
            self.dropped["spool_full"] += 1
        self._items.append(message)
        self._bytes += size

    def next(self) -> bytes | None:
        if self._handed >= len(self._items):
            return None
        self._handed += 1
        return self._items[self._handed - 1]

    def commit(self, count: int | None = None) -> None:
        n = self._handed if count is None else min(count, self._handed)
        for _ in range(n):
            self._bytes -= len(self._items.popleft()) + _HEADER.size
        self._handed -= n

    def rewind(self) -> None:
        self._handed = 0

    def pending(self) -> int:
        return len(self._items)

    def size_bytes(self) -> int:
        return self._bytes

    def sync(self) -> None:
        return None

    def close(self) -> None:
        return None


def _segment_name(seq: int) -> str:
    return f"{seq:020d}.seg"


class DiskSpool:
    """A spool in a directory of segment files (see the module docstring for the format).

    ``segment_bytes`` is the size at which a segment is closed and the next begun
    (default: an eighth of ``max_bytes``, between 64 KiB and 8 MiB); the bound is
    enforced a segment at a time, so the smaller the segments, the fewer messages a
    full spool drops at once. Not thread-safe: its owner serialises calls (the TCP
    syslog sink holds its lock), and :meth:`sync` is the one call made for the disk's
    sake, meant to run outside that lock (:meth:`sync_fds` then :func:`fsync_all`).
    """

    def __init__(
        self,
        directory: Path,
        max_bytes: int = DEFAULT_SPOOL_BYTES,
        segment_bytes: int | None = None,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or min(max(max_bytes // 8, 64 * 1024), 8 * 1024 * 1024)
        self.segment_bytes = min(self.segment_bytes, max_bytes)
        self.dropped: Counter[str] = Counter()
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"spool {directory}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            raise SpoolError(
                f"spool {directory}: in use by another process (only one auditor per spool)"
            ) from exc
        self._sizes: dict[int, int] = {}  # segment -> bytes, in sequence order
        self._counts: dict[int, int] = {}  # segment -> records not committed
        self._wfd: int | None = None  # the last segment, open for appending
        self._wseq = 0
        self._unsynced: list[int] = []  # closed segments' descriptors not fsynced yet
        self._dirty = False
        self._commit: tuple[int, int] | None = None  # first record not delivered
        self._read: tuple[int, int] | None = None  # next record to hand out
        self._rfd: tuple[int, int] | None = None  # (segment, fd) open for reading
        self._handed: list[tuple[int, int]] = []  # (segment, end offset) handed out
        self._position_written = -_POSITION_EVERY
        self._position_dirty = False
        self._open_existing()

    # ---- opening --------------------------------------------------------------------

    def _open_existing(self) -> None:
        """Index the segments left by an earlier run, cutting damaged tails."""
        start_seq, start_off = self._read_position()
        for path in sorted(self.directory.glob("*.seg")):
            try:
                seq = int(path.stem)
            except ValueError:
                continue
            if seq < start_seq:
                path.unlink(missing_ok=True)  # fully delivered in the earlier run
                continue
            offset = start_off if seq == start_seq else 0
            good, records, damaged = self._scan(path, offset)
            if damaged:
                self.dropped["corrupt"] += 1
                logger.warning("spool %s: damaged record at byte %d; cut there", path, good)
                with path.open("r+b") as fh:
                    fh.truncate(good)
            self._sizes[seq] = good
            self._counts[seq] = records
            if self._commit is None and records:
                self._commit = (seq, min(offset, good))
        self._wseq = max(self._sizes, default=start_seq)
        if self.pending() == 0:
            for seq in list(self._sizes):
                self._delete(seq)
            self._wseq += 1
        else:
            for seq in [s for s in self._sizes if self._commit and s < self._commit[0]]:
                self._delete(seq)
        self._read = self._commit
        self._position_dirty = True

    def _read_position(self) -> tuple[int, int]:
        try:
            seq, off = (self.directory / "position").read_text(encoding="ascii").split()
            return int(seq), int(off)
        except (OSError, ValueError):
            return 0, 0

    @staticmethod
    def _scan(path: Path, offset: int) -> tuple[int, int, bool]:
        """(end of the last good record, good records from ``offset`` on, damage found)."""
        data = path.read_bytes()
        pos, records = 0, 0
        while pos < len(data):
            if pos + _HEADER.size > len(data):
                return pos, records, True
            length, crc = _HEADER.unpack_from(data, pos)
            body = data[pos + _HEADER.size : pos + _HEADER.size + length]
            if len(body) != length or zlib.crc32(body) != crc:
                return pos, records, True
            if pos >= offset:
                records += 1
            pos += _HEADER.size + length
        return pos, records, False

    # ---- writing --------------------------------------------------------------------

    def append(self, message: bytes) -> None:
        size = len(message) + _HEADER.size
        if size > self.max_bytes:
            self.dropped["too_large"] += 1
            return
        while self._sizes and self.size_bytes() + size > self.max_bytes:
            self._drop_oldest()
        fd = self._wfd
        if fd is None or self._sizes[self._wseq] + size > self.segment_bytes:
            fd = self._roll()
        offset = self._sizes[self._wseq]
        os.write(fd, _HEADER.pack(len(message), zlib.crc32(message)) + message)
        self._sizes[self._wseq] += size
        self._counts[self._wseq] += 1
        self._dirty = True
        if self._commit is None:
            self._commit = (self._wseq, offset)
            self._position_dirty = True
        if self._read is None:
            self._read = (self._wseq, offset)

    def _roll(self) -> int:
        """Close the segment being written (fsynced later, off the caller's path); begin one."""
        if self._wfd is not None:
            self._unsynced.append(self._wfd)
            self._wfd = None
        if self._wseq in self._sizes:
            self._wseq += 1
        path = self.directory / _segment_name(self._wseq)
        fd = self._wfd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._sizes[self._wseq] = 0
        self._counts[self._wseq] = 0
        return fd

    def _drop_oldest(self) -> None:
        """Delete the oldest segment, counting its undelivered records as dropped."""
        seq = next(iter(self._sizes))
        self.dropped["spool_full"] += self._counts.get(seq, 0)
        self._delete(seq)
        self._handed = [h for h in self._handed if h[0] != seq]
        after = (next(iter(self._sizes)), 0) if self._sizes else None
        if self._commit is not None and self._commit[0] == seq:
            self._commit = after
            self._position_dirty = True
        if self._read is not None and self._read[0] == seq:
            self._read = after
        self._write_position(force=True)

    def _delete(self, seq: int) -> None:
        del self._sizes[seq]
        self._counts.pop(seq, None)
        if seq == self._wseq and self._wfd is not None:
            self._unsynced.append(self._wfd)  # closed by the next sync
            self._wfd = None
        if self._rfd is not None and self._rfd[0] == seq:
            os.close(self._rfd[1])
            self._rfd = None
        (self.directory / _segment_name(seq)).unlink(missing_ok=True)

    # ---- reading --------------------------------------------------------------------

    def next(self) -> bytes | None:
        while self._read is not None:
            seq, off = self._read
            if off >= self._sizes.get(seq, 0):
                later = [s for s in self._sizes if s > seq]
                if not later:
                    return None
                self._read = (later[0], 0)
                continue
            fd = self._reader(seq)
            length, crc = _HEADER.unpack(os.pread(fd, _HEADER.size, off))
            body = os.pread(fd, length, off + _HEADER.size)
            if len(body) != length or zlib.crc32(body) != crc:  # damaged since: cut it
                logger.error("spool %s: damaged record at byte %d", _segment_name(seq), off)
                self.dropped["corrupt"] += 1
                self._sizes[seq] = off
                continue
            end = off + _HEADER.size + length
            self._read = (seq, end)
            self._handed.append((seq, end))
            return body
        return None

    def _reader(self, seq: int) -> int:
        if self._rfd is not None and self._rfd[0] == seq:
            return self._rfd[1]
        if self._rfd is not None:
            os.close(self._rfd[1])
        fd = os.open(self.directory / _segment_name(seq), os.O_RDONLY)
        self._rfd = (seq, fd)
        return fd

    def commit(self, count: int | None = None) -> None:
        done = self._handed if count is None else self._handed[:count]
        if not done:
            return
        for seq, _ in done:
            self._counts[seq] -= 1
        self._commit = done[-1]
        del self._handed[: len(done)]
        self._position_dirty = True
        for seq in [s for s in self._sizes if s < self._commit[0]]:
            self._delete(seq)  # every segment before the cursor's is delivered
        if self.pending() == 0:  # all delivered: start afresh (no file grows forever)
            for seq in list(self._sizes):
                self._delete(seq)
            self._wseq += 1
            self._commit = self._read = None
            self._write_position(force=True)
            return
        self._write_position(force=False)

    def rewind(self) -> None:
        self._handed.clear()
        self._read = self._commit

    def pending(self) -> int:
        return sum(self._counts.values())

    def size_bytes(self) -> int:
        return sum(self._sizes.values())

    # ---- durability -----------------------------------------------------------------

    def sync_fds(self) -> list[int]:
        """Descriptors to fsync now, each the caller's to close (:func:`fsync_all`).

        Taken under the owner's lock; the fsync itself happens outside it, so the
        capture thread never waits on the disk.
        """
        fds = self._unsynced
        self._unsynced = []
        if self._dirty and self._wfd is not None:
            fds.append(os.dup(self._wfd))
        self._dirty = False
        return fds

    def sync(self) -> None:
        """Fsync what was written since the last call; write the position if due."""
        fsync_all(self.sync_fds())
        self._write_position(force=False)

    def _write_position(self, *, force: bool) -> None:
        """Replace the position file (the committed cursor), at most once a second unless forced."""
        now = time.monotonic()
        if not self._position_dirty or (
            not force and now - self._position_written < _POSITION_EVERY
        ):
            return
        seq, off = self._commit if self._commit is not None else (self._wseq, 0)
        tmp = self.directory / "position.tmp"
        tmp.write_text(f"{seq} {off}\n", encoding="ascii")
        tmp.replace(self.directory / "position")
        self._position_written = now
        self._position_dirty = False

    def close(self) -> None:
        """Fsync everything, write the position, release the directory."""
        self.rewind()
        fsync_all(self.sync_fds())
        if self._wfd is not None:
            os.fsync(self._wfd)
            os.close(self._wfd)
            self._wfd = None
        if self._rfd is not None:
            os.close(self._rfd[1])
            self._rfd = None
        self._position_dirty = True
        self._write_position(force=True)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)  # the renames and the new segments' names
        finally:
            os.close(fd)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)


def fsync_all(fds: list[int]) -> None:
    """Fsync and close each descriptor (errors logged: the data stays in the page cache)."""
    for fd in fds:
        try:
            os.fsync(fd)
        except OSError as exc:
            logger.warning("spool: fsync failed: %s", exc)
        finally:
            os.close(fd)
