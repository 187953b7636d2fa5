"""Benchmark: Ansible cisco.ios ``ios_config --check`` against ``netwarden plan``, same simulated devices.

One run, same devices, same concurrency (issue 13):

1. the first ``--devices`` ios switches of a generated inventory are simulated in
   THIS process (:func:`bench_plan_apply.prepare`: lab inventory, known_hosts and
   intended configs written); the memory the idle devices cost is measured first
   (RSS delta / devices, target under 5 MB each);
2. Ansible's ``cisco.ios.ios_config`` with ``src`` = the intended config, in check
   mode with ``--diff``, over ``network_cli`` (paramiko, host keys checked), from
   the test-only venv ``.venv-ansible-full`` (``scripts/bootstrap.sh --ansible-full``),
   ``--forks`` = workers;
3. ``netwarden plan`` (``plan_fleet``: running config, replace candidate, the
   device's diff, remediation) in a child process, same workers
   (:func:`bench_plan_apply.netwarden_worker`).

Rounds alternate who goes first; wall time is the client's whole run, as a user
sees it (Ansible's includes its start-up and inventory parsing; netwarden's is
reported with and without loading the inventory and rendering).

    .venv/bin/python bench/bench_sim_ansible.py --devices 50 --workers 10
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import platform
import re
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
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
import bench_plan_apply as bpa  # noqa: E402 - the sibling benchmark's fleet and netwarden side
from bench_sim import rss_bytes  # noqa: E402 - the sibling benchmark's memory probe

ANSIBLE_BIN = REPO / ".venv-ansible-full" / "bin"
MEMORY_TARGET_MB = 5.0
RECAP = re.compile(
    r"ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unr>\d+)\s+failed=(?P<failed>\d+)"
)
PLAYBOOK = """\
---
- name: Check the intended config of every simulated switch
  hosts: all
  gather_facts: false
  tasks:
    - name: Compare the intended config with the running config
      cisco.ios.ios_config:
        src: "{{ netwarden_configs }}/{{ inventory_hostname }}.cfg"
