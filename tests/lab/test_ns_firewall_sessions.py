"""plan, apply (commit-confirm), backup and drift on the lab's real nftables firewalls.

``netwarden lab up --no-sim`` of the example inventory, then the CLI runs inside
the lab from the management server jed-mon1 (``lab exec``), against nyc-fw1's real
sshd and nftables over the lab's key and known_hosts: plan shows the ruleset diff,
apply converges it (a second plan is empty), backup stores the ruleset, an
out-of-band ``nft add rule`` is drift. Last, a ruleset that cuts the management
path (no established/related, no ssh from HQ's management zone) is applied with a
1-minute confirm timeout from inside jed-mon1 through the session code: the
session is cut, the firewall's own revert timer restores the previous ruleset,
and apply reports ``rolled_back``. Root only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.nslab import REPO, cli, force_cleanup, in_ns, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
    pytest.mark.skipif(shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists(),
                       reason="needs openssh-server"),
]  # fmt: skip

FW = "nyc-fw1"
TIMEOUT = "15"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("fwlab")
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


def _fw_ns(lab: Path) -> str:
    return f"{lab_prefix(lab)}-nyc-fw"


def _inside(lab: Path, log: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    """``netwarden ARGS`` run from jed-mon1; its exit code and output."""
    start = log.stat().st_size if log.exists() else 0
    code = cli("lab", "exec", "--lab", str(lab), "jed-mon1", "--",
               sys.executable, "-m", "netwarden.cli", *args, log=log, timeout=timeout)  # fmt: skip
    return code, log.read_bytes()[start:].decode("utf-8", "replace")


def test_plan_shows_the_ruleset_diff(lab: Path, tmp_path: Path) -> None:
    code, out = _inside(lab, tmp_path / "cli.log", "plan", "-i", str(lab), "--limit", FW,
                        "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, out
    assert "+table inet netwarden {" in out, out
    assert "-table inet netwarden_lab {" in out, out
    assert "plan: 1 to change" in out, out


def test_a_sensor_is_left_out_naming_its_platform(lab: Path, tmp_path: Path) -> None:
    code, out = _inside(lab, tmp_path / "cli.log", "plan", "-i", str(lab), "--limit",
                        f"{FW},nyc-sensor1", "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, out
    assert "nyc-sensor1 is a linux device (sensor)" in out, out


def test_apply_converges_and_a_second_plan_is_empty(lab: Path, tmp_path: Path) -> None:
    log, result = tmp_path / "cli.log", tmp_path / "apply.json"
    code, out = _inside(lab, log, "apply", "-i", str(lab), "--limit", FW, "--yes",
                        "--confirm-timeout", "1", "--timeout", TIMEOUT,
                        "--repo", str(tmp_path / "backups"), "--result-file", str(result),
                        "-m", "firewall ruleset from the flow policy")  # fmt: skip
    assert code == 0, out
    results = json.loads(result.read_text())["results"]
    assert [(r["device"], r["status"]) for r in results] == [(FW, "changed")], out
    assert {c["name"]: c["passed"] for c in results[0]["checks"]} == {
        "new_ssh_session": True,
        "hostname": True,
        "mgmt_interface_up": True,
        "config_matches_intended": True,
    }
    running = in_ns(_fw_ns(lab), "nft", "list", "ruleset").stdout
    assert "table inet netwarden {" in running
    assert "netwarden_lab" not in running
    code, out = _inside(lab, log, "plan", "-i", str(lab), "--limit", FW, "--timeout", TIMEOUT)
    assert code == 0, out
    assert "plan: 0 to change, 1 in sync" in out, out


def test_backup_writes_the_firewall_ruleset(lab: Path, tmp_path: Path) -> None:
    repo = tmp_path / "backups"
    code, out = _inside(lab, tmp_path / "cli.log", "backup", "-i", str(lab), "--limit", FW,
                        "--repo", str(repo), "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, out
    stored = (repo / f"{FW}.cfg").read_text()
    assert "table inet netwarden {" in stored
    assert 'counter name "drop_input" drop' in stored
    assert not re.search(r"packets \d+ bytes \d+", stored)  # counter values are not config


PROBE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.registry import Collector
    from collectors.exporter.http import inventory_secrets
    from collectors.exporter.probe import Prober, ProbeSettings
    from netwarden.devices import default_known_hosts
    from netwarden.inventory import load_inventory
    lab = Path(sys.argv[1])
    inv = load_inventory(lab)
    prober = Prober(inv, ProbeSettings(known_hosts=default_known_hosts(lab)),
                    secrets=inventory_secrets(inv))
    families = prober.probe(sys.argv[2], "health", 20.0)
    class Probe(Collector):
        def collect(self):
            return iter(families)
    registry = CollectorRegistry()
    registry.register(Probe())
    sys.stdout.write(generate_latest(registry).decode())
    prober.close()
""")


