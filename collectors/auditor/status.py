"""What a running auditor has done so far, shown while it runs.

A ``--watch`` or ``--interface`` run lasts hours; its summary table comes at the
end. Meanwhile :func:`showing` keeps one status line on stderr: files read (and
the one being read), packets, frames dropped, incidents open, and incidents new
(opened, or raised in severity) by severity:

``auditor: 3 file(s) read, reading cap-4.pcap; 12,345 packets; 4 incident(s) open; new: 1 high, 3 medium``

On a terminal the line is redrawn in place (every second by default) and erased
when the run ends; on a pipe or the journal it is printed as a line of its own
(every 30 s by default), never redrawn. File names are shown with their control
characters escaped (a capture directory is written by others).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from collectors.auditor.capture import DROPPED, BatchSource, FileSource, WatchDirSource
from collectors.auditor.events import Severity
from collectors.auditor.stats import AuditorStats
from netwarden.textsafe import printable

if TYPE_CHECKING:
    from rich.console import Console

TERMINAL_INTERVAL: Final = 1.0
"""Seconds between redraws of the status line on a terminal."""
LOG_INTERVAL: Final = 30.0
"""Seconds between status lines when stderr is not a terminal (a pipe, the journal)."""


class RunStatus:
    """The status line of a run, read from the engine's stats and the input (any thread)."""

    def __init__(self, stats: AuditorStats, source: BatchSource) -> None:
        self.stats = stats
        self.source = source

    def line(self) -> str:
        """One line: files, packets, drops, incidents open and new by severity."""
        parts = []
        if isinstance(self.source, WatchDirSource | FileSource):
            files = f"{len(self.source.processed):,} file(s) read"
            current = self.source.current
            if current is not None:
                files += f", reading {printable(current.name, multiline=False)}"
            parts.append(files)
        parts.append(f"{self.stats.packets:,} packets")
        dropped = self.source.stats.file_errors.get(DROPPED, 0)
        if dropped:
            parts.append(f"{dropped:,} frames dropped")
        kernel_drops = self.source.stats.kernel.get("drops", 0)
        if kernel_drops:
            parts.append(f"{kernel_drops:,} frames dropped by the kernel (ring full)")
        parts.append(f"{self.stats.incidents_open:,} incident(s) open")
        new: Counter[str] = Counter()
        for (_, severity), n in dict(self.stats.events).items():  # a copy: the engine adds keys
            new[severity] += n
        ranked = [s for s in reversed(Severity) if new[s.value]]
        parts.append("new: " + (", ".join(f"{new[s.value]:,} {s.value}" for s in ranked) or "none"))
        return "auditor: " + "; ".join(parts)


@contextmanager
def showing(
    status: RunStatus,
    console: Callable[[], Console],
    interval: float | None = None,
    *,
    terminal: bool,
) -> Iterator[None]:
    """Show ``status`` on the console ``console()`` returns while the ``with`` block runs
    (see the module docstring).

    ``console`` is called when there is something to show, so a run that shows nothing
    before its first packet does not import Rich for it; ``terminal``: whether that
    console writes to a terminal (the caller knows it without building the console).
    ``interval``: seconds between updates; None for the defaults (:data:`TERMINAL_INTERVAL`
    on a terminal, :data:`LOG_INTERVAL` otherwise); 0 shows nothing.
    """
    if interval is not None and interval <= 0:
        yield
        return
    if terminal:
        from rich.live import Live  # noqa: PLC0415  (Rich: when something is shown)
        from rich.text import Text  # noqa: PLC0415

        every = interval or TERMINAL_INTERVAL
        with Live(
            get_renderable=lambda: Text(status.line()),
            console=console(),
            refresh_per_second=1 / every,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        ):
            yield
        return
    every = interval or LOG_INTERVAL
    done = threading.Event()

    def tick() -> None:
        while not done.wait(every):
            from rich.text import Text  # noqa: PLC0415

            console().print(Text(status.line()), soft_wrap=True, highlight=False)

    ticker = threading.Thread(target=tick, name="auditor-status", daemon=True)
    ticker.start()
    try:
        yield
    finally:
        done.set()
        ticker.join()
