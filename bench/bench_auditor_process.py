"""The whole ``netwarden auditor`` process against ``tshark -T fields``, start to exit (issue 18).

What a user waits for: ``python -m netwarden.cli auditor --pcap FILE -i inventory --json``
(the ``netwarden`` console script starts the same way, :mod:`netwarden.cli.start`: the
garbage collector paused before the CLI's imports) from exec to
exit, on the 1,000,000-packet mixed pcap of ``bench/gen_mixed_pcap.py``, all 13
detectors on (example inventory, site nyc), against ``tshark -n -r FILE -T fields -e
ip.src -e ip.dst -e ip.proto -e tcp.srcport -e tcp.dstport`` on the SAME whole file in
the same run, start to exit. Also measured:

- start-up: the same command on a one-packet pcap, with the inventory snapshot warm (the
  usual case) and off (``NETWARDEN_INVENTORY_SNAPSHOT=0``: the full read through
  Ansible), and ``python -c pass`` for the interpreter's own share. Two figures: exec to
  the first packet, what the target is about, and exec to exit (an upper bound of it).
  The first packet is seen from outside the process: the bench watches the pcap with
  inotify (``IN_OPEN``, ``IN_ACCESS``) and takes the time of the first ``read(2)`` of
  it (the reader's first buffered read holds the whole one-packet file), and the CPU
  the process's main thread had used by then (``/proc/PID/schedstat``, nanoseconds).
  Nothing else opens the file during the run; the figure includes the bench's own
  wake-up after the event (an upper bound again, larger under load). A FIFO as
  ``--pcap`` would not do: the command takes regular files only;
- the in-process rate (engine over the decoded batches, what ``bench_auditor.py`` times);
- peak RSS of the whole process (``ru_maxrss`` of the child);
- the events: the summary's incidents (``--json``, duration removed) hashed, to show the
  optimisations changed nothing; ``--base DIR`` runs another checkout (e.g. a copy of the
  code before a change) the same way, alternating, and compares the hashes.

Bytecode: the harness that runs these sessions sets ``PYTHONDONTWRITEBYTECODE=1``, which
makes every start compile the project from source (~0.4 s); an installed netwarden has
its bytecode. The bench unsets it and points ``PYTHONPYCACHEPREFIX`` at its work
directory (nothing is written into the checkout or the venv).

Run: ``.venv/bin/python bench/bench_auditor_process.py [--packets 1000000] [--workdir DIR] [--mix shared-loop|dns-heavy|dns-pool]
[--repeat 3] [--base DIR] [--startup-only]`` (``--startup-only``: the one-packet runs and
``python -c pass`` only, not the 1M file nor tshark)
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import os
import platform
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_auditor_decode import MIXES, mix_file

REPO = Path(__file__).resolve().parents[1]
TARGET_RATIO = 20.0
TARGET_PPS = 2_000_000
TARGET_STARTUP_S = 0.3
TARGET_RSS_MB = 300
TSHARK_FIELDS = ("ip.src", "ip.dst", "ip.proto", "tcp.srcport", "tcp.dstport")

_IN_PROCESS = """
import json, sys, time
from pathlib import Path
from collectors.auditor.capture import FileSource
from collectors.auditor.decode import DecodeStats
from collectors.auditor.engine import Engine
from collectors.auditor.events import ListSink
from netwarden.inventory import load_inventory
inv = load_inventory(sys.argv[2])
sink = ListSink()
engine = Engine(sinks=[sink], site="nyc", sensor="bench", inventory=inv)
engine.ctx.salt = bytes(16)  # secret fingerprints the same in every run (the hash)
stats = DecodeStats()
t, c = time.perf_counter(), time.process_time()
engine.run(FileSource([Path(sys.argv[1])], stats=stats))  # what --pcap reads through
wall, cpu = time.perf_counter() - t, time.process_time() - c
lines = [e.to_json() for e in sink.events]
digest = __import__("hashlib").sha256("\\n".join(lines).encode())
unordered = __import__("hashlib").sha256("\\n".join(sorted(lines)).encode())
print(json.dumps({"packets": stats.packets, "wall": wall, "cpu": cpu,
                  "events": len(sink.events), "sha256": digest.hexdigest()[:16],
                  "sorted_sha256": unordered.hexdigest()[:16]}))
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


IN_ACCESS = 0x00000001
IN_OPEN = 0x00000020
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (+ name)


@dataclass
class FirstRead:
    """One process from exec to exit, and when it first opened and read the watched file."""

    run: Run
    opened: float | None  # seconds after exec (before Popen), None if never opened
    first_read: float | None
    cpu_at_first_read: float | None  # CPU seconds of the main thread then


