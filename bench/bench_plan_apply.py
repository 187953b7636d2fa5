"""Benchmark: netwarden plan and apply on 200 simulated devices, against Nornir + nornir_napalm.

One run, same devices, same concurrency:

1. a generated inventory (HQ + field offices) whose first ``--devices`` ios
   switches are simulated in THIS process (``specs_from_inventory``), with the
   lab inventory and known_hosts written for them;
2. netwarden plan (``plan_fleet``: running config, replace candidate, the device's
   diff, hier_config remediation, discard) in a child process of netwarden's venv;
3. the same dry run with Nornir + nornir_napalm (``napalm_configure(replace=True,
   dry_run=True)``: load_replace_candidate, compare_config, discard_config) in a
   child process of a separate venv, ``bench/.venv-nornir`` (created on first use:
   Nornir is installed there only, never in netwarden's venv), reading a Nornir
   SimpleInventory generated from the lab inventory;
4. netwarden apply (``apply_fleet``: commit with a revert timer, post-checks on a
   new session, confirm) on ``--apply-devices`` of them.

Both clients are child processes of the simulator's process, so they see the same
server; rounds alternate. Wall time counts the device work only (loading the
inventory, rendering and starting Python are reported apart).
Target: netwarden plan at most 1.2x Nornir's wall time.

    .venv/bin/python bench/bench_plan_apply.py --devices 200 --workers 20
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
NORNIR_VENV = BENCH / ".venv-nornir"
NORNIR_PINS = (
    "nornir==3.6.0",
    "nornir_napalm==0.6.0",
    "napalm==5.2.0",  # the same NAPALM, Netmiko and paramiko as netwarden's venv
    "netmiko==4.8.0",
    "paramiko==5.1.0",
)
TARGET_RATIO = 1.2
HQ_SWITCHES = 4

NORNIR_SCRIPT = '''
"""Nornir side of bench_plan_apply.py: napalm_configure(replace, dry_run) on every host."""
import json, sys, time
from pathlib import Path
from nornir import InitNornir
from nornir_napalm.plugins.tasks import napalm_configure

work, workers = Path(sys.argv[1]), int(sys.argv[2])
nr = InitNornir(
    runner={"plugin": "threaded", "options": {"num_workers": workers}},
    inventory={
        "plugin": "SimpleInventory",
        "options": {
            "host_file": str(work / "nornir" / "hosts.yaml"),
            "group_file": str(work / "nornir" / "groups.yaml"),
            "defaults_file": str(work / "nornir" / "defaults.yaml"),
        },
    },
    logging={"enabled": False},
)
configs = work / "configs"
def plan(task):
    return napalm_configure(
        task, replace=True, dry_run=True, filename=str(configs / f"{task.host.name}.cfg")
    )
started = time.perf_counter()
result = nr.run(task=plan)
nr.close_connections()
elapsed = time.perf_counter() - started
print(json.dumps({
    "seconds": elapsed,
    "failed": sorted(result.failed_hosts),
    "changed": sum(1 for r in result.values() if r[0].changed),
    "error": next((str(r.exception) for r in result.failed_hosts.values()), ""),
}))
'''


# ---------------------------------------------------------------- child: netwarden side
def netwarden_worker(work: Path, what: str, workers: int, count: int) -> None:
    """Plan (or apply) the first ``count`` benchmark devices; print one JSON line."""
    from netwarden.config.apply import ApplyOptions, apply_fleet
    from netwarden.config.plan import plan_fleet
    from netwarden.devices import SessionOptions
    from netwarden.inventory import load_inventory
    from netwarden.lab.sim.labdir import KNOWN_HOSTS_FILE
    from netwarden.render import render_device

    lab = work / "lab"
    names = json.loads((work / "devices.json").read_text())[:count]
    t0 = time.perf_counter()
    inv = load_inventory(lab)
    loaded = time.perf_counter() - t0
    devices = [inv.devices[n] for n in names]
    t0 = time.perf_counter()
    configs = {d.name: render_device(inv, d) for d in devices}
    rendered = time.perf_counter() - t0
    options = SessionOptions(
        known_hosts=lab / KNOWN_HOSTS_FILE, conn_timeout=30.0, timeout=120.0, read_timeout=120.0
    )
    started = time.perf_counter()
    if what == "plan":
        report = plan_fleet(str(lab), devices, configs, options, concurrency=workers)
        seconds = time.perf_counter() - started
        out = {
            "failed": report.failed,
            "changed": len(report.changed),
            "error": next((p.error for p in report.plans if p.error), ""),
        }
    else:
        applied = apply_fleet(
            str(lab),
            devices,
            configs,
            options,
            ApplyOptions(confirm_timeout_minutes=10, concurrency=workers),
            user="bench",
        )
        seconds = time.perf_counter() - started
        statuses: dict[str, int] = {}
        for r in applied.results:
            statuses[r.status.value] = statuses.get(r.status.value, 0) + 1
        out = {
            "failed": [r.device for r in applied.results if r.status.value != "changed"],
            "statuses": statuses,
            "error": next((r.reason for r in applied.results if r.reason), ""),
        }
    print(json.dumps({"seconds": seconds, "load": loaded, "render": rendered, **out}))


# ---------------------------------------------------------------- parent
def ensure_nornir_venv() -> Path:
    """``bench/.venv-nornir/bin/python`` with Nornir + nornir_napalm (created on first use)."""
    python = NORNIR_VENV / "bin" / "python"
    probe = [str(python), "-c", "import nornir, nornir_napalm"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    print(f"creating {NORNIR_VENV} (Nornir is installed there only) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(NORNIR_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *NORNIR_PINS,
        ],
        check=True,
    )
    return python


def generate_fleet(work: Path, devices: int, credentials: Any) -> list[Any]:
    """A generated inventory with at least ``devices`` ios switches; the first ``devices`` specs.

    Specs are in name order, as ``select_devices`` lists devices.
    """
    from netwarden.inventory.generate import generate
    from netwarden.lab.sim.fleet import specs_from_inventory

    sites = math.ceil((devices - HQ_SWITCHES) / 1.5) + 1  # offices have 1 or 2 switches
    generate(work / "source", sites)
    specs = sorted(specs_from_inventory(work / "source", credentials), key=lambda s: s.name)
    if len(specs) < devices:
        raise SystemExit(f"{sites} sites gave {len(specs)} ios devices, fewer than {devices}")
    return specs[:devices]


def write_nornir_inventory(work: Path, names: list[str], credentials: Any, fleet: Any) -> None:
    """A Nornir SimpleInventory of the simulated devices, with netwarden's NAPALM options."""
    hosts = {
        name: {
            "hostname": fleet.device(name).spec.address,
            "port": fleet.device(name).bound_port,
            "username": credentials.username,
            "password": credentials.password,
            "platform": "ios",
            "connection_options": {
                "napalm": {
                    "extras": {
                        "timeout": 120,
                        "optional_args": {
                            "secret": credentials.enable_secret,
                            "conn_timeout": 30.0,
                            "banner_timeout": 30.0,
                            "auth_timeout": 30.0,
                            "read_timeout_override": 120.0,
                        },
                    }
                }
            },
        }
        for name in names
    }
    out = work / "nornir"
    out.mkdir()
    (out / "hosts.yaml").write_text(yaml.safe_dump(hosts), encoding="utf-8")
    (out / "groups.yaml").write_text("{}\n", encoding="utf-8")
    (out / "defaults.yaml").write_text("{}\n", encoding="utf-8")
    os.chmod(out / "hosts.yaml", 0o600)  # lab passwords  # noqa: PTH101


