"""``netwarden auditor --interface IF --workers N``: one capture ring per worker process.

The kernel spreads the interface's frames over N ``TPACKET_V3`` rings joined in one
``PACKET_FANOUT`` group (:mod:`collectors.auditor.ring`); each worker process reads
its ring and runs every detector on what it gets. Workers share nothing; the
parent process (the CLI) holds the run's one :class:`~collectors.auditor.engine.Engine`
in name only: its incident tracker, its sinks, its metrics.

- **Which worker**: ``PACKET_FANOUT_CBPF`` with :data:`~collectors.auditor.ring.HOST_PAIR_PROGRAM`,
  a hash of the frame's two IP addresses, the same in both directions. A flow's two
  directions, every flow between two hosts, and so a port scan of one host or
  password guessing against one server, reach one worker, which sees all of it as
  one process would. The kernel's own ``PACKET_FANOUT_HASH`` is per flow: the probes
  of one port scan (one flow each) would be spread over the workers, each seeing a
  fraction of the ports. What the host pair still spreads: one source talking to
  many hosts (an address scan, a horizontal port scan, beaconing to many servers);
  each worker sees the part towards its hosts (see the merge below).
  Non-IP frames (ARP) all go to the first worker.
- **Merge**: a worker's detectors report into a local
  :class:`~collectors.auditor.events.IncidentTracker` (its throttling decides what is
  worth sending); each event it emits goes to the parent with its incident key, and
  the parent reports it into the run's tracker under that key. Two workers reporting
  the same incident (a scanner seen by both) give one incident, counted once in
  ``netwarden_auditor_events_total``, whose count is the larger of theirs (a lower
  bound of the total: counts of distinct things cannot be added across workers).
  A source spread over the workers is detected once the part one worker sees crosses
  the threshold.
- **Counters**: each worker sends its cumulative counters (packets, bytes, decode and
  detector errors, the ring's kernel counters) every ``stats_seconds`` and when it
  ends; the parent's figures are their sums.
- **Stopping**: the workers ignore SIGINT and SIGTERM (a terminal or systemd signals
  the whole group); the parent's :meth:`FanoutRun.stop` (its signal handler) tells
  them to finish: each flushes its incidents to the parent and ends. A worker whose
  parent is gone stops by itself.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from collectors.auditor.batch import Batch
from collectors.auditor.config import AuditorConfig
from collectors.auditor.decode import DecodeStats
from collectors.auditor.engine import Engine, RunSummary
from collectors.auditor.events import Event, IncidentTracker, Report, Severity
from collectors.auditor.ring import PACKET_FANOUT_CBPF, RingSource
from netwarden.errors import NetwardenError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as MpEvent

    from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)

_POLL: Final = 0.2
"""Seconds between the parent's checks of its queue and its workers, and a worker's of its parent."""


class CaptureWorkerError(NetwardenError):
    """A capture worker could not open its ring (no such interface, a bad filter ...)."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its ring and its engine (pickled to the worker)."""

    interface: str
    bpf_filter: str | None
    group: int
    config: AuditorConfig
    site: str | None
    sensor: str
    inventory: Inventory | None
    only: tuple[str, ...] | None
    stats_seconds: float = 1.0
    ring_blocks: int = 64


class _Forwarder:
    """A worker's reporter: its local tracker decides, the parent hears what it emits.

    The local tracker's ``sinks`` is this object (``emit``); an emission names no key,
    so the key of each incident is noted when a report opens it (the report in hand).
    """

    def __init__(self, tracker: IncidentTracker, out: Any) -> None:
        self.tracker = tracker
        self.out = out
        self._keys: dict[str, tuple[str, tuple[str, ...]]] = {}  # event id -> (detector, key)
        self._pending: tuple[str, tuple[str, ...]] = ("", ())

    def report(self, *, detector: str, key: Iterable[object], **report: Any) -> object:
        self._pending = (detector, tuple(map(str, key)))
        return self.tracker.report(detector=detector, key=self._pending[1], **report)

    def due(
        self, *, detector: str, key: Iterable[object], ts: float, severity: Severity, count: int
    ) -> bool:
        return self.tracker.due(detector=detector, key=key, ts=ts, severity=severity, count=count)

    def report_by(self, *, detector: str, key: Iterable[object]) -> float:
        return self.tracker.report_by(detector=detector, key=key)

    def emit(self, event: Event) -> None:
        named = self._keys.setdefault(event.id, self._pending)
        self.out.put(("event", named[0], named[1], event.model_dump(mode="json")))

    def close(self) -> None:
        """(The sink protocol: nothing to close.)"""


def _counters(engine: Engine, stats: DecodeStats) -> dict[str, Any]:
    s = engine.stats
    return {
        "packets": s.packets,
        "bytes": s.bytes,
        "decode_errors": dict(s.decode_errors),
        "detector_errors": dict(s.detector_errors),
        "reassembly": dict(s.reassembly),
        "kernel": dict(stats.kernel),
        "file_errors": dict(stats.file_errors),
    }


