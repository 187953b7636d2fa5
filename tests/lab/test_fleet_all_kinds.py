"""``netwarden plan/apply/backup/drift/audit`` over one site's switches, firewall and server
in one run (issue 15's "done when"), on the namespace lab with the IOS simulator.

``netwarden lab up`` of the example inventory (switches simulated); the CLI runs from
the management server jed-mon1 (``lab exec``) over the lab's key and known_hosts,
``--limit site_nyc``:

- ``plan`` lists nyc's two switches, its firewall and its server, each with changes
  (the server's from ``playbooks/servers.yml --check --diff``), no error;
- ``apply --yes --canary 1`` converges all of them: the canary (a switch) alone in
  wave 1, the rest after it, the server by its playbook; every result ``changed``;
- ``plan`` again: every nyc device unchanged (the playbook's second run changes nothing);
- ``backup``, ``drift`` and ``audit`` cover the three kinds: each device is in the
  JSON, none failed, no drift from the backup apply recorded.

Before any of that, on the fresh lab: the real ``ansible-playbook playbooks/site.yml
--check --diff -v`` (from jed-mon1, ``--limit site_bru:jed-fw1``: a switch, two
firewalls and a server, each with a change pending) shows no secret of the lab
(:mod:`tests.lab.labsecrets`: every vaulted or generated password and key, in clear,
type 7, base64 or hex) in its output, its log file or its results callback's file.

Root only; one lab for the module, removed even when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab.labsecrets import find_leaks, lab_secrets
from tests.lab.nslab import REPO, cli, force_cleanup, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs openssh-server"),
    pytest.mark.skipif(
        not (Path(sys.executable).parent / "ansible-playbook").exists(),
        reason="needs ansible-playbook beside this Python (netwarden's venv)",
    ),
]

SWITCHES = ("nyc-acc-sw1", "nyc-acc-sw2")
FIREWALL, SERVER = "nyc-fw1", "nyc-srv1"
NYC = {*SWITCHES, FIREWALL, SERVER}
TIMEOUT = "20"


@dataclass(frozen=True)
class Lab:
    path: Path
    work: Path  # backups, results and logs of this module's runs

    def run(self, *args: str, timeout: float = 600) -> tuple[int, str]:
        """``netwarden ARGS -i LAB --limit site_nyc`` from jed-mon1; exit code and output."""
        log = self.work / "cli.log"
        start = log.stat().st_size if log.exists() else 0
        code = cli("lab", "exec", "--lab", str(self.path), "jed-mon1", "--",
                   sys.executable, "-m", "netwarden.cli", *args, "-i", str(self.path),
                   "--limit", "site_nyc", log=log, timeout=timeout)  # fmt: skip
        return code, log.read_bytes()[start:].decode("utf-8", "replace")

    def json(self, *args: str) -> tuple[int, dict[str, Any], str]:
        code, text = self.run(*args, "--json")
        start = re.search(r"^\{$", text, re.M)
        assert start is not None, text[-4000:]
        return code, json.JSONDecoder().raw_decode(text, start.start())[0], text


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp(f"fleetall{os.getpid()}")
    path, log = base / "lab", base / "cli.log"
    try:
        code = cli("lab", "up", "-i", str(REPO / "inventory"), "--out", str(path), log=log)
        assert code == 0, log.read_text()
        yield Lab(path, base)
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        force_cleanup(lab_prefix(path))


SITE_LIMIT = ("bru-acc-sw1", "bru-fw1", "bru-srv1", "jed-fw1")  # site_bru:jed-fw1
RECAP = re.compile(r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unr>\d+)\s+"
                   r"failed=(?P<failed>\d+)", re.M)  # fmt: skip


def site_check_diff(lab: Lab) -> tuple[int, str, dict[str, tuple[int, int, int]]]:
    """``ansible-playbook playbooks/site.yml --check --diff -v`` from jed-mon1, as an operator
    runs it (the venv's, the lab's vault password): its exit code, everything it wrote
    (stdout, stderr, ANSIBLE_LOG_PATH, the netwarden_results callback's file) and its recap."""
    run = lab.work / f"site-check-{len(list(lab.work.glob('site-check-*')))}"
    run.mkdir()
    env = {
        **os.environ,
        "ANSIBLE_VAULT_PASSWORD_FILE": str(lab.path / ".vault-password"),
        "ANSIBLE_LOG_PATH": str(run / "ansible.log"),
        "ANSIBLE_CALLBACKS_ENABLED": "netwarden_results",
        "NETWARDEN_RESULTS_FILE": str(run / "results.jsonl"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    done = subprocess.run(
        ["ip", "netns", "exec", f"{lab_prefix(lab.path)}-jed-jed-mon1",
         str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(lab.path),
         "playbooks/site.yml", "--check", "--diff", "-v", "--limit", ",".join(SITE_LIMIT),
         "-e", f"netwarden_backup_repo={run / 'backups'}",
         "-e", f"ios_baseline_output_dir={run / 'configs'}",
         "-e", f"nftables_firewall_output_dir={run / 'firewalls'}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=1200, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    (run / "stdout.txt").write_text(done.stdout)
    (run / "stderr.txt").write_text(done.stderr)
    files = sorted(p for p in run.rglob("*") if p.is_file())
    output = "".join(f"\n### {p.name}\n{p.read_text(errors='replace')}" for p in files)
    recap = {
        m["host"]: (int(m["changed"]), int(m["unr"]), int(m["failed"]))
        for m in RECAP.finditer(done.stdout)
    }
    return done.returncode, output, recap


def test_site_check_diff_shows_no_secret(lab: Lab) -> None:
    secrets = lab_secrets(lab.path)
    origins = " ".join(s.origin for s in secrets)
    # the list is the lab's: its vaults, its generated logins and its keys
    for where in ("group_vars/all/vault.yml", "zz_lab_vault.yml", "credentials.json",
                  ".vault-password", "id_ed25519", "OpenVPN Static key"):  # fmt: skip
        assert where in origins, (
            f"no secret found in {where}: {sorted({s.origin for s in secrets})}"
        )
    short = [s.origin for s in secrets if len(s.value) < 8]
    assert not short, f"secrets too short to search for without false matches: {short}"

    code, output, recap = site_check_diff(lab)
    assert code == 0, output[-6000:]
    # a real plan: each device kind has a change pending, and its diff is in the output
    assert set(recap) >= set(SITE_LIMIT), output[-4000:]
    pending = {h: recap[h][0] for h in SITE_LIMIT}
    assert all(changed > 0 for changed in pending.values()), pending
    assert all(recap[h][1:] == (0, 0) for h in SITE_LIMIT), recap
    assert "+PasswordAuthentication no" in output  # bru-srv1's sshd_config
    assert re.search(r"^\+table inet netwarden \{$", output, re.M), "no firewall diff"
    # the switch's diff has the lines that carry secrets, each redacted
    for line in ("+enable secret 9 <removed>", " +key 7 <removed>",
                 "+ntp authentication-key 10 hmac-sha2-256 <removed> 7"):  # fmt: skip
        assert re.search(rf"^{re.escape(line)}$", output, re.M), line
    leaks = find_leaks(output, secrets)
    assert not leaks, f"site.yml --check --diff shows secrets: {leaks}"


def _plans(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["device"]: p for p in report["plans"]}


def test_plan_apply_plan_backup_drift_audit_cover_every_kind(lab: Lab) -> None:
    repo = str(lab.work / "backups")
    code, first, text = lab.json("plan", "--timeout", TIMEOUT)
    assert code == 0, text[-4000:]
    plans = _plans(first)
    assert set(plans) == NYC, text[-4000:]
    assert all(p["error"] is None for p in plans.values()), plans
    for name in (*SWITCHES, FIREWALL):
        assert plans[name]["commands"], (name, plans[name])
    server = plans[SERVER]
    assert any("Write the hardened sshd configuration" in c for c in server["commands"]), server
    assert "+PasswordAuthentication no" in server["device_diff"], server["device_diff"][:2000]

    result_file = lab.work / "apply.json"
    code, text = lab.run("apply", "--yes", "--canary", "1", "--repo", repo,
                         "--result-file", str(result_file), "--timeout", TIMEOUT, timeout=900)  # fmt: skip
    assert code == 0, text[-4000:]
    applied = json.loads(result_file.read_text())
    results = {r["device"]: r for r in applied["results"]}
    assert set(results) == NYC
    assert {name: r["status"] for name, r in results.items()} == dict.fromkeys(NYC, "changed")
    assert applied["canary"] == ["nyc-acc-sw1"]  # a field office's access switch, alone
    assert results["nyc-acc-sw1"]["wave"] == 1
    assert {results[n]["wave"] for n in NYC - {"nyc-acc-sw1"}} == {2}
    assert any("servers.yml" in c for c in results[SERVER]["commands"])
    assert applied["change_commit"], applied

    code, again, text = lab.json("plan", "--timeout", TIMEOUT)
    assert code == 0, text[-4000:]
    unchanged = _plans(again)
    assert set(unchanged) == NYC
    not_converged = {n: p for n, p in unchanged.items() if p["commands"] or p["device_diff"]}
    assert not not_converged, not_converged
    assert all(p["error"] is None for p in unchanged.values())

    code, backup, text = lab.json("backup", "--repo", repo, "--timeout", TIMEOUT)
    assert code == 0, text[-4000:]
    statuses = {d["device"]: d["status"] for d in backup["devices"]}
    assert statuses == dict.fromkeys(NYC, "unchanged"), statuses  # apply recorded them

    code, drift, text = lab.json("drift", "--repo", repo, "--timeout", TIMEOUT)
    assert code == 0, text[-4000:]
    drifts = {d["device"]: d for d in drift["devices"]}
    assert set(drifts) == NYC
    assert all(not d["error"] and d["backup_diff"] == "" for d in drifts.values()), drifts
    assert drifts[SERVER]["intended_compared"] is False

    out = lab.work / "audit"
    code, text = lab.run("audit", "-o", str(out), "--format", "json", "--timeout", TIMEOUT)
    assert code in (0, 1), text[-4000:]  # 1: findings (the lab cannot run auditd ...)
    report = json.loads((out / "report.json").read_text())
    devices = {d["name"]: d for d in report["devices"]}
    assert set(devices) == NYC, text[-4000:]
    assert all(not d["error"] for d in devices.values()), devices
    assert {devices[n]["platform"] for n in NYC} == {"ios", "nftables", "linux"}
