"""``udp_sweep``: one source sends to one UDP port on many addresses, and nothing answers.

A UDP datagram gets no handshake: a sweep of an unused range (a worm looking for
SNMP, NTP or SSDP reflectors, a scanner mapping a subnet at one datagram per
second) leaves no RST and, from a host that does not exist or drops silently, no
ICMP either. Zeek counts such unanswered attempts as scan attempts; ``address_scan``
only sees the UDP attempts an ICMP port-unreachable rejects, so this detector counts
the silent ones.

An *attempt* is a UDP datagram from ``S`` to ``D:port`` (unicast destinations only:
multicast and broadcast discovery - mDNS, SSDP, NetBIOS - is not a sweep). It is
*answered* when, within ``answer_timeout_seconds`` either side of it, ``D`` sends
UDP from ``port`` to ``S`` or an ICMP error quoting it (port-unreachable included:
the host exists; ``address_scan`` counts that as a rejection). Unanswered attempts
are counted per ``(S, port)`` across distinct destinations within
``window_seconds``; ``threshold`` of them open an incident (key
``(udp_sweep, S, udp/port)``), ``high_threshold`` make it high. The defaults are
Zeek's address-scan threshold and interval (25 hosts in 5 minutes).

Monitoring systems are not sweeps: an address of an inventory device that
provides one of ``monitoring_provides`` (or listed in ``monitoring_hosts``)
polling the inventory's own device addresses (SNMP 161, NTP 123, ...) is not
counted, answered or not: a device that is down or filters the poller is what
monitoring is for. The same poller sweeping addresses outside the inventory is
counted like any other source.

Work per batch, vectorised, in :class:`~collectors.auditor.detectors._sweep.SilentSweep`
(shared with ``ping_sweep``); Python touches only the ICMP errors and the
``(source, port)`` groups past the threshold.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import numpy.typing as npt

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import ICMP_UNREACHABLE
from collectors.auditor.detectors._attempts import _quoted_ip as quoted_ip
from collectors.auditor.detectors._sweep import (
    F64,
    MULTICAST,
    SAMPLE,
    U64,
    SilentSweep,
    SweepSettings,
    group_key,
)
from collectors.auditor.detectors._util import ip_str, payload_slices, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity


class UdpSweepSettings(SweepSettings):
    """The shared sweep settings, with their defaults (docs/auditor.md)."""


@register
class UdpSweep(SilentSweep):
    name: ClassVar[str] = "udp_sweep"
    Settings: ClassVar[type[DetectorSettings]] = UdpSweepSettings
    needs_inventory: ClassVar[bool] = False

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        idx = np.flatnonzero(v.udp)
        if len(idx):
            src, dst, ts = v.src4[idx], v.dst4[idx], v.ts[idx]
            sport, dport = v.sport[idx], v.dport[idx]
            # Every UDP datagram may answer an attempt the other way (victim = its source).
            self.answers.add(group_key(dst, sport), src.astype(np.uint64), ts)
            attempt = (dst < MULTICAST) & (dst != 0) & (src != 0) & (dport != 0)
            attempt &= ~self.monitored(src, dst)
            sel = np.flatnonzero(attempt)
            self.attempts.add(group_key(src[sel], dport[sel]), dst[sel].astype(np.uint64), ts[sel])
        icmp = np.flatnonzero(v.icmp & (batch.packets["icmp_type"] == ICMP_UNREACHABLE))
        if len(icmp):
            self._icmp_errors(batch, icmp)
        if len(v.ts):
            self.bounded(float(v.ts[-1]))

    def _icmp_errors(self, batch: Batch, idx: npt.NDArray[np.int64]) -> None:
        """An ICMP error quoting a UDP datagram, sent by its destination, answers it."""
        groups, victims, times = [], [], []
        senders = batch.packets["src4"][idx].tolist()
        rows = zip(
            payload_slices(batch, idx), senders, batch.packets["ts"][idx].tolist(), strict=True
        )
        for data, sender, ts in rows:
            quoted = quoted_ip(data)
            if quoted is not None and quoted[0] == 17 and quoted[2] == sender:
                _proto, osrc, odst, dport = quoted
                groups.append(osrc << 16 | dport)
                victims.append(odst)
                times.append(ts)
        self.answers.add(
            np.array(groups, np.uint64), np.array(victims, np.uint64), np.array(times, np.float64)
        )

    def _report(self, key: int, victims: U64, times: F64) -> None:
        src, port, n = ip_str(key >> 16), key & 0xFFFF, len(victims)
        first, last = float(times.min()), float(times.max())
        self.ctx.report(
            self.name,
            (src, f"udp/{port}"),
            ts=last,
            first_seen=first,
            severity=Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM,
            src=src,
            count=n,
            summary=f"{src} sent to udp/{port} on {n} hosts without an answer in {last - first:.0f} s",
            evidence={
                "hosts": n,
                "hosts_sample": [ip_str(int(x)) for x in victims[:SAMPLE].tolist()],
                "port": f"udp/{port}",
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
