"""``make demo-down`` (netwarden.cli.demostate): it stops what a kept demo recorded, and
leaves alone a pid that now belongs to another command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from netwarden.cli.demostate import STATE_FILE, Background, down

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_kept_process_outlives_its_stage_and_demo_down_stops_it(tmp_path: Path) -> None:
    bg = Background()
    bg.use(tmp_path, keep=True)
    proc = bg.started("sleeper", subprocess.Popen(SLEEPER))
    try:
        bg.stop_since(0, interrupted=False)  # the stage ends: kept
        assert proc.poll() is None
        recorded = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
        assert [p["name"] for p in recorded["processes"]] == ["sleeper"]
        assert down(tmp_path) == ["sleeper"]
        assert proc.wait(timeout=30) is not None
        assert not (tmp_path / STATE_FILE).exists()
    finally:
        proc.kill()
        proc.wait()


def test_an_interrupted_stage_stops_even_when_kept(tmp_path: Path) -> None:
    bg = Background()
    bg.use(tmp_path, keep=True)
    proc = bg.started("sleeper", subprocess.Popen(SLEEPER))
    try:
        bg.stop_since(0, interrupted=True)  # Ctrl-C or a failure
        assert proc.poll() is not None
    finally:
        proc.kill()
        proc.wait()


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    proc = subprocess.Popen(SLEEPER)
    try:
        state = {"processes": [{"name": "gone", "pid": proc.pid, "cmdline": "not\0this\0"}]}
        (tmp_path / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")
        assert down(tmp_path) == []
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
