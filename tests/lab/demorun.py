"""Running ``make demo`` from a lab test: in a directory of the test's own (``--out``), in its
own session (a "terminal" whose process group Ctrl-C reaches), its output in a file; and
checking that nothing it started is left (shared by test_demo_interrupt and
test_end_to_end)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from netwarden.cli.demolab import LAB_DIR
from netwarden.cli.demostate import STATE_FILE, cmdline_of
from tests.lab.nslab import REPO, force_cleanup, lab_prefix, netns_with, procs_in


@dataclass
class Demo:
    out: Path
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def lab(self) -> Path:
        return self.out / LAB_DIR

    @property
    def prefix(self) -> str:
        return lab_prefix(self.lab)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, path: Path, text: str, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if text in path.read_text(encoding="utf-8", errors="replace"):
                    return
            assert self.proc.poll() is None, (
                f"the demo exited {self.proc.returncode}:\n" + (self.output()[-4000:])
            )
            time.sleep(0.5)
        raise AssertionError(
            f"no {text!r} in {path} within {seconds:g} s:\n{self.output()[-4000:]}"
        )

    def recorded(self) -> list[tuple[int, str]]:
        """The background processes the demo's state file lists: (pid, command line)."""
        try:
            data = json.loads((self.out / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [(int(p["pid"]), str(p["cmdline"])) for p in data.get("processes", [])]


def group_members(pgid: int) -> list[str]:
    """The live processes of process group ``pgid``, as ``pid state cmdline`` (a zombie is
    dead, only not yet reaped: by PID 1 here, which is not ours; left out)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(f"{stat.parent.name} {fields[0]} {cmdline_of(int(stat.parent.name))}")
    return found


def start(tmp_path: Path, *args: str) -> Demo:
    out, log = tmp_path / "demo", tmp_path / "demo.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "netwarden.cli.demo", "--out", str(out), *args],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: the "terminal" of this test
        )  # fmt: skip
    return Demo(out, log, proc)


def clean_up(started: list[Demo]) -> None:
    """Whatever a failed test leaves: the demo's group killed, its lab removed."""
    for demo in started:
        if demo.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(demo.proc.pid, signal.SIGKILL)
            demo.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.proc.pid, signal.SIGKILL)
        for pid, cmdline in demo.recorded():
            if cmdline and cmdline_of(pid) == cmdline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if demo.lab.exists():
            subprocess.run([sys.executable, "-m", "netwarden.cli", "lab", "down", str(demo.lab)],
                           cwd=REPO, capture_output=True, timeout=300, check=False)  # fmt: skip
        force_cleanup(demo.prefix)


def assert_nothing_left(demo: Demo, inodes: set[int], recorded: list[tuple[int, str]]) -> None:
    left = netns_with(demo.prefix)
    assert not left, f"namespaces left: {sorted(left)}"
    in_lab = procs_in(inodes)
    assert not in_lab, f"processes left in the lab's namespaces: {sorted(in_lab)}"
    running = [(pid, c) for pid, c in recorded if c and cmdline_of(pid) == c]
    assert not running, f"background processes left running: {running}"
    left_in_group = group_members(demo.proc.pid)
    assert not left_in_group, f"processes left in the demo's process group: {left_in_group}"
    assert not (demo.lab / ".lab").exists(), "the lab's state is left: lab down did not finish"
