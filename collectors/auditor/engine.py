"""The auditor's pipeline: batches -> detectors -> incidents -> sinks, with stats and a summary.

The engine works with or without an inventory: without one, the detectors that
need it (``policy_violation``, ``unknown_device``) are not started and the rest
run on their defaults (foreign captures, the shared evaluation pcaps).
"""

from __future__ import annotations

import gc
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING

from pydantic import Field

import collectors.auditor.detectors  # noqa: F401  (registers the built-in detectors)
from collectors.auditor.batch import Batch
from collectors.auditor.config import AuditorConfig, AuditorConfigError
from collectors.auditor.defrag import Defragmenter
from collectors.auditor.detectors.base import Detector, DetectorContext, registry
from collectors.auditor.events import Event, EventSink, IncidentTracker, Severity
from collectors.auditor.stats import AuditorStats
from netwarden.basemodel import FrozenModel

if TYPE_CHECKING:
    from collectors.auditor.evidence import EvidenceRecorder, EvidenceSettings
    from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)

GC_YOUNG_THRESHOLD = 50_000
"""Allocations between young-generation collections while an engine runs (see ``__init__``)."""

Progress = Callable[[Batch], None]


class RunSummary(FrozenModel):
    """What a run saw and found (the CLI's ``--json`` output)."""

    site: str
    sensor: str
    detectors: list[str]
    skipped_detectors: dict[str, str]
    packets: int
    bytes: int
    decode_errors: dict[str, int]
    input_errors: dict[str, int] = Field(default_factory=dict)
    detector_errors: dict[str, int]
    duration_seconds: float
    events_by_detector: dict[str, dict[str, int]]
    incidents: list[Event]
    suppressed: int
    evidence_dir: str = ""
    evidence: dict[str, int] = Field(default_factory=dict)

    @property
    def highest(self) -> Severity | None:
        return max((e.severity for e in self.incidents), key=lambda s: s.rank, default=None)

    def has_findings(self, at_least: Severity = Severity.MEDIUM) -> bool:
        return any(e.severity >= at_least for e in self.incidents)


