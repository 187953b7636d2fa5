"""``make demo``: the whole suite from one command, step by step.

Each step prints the command a user would type, runs it, and says what to look
at. A step that fails stops the demo with its exit code. Every capability, once it
works, becomes a step here (the README's "What `make demo` shows" lists them).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netwarden.cli.demoalerts import alert_steps
from netwarden.cli.demobase import REPO, Step, _manual_change, _netwarden, console, wait_for_text
from netwarden.cli.demomonitoring import (
    device_exporter,
    monitoring_steps,
    prometheus,
    snapshot_steps,
)
from netwarden.cli.demostate import BACKGROUND, down
from netwarden.cli.demosummary import build_summary, count_jsonl, live_numbers
from netwarden.cli.demosummary import table as summary_table
from netwarden.cli.demosummary import write as write_summary


def steps(workdir: Path) -> list[Step]:
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
        Step(
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
        ),
        *lab_steps(workdir),
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


def lab_steps(workdir: Path) -> list[Step]:
    """Rehearse a change on the simulated fleet (the lab inventory written by ``lab sim``)."""
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


def _from_mon1(lab: str, *args: str) -> list[str]:
    """``netwarden ARGS`` run inside the lab from the management server jed-mon1."""
    return _netwarden("lab", "exec", "--lab", lab, "jed-mon1", "--", *_netwarden(*args))


def namespace_lab_steps(workdir: Path) -> list[Step]:
    """The organisation as real Linux in network namespaces (root only): issue 14."""
    lab = str(workdir / "lab-ns")
    return [
        Step(
            "Build the whole organisation in network namespaces",
            _netwarden("lab", "up", "-i", "inventory", "--out", lab, "--sensors"),
            "Per site: a firewall (nftables, routing its zones to the WAN), servers with their "
            "own sshd/chrony/unbound/rsyslog/nginx, a sensor with a SPAN port and the traffic "
            "auditor watching it (--sensors), client hosts, "
            "the simulated switches on their management addresses; a WAN, an internet host and "
            "the member-state partner over OpenVPN. Sealed from this machine's network; the "
            "figures at the end are what it costs.",
        ),
        Step(
            "From a New York staff laptop to HQ's DNS server, across two firewalls and the WAN",
            _netwarden(
                "lab", "exec", "--lab", lab, "nyc-staff-c1", "--", "ping", "-c", "2", "10.10.20.14"
            ),
            "Real packets: nyc-fw1 routes staff -> WAN, jed-fw1 routes WAN -> servers.",
        ),
        *attack_steps(workdir / "lab-ns"),
        Step(
            "Plan from the management server, over the lab's own network",
            _from_mon1(lab, "plan", "-i", lab, "--limit", "site_nyc", "--summary"),
            "netwarden inside the lab reaches the New York switches and firewall on their "
            "management addresses (SSH on port 22, host keys from the lab's known_hosts.txt); "
            "the switches run their boot configs, nyc-fw1 the lab's permissive table and "
            "nyc-srv1 is not hardened (its plan is playbooks/servers.yml --check --diff), so "
            "every device has a plan.",
        ),
        Step(
            "The New York firewall: its ruleset rendered from the flow policy, against the live one",
            _from_mon1(lab, "plan", "-i", lab, "--limit", "nyc-fw1"),
            "nyc-fw1 runs the lab's permissive table; the plan replaces it with the policy's "
            "(default drop, a named counter per rule, anti-spoofing per zone).",
        ),
        Step(
            "Apply it with commit-confirm",
            _from_mon1(
                lab, "apply", "-i", lab, "--limit", "nyc-fw1", "--yes", "--confirm-timeout", "2"
            ),
            "Loaded atomically with a revert timer armed on the firewall; post-checks over a "
            "new session, then confirmed. Had the new ruleset cut the session, the firewall "
            "would have restored the old one by itself (rolled_back).",
        ),
        Step(
            "Drift: the firewall now matches its intended ruleset",
            _from_mon1(lab, "drift", "-i", lab, "--limit", "nyc-fw1", "--intended-only"),
            "Exit 0: in sync with the rendered policy.",
        ),
        Step(
            "The connection matrix: the flow policy beside the live New York ruleset",
            _from_mon1(lab, "matrix", "-i", lab, "--limit", "nyc-fw1", "--mismatches-only"),
            "For every (zone, zone, service) crossing nyc-fw1 only (its zones, the internet): "
            "allowed or denied by the policy, and by the ruleset nyc-fw1 runs now (nft -j list "
            "ruleset, evaluated). Exit 0: no mismatch; an nft rule added by hand would be one.",
        ),
        Step(
            "Live compliance of the New York firewall and server",
            _from_mon1(
                lab,
                "audit",
                "-i",
                lab,
                "--limit",
                "nyc-fw1,nyc-srv1",
                "--out",
                str(workdir / "compliance-ns"),
            ),
            "nyc-fw1's live ruleset against the nftables pack (it passes: it is the policy's); "
            "nyc-srv1 read over SSH (sshd -T as root, sysctls, login.defs, PAM, packages, "
            "listening sockets) against the linux pack, each finding quoting the line and what "
            "was read where. Exit 1: the lab's servers are not hardened until "
            "playbooks/servers.yml runs.",
            expect_rc=1,
        ),
        Step(
            "Harden the New York server: netwarden apply runs playbooks/servers.yml for it",
            _from_mon1(lab, "apply", "-i", lab, "--limit", "nyc-srv1", "--yes"),
            "Servers are applied through their role (linux_server): sshd keys only and "
            "checked with sshd -t before it is replaced, sysctls, password policy, chrony from "
            "HQ, syslog over TLS to HQ's log server, node exporter. The result is per server, "
            "like the switches' and firewalls'.",
        ),
        Step(
            "Live compliance again: the firewall and the hardened server pass",
            _from_mon1(
                lab,
                "audit",
                "-i",
                lab,
                "--limit",
                "nyc-fw1,nyc-srv1",
                "--out",
                str(workdir / "compliance-ns"),
            ),
            "Exit 0. The two auditd rules are WAIVED on lab servers (the kernel refuses audit "
            "requests from a namespace): the waiver, its reason and expiry are in the report.",
        ),
        Step(
            "What is running",
            _netwarden("lab", "status", lab),
            "Namespaces, processes and memory per kind of node.",
        ),
    ]


def attack_steps(lab: Path) -> list[Step]:
    """An attack live (issue 18): a New York guest scans the office's server with nmap, and
    New York's sensor reports it, to its events file and to HQ's log server. Left out when
    nmap is not installed."""
    if shutil.which("nmap") is None:
        return []
    events = lab / ".lab" / "sensors" / "nyc-sensor1" / "events.jsonl"
    scan = ["nmap", "-n", "-Pn", "-sS", "-p", "1-200", "--max-rate", "1000", "10.11.20.10"]
    # what jed-log1 received from nyc-sensor1 (10.11.10.201), in its root on the host
    at_hq = lab / ".lab" / "nodes" / "jed-log1" / "upper" / "var/log/remote/10.11.10.201.log"
    return [
        Step(
            "Attack live: a New York guest scans the office's server with nmap",
            _netwarden("lab", "exec", "--lab", str(lab), "nyc-guests-c1", "--", *scan),
            "A real SYN scan of 200 ports, from the guests zone to nyc-srv1: the frames cross "
            "New York's fabric, whose SPAN port nyc-sensor1's auditor reads.",
        ),
        Step(
            "What New York's sensor reported",
            ["grep", "-m", "1", '"detector":"port_scan"', str(events)],
            "The auditor's event, as it appends it to its events file: site nyc, the guest as "
            "the source, nyc-srv1 as the victim, the ports counted (its metrics on :9101, "
            "which Prometheus scrapes, count the incident too).",
            before=lambda: wait_for_text(events, '"detector":"port_scan"', 20.0),
        ),
        Step(
            "The same event at HQ's log server",
            ["grep", "-m", "1", '"detector":"port_scan"', str(at_hq)],
            "nyc-sensor1 also sends each event to jed-log1 as RFC 5424 over TLS (tcp/6514, "
            "the lab CA; spooled on the sensor while HQ is unreachable): jed-log1's rsyslog "
            "writes it to /var/log/remote/<sensor address>.log, the sensor's name as "
            "HOSTNAME, the same JSON as the events file.",
            before=lambda: wait_for_text(at_hq, '"detector":"port_scan"', 20.0),
        ),
    ]


def _lab_down(workdir: Path) -> None:
    lab = workdir / "lab-ns"
    if (lab / ".lab").exists():
        console.rule("[bold]Removing the namespace lab: netwarden lab down")
        subprocess.run(_netwarden("lab", "down", str(lab)), check=False)


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
        deadline = time.monotonic() + 120
        while not (lab / KNOWN_HOSTS_FILE).exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"netwarden lab sim did not start; see {log.name}")
            time.sleep(0.2)
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
    return parser.parse_args(argv)


def demo_down(workdir: Path) -> None:
    """Stop a kept demo's processes (state file) and its namespace lab (root)."""
    for name in down(workdir):
        console.print(f"stopped: {name}")
    if os.geteuid() == 0:
        _lab_down(workdir)


