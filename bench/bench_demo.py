"""``make demo`` start to exit (issue 19): target under 5 minutes on this 2-core machine.

Runs the demo as ``make demo`` does (``python -m netwarden.cli.demo``; ``--out`` a
directory of the bench's own, so a user's ``out/demo`` is untouched, and ``--keep`` off:
the namespace lab and every service are stopped before the process exits, so the time
counted includes the clean-up). Wall seconds from exec to exit and the CPU seconds of the
demo and everything it waited for; then, from its ``summary.json``, each stage's seconds
and the slowest steps. As root the namespace lab and the live attacks are in it; as
another user the rootless part only (the verdict says which). The baseline is the
issue's target (300 s), printed beside the figure; the load average before and after
says how busy the machine was.

Run: ``[sudo] .venv/bin/python bench/bench_demo.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 300.0


def _one(out: Path) -> tuple[float, float, int, dict[str, Any]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    with (out.parent / "demo.log").open("wb") as log:
        rc = subprocess.run(
            [sys.executable, "-m", "netwarden.cli.demo", "--out", str(out)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            check=False,
        ).returncode  # fmt: skip
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    return wall, cpu, rc, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    mode = (
        "root: the namespace lab and live attacks included"
        if os.geteuid() == 0
        else ("not root: the rootless part only")
    )
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {mode}; load {os.getloadavg()}")  # fmt: skip
    walls = []
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="nwdemo-bench-") as tmp:
            wall, cpu, rc, summary = _one(Path(tmp) / "demo")
            if rc != 0:
                log = (Path(tmp) / "demo.log").read_text(errors="replace")
                print(f"run {n + 1}: the demo exited {rc}; the end of its output:\n{log[-3000:]}")
                return 1
            walls.append(wall)
            steps = sorted(summary.get("steps", []), key=lambda s: -float(s["seconds"]))
            print(f"run {n + 1}: {wall:.1f} s wall from exec to exit, {cpu:.1f} s of CPU "
                  f"(the demo's own total: {summary.get('total_seconds')} s)")  # fmt: skip
            for stage in summary.get("stages", []):
                print(f"  stage {stage['name']}: {stage['seconds']} s")
            for step in steps[:5]:
                print(f"  step {step['title']}: {step['seconds']} s")
    best = min(walls)
    print(f"load after: {os.getloadavg()}")
    print(f"best {best:.1f} s against the target {TARGET_SECONDS:.0f} s: "
          f"{'PASS' if best < TARGET_SECONDS else 'FAIL'} ({mode})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
