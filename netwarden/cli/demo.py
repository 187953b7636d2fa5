"""``make demo``: the whole suite from one command, step by step.

Each step prints the command a user would type, runs it, and says what to look
at. A step that fails stops the demo with its exit code. Every capability, once it
works, becomes a step here (the README's "What `make demo` shows" lists them).

As root the namespace lab (``netwarden lab up``) is built in the background from the
first second while the rootless stages run, and joined by its step
(:mod:`netwarden.cli.demolab`); Prometheus starts with the device exporter and gathers
its samples during the exporter's steps. Each step's seconds (and CPU seconds), each
stage's and the total are printed as they end and kept in ``summary.json``. Ctrl-C (or
SIGTERM) at any point stops what the demo started and removes the namespace lab (exit
130); ``--keep`` leaves it all running for ``--down``. ``--out`` writes elsewhere than
``out/demo`` (the lab's namespace names derive from that path).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netwarden.cli.demoalerts import alert_steps
from netwarden.cli.demobase import (
    INTERRUPT,
    REPO,
    TIMELINE,
    Step,
    _manual_change,
    _netwarden,
    console,
)
from netwarden.cli.demolab import (
    LAB_DIR,
    LabBuild,
    LiveAttacks,
    lab_down,
    lab_sensor_events,
    namespace_attack_steps,
    namespace_lab_steps,
    scrape_lab_sensors,
)
from netwarden.cli.demomonitoring import (
    device_exporter,
    monitoring_steps,
    prometheus,
    snapshot_steps,
)
from netwarden.cli.demostate import BACKGROUND, STATE_FILE, down
from netwarden.cli.demosummary import build_summary, live_numbers
from netwarden.cli.demosummary import table as summary_table
from netwarden.cli.demosummary import write as write_summary
from netwarden.signals import STOP_SIGNALS, GracefulStop, deferred_signals


def inventory_steps(workdir: Path) -> list[Step]:
    """The inventory validated: the organisation's, a generated one, and two bad ones refused."""
    fleet = workdir / "fleet-20"
    return [
        Step(
            "Validate the organisation's inventory",
            _netwarden("inventory", "check", "-i", "inventory"),
            "Ansible reads inventory/ (the vault too); netwarden validates sites, zones, "
            "addresses, VLANs, the flow policy and secrets, and lists every problem at once.",
        ),
        Step(
            "Fleet summary",
            _netwarden("inventory", "show", "-i", "inventory"),
            "HQ Jeddah and the field offices: switches, firewalls, servers and sensors per site.",
        ),
        Step(
            "The same inventory through Ansible itself",
            [str(Path(sys.executable).parent / "ansible-inventory"), "-i", "inventory", "--graph"],
            "Sites under hq/field_offices and the function groups: the playbooks see what netwarden sees.",
        ),
        Step(
            "Generate a synthetic fleet of 20 field offices",
            _netwarden("inventory", "generate", "--sites", "20", "--out", str(fleet)),
            "Same format as inventory/, fresh vault and password; used for scale tests and benchmarks.",
        ),
        Step(
            "Validate the synthetic fleet",
            _netwarden("inventory", "check", "-i", str(fleet)),
            "A generated inventory is valid by construction.",
        ),
        Step(
            "A hostile inventory is refused: a line break in a value would be a device command",
            _netwarden("inventory", "check", "-i", str(workdir / "hostile")),
            'host_vars/nyc-acc-sw1.yml sets `model: "C9200L-24P-4G\\nusername evil privilege 15 ..."`: '
            "every inventory value is one printable line (banners aside), and render refuses "
            "what slips through. Exit 2, with file and line.",
            expect_rc=2,
        ),
        Step(
            "A broken inventory is reported, file and key, all problems at once",
            _netwarden("inventory", "check", "-i", str(workdir / "broken")),
            "Exit code 2; each line names the file, line and key to fix.",
            expect_rc=2,
        ),
    ]


