"""Failed connection attempts, shared by ``port_scan`` and ``address_scan``.

An attempt is a TCP SYN (without ACK) from a scanner to ``victim:port``. It has
*failed* when the victim answers with a RST, when an ICMP unreachable quoting it
comes back, or when no SYN-ACK arrives within ``answer_timeout`` seconds (the
same notion as Zeek's ``connection_attempt``/``connection_rejected`` that
bro-simple-scan counts). A UDP datagram answered by ICMP port-unreachable is a
failed UDP attempt. Answered attempts are forgotten. Pending attempts are
bounded (``max_pending``); the oldest is finalised as unanswered when full.

Work per batch: vectorised masks select SYNs, SYN-ACKs, RSTs and ICMP
unreachables; Python touches only those packets (deduplicated SYN keys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from collectors.auditor.batch import TCP_ACK, TCP_RST, TCP_SYN, Batch
from collectors.auditor.detectors._util import BoundedDict, ipv4_mask

# (scanner, victim, port, proto, ts, how) with how in {"unanswered", "rejected", "unreachable"}
FailedListener = Callable[[int, int, int, int, float, str], None]

SHARED_NAME = "failed_attempts"
ICMP_UNREACHABLE = 3


@dataclass
class AttemptTracker:
    answer_timeout: float = 5.0
    max_pending: int = 200_000
    listeners: list[FailedListener] = field(default_factory=list)
    pending: BoundedDict[tuple[int, int, int], float] = field(init=False)
    _last_batch: int = -1
    _batches: int = 0

    def __post_init__(self) -> None:
        # Eviction is done by hand (finalised as unanswered); the bound is a safety net.
        self.pending = BoundedDict(self.max_pending + 1)

    def subscribe(self, listener: FailedListener) -> None:
        self.listeners.append(listener)

    def _fail(self, key: tuple[int, int, int], proto: int, ts: float, how: str) -> None:
        for listener in self.listeners:
            listener(key[0], key[1], key[2], proto, ts, how)

    def observe(self, batch: Batch) -> None:
        """Update from one batch; several detectors may call this for the same batch."""
        marker = id(batch)
        if marker == self._last_batch:
            return
        self._last_batch = marker
        p = batch.packets
        m4 = ipv4_mask(batch)
        tcp = m4 & (p["proto"] == 6)
        flags = p["tcp_flags"]
        syn = tcp & ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN)
        synack = tcp & ((flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK))
        rst = tcp & ((flags & TCP_RST) != 0)
        unreach = m4 & (p["proto"] == 1) & (p["icmp_type"] == ICMP_UNREACHABLE)

        idx = np.flatnonzero(syn)
        if len(idx):
            src = p["src4"][idx].astype(np.uint64)
            dst = p["dst4"][idx].astype(np.uint64)
            keys = np.stack([(src << np.uint64(32)) | dst, p["dport"][idx].astype(np.uint64)], 1)
            _, first = np.unique(keys, axis=0, return_index=True)
            first.sort()
            ts = p["ts"][idx]
            pending = self.pending
            for j in first:
                k = (int(src[j]), int(dst[j]), int(keys[j, 1]))
                if k not in pending:
                    if len(pending) >= self.max_pending:
                        old, old_ts = pending.popitem(last=False)
                        self._fail(old, 6, old_ts, "unanswered")
                    pending[k] = float(ts[j])
        for j in np.flatnonzero(synack):
            self.pending.pop((int(p["dst4"][j]), int(p["src4"][j]), int(p["sport"][j])), None)
        for j in np.flatnonzero(rst):
            k = (int(p["dst4"][j]), int(p["src4"][j]), int(p["sport"][j]))
            if k in self.pending:
                del self.pending[k]
                self._fail(k, 6, float(p["ts"][j]), "rejected")
        for j in np.flatnonzero(unreach):
            quoted = _quoted_ip(batch.payload(int(j)))
            if quoted is None:
                continue
            proto, osrc, odst, dport = quoted
            k = (osrc, odst, dport)
            if proto == 6 and k in self.pending:
                del self.pending[k]
                self._fail(k, 6, float(p["ts"][j]), "unreachable")
            elif proto == 17:
                self._fail(k, 17, float(p["ts"][j]), "unreachable")

    def expire(self, now: float) -> None:
        """Finalise SYNs unanswered for ``answer_timeout`` (all of them when ``now`` is inf)."""
        pending = self.pending
        while pending:
            key, ts = next(iter(pending.items()))
            if ts + self.answer_timeout > now:
                break
            del pending[key]
            self._fail(key, 6, ts, "unanswered")


def _quoted_ip(data: bytes) -> tuple[int, int, int, int] | None:
    """(proto, src, dst, dport) of the IPv4 header an ICMP error quotes, or None."""
    for start in (0, 4):
        if len(data) >= start + 24 and data[start] >> 4 == 4:
            ihl = (data[start] & 0x0F) * 4
            if ihl < 20 or len(data) < start + ihl + 4:
                continue
            proto = data[start + 9]
            src = int.from_bytes(data[start + 12 : start + 16], "big")
            dst = int.from_bytes(data[start + 16 : start + 20], "big")
            dport = int.from_bytes(data[start + ihl + 2 : start + ihl + 4], "big")
            return proto, src, dst, dport
    return None


def shared_tracker(shared: dict[str, object], answer_timeout: float) -> AttemptTracker:
    """The run's one tracker (the first detector to ask sets its timeout)."""
    tracker = shared.get(SHARED_NAME)
    if not isinstance(tracker, AttemptTracker):
        tracker = AttemptTracker(answer_timeout=answer_timeout)
        shared[SHARED_NAME] = tracker
    return tracker