def main(argv: list[str] | None = None) -> int:
    options = _options(sys.argv[1:] if argv is None else argv)
    os.chdir(REPO)
    workdir = REPO / "out" / "demo"  # kept after the demo so its reports can be opened
    if options.down:
        demo_down(workdir)
        return 0
    if workdir.exists():
        demo_down(workdir)  # a kept demo still running: its ports and lab go first
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    BACKGROUND.use(workdir, keep=options.keep)
    rc = _demo(workdir, keep=options.keep)
    if options.keep:  # also after a failed step: what ran is left to look at
        console.print(
            "[bold]Kept running[/] (processes in out/demo/demo-state.json"
            + (", the namespace lab in out/demo/lab-ns" if os.geteuid() == 0 else "")
            + "): stop them with [bold]make demo-down[/]."
        )
    return rc


def _demo(workdir: Path, *, keep: bool) -> int:
    _break_inventory(REPO / "inventory", workdir / "broken")
    _hostile_inventory(REPO / "inventory", workdir / "hostile")
    from collectors.auditor.demo import build_attack_pcap  # noqa: PLC0415  (scapy: slow import)

    build_attack_pcap(workdir / "nyc-attacks.pcap")
    all_steps = steps(workdir)
    live: dict[str, Any] = {}
    console.rule("[bold]Starting the lab: netwarden lab sim -i inventory --out out/demo/lab")
    with simulated_fleet(workdir / "lab"):
        rc = _run(all_steps)
        if not rc:
            with device_exporter(workdir) as url:
                rc = _run(monitoring_steps(workdir, url))
                if not rc:
                    with prometheus(workdir, url) as mon:
                        if mon is not None:
                            rc = _run(
                                [
                                    *(
                                        alert_steps(workdir, mon.prometheus, mon.alertmanager)
                                        if mon.alertmanager
                                        else []
                                    ),
                                    *snapshot_steps(workdir, mon.prometheus),
                                ]
                            )
                            live = live_numbers(mon.prometheus, mon.alertmanager)
    if rc:
        return rc
    if os.geteuid() == 0:
        interrupted = True
        try:
            rc = _run(namespace_lab_steps(workdir))
            live["lab_sensor_events"] = _lab_sensor_events(workdir / "lab-ns")
            interrupted = False
        finally:
            if interrupted or not keep:
                _lab_down(workdir)
        if rc:
            return rc
    else:
        console.print("[yellow]namespace lab steps skipped: `netwarden lab up` needs root[/]")
    console.rule("[bold green]demo complete")
    summary = build_summary(workdir, live, kept=keep, urls=BACKGROUND.urls)
    written = write_summary(summary, workdir)
    console.print(summary_table(summary))
    console.print(
        f"Outputs kept in {workdir.relative_to(REPO)}/ (configs/, lab/, apply-result.json, "
        f"...); the numbers above in {written.relative_to(REPO)}."
    )
    return 0


def _lab_sensor_events(lab: Path) -> dict[str, int] | None:
    """Events the namespace lab's sensors wrote, by detector (before the lab goes down)."""
    files = sorted((lab / ".lab" / "sensors").glob("*/events.jsonl"))
    if not files:
        return None
    total: dict[str, int] = {}
    for path in files:
        for detector, n in (count_jsonl(path, "detector") or {}).items():
            total[detector] = total.get(detector, 0) + n
    return dict(sorted(total.items()))


def _run(all_steps: list[Step]) -> int:
    for n, step in enumerate(all_steps, start=1):
        console.rule(f"[bold]{n}/{len(all_steps)} {step.title}")
        shown = " ".join(shlex.quote(a) for a in step.argv).replace(
            sys.executable + " -m netwarden.cli", "netwarden"
        )
        console.print(f"[dim]$ {shown}[/]")
        console.print(f"[italic]{step.explain}[/]")
        if step.before is not None:
            step.before()
        rc = subprocess.run(step.argv, check=False).returncode
        if rc != step.expect_rc:
            console.print(
                f"[bold red]step {n} exited {rc}, expected {step.expect_rc}: demo stopped[/]"
            )
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
