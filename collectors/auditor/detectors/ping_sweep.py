"""``ping_sweep``: one source sends ICMP echo requests to many addresses, and nothing answers.

``nmap -sn -PE``, ``fping -g`` and a worm's host discovery send one echo request per
address of a range; most of an internal range is unused, so most go unanswered. Nothing
else sees them: ``address_scan`` and ``udp_sweep`` count TCP and UDP attempts (nmap's
default host discovery also sends a SYN to 443, which ``address_scan`` counts; a pure
ICMP sweep sends none). Snort's sfportscan calls it an "ICMP sweep"; Zeek counts only TCP
and UDP.

An *attempt* is an ICMP echo request from ``S`` to ``D`` (unicast destinations only). It
is *answered* when ``D`` sends ``S`` an echo reply within ``answer_timeout_seconds``
either side of it (an unreachable from a router on the way is not ``D`` answering).
Unanswered attempts are counted per source across distinct destinations within
``window_seconds``; ``threshold`` of them open an incident (key ``(ping_sweep, S)``),
``high_threshold`` make it high. The defaults are ``udp_sweep``'s (Zeek's 25 hosts in 5
minutes). A host pinging a few others, or many that answer, is not a sweep; monitoring
systems pinging the inventory's own devices are not counted, answered or not (see
:mod:`~collectors.auditor.detectors._sweep`, which holds the machinery).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._sweep import (
    F64,
    MULTICAST,
    SAMPLE,
    U64,
    SilentSweep,
    SweepSettings,
    group_key,
)
from collectors.auditor.detectors._util import ip_str, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

ECHO_REPLY = 0
ECHO_REQUEST = 8


class PingSweepSettings(SweepSettings):
    """The shared sweep settings, with their defaults (docs/auditor.md)."""


@register
class PingSweep(SilentSweep):
    name: ClassVar[str] = "ping_sweep"
    Settings: ClassVar[type[DetectorSettings]] = PingSweepSettings
    needs_inventory: ClassVar[bool] = False

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        if not v.icmp.any():
            return
        itype = batch.packets["icmp_type"]
        replies = np.flatnonzero(v.icmp & (itype == ECHO_REPLY))
        if len(replies):  # a reply answers its destination's requests (victim = its source)
            dst = v.dst4[replies]
            no_port = np.zeros(len(replies), np.uint16)
            self.answers.add(
                group_key(dst, no_port), v.src4[replies].astype(np.uint64), v.ts[replies]
            )
        requests = np.flatnonzero(v.icmp & (itype == ECHO_REQUEST))
        if len(requests):
            src, dst, ts = v.src4[requests], v.dst4[requests], v.ts[requests]
            attempt = (dst < MULTICAST) & (dst != 0) & (src != 0) & ~self.monitored(src, dst)
            sel = np.flatnonzero(attempt)
            no_port = np.zeros(len(sel), np.uint16)
            self.attempts.add(group_key(src[sel], no_port), dst[sel].astype(np.uint64), ts[sel])
        self.bounded(float(v.ts[-1]))

    def _report(self, key: int, victims: U64, times: F64) -> None:
        src, n = ip_str(key >> 16), len(victims)
        first, last = float(times.min()), float(times.max())
        self.ctx.report(
            self.name,
            (src,),
            ts=last,
            first_seen=first,
            severity=Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM,
            src=src,
            count=n,
            summary=f"{src} sent ICMP echo requests to {n} hosts without a reply "
            f"in {last - first:.0f} s",
            evidence={
                "hosts": n,
                "hosts_sample": [ip_str(int(x)) for x in victims[:SAMPLE].tolist()],
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
