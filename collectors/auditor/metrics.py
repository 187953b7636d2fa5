"""Prometheus metrics of the auditor: a custom collector yielding fresh families per scrape.

Families (``netwarden_`` prefix, base units, counters end in ``_total``):

- ``netwarden_auditor_packets_total{site}``: packets read (decoded or not)
- ``netwarden_auditor_bytes_total{site}``: their bytes on the wire
- ``netwarden_auditor_decode_errors_total{site,kind}``: packets whose headers could
  not be fully decoded, by :class:`~collectors.auditor.batch.DecodeError` kind
- ``netwarden_auditor_events_total{site,detector,severity}``: incidents opened, and
  raised to a higher severity, by detector and severity
- ``netwarden_auditor_input_errors_total{site,kind}``: damaged capture files
  (truncated, bad blocks) and live frames dropped because the auditor fell behind
- ``netwarden_auditor_detector_errors_total{site,detector}``: batches a detector
  failed on (logged; the run goes on)
- ``netwarden_auditor_incidents_open{site}``: incidents currently open (gauge)
- ``netwarden_auditor_info{site,sensor,version}``: 1 (facts about this auditor)

The ``site`` label: DESIGN.md reserves ``site`` for service-discovery relabelling
of *exporters* that speak for many sites. An auditor is one sensor at one site and
the issue asks for metrics "per site", so the auditor labels its own site (empty
when run without ``--site``); Prometheus' ``honor_labels`` is not needed because
SD sets the same value. Labels are bounded: site, detector (registry names),
severity (5), kind (enum); never an IP or MAC address.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.auditor.decode import DecodeStats
from collectors.auditor.events import Severity
from collectors.auditor.stats import ERROR_KINDS, AuditorStats

__all__ = ["ERROR_KINDS", "AuditorCollector", "AuditorStats"]  # AuditorStats: was defined here


class AuditorCollector(Collector):
    """Yields the auditor's families from ``stats`` at every scrape (register it in a registry)."""

    def __init__(
        self,
        stats: AuditorStats,
        *,
        site: str = "",
        sensor: str = "",
        detectors: tuple[str, ...] = (),
        version: str = "",
        inputs: DecodeStats | None = None,
    ) -> None:
        self.stats = stats
        self.site = site
        self.sensor = sensor
        self.detectors = detectors
        self.version = version
        self.inputs = inputs

    def collect(self) -> Iterator[Metric]:
        s, site = self.stats, self.site
        packets = CounterMetricFamily(
            "netwarden_auditor_packets", "Packets the auditor has read.", labels=["site"]
        )
        packets.add_metric([site], s.packets)
        yield packets
        nbytes = CounterMetricFamily(
            "netwarden_auditor_bytes", "Bytes (on the wire) the auditor has read.", labels=["site"]
        )
        nbytes.add_metric([site], s.bytes)
        yield nbytes
        errors = CounterMetricFamily(
            "netwarden_auditor_decode_errors",
            "Packets whose headers could not be fully decoded, by kind.",
            labels=["site", "kind"],
        )
        for kind in ERROR_KINDS.values():
            errors.add_metric([site, kind], s.decode_errors.get(kind, 0))
        yield errors
        events = CounterMetricFamily(
            "netwarden_auditor_events",
            "Incidents opened or raised in severity, by detector and severity.",
            labels=["site", "detector", "severity"],
        )
        for det in self.detectors or tuple(sorted({d for d, _ in s.events})):
            for sev in Severity:
                events.add_metric([site, det, sev.value], s.events.get((det, sev.value), 0))
        yield events
        inputs = CounterMetricFamily(
            "netwarden_auditor_input_errors",
            "Damaged capture files and dropped live frames, by kind.",
            labels=["site", "kind"],
        )
        for kind, n in sorted((self.inputs.file_errors if self.inputs else {}).items()):
            inputs.add_metric([site, kind], n)
        yield inputs
        det_errors = CounterMetricFamily(
            "netwarden_auditor_detector_errors",
            "Batches a detector failed on (the run continued).",
            labels=["site", "detector"],
        )
        for det in self.detectors:
            det_errors.add_metric([site, det], s.detector_errors.get(det, 0))
        yield det_errors
        open_ = GaugeMetricFamily(
            "netwarden_auditor_incidents_open", "Incidents currently open.", labels=["site"]
        )
        open_.add_metric([site], s.incidents_open)
        yield open_
        info = GaugeMetricFamily(
            "netwarden_auditor_info",
            "The auditor's site, sensor name and version.",
            labels=["site", "sensor", "version"],
        )
        info.add_metric([site, self.sensor, self.version], 1)
        yield info
