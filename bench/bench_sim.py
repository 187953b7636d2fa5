"""Benchmark: N simulated IOS devices in one process, NAPALM get_facts on all of them.

Prints the memory an idle device costs (RSS delta / N, target <= 5 MB) and the rate
of get_facts (open + get_facts + close) through a thread pool. Record the figures
in bench/RESULTS.md with the machine and the date.

    .venv/bin/python bench/bench_sim.py --devices 200 --workers 16
"""

from __future__ import annotations

import argparse
import gc
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, synthetic_fleet


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def facts(device: SimDevice, credentials: Credentials) -> dict[str, Any]:
    from napalm import get_network_driver

    driver = get_network_driver("ios")(
        device.spec.address,
        credentials.username,
        credentials.password,
        timeout=60,
        optional_args={"port": device.bound_port, "secret": credentials.enable_secret},
    )
    driver.open()
    try:
        return dict(driver.get_facts())
    finally:
        driver.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    import napalm  # noqa: F401 - load the clients before measuring the simulator
    import netmiko  # noqa: F401

    credentials = Credentials.generate()
    gc.collect()
    before = rss_bytes()
    started = time.perf_counter()
    fleet = synthetic_fleet(args.devices, credentials)
    fleet.start()
    built = time.perf_counter() - started
    gc.collect()
    idle = rss_bytes() - before
    print(f"devices: {args.devices}, built and listening in {built:.2f} s")
    print(
        f"idle memory: {idle / 2**20:.1f} MiB total, {idle / args.devices / 2**20:.3f} MiB per device"
    )

    errors = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(facts, d, credentials): d for d in fleet}
        for future in as_completed(futures):
            device = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a benchmark reports every failure
                errors += 1
                print(f"{device.spec.name}: {exc!r}")
                continue
            if (
                result["hostname"] != device.hostname
                or result["serial_number"] != device.spec.serial
            ):
                errors += 1
                print(f"{device.spec.name}: wrong facts {result}")
    elapsed = time.perf_counter() - started
    print(
        f"get_facts: {args.devices - errors}/{args.devices} ok in {elapsed:.1f} s "
        f"with {args.workers} workers = {args.devices / elapsed:.1f} devices/s"
    )
    print(f"peak memory during the run: {(rss_bytes() - before) / 2**20:.1f} MiB above baseline")
    fleet.stop()


if __name__ == "__main__":
    main()
