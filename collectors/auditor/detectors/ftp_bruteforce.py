"""``ftp_bruteforce``: FTP ``530`` (not logged in) replies to one client.

Vectorised: the first bytes of every server-to-client payload on port 21 are
compared with ``530`` / ``230`` at once. Default 20 failures in 15 minutes, Zeek's
``FTP::bruteforce_threshold`` and ``bruteforce_measurement_interval``. A ``230``
(logged in) after the threshold raises the incident to high.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._bruteforce import BruteForceDetector, BruteForceSettings
from collectors.auditor.detectors._sessions import Selection
from collectors.auditor.detectors._util import payload_prefix, prefix_in
from collectors.auditor.detectors.base import register


class FtpBruteforceSettings(BruteForceSettings):
    threshold: int = Field(default=20, ge=2)
    window_seconds: float = Field(default=900.0, gt=0)


@register
class FtpBruteforce(BruteForceDetector):
    name: ClassVar[str] = "ftp_bruteforce"
    service: ClassVar[str] = "ftp"
    ports: ClassVar[tuple[int, ...]] = (21,)
    count_short_sessions: ClassVar[bool] = False
    Settings: ClassVar[type[DetectorSettings]] = FtpBruteforceSettings

    def inspect(self, batch: Batch, sel: Selection) -> None:
        p = batch.packets
        replies = sel.idx[~sel.c2s & (p["payload_len"][sel.idx] >= 4)]
        if len(replies) == 0:
            return
        head = payload_prefix(batch, replies, 4)
        failed = prefix_in(head, (b"530 ", b"530-"))
        ok = prefix_in(head, (b"230 ", b"230-"))
        for j in replies[failed | ok]:
            row = p[j]
            client, server = int(row["dst4"]), int(row["src4"])
            ts = float(row["ts"])
            if ok[np.searchsorted(replies, j)]:
                self.success(client)
            else:
                flow = (client, server, int(row["dport"]), int(row["sport"]))
                self.failure(client, server, ts, "530", flow)
