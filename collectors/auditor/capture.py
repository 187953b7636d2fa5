"""The auditor's inputs: capture files, a directory of rotating captures, a live interface.

Every input is an iterable of :class:`Batch` with a ``stop()`` that may be called
from another thread (a signal handler, a test) and makes iteration end cleanly
after the batch in hand. Each keeps :class:`DecodeStats`.

- :class:`FileSource`: pcap/pcapng files, one after the other.
- :class:`WatchDirSource`: a directory written by e.g. ``tcpdump -G 60 -w
  'dir/cap-%Y%m%d%H%M%S.pcap'``, or where finished captures are dropped. A file
  is processed once it is closed: at once when inotify (Linux) says its writer
  closed it or it was renamed into the directory (:mod:`collectors.auditor.inotify`);
  otherwise when a newer capture file has appeared beside it, or it has not
  changed for ``settle_seconds``. Names of files being written elsewhere
  (hidden, ``*.tmp``, ``*.part``, ``*~`` ...) are not captures. Each file is processed once; what was processed (and how
  far, when stopped in the middle of a file) is kept in a small JSON state file
  so a restart neither repeats nor skips packets. Running out of descriptors
  (``EMFILE``/``ENFILE``: something else in the process holds them) is ridden
  out: logged, and the directory listing or the file is tried again at the next
  poll from the first packet not yet handed out, never skipped.
- :func:`open_live`: a live interface through Linux's ``TPACKET_V3`` ring
  (:class:`~collectors.auditor.ring.RingSource`), or, where that ring cannot be had
  (not Linux, no compiled kernels, an old kernel), the scapy fallback below.
- :class:`LiveSource`: a live interface through scapy's ``AsyncSniffer`` with a
  kernel BPF filter (the fallback; much slower than the ring: bench/RESULTS.md).
  Frames are taken from the socket as bytes (no scapy packet is built), queued
  (bounded: when the consumer falls behind, frames are dropped and counted) and
  decoded in batches by :func:`decode_frames`.
- Watch state: how far each file was read is written after every batch the consumer
  has finished (when it asks for the next): a process killed outright reads again
  at most the batch it held, from its first packet.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np

from collectors.auditor.batch import Batch
from collectors.auditor.decode import CaptureFormatError, DecodeStats, decode_frames, iter_batches
from collectors.auditor.headers import LINKTYPE_ETHERNET
from collectors.auditor.inotify import DirWatch, open_watch
from collectors.auditor.ring import RingSource, ring_available

logger = logging.getLogger(__name__)

#: ``DecodeStats.file_errors`` kinds added by the inputs.
NOT_A_CAPTURE: Final = "not_a_capture"
UNREADABLE: Final = "unreadable"
DROPPED: Final = "dropped_frames"
_STATE_VERSION: Final = 1
TEMPORARY_SUFFIXES: Final = (".tmp", ".temp", ".part", ".partial", ".swp", ".crdownload", "~")
"""Name endings of files still being written under a temporary name (then renamed): skipped."""
_TRANSIENT: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS})
"""``OSError`` numbers that say the process (not the file) is short of something: retry."""


class BatchSource(Protocol):
    """An input of the auditor: iterate for batches; ``stop()`` ends iteration cleanly."""

    stats: DecodeStats

    def __iter__(self) -> Iterator[Batch]: ...

    def stop(self) -> None: ...


PREFETCH_BATCHES: Final = 2
"""Batches :class:`FileSource` decodes ahead of the consumer (each ~65,536 packets)."""
PREFETCH_SWITCH_INTERVAL: Final = 0.0005
"""The interpreter's GIL switch interval (seconds) while the decoding thread runs.