def _inotify(path: Path) -> int:
    """An inotify descriptor (non-blocking, close-on-exec) watching ``path`` being opened or read."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = int(libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    if libc.inotify_add_watch(fd, os.fsencode(path), IN_OPEN | IN_ACCESS) < 0:
        err = ctypes.get_errno()
        os.close(fd)
        raise OSError(err, f"inotify_add_watch {path}")
    return fd


def _main_thread_cpu(pid: int) -> float | None:
    """CPU seconds the process's main thread has run (``/proc/PID/schedstat``: ns on CPU)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


def _timed_first_read(cmd: list[str], cwd: Path, env: dict[str, str], watched: Path) -> FirstRead:
    """:func:`_timed`, and when the child first opens and reads ``watched`` (inotify).

    One loop waits on the inotify descriptor and on a pidfd of the child (its exit);
    bounded by the child's exit and a 120 s ceiling.
    """
    ino = _inotify(watched)
    opened = first_read = cpu_read = None
    try:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
            pidfd = os.pidfd_open(proc.pid)
            try:
                deadline = t + 120
                while time.perf_counter() < deadline:
                    ready, _, _ = select.select([ino, pidfd], [], [], 1.0)
                    if ino in ready:
                        now = time.perf_counter() - t
                        try:
                            data = os.read(ino, 4096)
                        except BlockingIOError:
                            data = b""
                        for mask in _masks(data):
                            if mask & IN_OPEN and opened is None:
                                opened = now
                            if mask & IN_ACCESS and first_read is None:
                                first_read = now
                                cpu_read = _main_thread_cpu(proc.pid)
                    if pidfd in ready:
                        break
                else:
                    proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                wall = time.perf_counter() - t
            finally:
                os.close(pidfd)
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
    finally:
        os.close(ino)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {stderr[-2000:]!r}")
    run = Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout)
    return FirstRead(run, opened, first_read, cpu_read)


def _masks(data: bytes) -> list[int]:
    """The event masks in a read of an inotify descriptor."""
    masks = []
    offset = 0
    while offset + _EVENT.size <= len(data):
        _, mask, _, length = _EVENT.unpack_from(data, offset)
        masks.append(mask)
        offset += _EVENT.size + length
    return masks


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
    for incident in summary["incidents"]:  # salted per run (cleartext credentials)
        incident.get("evidence", {}).pop("secret_fingerprint", None)
    # sorted: incidents of equal severity and first time may come in another order
    incidents = sorted(json.dumps(i, sort_keys=True) for i in summary["incidents"])
    blob = "\n".join(incidents).encode()
    return hashlib.sha256(blob).hexdigest()[:16], len(summary["incidents"]), summary["packets"]


@dataclass
class Startup:
    """Seconds of the one-packet runs: exec to exit and exec to the first read of the pcap."""

    wall: list[float]
    cpu: list[float]
    first: list[float]  # exec to the first read(2) of the pcap, wall
    first_cpu: list[float]  # CPU seconds of the main thread by then


def _startups(
    trees: list[tuple[str, Path]], work: Path, one: Path, repeat: int, snapshot: bool
) -> dict[str, Startup]:
    """The one-packet run ``repeat`` times per tree, the trees alternating (load then
    falls on each alike); CPU: the figures load disturbs least."""
    env = _env(work, snapshot)
    for _, tree in trees:
        _timed(_auditor_cmd(one), tree, env)  # bytecode and snapshot written
    runs: dict[str, list[FirstRead]] = {name: [] for name, _ in trees}
    for _ in range(repeat):
        for name, tree in trees:
            run = _timed_first_read(_auditor_cmd(one), tree, env, one)
            if run.first_read is None:
                raise RuntimeError(f"{tree}: the auditor never read {one} (inotify saw no read)")
            runs[name].append(run)
    return {
        name: Startup(
            wall=[r.run.wall for r in rs],
            cpu=[r.run.cpu for r in rs],
            first=[r.first_read for r in rs if r.first_read is not None],
            first_cpu=[r.cpu_at_first_read for r in rs if r.cpu_at_first_read is not None],
        )
        for name, rs in runs.items()
    }


def _one_packet(path: Path) -> None:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    wrpcap(str(path), [Ether() / IP(src="10.11.40.66", dst="10.11.10.5") / TCP(dport=80)])


def _fmt(runs: list[float]) -> str:
    if not runs:
        return "n/a"
    return f"best {min(runs):.3f} s, median {statistics.median(runs):.3f} s"


def _print_startup(name: str, warm: Startup, cold: Startup) -> None:
    print(
        f"[{name}] start-up, exec to the first packet (first read of the 1-packet pcap): "
        f"snapshot warm {_fmt(warm.first)} wall, main thread CPU {_fmt(warm.first_cpu)}; "
        f"snapshot off {_fmt(cold.first)} wall, CPU {_fmt(cold.first_cpu)}"
    )
    print(
        f"[{name}] start-up, exec to exit (1 packet): snapshot warm {_fmt(warm.wall)} wall, "
        f"CPU {_fmt(warm.cpu)}; snapshot off (full Ansible read) {_fmt(cold.wall)} wall, "
        f"CPU {_fmt(cold.cpu)}"
    )


