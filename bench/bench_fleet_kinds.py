"""Plan and apply per device kind on the namespace lab of the example inventory (issue 15).

``netwarden lab up`` of ``inventory/`` (HQ + 4 field offices: 5 nftables firewalls,
10 simulated ios switches, 12 Linux servers), then, from HQ's management server
jed-mon1's namespace as an operator's controller, the whole commands timed (Python
start-up, inventory load and render included):

- the CLI route: ``netwarden plan`` and ``netwarden apply`` for the firewalls (with
  changes pending on the lab's fresh rulesets, then plan again once converged), and
  the same for the switches of the same sites: the **baseline**. It is the
  established, benchmarked path (``bench_plan_apply.py``) run in the same run, same
  sites, same namespaces, same controller: a firewall's nftables session (``nft -c``,
  backup, revert timer, atomic load, post-checks, confirm) should cost no more per
  device than a switch's NAPALM replace/commit-confirm session.
- the playbook route for the firewalls: ``ansible-playbook playbooks/firewalls.yml``
  ``--check`` (converged) and a real run with changes (the lab's rulesets put back
  first), compared with the CLI route in the same state: the role wraps the same
  session (``netwarden_config``), so the difference is what Ansible adds (its start-up,
  the rollout order, one play per batch: field canary, the rest, HQ alone).
- servers (no CLI route: the ``linux_server`` role): ``playbooks/servers.yml``
  ``--check`` on the fresh servers, the first run, a second run (changed=0) and
  ``--check`` once converged.

One run of each (a change can be applied once per state); the figures print as JSON
lines and a table. Needs root (prints why and exits 0 otherwise, so ``make bench``
goes on).

Run: ``sudo .venv/bin/python bench/bench_fleet_kinds.py [--kinds firewalls,switches] [--keep-log DIR]``
(``--kinds``: only those rows; the switches are the firewalls' baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "netwarden.cli"]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
CONTROLLER = "jed-mon1"
TIMEOUT = "30"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.M,
)
PLAN_LINE = re.compile(r"plan: (\d+) to change(?:, (\d+) in sync)?")


@dataclass
class Figure:
    kind: str  # firewalls, switches, servers
    route: str  # cli, playbook
    step: str  # plan, apply, check, run
    state: str  # "changes pending" or "converged"
    devices: int
    seconds: float
    code: int
    outcome: str  # what the command said (plan counts, recap)

    @property
    def per_device(self) -> float:
        return self.seconds / self.devices if self.devices else 0.0


class Bench:
    def __init__(self, lab: Path, work: Path) -> None:
        from netwarden.lab.ns.topology import lab_id_for

        self.lab, self.work = lab, work
        self.netns = f"nw{lab_id_for(str(lab.resolve()))}-jed-{CONTROLLER}"
        self.log = work / "commands.log"
        self.figures: list[Figure] = []

    def _timed(self, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, float]:
        began = time.perf_counter()
        done = subprocess.run(
            ["ip", "netns", "exec", self.netns, *argv], cwd=REPO, env=env,
            capture_output=True, text=True, check=False, timeout=1800, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        seconds = time.perf_counter() - began
        out = done.stdout + done.stderr
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(argv)}\n[{done.returncode}, {seconds:.2f} s]\n{out}")
        return done.returncode, out, seconds

    def cli(self, kind: str, step: str, state: str, devices: int, *args: str) -> Figure:
        extra = ["--yes", "--confirm-timeout", "2", "--repo", str(self.work / "backups"),
                 "--result-file", str(self.work / f"apply-{kind}.json"),
                 "-m", "bench_fleet_kinds"] if step == "apply" else []  # fmt: skip
        code, out, seconds = self._timed(
            [*CLI, step, "-i", str(self.lab), "--limit", kind, "--timeout", TIMEOUT, *extra, *args]
        )
        plan = PLAN_LINE.search(out)
        outcome = plan.group(0) if plan else _apply_outcome(self.work / f"apply-{kind}.json")
        return self._add(Figure(kind, "cli", step, state, devices, seconds, code, outcome))

    def playbook(self, kind: str, step: str, state: str, limit: str, *args: str) -> Figure:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{env.get('PATH', '')}"
        env["ANSIBLE_FORCE_COLOR"] = "0"
        env["ANSIBLE_NOCOLOR"] = "1"
        env["ANSIBLE_LOCAL_TEMP"] = str(self.work / "ansible-tmp")
        code, out, seconds = self._timed(
            [str(ANSIBLE_PLAYBOOK), "-i", str(self.lab),
             "--vault-password-file", str(self.lab / ".vault-password"),
             f"playbooks/{kind}.yml", "--limit", limit,
             "-e", f"nftables_firewall_output_dir={self.work / 'rulesets'}",
             "-e", f"netwarden_backup_repo={self.work / 'backups'}",
             "-e", f"netwarden_timeout={TIMEOUT}", *args],
            env,
        )  # fmt: skip
        recap = [(int(m["changed"]), int(m["failed"]) + int(m["unreachable"]))
                 for m in RECAP.finditer(out)]  # fmt: skip
        changed = sum(1 for c, _ in recap if c)
        failed = sum(1 for _, f in recap if f)
        outcome = f"{len(recap)} hosts, {changed} changed, {failed} failed"
        return self._add(Figure(kind, "playbook", step, state, len(recap), seconds, code, outcome))

    def _add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(json.dumps({**asdict(figure), "per_device": round(figure.per_device, 2)}), flush=True)
        return figure


def _apply_outcome(result_file: Path) -> str:
    try:
        results = json.loads(result_file.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return "no result file"
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))


def reset_firewalls(lab: Path) -> None:
    """Put the lab's own rulesets back (``lab up``'s: forward all, count): changes pending."""
    from netwarden.inventory import load_inventory
    from netwarden.lab.ns import netops
    from netwarden.lab.ns.build import base_ruleset
    from netwarden.lab.ns.plan import plan_lab
    from netwarden.lab.ns.topology import lab_id_for

    plan = plan_lab(load_inventory(lab), lab_id_for(str(lab.resolve())))
    for fw in plan.firewalls:
        netops.nft_load(fw.netns, "flush ruleset\n" + base_ruleset(fw.zones))


KINDS = ("firewalls", "switches", "servers")


def run(
    lab: Path, work: Path, counts: dict[str, int], kinds: tuple[str, ...] = KINDS
) -> list[Figure]:
    """The figures of ``kinds`` (all by default), in the order of the table; the switches
    are the firewalls' baseline, so a firewall re-measure should keep them."""
    b = Bench(lab, work)
    fresh, done = "changes pending", "converged"
    fws, sws = counts["firewalls"], counts["switches"]
    cli_kinds = [k for k in ("firewalls", "switches") if k in kinds]
    for kind, devices in ((k, fws if k == "firewalls" else sws) for k in cli_kinds):
        b.cli(kind, "plan", fresh, devices)
    for kind, devices in ((k, fws if k == "firewalls" else sws) for k in cli_kinds):
        b.cli(kind, "apply", fresh, devices)
    for kind, devices in ((k, fws if k == "firewalls" else sws) for k in cli_kinds):
        b.cli(kind, "plan", done, devices)
    if "firewalls" in kinds:
        b.playbook("firewalls", "check", done, "firewalls", "--check", "--diff")
        b.playbook("firewalls", "run", done, "firewalls")
        reset_firewalls(lab)
        b.playbook("firewalls", "check", fresh, "firewalls", "--check", "--diff")
        b.playbook("firewalls", "run", fresh, "firewalls")
    if "servers" in kinds:
        b.playbook("servers", "check", fresh, "servers", "--check", "--diff")
        b.playbook("servers", "run", fresh, "servers")
        b.playbook("servers", "run", done, "servers")
        b.playbook("servers", "check", done, "servers", "--check", "--diff")
    return b.figures


