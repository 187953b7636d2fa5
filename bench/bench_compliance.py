"""Audit 1,000 generated IOS configs of about 500 lines with the full IOS pack, on one core.

Target: 1,000 configs/s or more. Baseline in the same run: hier_config 3.7
parsing the same configs (parse alone, no rules), which is what an audit built
on hier_config would pay before checking anything.

Configs: the intended configs rendered from the example inventory (when
``netwarden.render`` is there; else the compliance baseline fixture), grown to
about 500 lines with more access ports and varied per copy (hostname,
addresses, one injected violation in every fifth config), so results differ.

Run: ``.venv/bin/python bench/bench_compliance.py [--configs 1000] [--repeat 3] [--hier 200]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 1000.0
VIOLATIONS = (
    ("ip ssh version 2\n", ""),
    ("no ip http server\n", "ip http server\n"),
    (" transport input ssh\n", " transport input ssh telnet\n"),
    ("logging trap informational\n", "logging trap warnings\n"),
    ("aaa new-model\n", "no aaa new-model\n"),
)


def _seed_configs() -> list[str]:
    try:
        from netwarden.inventory import load_inventory
        from netwarden.render import render_all

        return list(render_all(load_inventory(REPO / "inventory")).values())
    except ImportError:
        return [(REPO / "tests/data/compliance/ios/_baseline.cfg").read_text()]


def _grow(text: str, index: int, target_lines: int = 500) -> str:
    lines = text.splitlines()
    extra: list[str] = []
    port = 1
    while len(lines) + len(extra) < target_lines:
        extra += [
            f"interface GigabitEthernet2/0/{port}",
            " description staff desk",
            f" switchport access vlan {30 + port % 3 * 10}",
            " switchport mode access",
            " switchport port-security maximum 2",
            " switchport port-security",
            " no cdp enable",
            " spanning-tree portfast",
            " spanning-tree bpduguard enable",
            "!",
        ]
        port += 1
    at = next((i for i, ln in enumerate(lines) if ln.startswith("interface Vlan")), len(lines) // 2)
    lines[at:at] = extra
    out = "\n".join(lines) + "\n"
    out = out.replace("hostname ", f"hostname b{index:04d}-", 1)
    if index % 5 == 0:
        old, new = VIOLATIONS[(index // 5) % len(VIOLATIONS)]
        out = out.replace(old, new, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--hier", type=int, default=200, help="configs for the hier_config baseline")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core

    from hier_config import Platform, get_hconfig

    from netwarden.compliance.engine import Engine
    from netwarden.compliance.sources import Artifact, Target

    seeds = _seed_configs()
    configs = [_grow(seeds[i % len(seeds)], i) for i in range(args.configs)]
    targets = [
        Target(f"b{i:04d}", "ios", Artifact(f"b{i:04d}.cfg", c)) for i, c in enumerate(configs)
    ]
    lines = sum(c.count("\n") for c in configs)
    engine = Engine()
    rules = len(engine.compiled["ios"])

    times = []
    statuses: Counter[str] = Counter()
    for _ in range(args.repeat):
        statuses.clear()
        t = time.perf_counter()
        for target in targets:
            for r in engine.audit(target):
                statuses[r.status.value] += 1
        times.append(time.perf_counter() - t)
    audit_s = statistics.median(times)

    sample = configs[: args.hier]
    t = time.perf_counter()
    for c in sample:
        get_hconfig(Platform.CISCO_IOS, c)
    hier_s = (time.perf_counter() - t) / len(sample) * len(configs)

    rate = len(configs) / audit_s
    print(
        f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}, one core"
    )
    print(
        f"configs: {len(configs)}, {lines} lines ({lines / len(configs):.0f} per config), IOS pack: {rules} rules"
    )
    print(f"results: {dict(statuses)}")
    print(
        f"netwarden audit (parse + {rules} rules + results): {audit_s:.3f} s  -> {rate:,.0f} configs/s, {lines / audit_s:,.0f} lines/s (median of {args.repeat})"
    )
    print(
        f"hier_config parse alone ({len(sample)} configs, scaled): {hier_s:.3f} s  -> {len(configs) / hier_s:,.0f} configs/s, {lines / hier_s:,.0f} lines/s"
    )
    print(f"ratio audit/hier_config-parse: {audit_s / hier_s:.2f}")
    print(f"target {TARGET:,.0f} configs/s: {'PASS' if rate >= TARGET else 'FAIL'}")


if __name__ == "__main__":
    main()
