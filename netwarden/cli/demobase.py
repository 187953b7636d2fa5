"""What every ``make demo`` step module shares: the console, the step record, the CLI argv."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netwarden.cli.common import ReadableConsole

console = ReadableConsole()  # full width when piped: the demo log is read whole
REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Step:
    title: str
    argv: Sequence[str]
    explain: str
    expect_rc: int = 0
    before: Callable[[], None] | None = None  # e.g. a manual change the step then detects


def _netwarden(*args: str) -> list[str]:
    return [sys.executable, "-m", "netwarden.cli", *args]
