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

from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._probes import ProbeDetector, ProbeSettings
from collectors.auditor.detectors._util import view
from collectors.auditor.detectors.base import DetectorContext, register

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


class StealthScanSettings(ProbeSettings):
    threshold: int = Field(default=5, ge=1, description="distinct (host, port) targets probed")


@register
class StealthScan(ProbeDetector):
    name: ClassVar[str] = "stealth_scan"
    Settings: ClassVar[type[DetectorSettings]] = StealthScanSettings
    needs_inventory: ClassVar[bool] = False
    what: ClassVar[str] = "TCP flags no stack sends"
    tail: ClassVar[str] = ": a stealth scan (nmap -sF/-sN/-sX style)"

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
        self.table.add(
            zip(
                v.src4[idx].tolist(),
                v.dst4[idx].tolist(),
                v.dport[idx].tolist(),
                map(probe_kind, flags[idx].tolist()),
                v.ts[idx].tolist(),
                strict=True,
            )
        )
