"""``dhcp_starvation``: a flood of DHCP requests for new clients on one segment.

DHCP starvation (yersinia, dhcpstarv, DHCPig) asks the DHCP server for a lease for
hundreds of made-up clients a second until its pool is empty; the attacker's own
rogue server then answers everyone else (``rogue_dhcp`` sees that half). Each request
names its client by hardware address (``chaddr``), so what the flood looks like is
many distinct client addresses in a few seconds on one segment (VLAN).

Counted per segment (the 802.1Q VLAN, or the untagged link): distinct client
addresses of DHCPDISCOVER and DHCPREQUEST messages from clients (UDP 68 -> 67, not
relayed) within ``window_seconds``; ``threshold`` of them open an incident (key
``(dhcp_starvation, vlan)``). Made-up addresses give the tools away, and raise the
incident to high once ``forged_threshold`` of them are seen: a client address with
the group bit set (no network card has one; random addresses have it half the
time), or one that is not the Ethernet source of its own request (a tool that keeps
its own source address). A boot storm after a power cut asks for many genuine
clients too, but over a minute or more rather than the default 10 s, and with their
own addresses: medium at most, and only when it is that fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import FailureWindow, drop_idle
from collectors.auditor.detectors._dhcp import DISCOVER, REQUEST, bootp_fields
from collectors.auditor.detectors._util import mac_str, view
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

SAMPLE = 10
_GROUP_BIT = 1 << 40  # the I/G bit of a 48-bit address (first octet, lowest bit)


class DhcpStarvationSettings(DetectorSettings):
    threshold: int = Field(default=50, ge=2, description="distinct clients in the window")
    window_seconds: float = Field(default=10.0, gt=0)
    forged_threshold: int = Field(
        default=10, ge=1, description="made-up client addresses for severity high"
    )
    max_clients: int = Field(default=65_536, ge=100, description="per segment")


@dataclass(slots=True)
class _Segment(FailureWindow):
    # times: client hardware address -> time of its last request
    forged: set[int] = field(default_factory=set)  # made-up client addresses seen
    senders: set[int] = field(default_factory=set)  # Ethernet sources (at most SAMPLE * 10)
    requests: int = 0
    reported: int = 0
    peak: int = 0


@register
class DhcpStarvation:
    name: ClassVar[str] = "dhcp_starvation"
    Settings: ClassVar[type[DetectorSettings]] = DhcpStarvationSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: DhcpStarvationSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.segments: dict[int, _Segment] = {}
        self.active: set[int] = set()
        self.changed: set[int] = set()
        self.floor = math.inf

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        mask = v.udp & (v.sport == 68) & (v.dport == 67) & (v.payload_len >= 240)
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return
        msg = bootp_fields(batch, rows)
        asks = msg.ok & (msg.op == 1) & ((msg.mtype == DISCOVER) | (msg.mtype == REQUEST))
        asks &= msg.giaddr == 0
        if not asks.any():
            return
        keep = np.flatnonzero(asks)
        rows = rows[keep]
        p = batch.packets
        window, threshold = self.s.window_seconds, self.s.threshold
        for vlan, ts, sender, client in zip(
            p["vlan"][rows].tolist(),
            v.ts[rows].tolist(),
            p["src_mac"][rows].tolist(),
            msg.chaddr[keep].tolist(),
            strict=True,
        ):
            seg = self.segments.get(vlan)
            if seg is None:
                if len(self.segments) >= 4096:
                    continue  # bounded: 4,096 segments on one sensor is already the story
                seg = self.segments[vlan] = _Segment(first=ts, floor=ts, last=ts)
            seg.requests += 1
            clients = seg.times
            if client in clients or len(clients) < self.s.max_clients:
                clients[client] = ts
                seg.floor = min(seg.floor, ts)
                seg.last = max(seg.last, ts)
                if client & _GROUP_BIT or client != sender:
                    seg.forged.add(client)
            if len(seg.senders) < SAMPLE * 10:
                seg.senders.add(sender)
            self.changed.add(vlan)
            if len(clients) >= threshold:
                horizon = ts - window
                if seg.floor < horizon and seg.prune(horizon):
                    seg.forged &= clients.keys()
                if len(seg.times) >= threshold:
                    self.active.add(vlan)

    def expire(self, now: float) -> None:
        changed, self.changed = self.changed, set()
        for vlan in changed & self.active:
            seg = self.segments.get(vlan)
            if seg is None:
                self.active.discard(vlan)
                continue
            self.floor = min(self.floor, seg.floor)
            n = len(seg.times)
            seg.peak = max(seg.peak, n)
            if seg.requests != seg.reported:
                seg.reported = seg.requests
                self._report(vlan, seg)
        if now - self.s.window_seconds > self.floor:
            self.floor = drop_idle(self.active, self.segments, now, self.s.window_seconds)

    def _report(self, vlan: int, seg: _Segment) -> None:
        forged = len(seg.forged)
        where = f"VLAN {vlan}" if vlan >= 0 else "the untagged segment"
        senders = sorted(seg.senders)
        self.ctx.report(
            self.name,
            (str(vlan),),
            ts=seg.last,
            first_seen=seg.first,
            severity=Severity.HIGH if forged >= self.s.forged_threshold else Severity.MEDIUM,
            src=mac_str(senders[0]) if len(senders) == 1 else "",
            count=seg.peak,
            summary=f"{seg.peak} distinct DHCP clients asked for a lease on {where} within "
            f"{self.s.window_seconds:g} s, {forged} of them with made-up hardware addresses: "
            "DHCP starvation (yersinia, dhcpstarv style)",
            evidence={
                "vlan": vlan,
                "clients": seg.peak,
                "forged_clients": forged,
                "forged_sample": [mac_str(c) for c in sorted(seg.forged)[:SAMPLE]],
                "requests": seg.requests,
                "ethernet_sources": len(seg.senders),
                "ethernet_sources_sample": [mac_str(m) for m in senders[:SAMPLE]],
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
