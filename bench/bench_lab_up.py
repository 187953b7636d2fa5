"""``netwarden lab up`` for the example inventory and for ``--sites 20`` (issue 14).

Target for the example inventory (HQ + 4 field offices): the whole ``lab up``
command under 60 s and the lab under 2 GB of RSS. For each case the script runs the
CLI as an engineer does, then reads the running lab's figures (``lab status
--json``: namespaces, processes in them, their RSS summed from /proc), then
``lab down`` (timed too) and checks that no namespace of the lab is left.

Needs root (it prints why and exits 0 otherwise, so ``make bench`` goes on).

Run: ``sudo .venv/bin/python bench/bench_lab_up.py [--no-sim] [--only example|sites20]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "netwarden.cli"]
TARGET_SECONDS = 60.0
TARGET_RSS = 2 * 2**30
CASES = {
    "example": ["-i", str(REPO / "inventory")],
    "sites20": ["--sites", "20"],
}


def _run(args: list[str], log: Path) -> tuple[int, float]:
    with log.open("ab") as out:
        began = time.perf_counter()
        code = subprocess.run(
            [*CLI, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            check=False,
        ).returncode  # fmt: skip
        return code, time.perf_counter() - began


def _left(lab: Path) -> int:
    prefix = "nw" + hashlib.sha256(str(lab.resolve()).encode()).hexdigest()[:4] + "-"
    try:
        return sum(1 for p in Path("/run/netns").iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return 0


def bench_case(name: str, no_sim: bool, work: Path) -> dict[str, object]:
    lab, log = work / f"lab-{name}", work / f"{name}.log"
    extra = ["--no-sim"] if no_sim else []
    code, up_s = _run(["lab", "up", *CASES[name], *extra, "--out", str(lab)], log)
    if code != 0:
        print(log.read_text(), file=sys.stderr)
        raise SystemExit(f"{name}: lab up failed ({code})")
    status = subprocess.run(
        [*CLI, "lab", "status", str(lab), "--json"], capture_output=True, text=True, check=False
    )
    figures = json.loads(status.stdout)["figures"] if status.stdout else {}
    notes = [line for line in log.read_text().splitlines() if line.startswith("note: not started")]
    down_code, down_s = _run(["lab", "down", str(lab)], log)
    return {
        "case": name,
        "up_seconds": round(up_s, 2),
        "namespaces": figures.get("namespaces"),
        "processes": figures.get("processes"),
        "rss_mib": round(int(figures.get("rss_bytes", 0)) / 2**20, 1),
        "pss_mib": round(int(figures.get("pss_bytes", 0)) / 2**20, 1),
        "down_seconds": round(down_s, 2),
        "down_ok": down_code == 0 and _left(lab) == 0 and not lab.exists(),
        "not_started": notes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-sim", action="store_true", help="lab up --no-sim")
    parser.add_argument("--only", choices=sorted(CASES), help="one case only")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench_lab_up: skipped, needs root (network namespaces)")
        return 0
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-lab-") as tmp:
        for name in [args.only] if args.only else list(CASES):
            result = bench_case(name, args.no_sim, Path(tmp))
            results.append(result)
            print(json.dumps(result))
    verdict = "n/a"
    for r in results:
        if r["case"] == "example":
            ok = float(str(r["up_seconds"])) < TARGET_SECONDS and (
                float(str(r["rss_mib"])) * 2**20 < TARGET_RSS
            )
            verdict = "PASS" if ok else "FAIL"
        print(
            f"{r['case']:8s} up {r['up_seconds']:>6} s  namespaces {r['namespaces']:>4}  "
            f"processes {r['processes']:>4}  RSS {r['rss_mib']:>8} MiB  PSS {r['pss_mib']:>7} MiB  "
            f"down {r['down_seconds']:>5} s  clean {r['down_ok']}"
        )
        for note in r["not_started"]:  # type: ignore[attr-defined]
            print(f"          {note.strip()}")
    print(f"target (example): < {TARGET_SECONDS:.0f} s and < 2 GB: {verdict}")
    return 0 if all(r["down_ok"] for r in results) and verdict != "FAIL" else 1


if __name__ == "__main__":
    raise SystemExit(main())
