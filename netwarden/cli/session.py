"""Run plumbing of the commands that reach devices: session options and the progress bar.

``plan``, ``apply``, ``backup``, ``drift`` (:mod:`netwarden.cli.fleet`) and the live
``audit`` (:mod:`netwarden.cli.audit`) build their sessions' options from the same
flags and show the same progress bar on stderr. What they print once the run is
over is in :mod:`netwarden.cli.output`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from netwarden.devices.base import SessionOptions


def session_options(
    inventory: Path,
    known_hosts: Path | None,
    trust_on_first_use: bool,
    timeout: float,
) -> SessionOptions:
    """Session options from the CLI flags (known_hosts defaults to the inventory's file)."""
    # netwarden.devices imports NAPALM and Netmiko: only a command that connects pays for it
    from netwarden.devices.base import SessionOptions  # noqa: PLC0415

    return SessionOptions.for_inventory(inventory, known_hosts, trust_on_first_use, timeout)


@contextlib.contextmanager
def progress(console: Console, title: str, total: int) -> Iterator[Callable[[object], None]]:
    """A rich progress bar on ``console`` (stderr); yields the callback one result advances."""
    bar = Progress(
        TextColumn(f"[bold]{escape(title)}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = bar.add_task(title, total=total)

    def advance(_result: object) -> None:
        bar.advance(task)

    with bar:
        yield advance
