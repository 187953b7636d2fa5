"""What every ``make demo`` step module shares: the console, the step record, the CLI argv."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    run: Callable[[], int] | None = None
    """Runs the step in the demo's process instead of ``argv`` (which is then what is
    shown): e.g. joining the namespace lab built in the background; returns the exit code."""


@dataclass
class Timeline:
    """How long each step and stage of the demo took, for the summary (``steps``,
    ``stages``, ``total_seconds``): where the minutes go is part of what the demo shows."""

    started: float = field(default_factory=time.monotonic)
    steps: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    cpu_at_start: float = 0.0

    def reset(self) -> None:
        self.started = time.monotonic()
        self.cpu_at_start = self.cpu()
        self.steps.clear()
        self.stages.clear()

    def step(
        self, title: str, seconds: float, rc: int, cpu: float | None = None, *, expected: int = 0
    ) -> None:
        """A step's wall-clock seconds, exit code (and the one it should have), and ``cpu``
        seconds (user and system of the processes it ran and waited for: what a loaded
        machine has to find)."""
        record: dict[str, Any] = {
            "title": title,
            "seconds": round(seconds, 1),
            "rc": rc,
            "expected_rc": expected,
        }
        if cpu is not None:
            record["cpu_seconds"] = round(cpu, 1)
        self.steps.append(record)
        used = "" if cpu is None else f", {cpu:.1f} s CPU"
        console.print(f"[dim]({seconds:.1f} s{used}, exit {rc})[/]", highlight=False)

    def add_stage(self, name: str, seconds: float) -> None:
        self.stages.append({"name": name, "seconds": round(seconds, 1)})
        console.print(f"[dim]{name}: {seconds:.1f} s[/]", highlight=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the block as stage ``name`` (recorded also when it raises)."""
        began = time.monotonic()
        try:
            yield
        finally:
            self.add_stage(name, time.monotonic() - began)

    @staticmethod
    def cpu() -> float:
        """User and system seconds of this process and its waited-for children so far."""
        own, children = (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def total(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def as_dict(self) -> dict[str, Any]:
        return {
            "steps": list(self.steps),
            "stages": list(self.stages),
            "total_seconds": self.total(),
            "cpu_seconds": round(self.cpu() - self.cpu_at_start, 1),
        }


TIMELINE = Timeline()


@dataclass
class Interrupt:
    """Ctrl-C (or SIGTERM) seen by the demo's signal guard (``netwarden.signals``).

    A ``KeyboardInterrupt`` the signal raises inside a callback Python cannot propagate
    from (a ``__del__``, a weakref finaliser: a heavy import or a child reaped meanwhile)
    is kept off the terminal by the guard and lost; the demo would go on. So the guard's
    record is checked between steps and in its waits: a signal seen is a stop."""

    received: Callable[[], object] | None = None

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a stop signal came."""
        if self.received is not None and self.received() is not None:
            raise KeyboardInterrupt(str(self.received()))


INTERRUPT = Interrupt()


def _netwarden(*args: str) -> list[str]:
    return [sys.executable, "-m", "netwarden.cli", *args]


def wait_for_text(path: Path, text: str, seconds: float) -> None:
    """Until ``path`` holds ``text`` or ``seconds`` have passed (the step then shows the miss)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        INTERRUPT.check()
        try:
            if text in path.read_text(encoding="utf-8"):
                return
        except OSError:
            pass
        time.sleep(0.2)


def _manual_change(lab: Path, device: str, commands: list[str]) -> None:
    """What an engineer does by hand on a switch: a config change over SSH (Netmiko)."""
    import yaml  # noqa: PLC0415
    from netmiko import ConnectHandler  # noqa: PLC0415

    from netwarden.lab.sim.labdir import CREDENTIALS_FILE, KNOWN_HOSTS_FILE  # noqa: PLC0415

    creds = yaml.safe_load((lab / CREDENTIALS_FILE).read_text())
    host = yaml.safe_load((lab / "host_vars" / f"{device}.yml").read_text())
    with ConnectHandler(
        device_type="cisco_ios",
        host=host["ansible_host"],
        port=host["ansible_port"],
        username=creds["ansible_user"],
        password=creds["ansible_password"],
        secret=creds["ansible_become_password"],
        ssh_strict=True,
        system_host_keys=False,
        alt_host_keys=True,
        alt_key_file=str(lab / KNOWN_HOSTS_FILE),
    ) as conn:
        conn.enable()
        conn.send_config_set(commands)