def _tree_report(name: str, tree: Path, *, work: Path, big: Path, repeat: int) -> dict[str, Any]:
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
        "runs": runs,
        "best": best,
        "digest": digest,
        "inproc": ip,
        "packets": packets,
    }


def _tshark(big: Path, packets: int) -> tuple[float | None, float | None]:
    """``tshark -T fields`` on the whole file: wall and CPU seconds (None without tshark)."""
    tshark = shutil.which("tshark")
    if not tshark:
        return None, None
    cmd = [tshark, "-n", "-r", str(big), "-T", "fields"]
    for f in TSHARK_FIELDS:
        cmd += ["-e", f]
    t = _timed(cmd, REPO)
    print(
        f"tshark -T fields 5-tuple, whole file: {t.wall:.1f} s wall "
        f"({packets / t.wall:,.0f} packets/s), CPU {t.cpu:.1f} s"
    )
    return t.wall, t.cpu


def _verdict(
    reports: dict[str, dict[str, Any]],
    tshark_wall: float | None,
    tshark_cpu: float | None,
    *,
    startup_only: bool,
) -> bool:
    """Print each figure against its target, in the same run; whether all pass."""
    mine = reports["this tree"]
    ok = True
    if tshark_wall:
        ratio = tshark_wall / mine["best"].wall
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
    first = min(mine["warm"].first)
    print(
        f"start-up to the first packet, snapshot warm: best {first:.3f} s wall, CPU "
        f"{_fmt(mine['warm'].first_cpu)} (target < {TARGET_STARTUP_S} s): "
        f"{'PASS' if first < TARGET_STARTUP_S else 'FAIL'}"
    )
    for name, rep in reports.items():
        if name != "this tree":
            print(f"  [{name}]: best {min(rep['warm'].first):.3f} s wall")
    ok &= first < TARGET_STARTUP_S
    if startup_only:
        print(
            f"target start-up < {TARGET_STARTUP_S} s to the first packet: {'PASS' if ok else 'FAIL'}"
        )
        return bool(ok)
    ip = mine["inproc"]
    ok &= ip["packets"] / ip["wall"] >= TARGET_PPS
    ok &= mine["best"].rss_mb < TARGET_RSS_MB
    if "base" in reports:
        base_ip = reports["base"]["inproc"]
        same = reports["base"]["digest"] == mine["digest"]
        in_order = base_ip["sha256"] == ip["sha256"]
        print(f"events identical to base: {same and in_order}")
        if same and not in_order:  # (the order of emission alone changed)
            same = base_ip.get("sorted_sha256") == ip["sorted_sha256"]
            print(f"the same events in another order: {same}")
        ok &= same
    print(
        f"targets (>= {TARGET_RATIO:.0f}x tshark, >= {TARGET_PPS:,} packets/s in-process, "
        f"start-up < {TARGET_STARTUP_S} s, RSS < {TARGET_RSS_MB} MB): {'PASS' if ok else 'FAIL'}"
    )
    return bool(ok)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--packets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--base", type=Path, default=None, help="another checkout to compare")
    parser.add_argument("--no-tshark", action="store_true")
    parser.add_argument(
        "--startup-only", action="store_true", help="only the one-packet runs (no 1M, no tshark)"
    )
    parser.add_argument(
        "--mix",
        choices=MIXES,
        default="generated",
        help="the file: bench/gen_mixed_pcap.py's mix, ../shared/data's captures looped, or "
        "the mix with 40%% DNS queries (dns-heavy: every name new; dns-pool: 5,000 names)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        big = work / "(none)"
        if not args.startup_only:
            big = mix_file(work, args.mix, args.packets)
            print(f"file: {big.name}")
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
        warm = _startups(trees, work, one, args.repeat, snapshot=True)
        cold = _startups(trees, work, one, max(1, args.repeat // 2), snapshot=False)
        for name, _ in trees:
            _print_startup(name, warm[name], cold[name])
        reports: dict[str, dict[str, Any]] = {name: {"warm": warm[name]} for name, _ in trees}
        if not args.startup_only:
            for name, tree in trees:
                reports[name].update(
                    _tree_report(name, tree, work=work, big=big, repeat=args.repeat)
                )
        tshark_wall = tshark_cpu = None
        if not args.no_tshark and not args.startup_only:
            tshark_wall, tshark_cpu = _tshark(big, args.packets)
        print(f"load after: {os.getloadavg()}")
    return 0 if _verdict(reports, tshark_wall, tshark_cpu, startup_only=args.startup_only) else 1


if __name__ == "__main__":
    raise SystemExit(main())