def test_the_exporter_reads_a_counter_per_policy_rule(lab: Path, tmp_path: Path) -> None:
    """The health module of the device exporter, from jed-mon1, against the firewall's nft."""
    running = in_ns(_fw_ns(lab), "nft", "list", "counters").stdout
    named = set(re.findall(r"counter (\S+) \{", running))
    assert "drop_input" in named
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    done = in_ns(f"{lab_prefix(lab)}-jed-jed-mon1", sys.executable, str(script), str(lab), FW,
                 timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    text = done.stdout
    assert "netwarden_up 1.0" in text, text
    rules = set(re.findall(r'netwarden_firewall_rule_packets_total\{rule="([^"]+)"\}', text))
    assert rules == named, rules ^ named
    assert 'netwarden_interface_oper_status{interface="lo"}' in text
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run([promtool, "check", "metrics"], input=text,
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_an_out_of_band_rule_is_drift(lab: Path, tmp_path: Path) -> None:
    log = tmp_path / "cli.log"
    code, out = _inside(lab, log, "drift", "-i", str(lab), "--limit", FW, "--intended-only",
                        "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, out
    added = in_ns(_fw_ns(lab), "nft", "add", "rule", "inet", "netwarden", "input",
                  "tcp", "dport", "2222", "accept")  # fmt: skip
    assert added.returncode == 0, added.stderr
    code, out = _inside(lab, log, "drift", "-i", str(lab), "--limit", FW, "--intended-only",
                        "--timeout", TIMEOUT)  # fmt: skip
    assert code == 1, out
    assert "tcp dport 2222 accept" in out, out


CUT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from netwarden.config.apply import ApplyOptions, apply_device
    from netwarden.devices import SessionOptions
    from netwarden.inventory import load_inventory
    from netwarden.render.platforms import render_config
    lab = Path(sys.argv[1])
    inv = load_inventory(lab)
    device = inv.devices[sys.argv[2]]
    good = render_config(inv, device)
    lines, chain = [], ""
    for line in good.splitlines():
        if line.strip().startswith("chain "):
            chain = line.strip().split()[1]
        if chain == "input" and (
            line.strip() == "ct state established,related accept"
            or "mgmt-devices: hq/mgmt -> " + device.name in line
        ):
            continue
        lines.append(line)
    bad = "\\n".join(lines) + "\\n"
    assert bad != good
    options = SessionOptions.for_inventory(lab, timeout=10.0)
    result = apply_device(device, bad, options, ApplyOptions(confirm_timeout_minutes=1,
                          revert_grace_seconds=60.0))
    print(json.dumps({"status": result.status.value, "reason": result.reason}))
""")


def test_a_ruleset_that_cuts_management_is_rolled_back_by_the_device(
    lab: Path, tmp_path: Path
) -> None:
    fw = _fw_ns(lab)
    before = in_ns(fw, "nft", "list", "ruleset").stdout
    assert "mgmt-devices: hq/mgmt -> nyc-fw1" in before
    script = tmp_path / "cut.py"
    script.write_text(CUT)
    done = in_ns(f"{lab_prefix(lab)}-jed-jed-mon1", sys.executable, str(script), str(lab), FW,
                 timeout=400)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "rolled_back", outcome
    assert "revert timer" in outcome["reason"], outcome
    after = in_ns(fw, "nft", "list", "ruleset").stdout
    assert "mgmt-devices: hq/mgmt -> nyc-fw1" in after
    assert "tcp dport 2222 accept" in after  # exactly the previous ruleset, drift included