The thread needs the GIL back after every call that released it (a read, the compiled
walk and decoder, a queue hand-over); with the default 5 ms it waits up to that long
each time while the detectors run Python, and the consumer ended up waiting for batches
(docs/decisions.md 111).
"""


def _spare_core() -> bool:
    """Whether this process may run on more than one CPU (decoding ahead then overlaps the
    detectors; on one CPU the two threads would only take turns)."""
    try:
        return len(os.sched_getaffinity(0)) > 1
    except (AttributeError, OSError):  # not Linux
        return (os.cpu_count() or 1) > 1


class FileSource:
    """Decode capture files one after the other.

    With ``prefetch`` (on by default where the process has more than one CPU), a
    thread reads and decodes up to :data:`PREFETCH_BATCHES` batches ahead of the
    consumer: reading the file and the compiled walk and decoder release the GIL, so
    they run while the detectors (Python) work on the batch before; ~20 % less wall
    time on the 1M-packet benchmark, the same batches in the same order
    (docs/decisions.md 108). What the consumer sees is as without it: ``stats``,
    ``current`` and ``processed`` change as it takes each batch, not as the thread
    decodes, so a stop leaves them at the last batch handed out, and an error is
    raised where the file's batches end.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        batch_size: int = 65536,
        stats: DecodeStats | None = None,
        *,
        prefetch: bool | None = None,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self.batch_size = batch_size
        self.stats = stats if stats is not None else DecodeStats()
        self.processed: list[Path] = []  # files finished, in order
        self.current: Path | None = None  # the file being read
        self.prefetch = _spare_core() if prefetch is None else prefetch
        self._stop = threading.Event()

    def stop(self) -> None:
        """End iteration after the batch in hand."""
        self._stop.set()

    def __iter__(self) -> Iterator[Batch]:
        if not self.prefetch:
            for path in self.paths:
                if self._stop.is_set():
                    return
                self.current = path
                for batch in iter_batches(path, self.batch_size, self.stats):
                    yield batch
                    if self._stop.is_set():
                        return
                self.current = None
                self.processed.append(path)
            return
        yield from self._prefetched()

    def _prefetched(self) -> Iterator[Batch]:
        """:meth:`__iter__` with the decoding in a thread ahead of the consumer."""
        ahead: queue.Queue[_Ahead] = queue.Queue(PREFETCH_BATCHES)
        closed = threading.Event()  # the consumer is gone: the thread stops
        worker = threading.Thread(
            target=self._decode_ahead, args=(ahead, closed), name="auditor-decode", daemon=True
        )
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, PREFETCH_SWITCH_INTERVAL))
        worker.start()
        try:
            while True:
                kind, value, delta = ahead.get()
                if delta is not None:
                    _merge(self.stats, delta)
                if kind == "start":
                    if self._stop.is_set():
                        return
                    self.current = value
                elif kind == "batch":
                    yield value
                    if self._stop.is_set():
                        return
                elif kind == "done":
                    self.current = None
                    self.processed.append(value)
                elif kind == "error":
                    raise value
                else:  # "end"
                    return
        finally:
            closed.set()
            worker.join(timeout=5)  # it notices at its next batch, or while it waits to put
            sys.setswitchinterval(switch)

    def _decode_ahead(self, ahead: queue.Queue[_Ahead], closed: threading.Event) -> None:
        """The thread: each file's batches, with what ``stats`` gained since the last item."""
        own = DecodeStats()
        seen = DecodeStats()

        def put(kind: str, value: Any) -> bool:
            delta = _delta(own, seen)
            while not closed.is_set():
                try:
                    ahead.put((kind, value, delta), timeout=0.2)
                except queue.Full:
                    continue
                return True
            return False

        try:
            for path in self.paths:
                if not put("start", path):
                    return
                for batch in iter_batches(path, self.batch_size, own):
                    batch.columns()  # here, not in the detectors' thread (Batch.columns)
                    if not put("batch", batch):
                        return
                if not put("done", path):
                    return
        except BaseException as exc:  # noqa: BLE001  (raised again in the consumer's thread)
            put("error", exc)
            return
        put("end", None)


_Ahead = tuple[str, Any, "DecodeStats | None"]
"""What the decoding thread hands over: a kind, its value, and the stats' growth since."""


