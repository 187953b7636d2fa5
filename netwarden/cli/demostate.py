"""``make demo``: the background processes it starts, stopped after it or kept (``--keep``).

Every process the demo starts in the background (the simulated fleet, the exporters, the
auditor, Prometheus, Alertmanager, the webhook receiver) is recorded, with its command
line, in ``out/demo/demo-state.json`` as it starts. Without ``--keep`` each is stopped
when its stage ends (Ctrl-C included: the stages are context managers). With ``--keep``
they are left running when the demo finishes, and ``make demo-down`` (``python -m
netwarden.cli.demo --down``) stops them later from the state file: only a process whose
``/proc/<pid>/cmdline`` is still the recorded one (a pid reused by something else is left
alone), then the namespace lab through ``netwarden lab down`` when one is left.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

STATE_FILE = "demo-state.json"


class Background:
    """The demo's background processes, and whether they outlive it."""

    def __init__(self) -> None:
        self.keep = False
        self.state: Path | None = None
        self.urls: dict[str, str] = {}
        self._procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def use(self, workdir: Path, *, keep: bool) -> None:
        """Record into ``workdir``'s state file from now on; ``keep``: leave them running."""
        self.keep = keep
        self.state = workdir / STATE_FILE
        self._procs = []
        self.urls = {}
        self._write()

    def started(self, name: str, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self._procs.append((name, proc))
        self._write()
        return proc

    def url(self, name: str, url: str) -> None:
        self.urls[name] = url
        self._write()

    def mark(self) -> int:
        """Where a stage starts: :meth:`stop_since` stops what it started."""
        return len(self._procs)

    def stop_since(self, mark: int, *, interrupted: bool) -> None:
        """Stop every process started since ``mark`` (see :meth:`stop`): SIGTERM to each,
        newest first, then the waits (the stops overlap: seconds saved per stage)."""
        procs = [proc for _, proc in reversed(self._procs[mark:])]
        if self.keep and not interrupted:
            return
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            self.stop(proc, interrupted=interrupted, signalled=True)

    def stop(
        self, proc: subprocess.Popen[bytes], *, interrupted: bool = False, signalled: bool = False
    ) -> None:
        """SIGTERM (unless ``signalled`` already: a second one would cut a graceful stop
        short), then SIGKILL after 30 s; nothing when kept (unless ``interrupted``: Ctrl-C
        or a failure always cleans up)."""
        if self.keep and not interrupted:
            return
        if proc.poll() is None:
            if not signalled:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs = [(n, p) for n, p in self._procs if p is not proc]
        self._write()

    def _write(self) -> None:
        if self.state is None:
            return
        procs = [
            {"name": name, "pid": proc.pid, "cmdline": _started_cmdline(proc)}
            for name, proc in self._procs
            if proc.poll() is None
        ]
        data = {"processes": procs, "urls": self.urls}
        self.state.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


BACKGROUND = Background()


def _started_cmdline(proc: subprocess.Popen[bytes]) -> str:
    """What ``/proc/<pid>/cmdline`` says once ``proc`` runs its program: its argv, each
    argument NUL-terminated. Read from ``proc.args``, not from /proc: right after ``Popen``
    the child may not have called exec yet, and /proc then shows the parent's command line
    or nothing (``demo-down`` would skip the process as gone)."""
    if isinstance(proc.args, list | tuple):
        return "".join(f"{os.fsdecode(arg)}\0" for arg in proc.args)
    return cmdline_of(proc.pid)


def cmdline_of(pid: int) -> str:
    """What /proc says ``pid`` runs: its argv, each argument NUL-terminated ("" if gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _runs(pid: int, cmdline: str, settle: float = 2.0) -> bool:
    """Whether ``pid`` runs ``cmdline``. A process started a moment ago may not have called
    exec yet (/proc shows its parent's command line, or nothing): it is given ``settle``
    seconds to become what was recorded; another program on a reused pid never does."""
    deadline = time.monotonic() + settle
    while cmdline_of(pid) != cmdline:
        if time.monotonic() >= deadline or not Path(f"/proc/{pid}").exists():
            return False
        time.sleep(0.05)
    return True


def down(workdir: Path) -> list[str]:
    """Stop what a kept demo left in ``workdir`` (newest first); the names stopped."""
    state = workdir / STATE_FILE
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    stopped = []
    for entry in reversed(data.get("processes", [])):
        pid, cmdline = int(entry["pid"]), str(entry["cmdline"])
        if not cmdline or not _runs(pid, cmdline):
            continue  # gone, or the pid now belongs to another process
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            continue
        deadline = time.monotonic() + 30
        while cmdline_of(pid) == cmdline and time.monotonic() < deadline:
            time.sleep(0.2)
        if cmdline_of(pid) == cmdline:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        stopped.append(str(entry["name"]))
    state.unlink(missing_ok=True)
    return stopped
