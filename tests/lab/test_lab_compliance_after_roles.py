"""Live compliance passes on the lab's firewalls and servers after the playbooks, and fails
with evidence when a role toggle is turned off (issue 15's done-when).

``netwarden lab up --no-sim`` of the example inventory (one lab for the module); from
jed-mon1's namespace, as an operator's controller: ``playbooks/firewalls.yml`` for New
York's and HQ's firewalls, ``playbooks/servers.yml`` for nyc-srv1 and the HQ servers it
depends on (NTP, log server). Then ``netwarden audit -i LAB --limit <those>`` (live,
over the lab's key and known_hosts) exits 0: every rule of the nftables and linux packs
passes or does not apply, except the two auditd rules, which the lab waives on its
servers (``lab up`` writes the waiver: auditd cannot run in a namespace; the rules are
not changed, and the report shows them WAIVED with the lab's reason and expiry).

Then ``servers.yml -e linux_server_sshd_password_authentication=true`` on nyc-srv1
alone: the audit exits 1, ``linux-ssh-password-auth`` fails with the evidence line
``passwordauthentication yes`` and where it was read (``sshd -T`` as root on the
server, in the live snapshot); the role run again puts it back and the audit passes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from netwarden.inventory import load_inventory
from netwarden.lab.ns.labinventory import LAB_WAIVER_APPROVER, LAB_WAIVER_DAYS, LAB_WAIVER_RULES
from tests.lab.nslab import REPO, cli, force_cleanup, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs openssh-server"),
]

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
CONTROLLER = "jed-mon1"
FIREWALLS = ("nyc-fw1", "jed-fw1")
SERVERS = ("nyc-srv1", "jed-log1", "jed-ntp1", "jed-ntp2")
TOGGLED = "nyc-srv1"
LIMIT = ",".join((*FIREWALLS, *SERVERS))
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=\d+\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.M,
)


def playbook(lab: Path, work: Path, name: str, limit: str, *extra: str) -> tuple[int, str]:
    """``ansible-playbook playbooks/NAME -i LAB --limit LIMIT`` inside jed-mon1's namespace."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_LOCAL_TEMP"] = str(work / "ansible-tmp")
    done = subprocess.run(
        ["ip", "netns", "exec", f"{lab_prefix(lab)}-jed-{CONTROLLER}", str(ANSIBLE_PLAYBOOK),
         "-i", str(lab), "--vault-password-file", str(lab / ".vault-password"),
         f"playbooks/{name}", "--limit", limit,
         "-e", f"nftables_firewall_output_dir={work / 'rulesets'}",
         "-e", f"netwarden_backup_repo={work / 'backups'}",
         "-e", "netwarden_timeout=15", *extra],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=900,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    out = done.stdout + done.stderr
    with (work / "ansible.log").open("a") as log:
        log.write(f"\n$ ansible-playbook {name} --limit {limit} {' '.join(extra)}\n{out}")
    bad = [m["host"] for m in RECAP.finditer(done.stdout) if m["failed"] != "0"]
    bad += [m["host"] for m in RECAP.finditer(done.stdout) if m["unreachable"] != "0"]
    assert not bad, out[-4000:]
    return done.returncode, out


def audit(lab: Path, work: Path, limit: str) -> tuple[int, str, dict[str, Any]]:
    """``netwarden audit -i LAB --limit LIMIT`` (live) from jed-mon1: code, output, report."""
    log, out = work / "cli.log", work / f"audit-{len(list(work.glob('audit-*')))}"
    start = log.stat().st_size if log.exists() else 0
    code = cli("lab", "exec", "--lab", str(lab), CONTROLLER, "--",
               sys.executable, "-m", "netwarden.cli", "audit", "-i", str(lab), "--limit", limit,
               "-o", str(out), "--format", "json", "--timeout", "15",
               log=log, timeout=300)  # fmt: skip
    text = log.read_bytes()[start:].decode("utf-8", "replace")
    report = (
        json.loads((out / "report.json").read_text()) if (out / "report.json").is_file() else {}
    )
    return code, text, report


def results(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["device"], r["rule"]): r for r in report["results"]}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp(f"labcomp{os.getpid()}")
    path, log = base / "lab", base / "cli.log"
    try:
        code = cli("lab", "up", "-i", str(REPO / "inventory"), "--out", str(path), "--no-sim",
                   log=log)  # fmt: skip
        assert code == 0, log.read_text()
        yield path
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        force_cleanup(lab_prefix(path))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("labcomp-work")


