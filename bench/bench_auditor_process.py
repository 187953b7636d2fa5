"""The whole ``netwarden auditor`` process against ``tshark -T fields``, start to exit (issue 18).

What a user waits for: ``python -m netwarden.cli auditor --pcap FILE -i inventory --json``
(the ``netwarden`` console script runs the same ``netwarden.cli.app:main``) from exec to
exit, on the 1,000,000-packet mixed pcap of ``bench/gen_mixed_pcap.py``, all 13
detectors on (example inventory, site nyc), against ``tshark -n -r FILE -T fields -e
ip.src -e ip.dst -e ip.proto -e tcp.srcport -e tcp.dstport`` on the SAME whole file in
the same run, start to exit. Also measured:

- start-up: the same command on a one-packet pcap (exec to exit: an upper bound of the
  time to the first packet), with the inventory snapshot warm (the usual case) and off
  (``NETWARDEN_INVENTORY_SNAPSHOT=0``: the full read through Ansible), and
  ``python -c pass`` for the interpreter's own share;
- the in-process rate (engine over the decoded batches, what ``bench_auditor.py`` times);
- peak RSS of the whole process (``ru_maxrss`` of the child);
- the events: the summary's incidents (``--json``, duration removed) hashed, to show the
  optimisations changed nothing; ``--base DIR`` runs another checkout (e.g. a copy of the
  code before a change) the same way, alternating, and compares the hashes.

Bytecode: the harness that runs these sessions sets ``PYTHONDONTWRITEBYTECODE=1``, which
makes every start compile the project from source (~0.4 s); an installed netwarden has
its bytecode. The bench unsets it and points ``PYTHONPYCACHEPREFIX`` at its work
directory (nothing is written into the checkout or the venv).

Run: ``.venv/bin/python bench/bench_auditor_process.py [--packets 1000000] [--workdir DIR]
[--repeat 3] [--base DIR]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_auditor_decode import _generate

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 20.0
TARGET_PPS = 2_000_000
TARGET_STARTUP_S = 0.3
TARGET_RSS_MB = 300
TSHARK_FIELDS = ("ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport")

_IN_PROCESS = """
import json, sys, time
from pathlib import Path
from collectors.auditor.decode import DecodeStats, iter_batches
from collectors.auditor.engine import Engine
from collectors.auditor.events import ListSink
from netwarden.inventory import load_inventory
inv = load_inventory(sys.argv[2])
sink = ListSink()
engine = Engine(sinks=[sink], site="nyc", sensor="bench", inventory=inv)
stats = DecodeStats()
t, c = time.perf_counter(), time.process_time()
engine.run(iter_batches(Path(sys.argv[1]), stats=stats))
wall, cpu = time.perf_counter() - t, time.process_time() - c
digest = __import__("hashlib").sha256("\\n".join(e.to_json() for e in sink.events).encode())
print(json.dumps({"packets": stats.packets, "wall": wall, "cpu": cpu,
                  "events": len(sink.events), "sha256": digest.hexdigest()[:16]}))
"""


def _env(work: Path, snapshot: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["XDG_CACHE_HOME"] = str(work / "xdg")  # the bench's own inventory snapshots
    env["NETWARDEN_INVENTORY_SNAPSHOT"] = "1" if snapshot else "0"
    return env


@dataclass
class Run:
    """One process from exec to exit."""

    wall: float
    cpu: float
    rss_mb: float
    stdout: bytes


def _timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` to exit: wall seconds, CPU seconds and peak RSS (MB) of that child, stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode not in (0, 1):  # 1: findings at or above medium
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {stderr[-2000:]!r}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall, cpu, usage.ru_maxrss / 1024, stdout)


def _auditor_cmd(pcap: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "netwarden.cli",
        "auditor",
        "--pcap",
        str(pcap),
        "-i",
        "inventory",
        "--site",
        "nyc",
        "--sensor",
        "bench",
        "--json",
    ]


def _summary_hash(stdout: bytes) -> tuple[str, int, int]:
    """The incidents of a ``--json`` summary hashed (duration removed), their count, packets."""
    summary = json.loads(stdout)
    summary.pop("duration_seconds", None)
    blob = json.dumps(summary["incidents"], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16], len(summary["incidents"]), summary["packets"]


def _startup(
    tree: Path, work: Path, one: Path, repeat: int, snapshot: bool
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of the one-packet run (CPU: the figure load disturbs least)."""
    env = _env(work, snapshot)
    _timed(_auditor_cmd(one), tree, env)  # bytecode and snapshot written
    runs = [_timed(_auditor_cmd(one), tree, env) for _ in range(repeat)]
    return [r.wall for r in runs], [r.cpu for r in runs]


