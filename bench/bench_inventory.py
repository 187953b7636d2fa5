"""Load and validate a generated 200-site inventory; target: under 5 s on the CI machine.

Baseline measured in the same run: Ansible's own ``ansible-inventory --list`` on
the same files (it parses the same YAML and decrypts the same vault, without our
validation), so the figure says what netwarden adds on top of Ansible.

Run: ``.venv/bin/python bench/bench_inventory.py [--sites 200] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 5.0


def _time_load(path: Path) -> tuple[float, int]:
    code = (
        "import time,sys;t=time.perf_counter();"
        "from netwarden.inventory import load_inventory;"
        f"inv=load_inventory({str(path)!r});"
        "print(time.perf_counter()-t, len(inv.devices))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    seconds, devices = out.split()
    return float(seconds), int(devices)


def _time_ansible(path: Path) -> float:
    exe = Path(sys.executable).parent / "ansible-inventory"
    env = {**os.environ, "ANSIBLE_VAULT_PASSWORD_FILE": str(path / ".vault-password")}
    t = time.perf_counter()
    subprocess.run([str(exe), "-i", str(path), "--list"], check=True, capture_output=True, env=env)
    return time.perf_counter() - t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from netwarden.inventory.generate import generate

    with tempfile.TemporaryDirectory() as tmp:
        inv = Path(tmp) / "inventory"
        hosts = generate(inv, args.sites)
        ours = [_time_load(inv) for _ in range(args.repeat)]
        theirs = [_time_ansible(inv) for _ in range(args.repeat)]
    load_s = statistics.median(s for s, _ in ours)
    ansible_s = statistics.median(theirs)
    print(
        f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"inventory: HQ + {args.sites} field offices, {hosts} devices")
    print(
        f"netwarden load+validate (in-process, median of {args.repeat}): {load_s:.2f} s ({hosts / load_s:.0f} devices/s)"
    )
    print(
        f"baseline ansible-inventory --list (whole process, median of {args.repeat}): {ansible_s:.2f} s"
    )
    print(f"ratio netwarden / ansible-inventory: {load_s / ansible_s:.2f}")
    verdict = "PASS" if load_s < TARGET_SECONDS else "FAIL"
    print(f"target < {TARGET_SECONDS:.0f} s: {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
