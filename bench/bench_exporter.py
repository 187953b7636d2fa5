"""Benchmark: the device exporter probing 100 simulated IOS devices every 15 s, scraped by Prometheus.

Issue 16's figure: N simulated switches (``netwarden lab sim --devices N``: one
simulator process), ``netwarden exporter serve`` started as the real CLI process,
and Debian's Prometheus on loopback scraping ``/probe?module=health`` of every
device (scrape_interval 15 s, scrape_timeout 10 s) for ``--duration`` seconds.
Printed per run: p50/p99 of Prometheus's ``scrape_duration_seconds`` (the client's
view: HTTP included) and of the exporter's ``netwarden_scrape_duration_seconds``,
failed scrapes (``up == 0`` samples) and failed probes (``netwarden_up == 0``), the
exporter process's CPU seconds and RSS (peak and end, from /proc), and its
session counters. Target: p99 under 1 s and no failed scrape.

Baseline in the same run: the same load with ``--session-idle 0`` (a fresh SSH
session per probe: what a blackbox_exporter/snmp_exporter-style one-target-per-request
exporter pays), for ``--baseline-duration`` seconds; both rows and their ratio.

``--config-interval S`` adds the config module's job (every S seconds; default 0:
health only; the generated configuration's default is 300 s).

    .venv/bin/python bench/bench_exporter.py --devices 100 --duration 300 --baseline-duration 120
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
CLK_TCK = os.sysconf("SC_CLK_TCK")
WAIT = 120.0
"""Seconds a start-up waits at most."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(pattern: str, log: Path, proc: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise SystemExit(f"{proc.args!r} did not start:\n{log.read_text(encoding='utf-8')[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def cli(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "netwarden.cli", *args], stdout=out, stderr=subprocess.STDOUT
        )


# ------------------------------------------------------------------ the exporter process
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB."""
    got = {}
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM"}:
            got[key] = int(value.split()[0])
    return got["VmRSS"], got["VmHWM"]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text(encoding="ascii").split()[0]


# ------------------------------------------------------------------ Prometheus
def prometheus_config(targets: list[str], exporter: str, config_interval: float) -> str:
    def job(module: str, interval: float, timeout: float) -> dict[str, Any]:
        return {
            "job_name": f"netwarden_{module}",
            "scrape_interval": f"{interval:g}s",
            "scrape_timeout": f"{timeout:g}s",
            "metrics_path": "/probe",
            "params": {"module": [module]},
            "static_configs": [{"targets": targets}],
            "relabel_configs": [
                {"source_labels": ["__address__"], "target_label": "__param_target"},
                {"source_labels": ["__param_target"], "target_label": "instance"},
                {"target_label": "__address__", "replacement": exporter},
            ],
        }

    jobs = [job("health", 15, 10)]
    if config_interval > 0:
        jobs.append(job("config", config_interval, min(config_interval, 60)))
    jobs.append({"job_name": "netwarden_exporter", "static_configs": [{"targets": [exporter]}]})
    config = {"global": {"scrape_interval": "15s", "scrape_timeout": "10s"}, "scrape_configs": jobs}
    return json.dumps(config, indent=1)  # JSON is YAML


def query(url: str, expr: str, at: float) -> list[dict[str, Any]]:
    params = urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=60) as answer:  # noqa: S310
        data = json.load(answer)
    result: list[dict[str, Any]] = data["data"]["result"]
    return result


def samples(url: str, selector: str, seconds: float, at: float, skip: int = 0) -> list[float]:
    """Every raw sample of ``selector`` in the ``seconds`` before ``at`` (all series), but
    the first ``skip`` of each series."""
    out: list[float] = []
    for series in query(url, f"{selector}[{int(seconds)}s]", at):
        out.extend(float(v) for _, v in series["values"][skip:])
    return out


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Row:
    label: str
    duration: float
    scrapes: int = 0
    failed_scrapes: int = 0
    failed_probes: int = 0
    p50: float = float("nan")
    p99: float = float("nan")
    max: float = float("nan")
    probe_p50: float = float("nan")
    probe_p99: float = float("nan")
    steady_p50: float = float("nan")
    steady_p99: float = float("nan")
    sim_cpu: float = 0.0
    config: str = ""
    cpu: float = 0.0
    rss_peak: int = 0
    rss_end: int = 0
    sessions: dict[str, float] = field(default_factory=dict)
    load: list[str] = field(default_factory=list)


def own_metrics(exporter: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://{exporter}/metrics", timeout=30) as answer:
        text = answer.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("netwarden_exporter_sessions_") and "{" not in line:
            name, value = line.split()
            out[name.removeprefix("netwarden_exporter_sessions_")] = float(value)
    return out


@dataclass(frozen=True)
class Lab:
    path: Path
    known_hosts: Path
    targets: list[str]
    sim_pid: int


def read_figures(row: Row, url: str, window: float, end: float, config_interval: float) -> None:
    """Scrapes, failures and durations from Prometheus's raw samples of the run."""
    health = '{job="netwarden_health"}'
    ups = samples(url, f"up{health}", window, end)
    row.scrapes = len(ups)
    row.failed_scrapes = sum(1 for v in ups if v == 0)
    row.failed_probes = sum(1 for v in samples(url, f"netwarden_up{health}", window, end) if v == 0)
    durations = samples(url, f"scrape_duration_seconds{health}", window, end)
    row.p50, row.p99 = quantile(durations, 0.5), quantile(durations, 0.99)
    row.max = max(durations, default=float("nan"))
    steady = samples(url, f"scrape_duration_seconds{health}", window, end, skip=1)
    row.steady_p50, row.steady_p99 = quantile(steady, 0.5), quantile(steady, 0.99)
    probe = samples(url, f"netwarden_scrape_duration_seconds{health}", window, end)
    row.probe_p50, row.probe_p99 = quantile(probe, 0.5), quantile(probe, 0.99)
    if config_interval > 0:
        cfg = '{job="netwarden_config"}'
        cups = samples(url, f"up{cfg}", window, end)
        cdur = samples(url, f"scrape_duration_seconds{cfg}", window, end)
        cfailed = sum(1 for v in samples(url, f"netwarden_up{cfg}", window, end) if v == 0)
        row.config = (
            f"config: {len(cups)} scrapes, {sum(1 for v in cups if v == 0)} failed, "
            f"{cfailed} probes down, p50 {quantile(cdur, 0.5):.3f} s, "
            f"p99 {quantile(cdur, 0.99):.3f} s"
        )


def run(
    label: str, lab: Lab, args: argparse.Namespace, *, duration: float, idle: float, work: Path
) -> Row:
    work.mkdir()
    port = free_port()
    exporter = f"127.0.0.1:{port}"
    proc = cli(
        "exporter", "serve", "-i", str(lab.path), "--known-hosts", str(lab.known_hosts),
        "--listen", exporter, "-c", str(args.concurrency), "--backup-repo", str(work / "none"),
        "--session-idle", f"{idle:g}",
        log=work / "exporter.log",
    )  # fmt: skip
    prometheus: subprocess.Popen[bytes] | None = None
    row = Row(label, duration)
    try:
        wait_for(r"exporter listening on", work / "exporter.log", proc)
        config = work / "prometheus.yml"
        config.write_text(prometheus_config(lab.targets, exporter, args.config_interval), "utf-8")
        prom_port = free_port()
        url = f"http://127.0.0.1:{prom_port}"
        with (work / "prometheus.log").open("wb") as out:
            prometheus = subprocess.Popen(
                [
                    PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={work / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        cpu_before = cpu_seconds(proc.pid)
        sim_before = cpu_seconds(lab.sim_pid)
        started = time.time()
        peak = 0
        # sample the exporter's RSS while Prometheus drives it (bounded: duration / 1 s)
        while time.time() - started < duration:
            if proc.poll() is not None or prometheus.poll() is not None:
                raise SystemExit(f"{label}: a process exited early; see {work}")
            peak = max(peak, rss_kib(proc.pid)[1])
            row.load.append(loadavg())
            time.sleep(1.0)
        end = time.time()
        row.cpu = cpu_seconds(proc.pid) - cpu_before
        row.sim_cpu = cpu_seconds(lab.sim_pid) - sim_before
        row.rss_end, hwm = rss_kib(proc.pid)
        row.rss_peak = max(peak, hwm)
        row.sessions = own_metrics(exporter)
        read_figures(row, url, end - started, end, args.config_interval)
        return row
    finally:
        if prometheus is not None:
            stop(prometheus)
        stop(proc)


def show(row: Row) -> None:
    s = row.sessions
    print(
        f"{row.label}: {row.duration:.0f} s, {row.scrapes} health scrapes, "
        f"{row.failed_scrapes} failed (up 0), {row.failed_probes} probes down (netwarden_up 0)"
    )
    print(
        f"  scrape_duration_seconds p50 {row.p50:.3f} s, p99 {row.p99:.3f} s, max {row.max:.3f} s;"
        f" exporter's probe duration p50 {row.probe_p50:.3f} s, p99 {row.probe_p99:.3f} s"
    )
    print(
        f"  after each device's first scrape: p50 {row.steady_p50:.3f} s, "
        f"p99 {row.steady_p99:.3f} s"
    )
    if row.config:
        print(f"  {row.config}")
    print(
        f"  exporter CPU {row.cpu:.1f} s ({100 * row.cpu / row.duration:.1f} % of one core), "
        f"RSS peak {row.rss_peak / 1024:.1f} MiB, end {row.rss_end / 1024:.1f} MiB; "
        f"sessions opened {s.get('opened_total', 0):.0f}, reused {s.get('reused_total', 0):.0f}; "
        f"load average (1 min) {row.load[0]} at start, max {max(row.load, key=float)}"
    )
    print(
        f"  simulator CPU {row.sim_cpu:.1f} s ({100 * row.sim_cpu / row.duration:.1f} % of one core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--baseline-duration", type=float, default=120.0, help="0: no baseline")
    parser.add_argument("--concurrency", type=int, default=8, help="the exporter's -c")
    parser.add_argument("--config-interval", type=float, default=0.0)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    if not Path(PROMETHEUS).is_file():
        raise SystemExit("prometheus not installed (Debian package prometheus)")

    from netwarden.inventory import load_inventory

    work = Path(tempfile.mkdtemp(prefix="bench-exporter-"))
    sim = cli("lab", "sim", "--devices", str(args.devices), "--out", str(work / "lab"),
              log=work / "sim.log")  # fmt: skip
    try:
        found = wait_for(r"known hosts: (\S+)", work / "sim.log", sim)
        known_hosts = Path(found.group(1))
        inv = load_inventory(work / "lab")
        targets = sorted(
            name
            for name, d in inv.devices.items()
            if d.connection is not None and not d.connection.lab_absent and d.platform == "ios"
        )
        print(
            f"{len(targets)} simulated IOS devices (one simulator process), health every 15 s "
            f"(timeout 10 s), exporter -c {args.concurrency}"
            + (f", config every {args.config_interval:g} s" if args.config_interval else "")
            + f"; load average at start {loadavg()}"
        )
        lab = Lab(work / "lab", known_hosts, targets, sim.pid)
        reuse = run("session reuse (--session-idle 60)", lab, args, duration=args.duration,
                    idle=60.0, work=work / "reuse")  # fmt: skip
        show(reuse)
        if args.baseline_duration > 0:
            base = run("baseline (--session-idle 0: a session per probe)", lab, args,
                       duration=args.baseline_duration, idle=0.0, work=work / "baseline")  # fmt: skip
            show(base)
            print(
                f"ratio reuse/baseline: p50 {reuse.p50 / base.p50:.2f}, p99 {reuse.p99 / base.p99:.2f}, "
                f"steady p99 {reuse.steady_p99 / base.steady_p99:.2f}, exporter CPU per second "
                f"{(reuse.cpu / reuse.duration) / (base.cpu / base.duration):.2f}, simulator CPU "
                f"per second {(reuse.sim_cpu / reuse.duration) / (base.sim_cpu / base.duration):.2f}"
            )
        verdict = reuse.p99 < 1.0 and reuse.failed_scrapes == 0
        steady = reuse.steady_p99 < 1.0 and reuse.failed_scrapes == 0
        print(
            f"verdict: {'PASS' if verdict else 'FAIL'} (p99 < 1 s and no failed scrape); "
            f"after the first scrapes: {'PASS' if steady else 'FAIL'}"
        )
    finally:
        stop(sim)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}")


if __name__ == "__main__":
    main()
