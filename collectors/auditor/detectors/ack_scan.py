"""``ack_scan``: one source's bare ACKs (or FIN+ACKs) rejected with RST on many ports or hosts.

nmap's ACK (``-sA``) and Window (``-sW``) scans send a bare ACK to each port, its
Maimon scan (``-sM``) a FIN+ACK: flags valid TCP uses on every established
connection, so neither ``stealth_scan`` (flags no stack sends) nor the
connection-attempt detectors (SYNs) see them. What gives them away is the answer:
a host answers a segment of no connection it knows with a RST (RFC 9293 3.10.7.1),
and that is what the scan maps (an unfiltered port answers, a filtered one does
not). A *rejected probe* is an IPv4 TCP segment with ACK, or FIN+ACK, and nothing
else (ECN bits aside), no payload, to a port below 32768, answered within
``answer_timeout_seconds`` by a RST from the same host and port to the same
source port. Rejected probes are counted per source as distinct ``(host, port)``
targets within ``window_seconds``; ``threshold`` of them open an incident (key
``(ack_scan, src)``, ``dst`` the host when there is one), ``high_threshold`` make it
high.

Look-alikes kept quiet by construction: a connection that died (a host rebooted,
state lost) gives one rejected target per (host, port) of its connections, a few
per client; a server's ACKs to a client that lost its connections go to the
client's ephemeral ports (32768 and up on Linux, 49152 and up on Windows and macOS),
not counted; ACKs nobody answers (a firewall dropping them, a late segment) are
not counted. What is not seen: an ACK scan every probe of which is dropped by a
firewall (it maps nothing then; the firewall's log has it), and probes to ports
from 32768 up.

Work per batch: masks over the flags and ports select probes and RSTs; each probe
takes two slots of a table of recent four-tuples (numpy scatter), and a RST looks up
its own two (numpy gather): only a RST whose slots name a batch still waiting reaches
Python, which finds the probe in that batch's columns. Probes wait for their RST
across batches for ``answer_timeout_seconds`` (at most ``max_pending`` of them, the
oldest dropped first). A probe of an earlier batch whose slot a later probe took
before its RST came is not counted: a chance of about 2 in a million per later
probe, a count lower by that much; never higher (but for two four-tuples of one 63-bit
hash, :func:`probe_keys`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import ClassVar

import numpy as np
import numpy.typing as npt
from pydantic import Field

from collectors.auditor.batch import TCP_ACK, TCP_FIN, TCP_RST, Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._probes import ProbeDetector, ProbeSettings
from collectors.auditor.detectors._util import MIX_A, MIX_B, view
from collectors.auditor.detectors.base import DetectorContext, register

EPHEMERAL_FROM = 32768
"""Probes to ports from here up are not counted: they are where clients' connections live."""
_LOW6 = 0x3F  # FIN..URG: ECE and CWR (ECN) say nothing about the scan


class AckScanSettings(ProbeSettings):
    threshold: int = Field(default=10, ge=1, description="distinct (host, port) targets rejected")
    answer_timeout_seconds: float = Field(
        default=5.0, gt=0, description="how long a probe waits for its RST"
    )
    max_pending: int = Field(default=200_000, ge=1000, description="probes awaiting an answer")


def probe_keys(
    src: npt.NDArray[np.uint32],
    dst: npt.NDArray[np.uint32],
    sport: npt.NDArray[np.uint16],
    dport: npt.NDArray[np.uint16],
    fin: npt.NDArray[np.bool_] | bool,
) -> npt.NDArray[np.uint64]:
    """One 64-bit key per probe: a hash of its four-tuple, its lowest bit the kind (FIN).

    The two kinds of one four-tuple sort next to each other (the keys differ in the
    lowest bit only), so one search finds either. Two different four-tuples share a
    hash with a probability of about 2**-63 per pair compared: the only inexactness
    of the matching (a RST would then count for a probe it does not answer).

    Examples:
        >>> u32, u16 = (lambda *v: np.array(v, np.uint32)), (lambda *v: np.array(v, np.uint16))
        >>> k = probe_keys(u32(1, 1, 2), u32(2, 2, 1), u16(3, 3, 3), u16(4, 4, 4), np.array([0, 1, 0], bool))
        >>> int(k[0] ^ k[1]), bool(k[0] >> 1 != k[2] >> 1)
        (1, True)
    """
    pair = (src.astype(np.uint64) << np.uint64(32)) | dst.astype(np.uint64)
    ports = (sport.astype(np.uint64) << np.uint64(16)) | dport.astype(np.uint64)
    with np.errstate(over="ignore"):
        key: npt.NDArray[np.uint64] = (pair * MIX_A) ^ (ports * MIX_B)
        key ^= key >> np.uint64(29)
    key &= ~np.uint64(1)
    key |= np.asarray(fin, dtype=np.uint64)
    return key


SLOTS = 1 << 20
"""Slots of the table of recent probes' four-tuples (2 MiB of batch numbers; two per tuple)."""
_MASK = np.uint64(SLOTS - 1)
_LAST_NO = int(np.iinfo(np.uint16).max)


