"""``make demo``: the whole suite from one command, step by step.

Each step prints the command a user would type, runs it, and says what to look
at. A step that fails stops the demo with its exit code. Steps are added here as
capabilities land (see the README's roadmap for what is still to come).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

console = Console()
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Step:
    title: str
    argv: Sequence[str]
    explain: str
    expect_rc: int = 0


def _netwarden(*args: str) -> list[str]:
    return [sys.executable, "-m", "netwarden.cli", *args]


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
            _netwarden("render", "-i", "inventory", "--out", str(workdir / "configs")),
            "The ios_baseline role's templates (the same copy Ansible uses): AAA/TACACS+, SSH only, "
            "banners in three languages, NTP auth, SNMPv3 authPriv, DHCP snooping, archive.",
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
                str(workdir / "compliance"),
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
            ),
            "A capture built with scapy (scan, SSH guessing, FTP password in clear, ARP spoofing, "
            "rogue DHCP, DNS tunnel, beaconing, guests reaching servers) beside benign traffic: one "
            "event per incident, checked against the inventory's flow policy. Exit 1: findings.",
            expect_rc=1,
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
            "A broken inventory is reported, file and key, all problems at once",
            _netwarden("inventory", "check", "-i", str(workdir / "broken")),
            "Exit code 2; each line names the file, line and key to fix.",
            expect_rc=2,
        ),
    ]


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


def main() -> int:
    os.chdir(REPO)
    workdir = REPO / "out" / "demo"  # kept after the demo so its reports can be opened
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    _break_inventory(REPO / "inventory", workdir / "broken")
    all_steps = steps(workdir)
    for n, step in enumerate(all_steps, start=1):
        console.print(Rule(f"[bold]{n}/{len(all_steps)} {step.title}"))
        shown = " ".join(shlex.quote(a) for a in step.argv).replace(
            sys.executable + " -m netwarden.cli", "netwarden"
        )
        console.print(f"[dim]$ {shown}[/]")
        console.print(f"[italic]{step.explain}[/]")
        rc = subprocess.run(step.argv, check=False).returncode
        if rc != step.expect_rc:
            console.print(
                f"[bold red]step {n} exited {rc}, expected {step.expect_rc}: demo stopped[/]"
            )
            return 1
    console.print(Rule("[bold green]demo complete"))
    console.print(
        f"Outputs kept in {workdir.relative_to(REPO)}/: configs/, compliance/report.html, ..."
    )
    console.print(
        "Still to join this demo as they land (see README): plan/apply/backup/drift against the "
        "simulated fleet, and the traffic auditor."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