def _one_packet(path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    wrpcap(str(path), [Ether() / IP(src="10.11.40.66", dst="10.11.10.5") / TCP(dport=80)])


def _fmt(runs: list[float]) -> str:
    return f"best {min(runs):.3f} s, median {statistics.median(runs):.3f} s"


def _tree_report(
    name: str, tree: Path, *, work: Path, big: Path, one: Path, repeat: int
) -> dict[str, Any]:
    warm = _startup(tree, work, one, repeat, snapshot=True)
    cold = _startup(tree, work, one, max(1, repeat // 2), snapshot=False)
    runs = [_timed(_auditor_cmd(big), tree, _env(work)) for _ in range(repeat)]
    best = min(runs, key=lambda r: r.wall)
    digest, incidents, packets = _summary_hash(best.stdout)
    inproc = subprocess.run(
        [sys.executable, "-c", _IN_PROCESS, str(big), "inventory"],
        cwd=tree,
        env=_env(work),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ip = json.loads(inproc.strip().splitlines()[-1])
    print(
        f"[{name}] start-up (1 packet, exec to exit): snapshot warm {_fmt(warm[0])} wall, "
        f"CPU {_fmt(warm[1])}; snapshot off (full Ansible read) {_fmt(cold[0])} wall, "
        f"CPU {_fmt(cold[1])}"
    )
    walls = ", ".join(f"{r.wall:.2f}" for r in runs)
    print(
        f"[{name}] whole process, {packets:,} packets: {walls} s wall; best "
        f"{packets / best.wall:,.0f} packets/s, CPU {best.cpu:.2f} s, "
        f"peak RSS {best.rss_mb:.0f} MB; {incidents} incidents, sha256 {digest}"
    )
    print(
        f"[{name}] in-process: {ip['packets'] / ip['wall']:,.0f} packets/s wall "
        f"({ip['packets'] / ip['cpu']:,.0f}/s CPU), {ip['events']} events, sha256 {ip['sha256']}"
    )
    return {
        "warm": warm,
        "cold": cold,
        "runs": runs,
        "best": best,
        "digest": digest,
        "inproc": ip,
        "packets": packets,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--base", type=Path, default=None, help="another checkout to compare")
    parser.add_argument("--no-tshark", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        big = work / f"mixed-{args.packets}.pcap"
        if not big.exists():
            _generate(big, args.packets)
        one = work / "one.pcap"
        _one_packet(one)
        print(
            f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
            f"{platform.python_version()}; load {os.getloadavg()}"
        )
        bare = [_timed([sys.executable, "-c", "pass"], REPO) for _ in range(5)]
        print(
            f"python -c pass: {_fmt([r.wall for r in bare])} wall, "
            f"CPU {_fmt([r.cpu for r in bare])}"
        )
        trees = [("this tree", REPO)] + ([("base", args.base.resolve())] if args.base else [])
        reports = {
            name: _tree_report(name, tree, work=work, big=big, one=one, repeat=args.repeat)
            for name, tree in trees
        }
        tshark = shutil.which("tshark")
        tshark_wall = tshark_cpu = None
        if tshark and not args.no_tshark:
            cmd = [tshark, "-n", "-r", str(big), "-T", "fields"]
            for f in TSHARK_FIELDS:
                cmd += ["-e", f]
            t = _timed(cmd, REPO)
            tshark_wall, tshark_cpu = t.wall, t.cpu
            print(
                f"tshark -T fields 5-tuple, whole file: {tshark_wall:.1f} s wall "
                f"({args.packets / tshark_wall:,.0f} packets/s), CPU {t.cpu:.1f} s"
            )
        print(f"load after: {os.getloadavg()}")
    mine = reports["this tree"]
    wall = mine["best"].wall
    ok = True
    if tshark_wall:
        ratio = tshark_wall / wall
        ok &= ratio >= TARGET_RATIO
        print(
            f"ratio whole process, tshark / netwarden: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x)"
        )
        for name, rep in reports.items():
            if name != "this tree":
                print(f"  [{name}]: {tshark_wall / rep['best'].wall:.1f}x")
        if tshark_cpu:  # what load disturbs least: both processes' own CPU seconds
            for name, rep in reports.items():
                print(f"  CPU seconds, tshark / [{name}]: {tshark_cpu / rep['best'].cpu:.1f}x")
    ip = mine["inproc"]
    ok &= ip["packets"] / ip["wall"] >= TARGET_PPS
    ok &= min(mine["warm"][0]) < TARGET_STARTUP_S
    ok &= mine["best"].rss_mb < TARGET_RSS_MB
    if "base" in reports:
        same = reports["base"]["digest"] == mine["digest"] and (
            reports["base"]["inproc"]["sha256"] == ip["sha256"]
        )
        print(f"events identical to base: {same}")
        ok &= same
    print(
        f"targets (>= {TARGET_RATIO:.0f}x tshark, >= {TARGET_PPS:,} packets/s in-process, "
        f"start-up < {TARGET_STARTUP_S} s, RSS < {TARGET_RSS_MB} MB): {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
