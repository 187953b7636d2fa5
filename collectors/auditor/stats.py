"""The auditor's counters: what the engine bumps and the metrics collector reads.

Apart from :mod:`collectors.auditor.metrics` so that a run without
``--metrics-listen`` does not import ``prometheus_client`` (~0.1 s of start-up).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from collectors.auditor.batch import Batch, DecodeError
from collectors.auditor.events import Severity

ERROR_KINDS = {int(e): e.name.lower() for e in DecodeError if e is not DecodeError.OK}


@dataclass
class AuditorStats:
    """Counters the engine updates and the collector reads (plain ints: cheap to bump)."""

    packets: int = 0
    bytes: int = 0
    decode_errors: Counter[str] = field(default_factory=Counter)
    events: Counter[tuple[str, str]] = field(default_factory=Counter)
    detector_errors: Counter[str] = field(default_factory=Counter)
    incidents_open: int = 0
    reassembly: Counter[str] = field(default_factory=Counter)  # defrag.py's outcomes

    def add_batch(self, batch: Batch) -> None:
        """Count a batch's packets, bytes and decode errors (vectorised)."""
        p = batch.packets
        self.packets += len(p)
        self.bytes += int(p["wirelen"].sum(dtype=np.uint64))
        errors = p["error"]
        if errors.any():
            counts = np.bincount(errors, minlength=len(DecodeError))
            for code in np.flatnonzero(counts[1:]) + 1:
                self.decode_errors[ERROR_KINDS.get(int(code), f"code_{int(code)}")] += int(
                    counts[code]
                )

    def add_event(self, detector: str, severity: Severity) -> None:
        self.events[(detector, severity.value)] += 1