def _slot1(keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    out: npt.NDArray[np.uint64] = (keys >> np.uint64(1)) & _MASK
    return out


def _slot2(keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    out: npt.NDArray[np.uint64] = keys >> np.uint64(64 - SLOTS.bit_length() + 1)
    return out


@dataclass(frozen=True, slots=True)
class _Chunk:
    """The probes of one batch, in arrival order, and the time of the newest."""

    no: int
    keys: npt.NDArray[np.uint64]
    times: npt.NDArray[np.float64]
    newest: float


@register
class AckScan(ProbeDetector):
    name: ClassVar[str] = "ack_scan"
    Settings: ClassVar[type[DetectorSettings]] = AckScanSettings
    needs_inventory: ClassVar[bool] = False
    what: ClassVar[str] = "bare ACK segments the target rejected with RST"
    tail: ClassVar[str] = ": an ACK scan (nmap -sA/-sW/-sM style)"

    def __init__(self, settings: AckScanSettings, ctx: DetectorContext) -> None:
        super().__init__(settings, ctx)
        self.s: AckScanSettings = settings
        # Probes awaiting their RST, per batch in arrival order (batch number, keys, times).
        self.chunks: deque[_Chunk] = deque()
        self.pending = 0  # probes in chunks
        self.batch_no = 0
        # Two slots per four-tuple (two parts of its hash) hold the number of the last
        # batch with a probe there. A RST whose two slots hold the same batch, still
        # waiting, is looked up in that batch's probes; any other answers no probe, bar a
        # probe of an earlier batch whose slot a later probe took (each later probe takes
        # one of its two slots with a chance of 2 in SLOTS): then not counted. Saves
        # searching every waiting probe for the RSTs of each batch.
        self.slots = np.zeros(SLOTS, np.uint16)

    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        v = view(batch)
        flags = v.flags
        # ACK or FIN+ACK and nothing else of FIN..URG (ECN bits aside)
        probe = v.tcp & ((flags & (_LOW6 & ~TCP_FIN)) == TCP_ACK)
        probe &= (v.payload_len == 0) & (v.dport < EPHEMERAL_FROM)
        idx = np.flatnonzero(probe)
        if len(idx):
            keys = probe_keys(
                v.src4[idx], v.dst4[idx], v.sport[idx], v.dport[idx], (flags[idx] & TCP_FIN) != 0
            )
            self.batch_no += 1
            if self.batch_no > _LAST_NO:
                self._renumber()
            self.slots[_slot1(keys)] = self.batch_no
            self.slots[_slot2(keys)] = self.batch_no
            times = v.ts[idx]
            self.chunks.append(_Chunk(self.batch_no, keys, times, float(times.max())))
            self.pending += len(keys)
        if self.chunks:
            self._forget(float(v.ts[-1]))
        rst = np.flatnonzero(v.tcp & ((flags & TCP_RST) != 0))
        if len(rst) and self.chunks:
            self._match(v.src4[rst], v.dst4[rst], v.sport[rst], v.dport[rst], v.ts[rst])

    def _renumber(self) -> None:
        """Number the waiting batches from 1 again and fill the slots anew (every 65,535
        batches with probes: the slots hold 16-bit numbers)."""
        self.slots[:] = 0
        for no, chunk in enumerate(self.chunks, start=1):
            self.chunks[no - 1] = _Chunk(no, chunk.keys, chunk.times, chunk.newest)
            self.slots[_slot1(chunk.keys)] = no
            self.slots[_slot2(chunk.keys)] = no
        self.batch_no = len(self.chunks) + 1

    def _forget(self, now: float) -> None:
        """Drop the probes past the answer time (by batch), and the oldest past ``max_pending``."""
        chunks, horizon = self.chunks, now - self.s.answer_timeout_seconds
        while chunks and (chunks[0].newest < horizon or self.pending > self.s.max_pending):
            head = chunks[0]
            extra = self.pending - self.s.max_pending
            if head.newest >= horizon and extra < len(head.keys):  # cut its oldest probes
                chunks[0] = _Chunk(head.no, head.keys[extra:], head.times[extra:], head.newest)
                self.pending -= extra
                return
            chunks.popleft()
            self.pending -= len(head.keys)

    def _match(
        self,
        host: npt.NDArray[np.uint32],
        src: npt.NDArray[np.uint32],
        port: npt.NDArray[np.uint16],
        sport: npt.NDArray[np.uint16],
        ts: npt.NDArray[np.float64],
    ) -> None:
        """Count the waiting probes this batch's RSTs (from ``host:port`` to ``src:sport``)
        answer: same four-tuple reversed, the RST not before the probe, within the answer
        time (the earliest such probe of either kind)."""
        want = probe_keys(src, host, sport, port, False)
        chunks, slots = self.chunks, self.slots
        first_no = chunks[0].no
        no = slots[_slot1(want)]
        maybe = np.flatnonzero((no == slots[_slot2(want)]) & (no >= first_no))
        if len(maybe) == 0:
            return
        timeout = self.s.answer_timeout_seconds
        rows = []
        for r, in_no in zip(maybe.tolist(), no[maybe].tolist(), strict=True):
            t, tuple_ = float(ts[r]), np.uint64(int(want[r]) >> 1)
            best: tuple[float, int] | None = None
            # the batch the slots name, then (a probe sent again after the RST) earlier ones
            for chunk in (chunks[in_no - first_no], *islice(chunks, in_no - first_no)):
                hit = np.flatnonzero((chunk.keys >> np.uint64(1)) == tuple_)
                for when, key in zip(
                    chunk.times[hit].tolist(), chunk.keys[hit].tolist(), strict=True
                ):
                    if when <= t <= when + timeout and (best is None or when < best[0]):
                        best = (when, key & 1)
                if best is not None or len(hit) == 0:
                    break
            if best is not None:
                kind = "fin_ack" if best[1] else "ack"
                rows.append((int(src[r]), int(host[r]), int(port[r]), kind, best[0]))
        if rows:
            self.table.add(rows)  # (in the order the RSTs came)