"""


def ensure_ansible() -> Path:
    """``.venv-ansible-full/bin`` (made by the bootstrap when missing)."""
    if not (ANSIBLE_BIN / "ansible-playbook").exists():
        print("creating .venv-ansible-full (scripts/bootstrap.sh --ansible-full) ...", flush=True)
        subprocess.run(
            [str(REPO / "scripts" / "bootstrap.sh"), "--ansible-full"], cwd=REPO, check=True
        )
    return ANSIBLE_BIN


def write_ansible_lab(work: Path, names: list[str], fleet: Any) -> None:
    """An Ansible inventory of the simulated devices, the playbook, ansible.cfg and known_hosts."""
    creds = fleet.credentials
    hosts = {
        name: {
            "ansible_host": fleet.device(name).spec.address,
            "ansible_port": fleet.device(name).bound_port,
        }
        for name in names
    }
    group_vars = {
        "ansible_user": creds.username,
        "ansible_password": creds.password,
        "ansible_connection": "ansible.netcommon.network_cli",
        "ansible_network_os": "cisco.ios.ios",
        "ansible_network_cli_ssh_type": "paramiko",
        "ansible_become": True,
        "ansible_become_method": "ansible.netcommon.enable",
        "ansible_become_password": creds.enable_secret,
    }
    out = work / "ansible"
    (out / "home" / ".ssh").mkdir(parents=True)
    inventory = out / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": group_vars}}), "utf-8")
    inventory.chmod(0o600)  # lab passwords
    (out / "check.yml").write_text(PLAYBOOK, encoding="utf-8")
    (out / "home" / ".ssh" / "known_hosts").write_text(fleet.known_hosts(), encoding="utf-8")
    (out / "ansible.cfg").write_text(
        "[defaults]\nhost_key_checking = True\ndeprecation_warnings = False\n"
        "[paramiko_connection]\nhost_key_auto_add = False\nrecord_host_keys = False\n"
        "[persistent_connection]\ncommand_timeout = 120\nconnect_timeout = 120\n",
        encoding="utf-8",
    )


def run_ansible(work: Path, bin_dir: Path, workers: int) -> dict[str, Any]:
    """One ``ansible-playbook --check --diff`` over every device; seconds and the recap."""
    out = work / "ansible"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    control = tempfile.mkdtemp(prefix="nw-pc-")  # short: a Unix socket path has 108 bytes
    env.update(
        {
            "HOME": str(out / "home"),
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(out / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_PERSISTENT_CONTROL_PATH_DIR": control,
        }
    )
    command = [
        str(bin_dir / "ansible-playbook"), "-i", str(out / "hosts.yml"), str(out / "check.yml"),
        "--check", "--diff", "--forks", str(workers), "-e", f"netwarden_configs={work / 'configs'}",
    ]  # fmt: skip
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            command, env=env, cwd=out, capture_output=True, text=True, check=False, timeout=3600
        )
    finally:
        shutil.rmtree(control, ignore_errors=True)
    seconds = time.perf_counter() - started
    recaps = [m.groupdict() for m in RECAP.finditer(proc.stdout)]
    failed = sum(int(r["failed"]) + int(r["unr"]) for r in recaps)
    changed = sum(1 for r in recaps if int(r["changed"]))
    error = "" if not failed else (proc.stdout + proc.stderr)[-1500:]
    return {
        "seconds": seconds,
        "hosts": len(recaps),
        "failed": failed,
        "changed": changed,
        "error": error,
    }


def run_netwarden(work: Path, devices: int, workers: int) -> dict[str, Any]:
    command = [sys.executable, bpa.__file__, "--work", str(work), "--workers", str(workers),
               "--worker", "plan", "--devices", str(devices)]  # fmt: skip
    started = time.perf_counter()
    result = bpa.child(command)
    result["wall"] = time.perf_counter() - started
    return result


def idle_memory_per_device(count: int) -> float:
    """MiB of RSS one idle simulated device costs (``count`` synthetic switches, started)."""
    from netwarden.lab.sim.fleet import Credentials, synthetic_fleet

    creds = Credentials.generate()
    with synthetic_fleet(1, creds):  # imports, thread pools, host-key code: paid once
        pass
    gc.collect()
    before = rss_bytes()
    with synthetic_fleet(count, creds, access_ports=48):
        time.sleep(1.0)
        gc.collect()
        idle = rss_bytes() - before
    per_device = idle / count / 2**20
    verdict = "PASS" if per_device < MEMORY_TARGET_MB else "FAIL"
    print(
        f"{count} idle simulated devices (48 access ports each): +{idle / 2**20:.1f} MiB RSS, "
        f"{per_device:.3f} MiB per device (target < {MEMORY_TARGET_MB} MB) {verdict}",
        flush=True,
    )
    return per_device


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per client (median)")
    args = parser.parse_args()
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)  # every client disconnect at ERROR
    bin_dir = ensure_ansible()
    work = Path(tempfile.mkdtemp(prefix="bench-sim-ansible-"))
    fleet = None
    try:
        per_device = idle_memory_per_device(args.devices)
        names, fleet = bpa.prepare(work, args.devices)
        write_ansible_lab(work, names, fleet)
        runs: dict[str, list[dict[str, Any]]] = {
            "ansible ios_config --check": [],
            "netwarden plan": [],
        }
        for rnd in range(1, args.rounds + 1):
            order = list(runs) if rnd % 2 else list(reversed(runs))
            for side in order:
                if side == "netwarden plan":
                    run = run_netwarden(work, args.devices, args.workers)
                    print(f"round {rnd}: netwarden plan {run['wall']:.1f} s wall ({run['seconds']:.1f} s device work, "
                          f"inventory {run['load']:.1f} s, render {run['render']:.1f} s); "
                          f"{len(run['failed'])} failed, {run['changed']} with a diff", flush=True)  # fmt: skip
                    run["seconds"] = run["wall"]
                else:
                    run = run_ansible(work, bin_dir, args.workers)
                    print(f"round {rnd}: ansible ios_config --check {run['seconds']:.1f} s; {run['hosts']} hosts, "
                          f"{run['failed']} failed, {run['changed']} changed", flush=True)  # fmt: skip
                    if run["error"]:
                        print(f"  ansible: {run['error']}", flush=True)
                runs[side].append(run)
        secs = {side: median(r["seconds"] for r in rs) for side, rs in runs.items()}
        for side, value in secs.items():
            print(
                f"{side}: {value:.1f} s = {args.devices / value:.2f} devices/s (median of {args.rounds})"
            )
        ratio = secs["netwarden plan"] / secs["ansible ios_config --check"]
        print(f"ratio netwarden/ansible: {ratio:.2f}")
        print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"{datetime.now(UTC):%Y-%m-%d}")  # fmt: skip
        (work / "results.json").write_text(
            json.dumps({"seconds": secs, "memory_mib": per_device}), "utf-8"
        )
    finally:
        if fleet is not None:
            fleet.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