class Engine:
    """Runs the enabled detectors over batches; build one per run.

    Args:
        config: thresholds, overrides and allowlists (``AuditorConfig()`` for defaults).
        sinks: where events go (JSON lines, syslog, a list in tests).
        site, sensor: written into every event and metric.
        inventory: the network; None runs without inventory-based detectors.
        only: restrict to these detector names (all registered ones by default).
        today: the date allowlist expiry is checked against (default: today).
        evidence: write an evidence pcap per incident (:mod:`collectors.auditor.evidence`);
            None (the default) keeps no packets and costs nothing.
    """

    def __init__(
        self,
        config: AuditorConfig | None = None,
        sinks: Iterable[EventSink] = (),
        *,
        site: str | None = None,
        sensor: str = "",
        inventory: Inventory | None = None,
        only: Iterable[str] | None = None,
        today: date | None = None,
        stats: AuditorStats | None = None,
        evidence: EvidenceSettings | None = None,
    ) -> None:
        self.config = config or AuditorConfig()
        self.site = site
        self.sensor = sensor
        self.stats = stats or AuditorStats()
        self.today = today or date.today()
        known = registry()
        self.config.check_names(set(known))
        for entry in self.config.expired_entries(self.today):
            logger.warning(
                "%s: allowlist entry for %s (src=%s dst=%s) expired on %s and no longer applies",
                self.config.source or "auditor configuration",
                ",".join(entry.detectors),
                entry.src,
                entry.dst,
                entry.expires,
            )
        self.evidence: EvidenceRecorder | None = None
        if evidence is not None:
            # Imported here: a run without --evidence does not pay for it at start-up.
            from collectors.auditor.evidence import EvidenceRecorder  # noqa: PLC0415

            self.evidence = EvidenceRecorder(evidence)
        self.defrag = Defragmenter(counts=self.stats.reassembly)
        self.tracker = IncidentTracker(
            site=site or "",
            sensor=sensor,
            sinks=list(sinks),
            reemit_seconds=self.config.reemit_seconds,
            idle_seconds=self.config.incident_idle_seconds,
            suppress=self._suppressed if self.config.allowlist else None,
            on_emit=self._emitted,
            on_open=self.evidence.opened if self.evidence is not None else None,
        )
        policy = None
        if inventory is not None:
            from netwarden.inventory.flows import FlowPolicyEngine  # noqa: PLC0415

            policy = FlowPolicyEngine(inventory)
        self.ctx = DetectorContext(
            reporter=self.tracker, site=site, sensor=sensor, inventory=inventory, policy=policy
        )
        wanted = list(only) if only is not None else list(known)
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            raise AuditorConfigError(
                f"unknown detector(s) {', '.join(unknown)}; expected one of {', '.join(known)}"
            )
        self.detectors: list[Detector] = []
        self.skipped: dict[str, str] = {}
        for name in wanted:
            cls = known[name]
            settings = self.config.settings_for(name, cls.Settings, site)
            if not settings.enabled:
                self.skipped[name] = "disabled in the configuration"
            elif cls.needs_inventory and inventory is None:
                self.skipped[name] = "needs an inventory"
            else:
                self.detectors.append(cls(settings, self.ctx))
        self._clock = -math.inf
        # Everything alive now (modules, the inventory, the configuration) lives as long as
        # the run: move it out of the cyclic collector's generations, so the collections that
        # detector state triggers do not rescan it (about 5 % of a run's CPU time otherwise).
        # The young generations only: little already unreachable may be frozen (it would
        # never be freed; a full collection after start-up finds ~5 objects) and a full one
        # costs ~90 ms of start-up, most of it traversing pydantic-core's validators.
        # When the collector is paused (the CLI pauses it for its start-up and resumes it
        # once the engine is built), every object of start-up is still in the youngest
        # generation: collecting it would be that full collection; it is frozen as is.
        if gc.isenabled():
            gc.collect(1)
        gc.freeze()
        # Detector state is many small objects that mostly live for a window: run the
        # young-generation collection every 50,000 allocations rather than 700 (about 5 %
        # less CPU on the benchmark; the cycles it finds are few and small either way).
        self._gc_threshold = gc.get_threshold()
        gen0, gen1, gen2 = self._gc_threshold
        gc.set_threshold(max(gen0, GC_YOUNG_THRESHOLD), gen1, gen2)  # restored by finish()
        self._started = time.monotonic()
        self._finished: RunSummary | None = None

    @property
    def detector_names(self) -> list[str]:
        return [d.name for d in self.detectors]

    def _suppressed(self, detector: str, src: str, dst: str, ts: float) -> bool:  # noqa: ARG002
        return self.config.allowlisted(detector, self.site or "", src, dst, self.today)

    def _emitted(self, event: Event, escalated: bool) -> None:
        """``on_emit`` of the tracker: count incidents opened and raised in severity."""
        if escalated:
            self.stats.add_event(event.detector, event.severity)
        self.stats.incidents_open = self.tracker.open_count()

    def process(self, batch: Batch) -> None:
        """Run every detector on one batch, then let them expire state up to the batch's time."""
        self.stats.add_batch(batch)
        if len(batch) == 0:
            if batch.clock is not None and batch.clock > self._clock:  # a quiet live link
                self._clock = batch.clock
                self._expire(self._clock)
            return
        evidence = self.evidence
        self._detect(batch)
        # IPv4 datagrams whose first fragment cut the transport header (nmap -f), whole
        # again once their last fragment is in: a batch of their own, not counted twice.
        whole = self.defrag.feed(batch)
        if whole is not None:
            self._detect(whole)
            if evidence is not None:
                evidence.settle(whole)
        # Packet time never goes backwards for expiry (traces are not always sorted).
        self._clock = max(self._clock, float(batch.packets["ts"].max()))
        self._expire(self._clock)
        if evidence is not None:
            evidence.settle(batch)

    def _detect(self, batch: Batch) -> None:
        """Every detector on one batch (a failing one is counted and logged, the rest go on)."""
        # the evidence ring first: an incident the detectors open finds its packets
        if self.evidence is not None:
            self.evidence.add(batch)
        try:
            for det in self.detectors:
                try:
                    det.process(batch, self.ctx)
                except Exception:  # a detector bug must not stop the sensor; counted and logged
                    logger.exception("detector %s failed on %s", det.name, batch.source)
                    self.stats.detector_errors[det.name] += 1
        finally:
            batch.drop_columns()  # the columns the detectors shared die with the batch's turn

    def _expire(self, now: float) -> None:
        for det in self.detectors:
            try:
                det.expire(now)
            except Exception:  # as above: count, log, go on
                logger.exception("detector %s failed to expire state", det.name)
                self.stats.detector_errors[det.name] += 1
        if math.isfinite(now):
            self.tracker.expire(now)
        self.stats.incidents_open = self.tracker.open_count()

    def run(self, batches: Iterable[Batch], progress: Progress | None = None) -> RunSummary:
        """Process every batch, then :meth:`finish`."""
        for batch in batches:
            self.process(batch)
            if progress is not None:
                progress(batch)
        return self.finish()

    def finish(self) -> RunSummary:
        """Finalise pending state (end of input), flush incidents, and summarise the run."""
        if self._finished is not None:
            return self._finished
        self._expire(math.inf)
        self.tracker.flush()
        if self.evidence is not None:
            self.evidence.finish()
        gc.set_threshold(*self._gc_threshold)
        incidents = self.tracker.all_incidents()
        by_det: dict[str, Counter[str]] = {}
        for ev in incidents:
            by_det.setdefault(ev.detector, Counter())[ev.severity.value] += 1
        self._finished = RunSummary(
            site=self.site or "",
            sensor=self.sensor,
            detectors=self.detector_names,
            skipped_detectors=self.skipped,
            packets=self.stats.packets,
            bytes=self.stats.bytes,
            decode_errors=dict(self.stats.decode_errors),
            detector_errors=dict(self.stats.detector_errors),
            duration_seconds=round(time.monotonic() - self._started, 3),
            events_by_detector={d: dict(c) for d, c in sorted(by_det.items())},
            incidents=sorted(incidents, key=lambda e: (-e.severity.rank, e.first_seen)),
            suppressed=self.tracker.suppressed,
            evidence_dir=str(self.evidence.directory) if self.evidence is not None else "",
            evidence=dict(sorted(self.evidence.counts.items()))
            if self.evidence is not None
            else {},
        )
        return self._finished