def render_steps(workdir: Path) -> list[Step]:
    """The intended configs rendered from the inventory and audited before any device."""
    return [
        Step(
            "Render the intended config of every switch",
            _netwarden(
                "render",
                "-i",
                "inventory",
                "--limit",
                "switches",
                "--out",
                str(workdir / "configs"),
            ),
            "The ios_baseline role's templates (the same copy Ansible uses): AAA/TACACS+, SSH only, "
            "banners in three languages, NTP auth, SNMPv3 authPriv, DHCP snooping, archive.",
        ),
        Step(
            "Render every site firewall's nftables ruleset from the flow policy",
            _netwarden(
                "render",
                "-i",
                "inventory",
                "--limit",
                "firewalls",
                "--out",
                str(workdir / "firewalls"),
            ),
            "Default drop, a named counter per policy rule, anti-spoofing per zone, logged "
            "drops; the same policy the traffic auditor judges flows by.",
        ),
        Step(
            "Audit the rendered configs against the IOS rule pack",
            _netwarden(
                "audit",
                "--configs",
                str(workdir / "configs"),
                "-i",
                "inventory",
                "--format",
                "html,json,csv,sarif",
                "--out",
                str(workdir / "compliance-rendered"),
            ),
            "Per control: pass/fail/waived with evidence lines; reports in HTML (printable, "
            "first page for management), JSON, CSV and SARIF. The intended baseline passes every rule.",
        ),
    ]


def rollout_steps(workdir: Path) -> list[Step]:
    """Rehearse a change on the simulated fleet (the lab inventory ``lab sim`` wrote): the
    plan's diffs, the canary, then the rest."""
    lab = str(workdir / "lab")
    backups = str(workdir / "backups")
    return [
        Step(
            "Plan: what would change on each simulated switch (nothing is changed)",
            _netwarden("plan", "-i", lab, "--summary"),
            "NAPALM loads the intended config as a replace candidate, the device diffs it, "
            "hier_config gives the exact commands, then the candidate is discarded. "
            "Host keys are checked against the lab's known_hosts.txt.",
        ),
        Step(
            "Apply with a canary: one switch first, then the rest",
            _netwarden(
                "apply",
                "-i",
                lab,
                "--yes",
                "--canary",
                "1",
                "--confirm-timeout",
                "30",
                "--repo",
                backups,
                "--result-file",
                str(workdir / "apply-result.json"),
            ),
            "Backup first, commit with a revert timer, post-checks (new SSH session, hostname, "
            "management interface, config matches), confirm; any failure rolls back by itself.",
        ),
        Step(
            "Plan again: the fleet has converged",
            _netwarden("plan", "-i", lab, "--summary"),
            "Every device unchanged.",
        ),
        Step(
            "The same check through Ansible: playbooks/network.yml --check --diff",
            [
                str(Path(sys.executable).parent / "ansible-playbook"),
                "-i",
                lab,
                "--vault-password-file",
                str(workdir / "lab" / ".vault-password"),
                "playbooks/network.yml",
                "--check",
                "--diff",
                "--limit",
                "site_nyc",
                "-e",
                f"ios_baseline_output_dir={workdir / 'configs'}",
            ],
            "The ios_baseline role renders, netwarden_config plans (check mode = plan): "
            "the converged New York switches report changed=0.",
        ),
    ]