def _lab_cli(args: list[str], log: Path) -> int:
    with log.open("ab") as out:
        return subprocess.run(
            [*CLI, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            check=False, timeout=600,
        ).returncode  # fmt: skip


def table(figures: list[Figure]) -> str:
    rows = [
        "| kind | route | step | state | devices | wall time | per device | exit | outcome |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows += [
        f"| {f.kind} | {f.route} | {f.step} | {f.state} | {f.devices} | {f.seconds:.1f} s | "
        f"{f.per_device:.2f} s | {f.code} | {f.outcome} |"
        for f in figures
    ]
    return "\n".join(rows)


def comparisons(figures: list[Figure]) -> list[str]:
    def find(kind: str, route: str, step: str, state: str) -> Figure | None:
        return next(
            (
                f
                for f in figures
                if (f.kind, f.route, f.step, f.state) == (kind, route, step, state)
            ),
            None,
        )

    out = []
    for step, state in (("plan", "changes pending"), ("apply", "changes pending"),
                        ("plan", "converged")):  # fmt: skip
        fw, sw = find("firewalls", "cli", step, state), find("switches", "cli", step, state)
        if fw and sw and sw.per_device:
            out.append(
                f"cli {step} ({state}), per device: firewalls {fw.per_device:.2f} s vs switches "
                f"(baseline) {sw.per_device:.2f} s: ratio {fw.per_device / sw.per_device:.2f}"
            )
    for cli_step, book_step, state in (("plan", "check", "converged"),
                                       ("apply", "run", "changes pending")):  # fmt: skip
        c, p = (
            find("firewalls", "cli", cli_step, state),
            find("firewalls", "playbook", book_step, state),
        )
        if c and p and c.seconds:
            out.append(
                f"firewalls {cli_step} ({state}): playbook {p.seconds:.1f} s vs cli "
                f"{c.seconds:.1f} s: ratio {p.seconds / c.seconds:.2f}"
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-log", type=Path, help="copy the commands' output here")
    parser.add_argument(
        "--kinds",
        default=",".join(KINDS),
        help="comma-separated device kinds to measure (default: all of firewalls,switches,"
        "servers); the servers' playbook rows take most of the time",
    )
    args = parser.parse_args()
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not kinds or set(kinds) - set(KINDS):
        parser.error(f"--kinds: choose among {', '.join(KINDS)}")
    if os.geteuid() != 0:
        print("bench_fleet_kinds: skipped, needs root (network namespaces)")
        return 0
    if not ANSIBLE_PLAYBOOK.exists():
        print(f"bench_fleet_kinds: skipped, no {ANSIBLE_PLAYBOOK} (this venv's Ansible)")
        return 0
    from netwarden.inventory import load_inventory

    inv = load_inventory(REPO / "inventory")
    counts = {
        kind: sum(1 for d in inv.devices.values() if d.function.value == fn)
        for kind, fn in (("firewalls", "firewall"), ("switches", "switch"), ("servers", "server"))
    }
    print(
        f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}; devices {counts}"
    )
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench-kinds-") as tmp:
        work = Path(tmp)
        lab, log = work / "lab", work / "lab.log"
        began = time.perf_counter()
        try:
            if _lab_cli(["lab", "up", "-i", str(REPO / "inventory"), "--out", str(lab)], log):
                print(log.read_text(), file=sys.stderr)
                raise SystemExit("lab up failed")
            print(f"lab up: {time.perf_counter() - began:.1f} s", flush=True)
            figures = run(lab, work, counts, kinds)
        finally:
            if lab.exists():
                _lab_cli(["lab", "down", str(lab)], log)
            if args.keep_log:
                args.keep_log.mkdir(parents=True, exist_ok=True)
                for name in ("commands.log", "lab.log"):
                    if (work / name).exists():
                        shutil.copy(work / name, args.keep_log / name)
    print(table(figures))
    for line in comparisons(figures):
        print(line)
    failed = any(f.code != 0 for f in figures)
    if failed:
        print("some command failed (exit code above): see --keep-log")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
