"""``telnet_bruteforce``: failed telnet logins from one client.

Counts the server's failure messages (``Login incorrect``, ``% Login invalid``,
``Authentication failed``, ``Access denied``, ``Bad password``) and, for sessions
without such a message, short sessions. Default 10 in 10 minutes (as SSH).
"""

from __future__ import annotations

from typing import ClassVar

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._bruteforce import BruteForceDetector, BruteForceSettings
from collectors.auditor.detectors._sessions import Selection
from collectors.auditor.detectors.base import register

FAILURE_MARKERS = (
    b"login incorrect",
    b"login invalid",
    b"authentication failed",
    b"access denied",
    b"bad password",
)


@register
class TelnetBruteforce(BruteForceDetector):
    name: ClassVar[str] = "telnet_bruteforce"
    service: ClassVar[str] = "telnet"
    ports: ClassVar[tuple[int, ...]] = (23,)
    Settings: ClassVar[type[DetectorSettings]] = BruteForceSettings

    def inspect(self, batch: Batch, sel: Selection) -> None:
        p = batch.packets
        replies = sel.idx[~sel.c2s & (p["payload_len"][sel.idx] > 0)]
        for j in replies:
            text = batch.payload(int(j)).lower()
            if any(m in text for m in FAILURE_MARKERS):
                row = p[j]
                client, server = int(row["dst4"]), int(row["src4"])
                flow = (client, server, int(row["dport"]), int(row["sport"]))
                self.failure(client, server, float(row["ts"]), "login_failed", flow)
