"""``arp_sweep``: one host asks "who has" for many addresses and few of them answer.

Host discovery on a LAN (``arp-scan``, ``nmap -sn``, a worm's first step) asks for
every address of the subnet in a few seconds; most of a subnet is unused, so most
requests go unanswered. Like arpwatch's and ntopng's ARP-scan checks, a sender is
judged on how many *distinct* addresses it asked for without an answer:
``threshold`` of them within ``window_seconds`` open an incident (key
``(arp_sweep, sender IP)``), ``high_threshold`` make it high. A request is answered
when the target replies to the sender within ``answer_timeout_seconds``.

Not counted:

- ARP probes (RFC 5227: sender IP 0.0.0.0; a DHCP client checks the address it was
  offered a few times) and gratuitous ARP / announcements (sender IP = target IP):
  they claim or check one address, not many;
- by default (``ignore_gateways``), requests from the inventory's zone gateways: a
  router resolves every address traffic is routed to, so an inbound sweep from
  elsewhere makes the gateway ask for each unused address; that sweep is reported
  from its real source (``address_scan``, ``udp_sweep``).

Work per batch: numpy masks select ARP requests and replies; requests are reduced
to distinct ``(sender, target)`` pairs of the batch before Python sees them, and
only replies to a tracked sender reach Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._attempts import FailureWindow
from collectors.auditor.detectors._util import (
    BoundedDict,
    group_rows,
    ip_str,
    mac_str,
    sorted_in,
    view,
)
from collectors.auditor.detectors.base import DetectorContext, register
from collectors.auditor.events import Severity

ARP_REQUEST = 1
ARP_REPLY = 2
SAMPLE = 10


class ArpSweepSettings(DetectorSettings):
    threshold: int = Field(default=32, ge=2, description="distinct unanswered targets")
    window_seconds: float = Field(default=60.0, gt=0)
    answer_timeout_seconds: float = Field(default=2.0, gt=0)
    high_threshold: int = Field(default=128, ge=2, description="targets for severity high")
    ignore_gateways: bool = True
    max_senders: int = Field(default=10_000, ge=100)
    max_targets: int = Field(default=4096, ge=100, description="per sender")


@dataclass(slots=True)
class _Sender(FailureWindow):
    # times: target -> time of the last request for it
    answered: set[int] = field(default_factory=set)
    mac: int = 0
    reported: int = 0


@register
class ArpSweep:
    name: ClassVar[str] = "arp_sweep"
    Settings: ClassVar[type[DetectorSettings]] = ArpSweepSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: ArpSweepSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.senders: BoundedDict[int, _Sender] = BoundedDict(settings.max_senders)
        self.tracked = np.empty(0, np.uint32)  # sorted sender addresses (pre-selects replies)
        self.changed: set[int] = set()
        gateways: set[int] = set()
        if ctx.inventory is not None and settings.ignore_gateways:
            for site in ctx.inventory.sites.values():
                gateways |= {int(z.gateway) for z in site.zones.values()}
        self.gateways = np.array(sorted(gateways), dtype=np.uint32)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        idx = np.flatnonzero(view(batch).arp)
        if len(idx) == 0:
            return
        p = batch.packets
        op, spa, tpa = p["arp_op"][idx], p["arp_spa"][idx], p["arp_tpa"][idx]
        request = (op == ARP_REQUEST) & (spa != 0) & (spa != tpa) & (tpa != 0)
        if len(self.gateways):
            request &= ~sorted_in(spa, self.gateways)
        req = idx[request]
        if len(req):
            self._requests(batch, req)
        replies = idx[(op == ARP_REPLY) & sorted_in(tpa, self.tracked)]  # (senders now known)
        if len(replies):
            for sender, target in zip(
                p["arp_tpa"][replies].tolist(), p["arp_spa"][replies].tolist(), strict=True
            ):
                st = self.senders.get(sender)
                if st is not None and target in st.times:
                    st.answered.add(target)

    def _requests(self, batch: Batch, req: npt.NDArray[np.int64]) -> None:
        """One row per distinct (sender, target) of the batch (its last request) reaches Python."""
        p = batch.packets
        rev = req[::-1]  # group_rows keeps each pair's first row: of the reversed rows, the last
        first, _, _ = group_rows(
            p["arp_spa"][rev].astype(np.uint64), p["arp_tpa"][rev].astype(np.uint64)
        )
        rows = np.sort(rev[first])
        new_sender = False
        senders, cap = self.senders, self.s.max_targets
        for sender, target, ts, mac in zip(
            p["arp_spa"][rows].tolist(),
            p["arp_tpa"][rows].tolist(),
            p["ts"][rows].tolist(),
            p["arp_sha"][rows].tolist(),
            strict=True,
        ):
            st = senders.get(sender)
            if st is None:
                st = _Sender(first=ts, floor=ts, last=ts, mac=mac)
                senders[sender] = st
                new_sender = True
            else:
                senders.move_to_end(sender)
            times = st.times
            if target in times or len(times) < cap:
                times[target] = ts
                st.floor = min(st.floor, ts)
                st.last = max(st.last, ts)
            self.changed.add(sender)
        if new_sender:
            self.tracked = np.array(sorted(senders), dtype=np.uint32)

    def expire(self, now: float) -> None:
        window, timeout = self.s.window_seconds, self.s.answer_timeout_seconds
        for sender in list(self.changed):
            st = self.senders.get(sender)
            if st is None:
                self.changed.discard(sender)
                continue
            horizon = st.last - window
            if st.floor < horizon and st.prune(horizon):
                st.answered &= st.times.keys()
            if len(st.times) - len(st.answered) < self.s.threshold:
                if now - st.last > timeout:
                    self.changed.discard(sender)
                continue
            # judged only once the answers could have come
            cutoff = now - timeout
            silent = [t for t, ts in st.times.items() if ts <= cutoff and t not in st.answered]
            if len(silent) >= self.s.threshold and len(silent) != st.reported:
                st.reported = len(silent)
                self._report(sender, st, silent)
            if now - st.last > timeout:
                self.changed.discard(sender)
        if now == math.inf:
            return
        # forget senders idle for a window (the oldest first)
        dropped = False
        while self.senders:
            sender, st = next(iter(self.senders.items()))
            if now - st.settle() <= window:
                break
            del self.senders[sender]
            dropped = True
        if dropped:
            self.tracked = np.array(sorted(self.senders), dtype=np.uint32)

    def _report(self, sender: int, st: _Sender, silent: list[int]) -> None:
        src, n = ip_str(sender), len(silent)
        times = [st.times[t] for t in silent]
        first, last = min(times), max(times)
        self.ctx.report(
            self.name,
            (src,),
            ts=last,
            first_seen=first,
            severity=Severity.HIGH if n >= self.s.high_threshold else Severity.MEDIUM,
            src=src,
            count=n,
            summary=f"{src} ({mac_str(st.mac)}) asked ARP who-has for {n} addresses without "
            f"an answer in {last - first:.0f} s",
            evidence={
                "mac": mac_str(st.mac),
                "unanswered": n,
                "asked": len(st.times),
                "answered": len(st.answered),
                "targets_sample": [ip_str(t) for t in sorted(silent)[:SAMPLE]],
                "window_seconds": self.s.window_seconds,
                "threshold": self.s.threshold,
            },
        )
