"""``tiny_fragment``: one source's IPv4 first fragments too small for the TCP or UDP header.

RFC 1858's *tiny fragment*: a first fragment that ends inside the transport header,
so a filter or IDS looking at one packet sees no ports or flags (``nmap -f`` puts a
probe's 20-byte TCP header in three 8-byte fragments; ``fragroute`` and ``hping3 -f``
do the same). No stack fragments that small on its own: the smallest IPv4 MTU
(68 bytes) leaves a first fragment 48 bytes of data, and RFC 3128 says a filter
should drop them. The engine reassembles such datagrams (:mod:`collectors.auditor.defrag`)
so the scan detectors see the probes whole; this detector reports the evasion itself.

A *tiny fragment* is a decoded IPv4 packet of TCP or UDP whose transport header is cut
short (``truncated_l4``) with More Fragments set and offset 0. Counted per source as
distinct ``(host, port)`` targets (the ports are in the first 4 bytes, which an 8-byte
fragment holds) within ``window_seconds``; ``threshold`` targets open an incident (key
``(tiny_fragment, src)``), ``high_threshold`` make it high.

Work per batch: one mask over the error column; Python only for the packets it selects.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import Batch, DecodeError
from collectors.auditor.config import DetectorSettings
from collectors.auditor.defrag import cut_transport, first_fragment
from collectors.auditor.detectors._probes import ProbeDetector, ProbeSettings
from collectors.auditor.detectors.base import DetectorContext, register


class TinyFragmentSettings(ProbeSettings):
    threshold: int = Field(default=3, ge=1, description="distinct (host, port) targets")


@register
class TinyFragment(ProbeDetector):
    name: ClassVar[str] = "tiny_fragment"
    Settings: ClassVar[type[DetectorSettings]] = TinyFragmentSettings
    needs_inventory: ClassVar[bool] = False
    what: ClassVar[str] = "IP fragments too small to hold the transport header"
    tail: ClassVar[str] = ": an IDS evasion (nmap -f, fragroute style), RFC 1858"

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        p = batch.packets
        if not (p["error"] == DecodeError.TRUNCATED_L4).any():
            return
        cut = cut_transport(p)
        rows = []
        for i in np.flatnonzero(cut).tolist():
            ip = first_fragment(batch, i)
            if ip is not None:
                row = p[i]
                kind = "tcp" if row["proto"] == 6 else "udp"
                rows.append((ip[0], ip[1], int(row["dport"]), kind, float(row["ts"])))
        if rows:
            self.table.add(rows)
