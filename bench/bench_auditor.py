"""The auditor with ALL detectors on a generated 1,000,000-packet mixed pcap (issue 5).

Target: >= 1,000,000 packets/s on one core and 20x ``tshark -T fields`` or more;
peak RSS < 300 MB whatever the file size. Baselines measured in the same run on
the same file: (a) scapy ``PcapReader`` with full dissection (20k-packet sample),
(b) ``tshark -T fields`` extracting the 5-tuple (200k-packet sample). The engine
runs with the example inventory, so ``policy_violation`` and ``unknown_device``
are on too. Decode alone is ``bench_auditor_decode.py``.

Run: ``.venv/bin/python bench/bench_auditor.py [--packets 1000000] [--workdir DIR] [--evidence]
[--base DIR] [--no-baselines] [--mix shared-loop|dns-heavy|dns-pool]`` (``--mix shared-loop``: the public
captures of ``../shared/data/pcaps`` concatenated with ``mergecap`` until 1M packets, an
independent mix of whole conversations, instead of ``bench/gen_mixed_pcap.py``'s)

Each run prints its events' sha256 (the first 16 hex digits of the JSON lines, as
``bench_auditor_process.py`` hashes them): a speed change must not change it. Against a
base that emits the same events in another order (before decision 118, reports followed
a set's layout), the hashes of the sorted lines must agree instead.
``--base DIR`` runs another checkout's engine on the same file, alternately with this
one (this, base, this, base ...), and prints both, wall and CPU, best of ``--repeat``;
the events of the two must hash the same. ``--no-baselines`` skips scapy and tshark.

``--evidence`` also runs the engine with evidence pcaps on (``Engine(evidence=...)``,
the CLI's ``--evidence DIR`` with its defaults), each run right after one with it off,
and prints both rates (the cost of the ring and the files).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_auditor_decode import MIXES, _scapy_full, _tshark, mix_file

REPO = Path(__file__).resolve().parents[1]
TARGET_PPS = 1_000_000
TARGET_PPS_ISSUE_18 = 2_000_000  # in-process, the same run (issue 18)
TARGET_RSS_MB = 300

_RUN = """
import json, sys, time
from pathlib import Path
from typing import Any
from collectors.auditor.capture import FileSource
from collectors.auditor.decode import DecodeStats
from collectors.auditor.engine import Engine
from collectors.auditor.events import ListSink
from collectors.auditor.evidence import EvidenceSettings
from netwarden.inventory import load_inventory
inv = load_inventory(sys.argv[2])
sink = ListSink()
evidence = EvidenceSettings(Path(sys.argv[3])) if len(sys.argv) > 3 else None
engine = Engine(sinks=[sink], site="nyc", sensor="bench", inventory=inv, evidence=evidence)
engine.ctx.salt = bytes(16)  # secret fingerprints the same in every run (the hash)
stats = DecodeStats()
t, c = time.perf_counter(), time.process_time()
summary = engine.run(FileSource([Path(sys.argv[1])], stats=stats))  # what --pcap reads through
wall, cpu = time.perf_counter() - t, time.process_time() - c
hwm = [int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM")]
lines = [e.to_json() for e in sink.events]
digest = __import__("hashlib").sha256("\\n".join(lines).encode())
unordered = __import__("hashlib").sha256("\\n".join(sorted(lines)).encode())
print(json.dumps({"packets": stats.packets, "wall": wall, "cpu": cpu, "hwm_mb": hwm[0],
                  "detectors": len(engine.detectors), "events": len(sink.events),
                  "evidence": summary.evidence, "sha256": digest.hexdigest()[:16],
                  "sorted_sha256": unordered.hexdigest()[:16]}))
"""


def _sample(src: Path, dst: Path, packets: int) -> None:
    """The first ``packets`` packets of ``src`` (same mix) for the slow baselines."""
    subprocess.run(
        ["editcap", "-r", str(src), str(dst), f"1-{packets}"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _engine(path: Path, evidence: Path | None = None, tree: Path = REPO) -> dict[str, Any]:
    """One engine run in a fresh process, on ``tree``'s code (``-c`` imports from the cwd)."""
    extra = [str(evidence)] if evidence is not None else []
    out = subprocess.run(
        [sys.executable, "-c", _RUN, str(path), str(tree / "inventory"), *extra],
        check=True,
        capture_output=True,
        text=True,
        cwd=tree,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _print_runs(name: str, runs: list[dict[str, Any]]) -> None:
    """One tree's best wall and best CPU rate of its runs, with every run's figures."""
    best_wall = min(runs, key=lambda r: r["wall"])
    best_cpu = min(runs, key=lambda r: r["cpu"])
    packets = best_wall["packets"]
    print(
        f"[{name}] netwarden auditor, {best_wall['detectors']:.0f} detectors: "
        f"{packets / best_wall['wall']:,.0f} packets/s wall ({best_wall['wall']:.3f} s), "
        f"{packets / best_cpu['cpu']:,.0f}/s CPU ({best_cpu['cpu']:.3f} s), best of {len(runs)}; "
        f"{best_wall['events']:.0f} events, sha256 {'/'.join(sorted({r['sha256'] for r in runs}))}; "
        f"peak RSS {best_wall['hwm_mb']:.0f} MB"
    )
    walls = ", ".join(f"{r['wall']:.3f}" for r in runs)
    cpus = ", ".join(f"{r['cpu']:.3f}" for r in runs)
    rss = ", ".join(f"{r['hwm_mb']:.0f}" for r in runs)
    print(f"[{name}] every run, in order: wall {walls} s; CPU {cpus} s; peak RSS {rss} MB")


def _same_events(runs: list[dict[str, Any]], base_runs: list[dict[str, Any]]) -> bool:
    """Whether this tree and the base wrote the same events (printed)."""
    same = {r["sha256"] for r in runs} == {r["sha256"] for r in base_runs}
    print(f"events identical to base: {same}")
    if not same:  # (a change of the order of emission alone is not a change of results)
        same = {r["sorted_sha256"] for r in runs} == {r.get("sorted_sha256") for r in base_runs}
        print(f"the same events in another order: {same}")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--evidence", action="store_true", help="also run with evidence pcaps on")
    parser.add_argument("--base", type=Path, default=None, help="another checkout to compare")
    parser.add_argument("--no-baselines", action="store_true", help="skip scapy and tshark")
    parser.add_argument(
        "--mix",
        choices=MIXES,
        default="generated",
        help="the file: bench/gen_mixed_pcap.py's mix, ../shared/data's captures looped, or "
        "the mix with 40%% DNS queries (dns-heavy: every name new; dns-pool: 5,000 names)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        big = mix_file(work, args.mix, args.packets)
        print(f"load before: {os.getloadavg()}")
        runs, with_evidence, base_runs = [], [], []
        for i in range(args.repeat):
            runs.append(_engine(big))
            if args.evidence:
                with_evidence.append(_engine(big, work / f"evidence-{i}"))
            if args.base is not None:
                base_runs.append(_engine(big, tree=args.base.resolve()))
        print(f"load after: {os.getloadavg()}")
        best = min(runs, key=lambda r: r["wall"])
        best_ev = min(with_evidence, key=lambda r: r["wall"]) if with_evidence else None
        scapy_pps = tshark_pps = None
        if not args.no_baselines:
            small, medium = work / "sample-20k.pcap", work / "sample-200k.pcap"
            _sample(big, small, 20_000)
            _sample(big, medium, 200_000)
            scapy_pps = _scapy_full(small)
            tshark_pps = _tshark(medium, 200_000)
    pps = best["packets"] / best["wall"]
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    what = "bench/gen_mixed_pcap.py mix" if args.mix == "generated" else "../shared/data looped"
    print(f"file: {best['packets']:,.0f} packets ({what}, {big.name})")
    for name, tree_runs in [("this tree", runs), ("base", base_runs)]:
        if tree_runs:
            _print_runs(name, tree_runs)
    same = _same_events(runs, base_runs) if base_runs else True
    if best_ev is not None:
        print(
            f"with --evidence: {best_ev['packets'] / best_ev['wall']:,.0f} packets/s wall "
            f"({best_ev['packets'] / best_ev['cpu']:,.0f}/s CPU), best of {args.repeat}; "
            f"peak RSS {best_ev['hwm_mb']:.0f} MB; evidence {best_ev['evidence']}"
        )
    if scapy_pps is not None:
        print(f"(a) scapy PcapReader full dissection (20k sample): {scapy_pps:,.0f} packets/s")
    if tshark_pps:
        print(f"(b) tshark -T fields 5-tuple (200k sample): {tshark_pps:,.0f} packets/s")
        print(f"ratio netwarden / tshark: {pps / tshark_pps:.1f}x")
    ok = (
        same
        and pps >= TARGET_PPS
        and best["hwm_mb"] < TARGET_RSS_MB
        and (tshark_pps is None or pps >= 20 * tshark_pps)
    )
    print(
        f"target >= {TARGET_PPS:,} packets/s, >= 20x tshark, RSS < {TARGET_RSS_MB} MB: {'PASS' if ok else 'FAIL'}"
    )
    # Issue 18 raised the in-process target; the whole process against tshark is
    # bench_auditor_process.py. Best of --repeat, wall, as above.
    print(
        f"issue 18 target >= {TARGET_PPS_ISSUE_18:,} packets/s in-process: "
        f"{'PASS' if pps >= TARGET_PPS_ISSUE_18 else 'FAIL'} ({pps:,.0f}/s)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