def _worker(index: int, spec: WorkerSpec, out: Any, stop: MpEvent) -> None:
    """A worker process: its ring in the group, its engine, events and counters to ``out``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    parent = os.getppid()
    try:
        source = RingSource(
            spec.interface,
            spec.bpf_filter,
            block_nr=spec.ring_blocks,
            fanout=(spec.group, PACKET_FANOUT_CBPF),
        )
    except (OSError, ValueError) as exc:
        out.put(("failed", index, str(exc)))
        return
    engine = Engine(
        spec.config,
        [],
        site=spec.site,
        sensor=spec.sensor,
        inventory=spec.inventory,
        only=spec.only,
    )
    forwarder = _Forwarder(engine.tracker, out)
    engine.tracker.sinks = [forwarder]
    engine.ctx.reporter = forwarder
    out.put(("ready", index, ""))

    def watch() -> None:
        """Stop when told (or orphaned); send the counters every ``stats_seconds`` meanwhile,
        batches or not (the kernel's drop counter matters most when nothing gets through)."""
        sent = time.monotonic()
        while not stop.wait(_POLL) and not finished.is_set():
            if os.getppid() != parent:  # the parent died: nobody reads what this finds
                break
            if time.monotonic() - sent >= spec.stats_seconds:
                sent = time.monotonic()
                try:
                    out.put(("stats", index, _counters(engine, source.stats)))
                except RuntimeError:  # a counter grew a key while copied: the next round
                    continue
        source.stop()

    finished = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for batch in source:
            engine.process(batch)
    finally:
        finished.set()
        watcher.join()
    engine.finish()  # flushes the incidents: the forwarder sends them
    out.put(("stats", index, _counters(engine, source.stats)))
    out.put(("done", index, ""))


class FanoutRun:
    """Run ``workers`` capture processes on one interface and merge what they find.

    ``stats`` holds the workers' input counters summed (the metrics read it, like a
    source's); :meth:`stop` may be called from any thread or a signal handler.
    """

    def __init__(self, spec: WorkerSpec, workers: int) -> None:
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        self.spec = spec
        self.workers = workers
        self.stats = DecodeStats()
        self._stop = mp.get_context("spawn").Event()
        self._ctx = mp.get_context("spawn")

    def worker_packets(self) -> list[int]:
        """Packets each worker has read (by the counters it last sent), by worker."""
        latest = getattr(self, "_latest", {})
        return [latest[i]["packets"] for i in sorted(latest)]

    def stop(self) -> None:
        """Tell the workers to finish (they flush their incidents first)."""
        self._stop.set()

    def __iter__(self) -> Iterator[Batch]:  # a BatchSource to the status line; no batches
        return iter(())

    def run(self, engine: Engine, *, ready: threading.Event | None = None) -> RunSummary:
        """Start the workers, merge their events into ``engine`` until they are done."""
        out = self._ctx.Queue()
        procs = [
            self._ctx.Process(
                target=_worker, args=(i, self.spec, out, self._stop), name=f"auditor-worker-{i}"
            )
            for i in range(self.workers)
        ]
        for p in procs:
            p.start()
        self._latest: dict[int, dict[str, Any]] = {}
        self._done: set[int] = set()
        self._started: set[int] = set()
        self._clock = -math.inf
        self._failure = ""
        try:
            while len(self._done) < self.workers:
                try:
                    msg = out.get(timeout=_POLL)
                except queue.Empty:
                    if not any(p.is_alive() for p in procs):
                        break  # (a worker killed from outside: its last counters stay)
                    continue
                self._handle(engine, msg, ready)
        finally:
            self._stop.set()
            for p in procs:
                p.join(10)
                if p.is_alive():
                    p.kill()
                    p.join(5)
        if self._failure:
            raise CaptureWorkerError(
                f"--interface {self.spec.interface}: a capture worker could not start: "
                f"{self._failure}"
            )
        return engine.finish()

    def _handle(self, engine: Engine, msg: tuple[Any, ...], ready: threading.Event | None) -> None:
        """One message of a worker: an event, its counters, or how it is."""
        kind, index = msg[0], msg[1]
        if kind == "event":
            self._clock = max(self._clock, self._merge(engine, msg[1], msg[2], msg[3]))
            engine.tracker.expire(self._clock)
            engine.stats.incidents_open = engine.tracker.open_count()
        elif kind == "stats":
            self._latest[index] = msg[2]
            self._sum(engine, self._latest)
        elif kind == "ready":
            self._started.add(index)
            if len(self._started) == self.workers:
                logger.info("%d capture workers on %s", self.workers, self.spec.interface)
                if ready is not None:
                    ready.set()
        elif kind == "failed":
            self._failure = self._failure or msg[2]
            self._done.add(index)
            self._stop.set()
        elif kind == "done":
            self._done.add(index)

    @staticmethod
    def _merge(engine: Engine, detector: str, key: tuple[str, ...], raw: dict[str, Any]) -> float:
        """Report a worker's event into the run's tracker under its key; its time."""
        event = Event.model_validate(raw)
        ts = event.last_seen.timestamp()
        report: Report = {
            "ts": ts,
            "severity": event.severity,
            "summary": event.summary,
            "src": event.src,
            "dst": event.dst,
            "evidence": event.evidence,
            "count": event.count,
            "first_seen": event.first_seen.timestamp(),
        }
        engine.tracker.report(detector=detector, key=key, **report)
        return ts

    def _sum(self, engine: Engine, latest: dict[int, dict[str, Any]]) -> None:
        s = engine.stats
        s.packets = sum(c["packets"] for c in latest.values())
        s.bytes = sum(c["bytes"] for c in latest.values())
        s.decode_errors = sum((Counter(c["decode_errors"]) for c in latest.values()), Counter())
        s.detector_errors = sum((Counter(c["detector_errors"]) for c in latest.values()), Counter())
        s.reassembly.clear()  # (the defragmenter's counts object: updated in place)
        for c in latest.values():
            s.reassembly.update(c.get("reassembly", {}))
        self.stats.kernel = sum((Counter(c["kernel"]) for c in latest.values()), Counter())
        self.stats.file_errors = sum(
            (Counter(c["file_errors"]) for c in latest.values()), Counter()
        )
        self.stats.packets = s.packets