def _delta(own: DecodeStats, seen: DecodeStats) -> DecodeStats | None:
    """What ``own`` gained since ``seen`` (None: nothing); ``seen`` catches up."""
    delta = DecodeStats(
        files=own.files - seen.files,
        packets=own.packets - seen.packets,
        bytes=own.bytes - seen.bytes,
        errors=own.errors - seen.errors,
        file_errors=own.file_errors - seen.file_errors,
    )
    if not (delta.files or delta.packets or delta.bytes or delta.errors or delta.file_errors):
        return None
    _merge(seen, delta)
    return delta


def _merge(stats: DecodeStats, delta: DecodeStats) -> None:
    stats.files += delta.files
    stats.packets += delta.packets
    stats.bytes += delta.bytes
    stats.errors.update(delta.errors)
    stats.file_errors.update(delta.file_errors)


@dataclass
class _FileState:
    """How far a file was processed: ``size``/``mtime_ns`` when it was last finished
    (-1 while in progress), and the packets handed out so far."""

    inode: int
    size: int = -1
    mtime_ns: int = -1
    packets: int = 0


class WatchDirSource:
    """Process each capture file of a directory once it is closed (see the module docstring).

    A file that grows again after it was processed (a writer that paused longer than
    ``settle_seconds``, or closed it and opened it again) is taken up again from the
    first packet not yet handed out. ``inotify=False`` polls only (tests of the rules).
    ``current`` is the file being read (None between files), ``processed`` the files
    finished, in order.
    """

    def __init__(
        self,
        directory: Path,
        pattern: str = "*.pcap*",
        *,
        settle_seconds: float = 5.0,
        poll_seconds: float = 1.0,
        batch_size: int = 65536,
        state_file: Path | None = None,
        stats: DecodeStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        inotify: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self.pattern = pattern
        self.settle_seconds = settle_seconds
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.state_file = state_file
        self.stats = stats if stats is not None else DecodeStats()
        self.processed: list[Path] = []  # files finished, in order (for callers and tests)
        self.current: Path | None = None
        self.inotify = inotify
        self._watch: DirWatch | None = None
        self._closed_by_writer: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns)
        self._clock = clock
        self._stop = threading.Event()
        self._seen: dict[str, tuple[int, int, float]] = {}  # name -> (size, mtime_ns, since)
        self._state: dict[str, _FileState] = self._load_state()
        self._state_failing = False

    def stop(self) -> None:
        """End iteration after the batch in hand (from any thread)."""
        self._stop.set()

    def __iter__(self) -> Iterator[Batch]:
        # Watch before the first listing: a file closed in between is not missed.
        self._watch = open_watch(self.directory) if self.inotify else None
        logger.info(
            "watching %s: a capture is read once %s",
            self.directory,
            "it is closed or moved in (inotify)"
            if self._watch is not None
            else f"a newer one appears or it is unchanged for {self.settle_seconds:g} s",
        )
        try:
            while not self._stop.is_set():
                try:
                    closed = self._closed_files()
                except OSError as exc:  # the directory could not be listed: try at the next poll
                    logger.warning("cannot list %s (%s): retrying", self.directory, exc)
                    closed = []
                for path in closed:
                    yield from self._process(path)
                    if self._stop.is_set():
                        return
                self._wait()
        finally:
            if self._watch is not None:
                self._watch.close()
                self._watch = None

    def _wait(self) -> None:
        """Until a file is closed or moved in (inotify), or ``poll_seconds`` have passed."""
        if self._watch is None:
            self._stop.wait(self.poll_seconds)
            return
        for name in self._watch.wait(self.poll_seconds):
            try:
                st = (self.directory / name).stat()
            except OSError:  # gone again, or renamed on: its new name has its own event
                continue
            if st.st_size > 0:  # ``touch`` closes a file too: an empty one is no capture yet
                self._closed_by_writer[name] = (st.st_size, st.st_mtime_ns)

    def _candidates(self) -> list[tuple[Path, os.stat_result]]:
        out = []
        for path in self.directory.glob(self.pattern):
            if (
                path.name.startswith(".")
                or path.name.endswith(TEMPORARY_SUFFIXES)
                or (self.state_file and path == self.state_file)
            ):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            out.append((path, st))
        out.sort(key=lambda item: (item[1].st_mtime_ns, item[0].name))
        return out

    def _closed_files(self) -> list[Path]:
        """Files with packets not yet handed out that are closed, oldest first."""
        now = self._clock()
        files = self._candidates()
        closed = []
        for i, (path, st) in enumerate(files):
            state = self._state.get(path.name)
            if state and (state.inode, state.size, state.mtime_ns) == (
                st.st_ino,
                st.st_size,
                st.st_mtime_ns,
            ):
                continue  # finished, unchanged since
            seen = self._seen.get(path.name)
            if seen is None or seen[:2] != (st.st_size, st.st_mtime_ns):
                self._seen[path.name] = (st.st_size, st.st_mtime_ns, now)
                settled = False
            else:
                settled = now - seen[2] >= self.settle_seconds
            newer = i < len(files) - 1  # a newer capture file exists: this one was rotated
            # closed by its writer or moved in, and not written since
            done = self._closed_by_writer.get(path.name) == (st.st_size, st.st_mtime_ns)
            if newer or settled or done:
                closed.append(path)
        return closed

    def _process(self, path: Path) -> Iterator[Batch]:
        try:
            st = path.stat()
        except FileNotFoundError:
            return
        state = self._state.get(path.name)
        if state is None or state.inode != st.st_ino or st.st_size < state.size:
            state = _FileState(st.st_ino)  # a new file, perhaps under an old name
            self._state[path.name] = state
        state.size = state.mtime_ns = -1
        skip = state.packets
        logger.info("processing %s from packet %d", path, skip)
        self.current = path
        try:
            for whole in iter_batches(path, self.batch_size, self.stats):
                end = whole.first_index + len(whole)
                if end <= skip:
                    continue
                batch = (
                    _tail(whole, skip - whole.first_index) if whole.first_index < skip else whole
                )
                state.packets = end
                yield batch
                # Back here, the consumer is done with the batch (its events written):
                # record it before the next, so that a process killed outright (SIGKILL,
                # a crash) reads again at most the batch it held, from that packet on.
                if self._stop.is_set():
                    self._save_state()
                    return
                self._write_state()
        except CaptureFormatError:
            logger.warning("%s is not a capture file: skipped", path)
            self.stats.file_errors[NOT_A_CAPTURE] += 1
        except OSError as exc:
            if exc.errno in _TRANSIENT:  # the process is short of descriptors: not the file
                logger.warning("%s could not be read (%s): retrying at the next poll", path, exc)
                self._save_state()
                return
            logger.warning("%s could not be read (%s): skipped", path, exc)
            self.stats.file_errors[UNREADABLE] += 1
        finally:
            self.current = None
        state.size, state.mtime_ns = st.st_size, st.st_mtime_ns
        self._closed_by_writer.pop(path.name, None)
        self.processed.append(path)
        self._save_state()

    def _load_state(self) -> dict[str, _FileState]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            raw = json.loads(self.state_file.read_text())
            return {name: _FileState(**entry) for name, entry in raw["files"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable watch state %s: %s", self.state_file, exc)
            return {}

    def _save_state(self) -> None:
        """Forget files that are gone, and write the state file (a failure is logged)."""
        try:
            present = {p.name for p, _ in self._candidates()}
            self._state = {name: s for name, s in self._state.items() if name in present}
            self._closed_by_writer = {
                name: seen for name, seen in self._closed_by_writer.items() if name in present
            }
        except OSError as exc:  # kept in memory; written at the next save
            logger.warning("cannot list %s to prune its watch state (%s)", self.directory, exc)
        self._write_state()

    def _write_state(self) -> None:
        """Write the state file (atomically: a file renamed over the old one; a failure is
        logged, and the state written at the next save)."""
        if self.state_file is None:
            return
        try:
            files = {name: vars(s) for name, s in self._state.items()}
            tmp = self.state_file.with_name(self.state_file.name + ".tmp")
            tmp.write_text(json.dumps({"version": _STATE_VERSION, "files": files}, indent=1))
            tmp.replace(self.state_file)
        except OSError as exc:  # kept in memory; written at the next save
            log = logger.debug if self._state_failing else logger.warning  # once, not per batch
            log(
                "cannot save the watch state of %s in %s (%s)", self.directory, self.state_file, exc
            )
            self._state_failing = True
        else:
            self._state_failing = False


def _tail(batch: Batch, skip: int) -> Batch:
    """The batch without its first ``skip`` packets."""
    return Batch(
        batch.packets[skip:],
        batch.data,
        batch.offsets[skip:],
        batch.source,
        batch.first_index + skip,
        batch.linktype,
    )


def open_live(
    interface: str, bpf_filter: str | None = None, *, fanout: tuple[int, int] | None = None
) -> BatchSource:
    """The live input for ``interface``: the ``TPACKET_V3`` ring, else scapy's sniffer.

    Raises:
        OSError: the interface cannot be opened (no such interface, no privilege).
        ValueError: the BPF filter does not compile.
    """
    if ring_available():
        return RingSource(interface, bpf_filter, fanout=fanout)
    if fanout is not None:
        raise OSError("--workers needs the TPACKET_V3 ring (Linux, CAP_NET_RAW, a C compiler)")
    logger.warning(
        "no TPACKET_V3 ring here (not Linux, no privilege or no compiled kernels): "
        "capturing on %s through scapy, which is much slower",
        interface,
    )
    return LiveSource(interface, bpf_filter)


_Frame = tuple[bytes, float, int]
"""A frame as :class:`LiveSource` queues it: bytes, timestamp, link type."""


class LiveSource:
    """Frames of a live interface, decoded in batches (see the module docstring).

    Args:
        interface: the interface to sniff.
        bpf_filter: a kernel BPF filter in tcpdump syntax, e.g. ``"tcp or arp or udp port 53"``.
        batch_size: frames per batch at most.
        flush_seconds: a partial batch is handed out after this long.
        queue_frames: frames held at most while the consumer is busy.
        sniffer_options: extra ``AsyncSniffer`` arguments (tests use ``offline=``).
    """

    def __init__(
        self,
        interface: str | None,
        bpf_filter: str | None = None,
        *,
        batch_size: int = 8192,
        flush_seconds: float = 0.5,
        queue_frames: int = 200_000,
        stats: DecodeStats | None = None,
        sniffer_options: dict[str, Any] | None = None,
    ) -> None:
        self.interface = interface
        self.bpf_filter = bpf_filter
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.stats = stats if stats is not None else DecodeStats()
        self.dropped = 0
        self.linktype = LINKTYPE_ETHERNET
        self._queue: queue.Queue[_Frame] = queue.Queue(queue_frames)
        # A frame taken from the queue whose link type ended the batch in hand: it starts
        # the next batch (put back, it would go after the newer frames, and a blocking put
        # into a queue the sniffer refills could wait forever: this is its only reader).
        self._held: _Frame | None = None
        self._stop = threading.Event()
        self._options = sniffer_options or {}
        self._sniffer: Any = None
        self._lock = threading.Lock()
        self._halted = False
        self._stopped_sniffer = False
        self._index = 0

    def stop(self) -> None:
        """Stop sniffing (from any thread); iteration ends once the queued frames are handed out."""
        self._stop.set()
        self._halt()

    def _enqueue(self, frame: bytes, ts: float, linktype: int) -> None:
        try:
            self._queue.put_nowait((frame, ts, linktype))
        except queue.Full:
            self.dropped += 1
            self.stats.file_errors[DROPPED] += 1

    def _on_packet(self, pkt: Any) -> None:
        """``prn`` for sniffers that hand out scapy packets (offline files in tests)."""
        from scapy.config import conf  # noqa: PLC0415  (scapy only for live capture: ~0.3 s)

        frame = pkt.original if getattr(pkt, "original", None) else bytes(pkt)
        linktype = conf.l2types.layer2num.get(type(pkt), LINKTYPE_ETHERNET)
        self._enqueue(frame, float(pkt.time), linktype)

    def start(self) -> None:
        """Start the sniffer thread (iterating starts it too)."""
        from scapy.sendrecv import AsyncSniffer  # noqa: PLC0415  (live capture only)

        with self._lock:
            if self._sniffer is not None or self._halted:
                return

            options: dict[str, Any] = {"store": False, "prn": self._on_packet, **self._options}
            if "offline" not in options and "opened_socket" not in options:
                options["iface"] = self.interface
                options["L2socket"] = _frame_socket(self._enqueue)
            if self.bpf_filter:
                options["filter"] = self.bpf_filter
            self._sniffer = AsyncSniffer(**options)
            self._sniffer.start()

    def __iter__(self) -> Iterator[Batch]:
        self.start()
        try:
            while True:
                batch = self._next_batch()
                if batch is None:
                    return
                yield batch
        finally:
            self._halt()

    def _sniffer_alive(self) -> bool:
        thread = getattr(self._sniffer, "thread", None)
        return bool(thread is not None and thread.is_alive())

    def _next_batch(self) -> Batch | None:
        frames: list[bytes] = []
        stamps: list[float] = []
        linktype = self.linktype
        held, self._held = self._held, None
        if held is not None:  # the frame that ended the previous batch starts this one
            frame, ts, linktype = held
            frames.append(frame)
            stamps.append(ts)
        deadline = time.monotonic() + self.flush_seconds
        while len(frames) < self.batch_size:
            stopping = self._stop.is_set() or not self._sniffer_alive()
            timeout = 0.0 if stopping else max(deadline - time.monotonic(), 0.0)
            try:
                item = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
            except queue.Empty:
                if frames or stopping:
                    break
                deadline = time.monotonic() + self.flush_seconds
                continue
            frame, ts, lt = item
            if frames and lt != linktype:  # a new link type starts the next batch
                self._held = item
                break
            linktype = lt
            frames.append(frame)
            stamps.append(ts)
        if not frames:
            return None
        self.linktype = linktype
        batch = decode_frames(
            frames,
            np.array(stamps),
            linktype,
            source=self.interface or "live",
            first_index=self._index,
        )
        self._index += len(frames)
        self.stats.add(batch.packets)
        return batch

    def _halt(self) -> None:
        """Stop the sniffer thread, once, whoever asks first."""
        with self._lock:
            sniffer, self._halted = self._sniffer, True
        if sniffer is None or self._stopped_sniffer:
            return
        self._stopped_sniffer = True
        if getattr(sniffer, "running", False):
            from scapy.error import Scapy_Exception  # noqa: PLC0415  (a sniffer ran: loaded)

            try:
                sniffer.stop(join=True)
            except Scapy_Exception as exc:  # it stopped by itself meanwhile
                logger.debug("sniffer on %s: %s", self.interface, exc)
        failure = getattr(sniffer, "exception", None)
        if failure is not None:
            logger.warning("sniffer on %s stopped: %s", self.interface, failure)


def _frame_socket(sink: Callable[[bytes, float, int], None]) -> type[Any]:
    """A scapy listen socket class that hands raw frames to ``sink`` and builds no packet."""
    from scapy.config import conf  # noqa: PLC0415  (live capture only)
    from scapy.data import MTU  # noqa: PLC0415

    base: type[Any] = conf.L2listen

    class FrameSocket(base):  # type: ignore[misc]
        def recv(self, x: int = MTU, **kwargs: Any) -> None:
            del kwargs
            cls, data, ts = self.recv_raw(x)
            if data is not None:
                linktype = conf.l2types.layer2num.get(cls, LINKTYPE_ETHERNET)
                sink(data, float(ts if ts is not None else time.time()), linktype)

    return FrameSocket