def child(cmd: list[str]) -> dict[str, Any]:
    """Run one side; its JSON line, plus ``cpu``: the child's CPU seconds (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=3600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def prepare(work: Path, devices: int) -> tuple[list[str], Any]:
    """Generate the fleet, write the lab and Nornir inventories and the intended configs.

    Returns the device names and the (unstarted) simulated fleet.
    """
    from netwarden.inventory import load_inventory
    from netwarden.lab.sim.fleet import Credentials, SimFleet, write_lab_inventory
    from netwarden.render import render_device

    creds = Credentials.generate()
    specs = generate_fleet(work, devices, creds)
    names = [s.name for s in specs]
    fleet = SimFleet(specs, creds).start()
    write_lab_inventory(fleet, work / "lab", creds, work / "source")
    (work / "devices.json").write_text(json.dumps(names), encoding="utf-8")
    inv = load_inventory(work / "lab")
    (work / "configs").mkdir()
    for name in names:
        text = render_device(inv, inv.devices[name])
        (work / "configs" / f"{name}.cfg").write_text(text, encoding="utf-8")
    write_nornir_inventory(work, names, creds, fleet)
    (work / "nornir_plan.py").write_text(NORNIR_SCRIPT, encoding="utf-8")
    return names, fleet


def _describe(side: str, run: dict[str, Any]) -> str:
    text = (
        f"{side} {run['seconds']:.1f} s (client CPU {run['cpu']:.1f} s; "
        f"{len(run['failed'])} failed, {run['changed']} with a diff)"
    )
    if run["failed"]:
        text += f"\n  {side} first error: {run['error'][:300]}"
    return text


def compare_plans(work: Path, devices: int, workers: int, rounds: int, nornir_python: Path) -> None:
    """Alternate netwarden plan and the Nornir dry run; print the medians and the ratio."""
    ours = [sys.executable, __file__, "--work", str(work), "--workers", str(workers)]
    sides = {
        "netwarden plan": [*ours, "--worker", "plan", "--devices", str(devices)],
        "nornir dry run": [
            str(nornir_python),
            str(work / "nornir_plan.py"),
            str(work),
            str(workers),
        ],
    }
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
    for rnd in range(1, rounds + 1):
        order = list(sides) if rnd % 2 else list(reversed(sides))  # alternate who goes first
        for side in order:
            run = child(sides[side])
            runs[side].append(run)
            print(f"round {rnd}: {_describe(side, run)}", flush=True)
    secs = {side: median(r["seconds"] for r in rs) for side, rs in runs.items()}
    for side, s in secs.items():
        print(f"{side}: {s:.1f} s = {devices / s:.2f} devices/s (median of {rounds})")
    first = runs["netwarden plan"][0]
    print(
        f"  netwarden outside the timing: inventory load {first['load']:.1f} s, render {first['render']:.1f} s"
    )
    ratio = secs["netwarden plan"] / secs["nornir dry run"]
    verdict = "PASS" if ratio <= TARGET_RATIO else "FAIL"
    print(f"ratio netwarden/nornir: {ratio:.2f} (target <= {TARGET_RATIO}) {verdict}", flush=True)


def measure_apply(work: Path, devices: int, workers: int) -> None:
    ours = [sys.executable, __file__, "--work", str(work), "--workers", str(workers)]
    run = child([*ours, "--worker", "apply", "--devices", str(devices)])
    print(
        f"netwarden apply: {devices} devices in {run['seconds']:.1f} s = "
        f"{devices / run['seconds']:.2f} devices/s (client CPU {run['cpu']:.1f} s); {run['statuses']}"
    )
    if run["failed"]:
        print(f"  first problem: {run['error'][:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2, help="plan rounds per client (median)")
    parser.add_argument("--apply-devices", type=int, default=None, help="default: --devices")
    parser.add_argument("--worker", choices=["plan", "apply"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        netwarden_worker(args.work, args.worker, args.workers, args.devices)
        return
    # The simulator's paramiko transports log every client disconnect at ERROR.
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    nornir_python = ensure_nornir_venv()
    work = Path(tempfile.mkdtemp(prefix="bench-plan-apply-"))
    fleet = None
    try:
        t0 = time.perf_counter()
        names, fleet = prepare(work, args.devices)
        print(
            f"{len(names)} simulated devices of a generated inventory, configs rendered in "
            f"{time.perf_counter() - t0:.1f} s; {args.workers} workers each side",
            flush=True,
        )
        compare_plans(work, args.devices, args.workers, args.rounds, nornir_python)
        measure_apply(work, args.apply_devices or args.devices, args.workers)
        print(
            f"machine: {platform.machine()} {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, load average {os.getloadavg()[0]:.1f}; "
            f"{datetime.now(UTC):%Y-%m-%d}"
        )
    finally:
        if fleet is not None:
            fleet.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