def record_steps(workdir: Path) -> list[Step]:
    """After the rollout: backup, drift, and the compliance report of the simulated fleet."""
    lab = str(workdir / "lab")
    backups = str(workdir / "backups")
    return [
        Step(
            "Backup: sanitised running configs, one git commit per run",
            _netwarden("backup", "-i", lab, "--repo", backups, "-m", "demo: after the rollout"),
            f"Secrets removed; `git -C {backups} log -p` shows who, why and what changed.",
        ),
        Step(
            "Drift: a manual change made on one switch shows up as exactly that change",
            _netwarden("drift", "-i", lab, "--repo", backups),
            "Somebody added `ntp server 10.9.9.9` on nyc-acc-sw1 by hand (through Netmiko, just now). "
            "Exit 1: drift found.",
            expect_rc=1,
            before=lambda: _manual_change(workdir / "lab", "nyc-acc-sw1", ["ntp server 10.9.9.9"]),
        ),
        Step(
            "Backup again: the commit records the manual change",
            _netwarden(
                "backup", "-i", lab, "--repo", backups, "-m", "demo: after the manual change"
            ),
            "One device changed, one commit; the others are listed unchanged.",
        ),
        Step(
            "Audit the simulated fleet live: the compliance report",
            _netwarden(
                "audit",
                "-i",
                lab,
                "--limit",
                "switches",
                "--intended",
                "--format",
                "html,json,csv,sarif",
                "--out",
                str(workdir / "compliance"),
            ),
            "Running and startup configs read over SSH (host keys checked), audited against the "
            "IOS rule pack and the intended configs: every switch passes except nyc-acc-sw1 (the "
            "manual `ntp server 10.9.9.9` is unsaved, unauthenticated and drifts). Exit 1. "
            f"Report: {workdir / 'compliance' / 'report.html'}",
            expect_rc=1,
        ),
    ]


def replay_step(workdir: Path) -> Step:
    """The attacks replayed: the New York capture through the traffic auditor (root mode
    adds the live attacks after it)."""
    return Step(
        "Traffic auditor over attack traffic at the New York office",
        _netwarden(
            "auditor",
            "--pcap",
            str(workdir / "nyc-attacks.pcap"),
            "-i",
            "inventory",
            "--site",
            "nyc",
            "--sensor",
            "nyc-sensor1",
            "--events",
            str(workdir / "auditor-events.jsonl"),
            "--evidence",
            str(workdir / "evidence"),
        ),
        "A capture built with scapy (scan, SSH guessing, FTP password in clear, ARP spoofing, "
        "rogue DHCP, DNS tunnel, beaconing, guests reaching servers) beside benign traffic: one "
        "event per incident, checked against the inventory's flow policy; each event names "
        "its evidence pcap (evidence.pcap, in evidence/: open it in Wireshark). Exit 1: findings.",
        expect_rc=1,
    )