@pytest.fixture(scope="module")
def converged(lab: Path, work: Path) -> None:
    code, out = playbook(lab, work, "firewalls.yml", ",".join(FIREWALLS))
    assert code == 0, out[-6000:]
    code, out = playbook(lab, work, "servers.yml", ",".join(SERVERS))
    assert code == 0, out[-6000:]


def test_lab_up_waives_the_auditd_rules_on_its_servers_only(lab: Path) -> None:
    inv = load_inventory(lab)
    servers = {n for n, d in inv.devices.items() if d.function.value == "server"}
    mine = [w for w in inv.compliance.waivers if w.approver == LAB_WAIVER_APPROVER]
    assert {(w.rule, w.scope.device) for w in mine} == {
        (rule, name) for rule in LAB_WAIVER_RULES for name in servers
    }
    assert all(w.expires == date.today() + timedelta(days=LAB_WAIVER_DAYS) for w in mine)
    assert all("namespace" in w.justification for w in mine)
    assert all(w.src.file.endswith("compliance.yml") for w in mine)
    # the source's own waivers are still there, beside the lab's
    source = load_inventory(REPO / "inventory").compliance.waivers
    assert {(w.rule, w.justification) for w in source} <= {
        (w.rule, w.justification) for w in inv.compliance.waivers
    }


def test_the_audit_passes_after_the_playbooks(lab: Path, work: Path, converged: None) -> None:
    del converged
    code, text, report = audit(lab, work, LIMIT)
    assert code == 0, text[-6000:]
    devices = {d["name"]: d for d in report["devices"]}
    assert set(devices) == {*FIREWALLS, *SERVERS}, text
    assert not [d for d in devices.values() if d["error"]], devices
    assert {devices[n]["platform"] for n in FIREWALLS} == {"nftables"}
    assert {devices[n]["platform"] for n in SERVERS} == {"linux"}
    found = results(report)
    unwaived = {k: r["status"] for k, r in found.items() if r["status"] in ("fail", "error")}
    assert not unwaived, unwaived
    waived = {k for k, r in found.items() if r["status"] == "waived"}
    assert waived == {(s, rule) for s in SERVERS for rule in LAB_WAIVER_RULES}, waived
    for key in waived:
        waiver = found[key]["waiver"]
        assert waiver["approver"] == LAB_WAIVER_APPROVER
        assert "auditd cannot run" in waiver["justification"]
        assert found[key]["evidence"], key  # what auditctl said is kept
    # the roles' work is what passes (not n/a): sshd, sysctls, the firewalls' policy
    for server in SERVERS:
        for rule in ("linux-ssh-password-auth", "linux-ssh-root-login"):
            assert found[(server, rule)]["status"] == "pass", (server, rule)
    for fw in FIREWALLS:
        for rule in ("nft-default-deny", "nft-forbidden-flows", "nft-logged-drops"):
            assert found[(fw, rule)]["status"] == "pass", (fw, rule)


def test_password_authentication_on_fails_the_audit_with_evidence(
    lab: Path, work: Path, converged: None
) -> None:
    del converged
    try:
        code, out = playbook(lab, work, "servers.yml", TOGGLED,
                             "-e", "linux_server_sshd_password_authentication=true")  # fmt: skip
        assert code == 0, out[-4000:]
        code, text, report = audit(lab, work, TOGGLED)
        assert code == 1, text[-4000:]
        result = results(report)[(TOGGLED, "linux-ssh-password-auth")]
        assert result["status"] == "fail", result
        assert result["message"] == "passwordauthentication is yes; expected no"
        (ev,) = result["evidence"]
        assert ev["text"] == "passwordauthentication yes"
        assert ev["file"] == f"live/{TOGGLED}/server-snapshot"
        assert re.match(rf"read: sshd -T( -f \S+)? as root on {TOGGLED} \(", ev["note"]), ev
        assert ev["line"] > 0
        # the only failure: the other rules still pass or are waived
        failing = {r for (d, r), x in results(report).items() if x["status"] in ("fail", "error")}
        assert failing == {"linux-ssh-password-auth"}, failing
    finally:
        code, out = playbook(lab, work, "servers.yml", TOGGLED)
    assert code == 0, out[-4000:]
    code, text, _ = audit(lab, work, TOGGLED)
    assert code == 0, text[-4000:]
