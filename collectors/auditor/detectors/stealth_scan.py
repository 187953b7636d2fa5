"""``stealth_scan``: one source sends TCP segments no TCP stack sends, to many ports or hosts.

nmap's FIN (``-sF``), NULL (``-sN``) and Xmas (``-sX``) scans, and the SYN+FIN or
SYN+RST probes of older scanners and of OS fingerprinting, send no SYN that could
start a connection: ``port_scan`` and ``address_scan``, which count failed
connection attempts, never see them. What gives them away is the flags. In valid
TCP every segment after the handshake carries ACK, and the only segments without
it are a SYN and a RST; a segment with none of SYN, ACK and RST (NULL, FIN alone,
FIN+PSH+URG ...) or with SYN together with FIN or RST is never sent by a stack
(RFC 9293 3.10; Suricata's and Snort's "SCAN NMAP -sF/-sN/-sX" and "SYN FIN" rules
test the same flags).

A *probe* is such an IPv4 TCP segment (later IP fragments, which carry no TCP
header, are not). Probes are counted per source as distinct
``(host, port)`` targets within ``window_seconds``; ``threshold`` targets open an
incident (key ``(stealth_scan, src)``; ``dst`` the host when there is one),
``high_threshold`` make it high. The threshold is low (5) because a probe is never
benign: it only keeps a single odd segment (a broken middlebox, a bit flip) from
raising an incident. nmap's ACK (``-sA``), Window and Maimon (FIN+ACK) scans use
flags valid TCP also uses and are not recognisable without the flow's history: they
are not counted here.

Work per batch: one mask over the flags column; Python only per probe.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import FailureWindow, drop_idle
from collectors.auditor.detectors._util import BoundedDict, ip_str, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

SAMPLE_HOSTS = 10
SAMPLE_PORTS = 20
_LOW6 = 0x3F  # FIN..URG: ECE and CWR (ECN) say nothing about the scan


def probe_kind(flags: int) -> str:
    """The name of a probe's flag combination (nmap's scan names where it has one).

    Examples:
        >>> [probe_kind(f) for f in (0x00, 0x01, 0x29, 0x03, 0x06, 0x09, 0x40)]
        ['null', 'fin', 'xmas', 'syn_fin', 'syn_rst', 'other', 'null']
    """
    low = flags & _LOW6
    if flags & TCP_SYN:
        return "syn_fin" if flags & TCP_FIN else "syn_rst"
    if low == 0:
        return "null"
    if low == TCP_FIN:
        return "fin"
    if low == TCP_FIN | TCP_PSH | TCP_URG:
        return "xmas"
    return "other"


class StealthScanSettings(DetectorSettings):
    threshold: int = Field(default=5, ge=1, description="distinct (host, port) targets probed")
    window_seconds: float = Field(default=300.0, gt=0)
    high_threshold: int = Field(default=100, ge=1, description="targets for severity high")
    max_sources: int = Field(default=50_000, ge=100)
    max_targets: int = Field(default=65_536, ge=100, description="per source")


@dataclass(slots=True)
class _Prober(FailureWindow):
    # times: host << 16 | port -> time of its last probe
    kinds: Counter[str] = field(default_factory=Counter)
    probes: int = 0
    reported: int = 0


@register
class StealthScan:
    name: ClassVar[str] = "stealth_scan"
    Settings: ClassVar[type[DetectorSettings]] = StealthScanSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: StealthScanSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.sources: BoundedDict[int, _Prober] = BoundedDict(settings.max_sources)
        self.active: set[int] = set()
        self.changed: set[int] = set()
        self.floor = math.inf  # <= every active source's oldest probe time

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        flags = v.flags
        invalid = (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == 0
        invalid |= (flags & (TCP_SYN | TCP_FIN)) == (TCP_SYN | TCP_FIN)
        invalid |= (flags & (TCP_SYN | TCP_RST)) == (TCP_SYN | TCP_RST)
        # A later IP fragment has the TCP protocol but no TCP header: the decoder gives it
        # ports 0 and flags 0, a NULL segment by the flags alone (a probe to port 0 from
        # port 0 is not one nmap sends).
        idx = np.flatnonzero(v.tcp & invalid & ((v.sport != 0) | (v.dport != 0)))
        if len(idx) == 0:
            return
        sources, threshold, window = self.sources, self.s.threshold, self.s.window_seconds
        rows = zip(
            v.src4[idx].tolist(),
            v.dst4[idx].tolist(),
            v.dport[idx].tolist(),
            flags[idx].tolist(),
            v.ts[idx].tolist(),
            strict=True,
        )
        for src, dst, dport, fl, ts in rows:
            st = sources.get(src)
            if st is None:
                st = _Prober(first=ts, floor=ts, last=ts)
                sources[src] = st
            else:
                sources.move_to_end(src)
            st.probes += 1
            st.kinds[probe_kind(fl)] += 1
            target = dst << 16 | dport
            targets = st.times
            before = targets.get(target)
            if before is not None or len(targets) < self.s.max_targets:
                targets[target] = ts
                st.floor = min(st.floor, ts)
                st.first = min(st.first, ts)
                if ts >= st.last:
                    st.last = ts
                elif before is not None and before >= st.last:
                    st.stale = True  # the latest time went back (unsorted trace)
            self.changed.add(src)
            if len(targets) >= threshold:
                horizon = ts - window
                if st.floor < horizon:
                    st.prune(horizon)
                if len(st.times) >= threshold:
                    self.active.add(src)

    def expire(self, now: float) -> None:
        changed, self.changed = self.changed, set()
        for src in changed & self.active:
            st = self.sources.get(src)
            if st is None:  # evicted
                self.active.discard(src)
                continue
            self.floor = min(self.floor, st.floor)
            if st.probes != st.reported:
                st.settle()
                self._report(src, st)
        if now - self.s.window_seconds > self.floor:
            self.floor = drop_idle(self.active, self.sources, now, self.s.window_seconds)

    def _report(self, src_ip: int, st: _Prober) -> None:
        st.reported = st.probes
        src = ip_str(src_ip)
        n = len(st.times)
        hosts = sorted({t >> 16 for t in st.times})
        ports = sorted({t & 0xFFFF for t in st.times})
        kinds = dict(sorted(st.kinds.items()))
        dst = ip_str(hosts[0]) if len(hosts) == 1 else ""
        where = f"{n} ports of {dst}" if dst else f"{n} ports on {len(hosts)} hosts"
        self.ctx.report(
            self.name,
            (src,),
            ts=st.last,
            first_seen=st.first,
            severity=Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM,
            src=src,
            dst=dst,
            count=n,
            summary=f"{src} probed {where} with TCP flags no stack sends "
            f"({', '.join(f'{k} {c}' for k, c in kinds.items())}) in "
            f"{st.last - st.first:.0f} s: a stealth scan (nmap -sF/-sN/-sX style)",
            evidence={
                "targets": n,
                "probes": st.probes,
                "kinds": kinds,
                "hosts": len(hosts),
                "hosts_sample": [ip_str(h) for h in hosts[:SAMPLE_HOSTS]],
                "ports": len(ports),
                "ports_sample": ports[:SAMPLE_PORTS],
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
