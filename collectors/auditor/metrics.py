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
- ``netwarden_auditor_kernel_packets_total{site}``, ``netwarden_auditor_kernel_drops_total{site}``,
  ``netwarden_auditor_kernel_freezes_total{site}``: a live ring's ``PACKET_STATISTICS``
  (frames the kernel passed the filter, frames it had no room for in the ring: the
  auditor fell behind, ring freezes); 0 for files and the scapy fallback
- ``netwarden_auditor_detector_errors_total{site,detector}``: batches a detector
  failed on (logged; the run goes on)
- ``netwarden_auditor_reassembly_total{site,outcome}``: IPv4 datagrams whose first
  fragment cut the transport header (:mod:`collectors.auditor.defrag`): ``reassembled``,
  ``overlapping`` (reassembled from overlapping fragments), ``expired`` (incomplete when
  their time or the table's room ran out), ``oversized``, ``too_fragmented`` (over 256
  fragments: dropped)
- ``netwarden_auditor_incidents_open{site}``: incidents currently open (gauge)
- ``netwarden_auditor_info{site,sensor,version}``: 1 (facts about this auditor)

With a TCP/TLS ``--syslog`` (events to HQ, :mod:`collectors.auditor.forward`):

- ``netwarden_auditor_events_delivered_total{site}``: event messages HQ's TCP acknowledged
- ``netwarden_auditor_events_dropped_total{site,reason}``: messages dropped by the
  bounded spool (``spool_full``: the oldest, to make room; ``too_large``; ``corrupt``)
- ``netwarden_auditor_events_pending{site}``: messages queued or spooled, not delivered
- ``netwarden_auditor_spool_bytes{site}``: bytes in the spool
- ``netwarden_auditor_hq_connected{site}``: 1 while connected to HQ's log server

The ``site`` label: DESIGN.md reserves ``site`` for service-discovery relabelling
of *exporters* that speak for many sites. An auditor is one sensor at one site and
the issue asks for metrics "per site", so the auditor labels its own site (empty
when run without ``--site``); Prometheus' ``honor_labels`` is not needed because
SD sets the same value. Labels are bounded: site, detector (registry names),
severity (5), kind (enum); never an IP or MAC address.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from collectors.auditor.decode import DecodeStats
from collectors.auditor.defrag import REASSEMBLY_OUTCOMES
from collectors.auditor.events import Severity
from collectors.auditor.forward import ForwardStats
from collectors.auditor.stats import ERROR_KINDS, AuditorStats

DROP_REASONS = ("spool_full", "too_large", "corrupt")

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
        forward: ForwardStats | None = None,
    ) -> None:
        self.stats = stats
        self.site = site
        self.sensor = sensor
        self.detectors = detectors
        self.version = version
        self.inputs = inputs
        self.forward = forward

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
        yield _by_label(
            "netwarden_auditor_decode_errors",
            "Packets whose headers could not be fully decoded, by kind.",
            site=site,
            label="kind",
            keys=ERROR_KINDS.values(),
            counts=s.decode_errors,
        )
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
        kernel = self.inputs.kernel if self.inputs else {}
        for key, help_text in (
            ("packets", "Frames the kernel put in (or dropped from) the capture ring."),
            ("drops", "Frames the kernel dropped: the capture ring was full (auditor behind)."),
            ("freezes", "Times the kernel found the capture ring full and froze it."),
        ):
            family = CounterMetricFamily(
                f"netwarden_auditor_kernel_{key}", help_text, labels=["site"]
            )
            family.add_metric([site], kernel.get(key, 0))
            yield family
        yield _by_label(
            "netwarden_auditor_reassembly",
            "IPv4 datagrams whose first fragment cut the transport header, by outcome.",
            site=site,
            label="outcome",
            keys=REASSEMBLY_OUTCOMES,
            counts=s.reassembly,
        )
        yield _by_label(
            "netwarden_auditor_detector_errors",
            "Batches a detector failed on (the run continued).",
            site=site,
            label="detector",
            keys=self.detectors,
            counts=s.detector_errors,
        )
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
        if self.forward is not None:
            yield from self._forward(self.forward)

    def _forward(self, f: ForwardStats) -> Iterator[Metric]:
        """The families of the way to HQ (a TCP/TLS ``--syslog``)."""
        site = self.site
        delivered = CounterMetricFamily(
            "netwarden_auditor_events_delivered",
            "Event messages HQ's log server acknowledged (TCP).",
            labels=["site"],
        )
        delivered.add_metric([site], f.delivered)
        yield delivered
        yield _by_label(
            "netwarden_auditor_events_dropped",
            "Event messages dropped by the bounded spool, by reason.",
            site=site,
            label="reason",
            keys=DROP_REASONS,
            counts=f.dropped,
        )
        for name, text, value in (
            ("events_pending", "Event messages queued or spooled, not delivered yet.", f.pending),
            ("spool_bytes", "Bytes in the spool of event messages.", f.spool_bytes),
            ("hq_connected", "1 while connected to HQ's log server.", int(f.connected)),
        ):
            gauge = GaugeMetricFamily(f"netwarden_auditor_{name}", text, labels=["site"])
            gauge.add_metric([site], value)
            yield gauge


def _by_label(
    name: str,
    text: str,
    *,
    site: str,
    label: str,
    keys: Iterable[str],
    counts: Mapping[str, int],
) -> CounterMetricFamily:
    """A counter family by ``site`` and one more label: a sample for every key of
    ``keys`` (0 for those not counted yet, so that the series exist from the start)."""
    family = CounterMetricFamily(name, text, labels=["site", label])
    for key in keys:
        family.add_metric([site, key], counts.get(key, 0))
    return family