@contextmanager
def simulated_fleet(lab: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``netwarden lab sim`` in the background for the lab steps; stopped with SIGTERM after."""
    from netwarden.lab.sim.labdir import KNOWN_HOSTS_FILE  # noqa: PLC0415 - paramiko: slow import

    log = (lab.parent / "lab-sim.log").open("wb")
    proc = subprocess.Popen(  # the same command an engineer runs in a second terminal
        _netwarden("lab", "sim", "-i", "inventory", "--out", str(lab), "--time-scale", "60"),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    BACKGROUND.started("simulated fleet (netwarden lab sim)", proc)
    failed = True
    try:
        with TIMELINE.stage("simulated fleet start"):
            deadline = time.monotonic() + 120
            while not (lab / KNOWN_HOSTS_FILE).exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"netwarden lab sim did not start; see {log.name}")
                time.sleep(0.1)
        yield proc
        failed = False
    finally:
        BACKGROUND.stop(proc, interrupted=failed)
        log.close()


def _break_inventory(src: Path, dest: Path) -> None:
    """A copy of the example inventory with three deliberate mistakes."""
    shutil.copytree(src, dest)
    hv = dest / "host_vars" / "nyc-acc-sw1.yml"
    hv.write_text(
        hv.read_text(encoding="utf-8").replace("10.11.10.21", "10.11.20.21"), encoding="utf-8"
    )
    site = dest / "group_vars" / "site_gva.yml"
    site.write_text(
        site.read_text(encoding="utf-8").replace("vlan: 40", "vlan: 30"), encoding="utf-8"
    )
    flows = dest / "group_vars" / "all" / "flows.yml"
    flows.write_text(
        flows.read_text(encoding="utf-8").replace(
            "services: [http, https, dns]", "services: [http, https, quic]"
        ),
        encoding="utf-8",
    )


def _hostile_inventory(src: Path, dest: Path) -> None:
    """A copy of the example inventory whose switch model smuggles in a command."""
    shutil.copytree(src, dest)
    hv = dest / "host_vars" / "nyc-acc-sw1.yml"
    text = hv.read_text(encoding="utf-8")
    model = next(line for line in text.splitlines() if line.startswith("model:"))
    value = model.split(":", 1)[1].strip().strip("\"'")
    hostile = f'model: "{value}\\nusername evil privilege 15 secret 0 Pwn3d\\n!"'
    hv.write_text(text.replace(model, hostile), encoding="utf-8")


def _options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument(
        "--keep",
        action="store_true",
        default=os.environ.get("KEEP", "") not in ("", "0"),
        help="leave the lab, exporters, Prometheus and Alertmanager running (also KEEP=1); "
        "`make demo-down` stops them",
    )
    parser.add_argument(
        "--down", action="store_true", help="stop what a kept demo left running (make demo-down)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the demo writes (default: out/demo of the checkout); its namespace lab's "
        "names derive from this path, so two demos in two directories never share one",
    )
    return parser.parse_args(argv)


def demo_down(workdir: Path) -> None:
    """Stop a kept demo's processes (state file) and its namespace lab (root)."""
    for name in down(workdir):
        console.print(f"stopped: {name}")
    if os.geteuid() == 0:
        lab_down(workdir)


def main(argv: list[str] | None = None) -> int:
    options = _options(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO)
    # kept after the demo so its reports can be opened
    workdir = (options.out or REPO / "out" / "demo").resolve()
    with GracefulStop() as guard:  # SIGTERM as Ctrl-C: every stage cleans up on its way out
        INTERRUPT.received = lambda: guard.received
        try:
            if options.down:
                demo_down(workdir)
                return 0
            if workdir.exists():
                demo_down(workdir)  # a kept demo still running: its ports and lab go first
                shutil.rmtree(workdir)
            workdir.mkdir(parents=True)
            TIMELINE.reset()
            BACKGROUND.use(workdir, keep=options.keep)
            rc = _demo(workdir, keep=options.keep)
        except KeyboardInterrupt:
            # cleaned up: a later stop signal has nothing left to stop (once in tests, one
            # arriving here ended the process by SIGINT instead of exit 130)
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            console.print("[bold red]interrupted[/]: what the demo started has been stopped")
            return 130
    if options.keep:  # also after a failed step: what ran is left to look at
        console.print(
            f"[bold]Kept running[/] (processes in {workdir / STATE_FILE}"
            + (f", the namespace lab in {workdir / LAB_DIR}" if os.geteuid() == 0 else "")
            + "): stop them with [bold]make demo-down[/]."
        )
    return rc


def _demo(workdir: Path, *, keep: bool) -> int:
    build = LabBuild(workdir) if os.geteuid() == 0 else None
    rc, done = 1, False
    try:
        if build is not None:
            build.start()  # minutes of namespaces and daemons, while the rootless part runs
        rc, live = _rootless(workdir, build)
        done = True
    finally:
        if build is not None:
            with deferred_signals():  # a second Ctrl-C does not cut the cleanup short
                build.stop()  # never left building: lab up removes what it built so far
                if not done or not keep:  # kept (also after a failed step): left to look at
                    lab_down(workdir)
    if rc:
        return rc
    if build is None:
        console.print("[yellow]namespace lab steps skipped: `netwarden lab up` needs root[/]")
    console.rule("[bold green]demo complete")
    summary = build_summary(
        workdir, live, kept=keep, urls=BACKGROUND.urls, timeline=TIMELINE.as_dict()
    )
    written = write_summary(summary, workdir)
    console.print(summary_table(summary))
    console.print(
        f"Outputs kept in {workdir}/ (configs/, lab/, apply-result.json, "
        f"...); the numbers above in {written}."
    )
    return 0


def _rootless(workdir: Path, build: LabBuild | None) -> tuple[int, dict[str, Any]]:
    """What runs without root: the simulated fleet, the exporters, Prometheus and
    Alertmanager, the auditor; the live numbers read while they run. As root (``build``:
    the namespace lab building in the background) the lab's firewall and server are
    configured after the simulated fleet's rollout, before the backup; its live attacks
    run while Prometheus and Alertmanager do, after the replayed capture and before the
    alerts: Prometheus scrapes the lab's sensors, so the live attacks alert too."""
    _break_inventory(REPO / "inventory", workdir / "broken")
    _hostile_inventory(REPO / "inventory", workdir / "hostile")
    from collectors.auditor.demo import build_attack_pcap  # noqa: PLC0415  (scapy: slow import)

    build_attack_pcap(workdir / "nyc-attacks.pcap")
    live: dict[str, Any] = {}
    console.rule("[bold]Starting the lab: netwarden lab sim -i inventory --out out/demo/lab")
    with simulated_fleet(workdir / "lab"):
        # inventory, render, plan, canary and the rest; (root) the firewall and the server
        # configured; backup and the compliance report: the order
        stages = [inventory_steps(workdir) + render_steps(workdir) + rollout_steps(workdir)]
        if build is not None:
            stages.append(namespace_lab_steps(workdir, build))
        stages.append(record_steps(workdir))
        for stage in stages:
            rc = _run(stage)
            if rc:
                return rc, live
        # Prometheus starts with the exporter: it gathers its samples during their steps
        with device_exporter(workdir) as url, prometheus(workdir, url) as mon:
            rc = _run(monitoring_steps(workdir, url))
            if rc:
                return rc, live
            if mon is not None:
                with TIMELINE.stage("waiting for Prometheus's first samples"):
                    mon.wait_ready()
            # the attacks: replayed, then (root) live on the lab, its sensors scraped first
            attack = [replay_step(workdir)]
            if build is not None:
                attacks = LiveAttacks(build.lab)
                if mon is not None:
                    attack.append(scrape_lab_sensors(build, mon.prometheus, workdir / "prometheus"))
                attack += namespace_attack_steps(build, attacks)
            rc = _run(attack)
            if build is not None:
                live["lab_sensor_events"] = lab_sensor_events(workdir)
                live["live_attacks"] = attacks.summary()
            if rc or mon is None:
                return rc, live
            alerts = (
                alert_steps(workdir, mon.prometheus, mon.alertmanager) if mon.alertmanager else []
            )
            rc = _run([*alerts, *snapshot_steps(workdir, mon.prometheus)])
            live.update(live_numbers(mon.prometheus, mon.alertmanager))
    return rc, live


def _run(all_steps: list[Step]) -> int:
    for n, step in enumerate(all_steps, start=1):
        INTERRUPT.check()
        console.rule(f"[bold]{n}/{len(all_steps)} {step.title}")
        if step.argv:
            shown = " ".join(shlex.quote(a) for a in step.argv).replace(
                sys.executable + " -m netwarden.cli", "netwarden"
            )
            console.print(f"[dim]$ {shown}[/]")
        if step.explain:
            console.print(f"[italic]{step.explain}[/]")
        began, cpu = time.monotonic(), TIMELINE.cpu()
        if step.before is not None:
            step.before()
        if step.run is not None:
            rc = step.run()
        else:
            rc = subprocess.run(step.argv, check=False).returncode
        TIMELINE.step(
            step.title, time.monotonic() - began, rc, TIMELINE.cpu() - cpu, expected=step.expect_rc
        )
        INTERRUPT.check()  # the step's child may have exited on it: not a step's failure
        if rc != step.expect_rc:
            console.print(
                f"[bold red]step {n} exited {rc}, expected {step.expect_rc}: demo stopped[/]"
            )
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
