"""Live compliance of firewalls and servers, their backups and drift, and the connection matrix
report against the live rulesets (issue 15), on the namespace lab's real sshd and nftables.

``netwarden lab up --no-sim`` of the example inventory; each firewall gets the ruleset
netwarden renders (``load_rendered``: the lab may run without the role). The CLI runs
from the management server jed-mon1 (``lab exec``) over the lab's key and known_hosts:

- ``audit -i LAB --limit firewalls,servers`` reads every firewall (``nft -j list
  ruleset``) and server (the snapshot: ``sshd -T``, sysctls, packages, sockets ...)
  and audits them with the nftables and linux packs, none left unread;
- ``matrix`` finds no mismatch between the policy and the live rulesets;
- ``backup`` of a server stores its sanitised snapshot; ``drift`` compares with it;
- ``PasswordAuthentication yes`` in a server's live sshd config fails the linux pack
  with the ``sshd -T`` line as evidence, and is drift from the backup;
- an out-of-band ``nft insert rule`` that opens a forbidden flow is a matrix mismatch
  (exit 1) and drift (exit 1).

Root only; one lab for the module, removed even when a test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.lab.ns.firewalls import load_rendered
from tests.lab.nslab import REPO, cli, force_cleanup, in_ns, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
    pytest.mark.skipif(shutil.which("nsenter") is None, reason="needs nsenter (util-linux)"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs openssh-server"),
]

FW, SRV = "nyc-fw1", "nyc-srv1"
TIMEOUT = "15"
SSHD_CONFIG = "/etc/netwarden-lab/sshd_config"  # where the lab's sshd reads its config


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp(f"live{os.getpid()}")
    path, log = base / "lab", base / "cli.log"
    try:
        code = cli("lab", "up", "-i", str(REPO / "inventory"), "--out", str(path), "--no-sim",
                   log=log)  # fmt: skip
        assert code == 0, log.read_text()
        loaded = load_rendered(path)
        assert FW in loaded
        yield path
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        force_cleanup(lab_prefix(path))


def _inside(lab: Path, log: Path, *args: str, timeout: float = 300) -> tuple[int, str]:
    """``netwarden ARGS`` run from jed-mon1; its exit code and output."""
    start = log.stat().st_size if log.exists() else 0
    code = cli("lab", "exec", "--lab", str(lab), "jed-mon1", "--",
               sys.executable, "-m", "netwarden.cli", *args, log=log, timeout=timeout)  # fmt: skip
    return code, log.read_bytes()[start:].decode("utf-8", "replace")


def _holder_pid(lab: Path, host: str) -> int:
    """The pid of the server's holder (its mount namespace has the server's own /etc)."""
    for line in (lab / ".lab" / "state.jsonl").read_text().splitlines():
        record = json.loads(line)
        extra = record.get("extra") or {}
        if record.get("kind") == "pid" and extra == {"role": "server", "host": host}:
            return int(record["ident"].split(":")[0])
    raise AssertionError(f"{host}: no holder pid in the lab state")


def _in_server(lab: Path, host: str, script: str) -> str:
    done = subprocess.run(
        ["nsenter", "-t", str(_holder_pid(lab, host)), "-m", "sh", "-c", script],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _results(report: Path) -> dict[tuple[str, str], dict[str, object]]:
    data = json.loads(report.read_text())
    return {(r["device"], r["rule"]): r for r in data["results"]}


def test_audit_reads_every_firewall_and_server_live(lab: Path, tmp_path: Path) -> None:
    inv = load_inventory(lab)
    expected = {
        name
        for name, d in inv.devices.items()
        if d.function.value == "server"
        or (d.function.value == "firewall" and d.model == "nftables")
    }
    out = tmp_path / "audit"
    code, text = _inside(lab, tmp_path / "cli.log", "audit", "-i", str(lab), "--limit",
                         "firewalls,servers", "-o", str(out), "--format", "json",
                         "--timeout", TIMEOUT)  # fmt: skip
    assert code in (0, 1), text  # 1: the lab's servers are not hardened (no role yet)
    unread = [n for n in sorted(expected) if f"not audited: {n}:" in text]
    assert not unread, text
    report = json.loads((out / "report.json").read_text())
    devices = {d["name"]: d for d in report["devices"]}
    assert set(devices) == expected, text
    assert all(not d["error"] for d in devices.values()), devices
    assert {d["platform"] for d in devices.values()} == {"nftables", "linux"}
    results = _results(out / "report.json")
    for fw in (n for n in expected if devices[n]["platform"] == "nftables"):
        for rule in ("nft-default-deny", "nft-forbidden-flows", "nft-logged-drops"):
            assert results[(fw, rule)]["status"] == "pass", (fw, rule, results[(fw, rule)])
    root_login = results[(SRV, "linux-ssh-root-login")]
    assert root_login["status"] == "pass", root_login
    (ev,) = root_login["evidence"]  # type: ignore[misc]
    assert ev["text"] == "permitrootlogin no"
    assert ev["file"] == f"live/{SRV}/server-snapshot"
    assert ev["note"].startswith(f"read: sshd -T -f {SSHD_CONFIG} as root on {SRV} (")


def test_the_live_matrix_has_no_mismatch(lab: Path, tmp_path: Path) -> None:
    code, text = _inside(lab, tmp_path / "cli.log", "matrix", "-i", str(lab), "--format", "json",
                         "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, text[-3000:]
    report = json.loads(text[text.index("{") :])
    assert len(report["firewalls"]) == 5
    assert all(not f["error"] and f["unsupported_rules"] == 0 for f in report["firewalls"])
    rows = report["rows"]
    assert len(rows) > 10_000
    assert not [r for r in rows if r["differing"] or r["policy"] != r["live"]]
    assert {r["live"] for r in rows} == {"allowed", "denied"}  # both answers seen


def test_backup_of_a_server_is_its_sanitised_snapshot_and_drift_compares_with_it(
    lab: Path, tmp_path: Path
) -> None:
    repo, log = tmp_path / "backups", tmp_path / "cli.log"
    code, text = _inside(lab, log, "backup", "-i", str(lab), "--limit", f"{SRV},{FW}",
                         "--repo", str(repo), "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, text
    stored = (repo / f"{SRV}.cfg").read_text()
    assert stored.startswith(f"# netwarden server snapshot: {SRV}")
    for section in ("sshd", "sysctl", "login.defs", "pam", "packages", "sockets"):
        assert f"\n#@ {section}\n# read: " in stored, section
    assert "\npermitrootlogin no\n" in stored
    assert "\ntcp 10.11.10.101:22 sshd\n" in stored  # listening sockets: no pids
    for secret in ("$6$", "$y$", "PRIVATE KEY", "tcp_fastopen_key"):
        assert secret not in stored, secret
    code, text = _inside(lab, log, "drift", "-i", str(lab), "--limit", f"{SRV},{FW}",
                         "--repo", str(repo), "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, text
    assert f"{SRV}: no intended config (a linux server): compared with its last backup" in " ".join(
        text.split()
    )


def test_password_authentication_on_fails_the_linux_pack_with_evidence(
    lab: Path, tmp_path: Path
) -> None:
    repo, log = tmp_path / "backups", tmp_path / "cli.log"
    code, text = _inside(lab, log, "backup", "-i", str(lab), "--limit", SRV, "--repo", str(repo),
                         "--timeout", TIMEOUT)  # fmt: skip
    assert code == 0, text
    on = f"sed -i 's/^PasswordAuthentication no$/PasswordAuthentication yes/' {SSHD_CONFIG}"
    off = f"sed -i 's/^PasswordAuthentication yes$/PasswordAuthentication no/' {SSHD_CONFIG}"
    _in_server(lab, SRV, on)
    try:
        assert "PasswordAuthentication yes" in _in_server(lab, SRV, f"cat {SSHD_CONFIG}")
        out = tmp_path / "audit"
        code, text = _inside(lab, log, "audit", "-i", str(lab), "--limit", SRV, "-o", str(out),
                             "--format", "json", "--timeout", TIMEOUT)  # fmt: skip
        assert code == 1, text
        result = _results(out / "report.json")[(SRV, "linux-ssh-password-auth")]
        assert result["status"] == "fail", result
        assert result["message"] == "passwordauthentication is yes; expected no"
        (ev,) = result["evidence"]  # type: ignore[misc]
        assert ev["text"] == "passwordauthentication yes"
        assert f"sshd -T -f {SSHD_CONFIG} as root on {SRV}" in ev["note"]
        code, text = _inside(lab, log, "drift", "-i", str(lab), "--limit", SRV, "--repo",
                             str(repo), "--timeout", TIMEOUT)  # fmt: skip
        assert code == 1, text
        assert "-passwordauthentication no" in text, text
        assert "+passwordauthentication yes" in text, text
    finally:
        _in_server(lab, SRV, off)


def test_an_out_of_band_rule_is_a_matrix_mismatch_and_drift(lab: Path, tmp_path: Path) -> None:
    log = tmp_path / "cli.log"
    fw_ns = f"{lab_prefix(lab)}-nyc-fw"
    added = in_ns(fw_ns, "nft", "insert", "rule", "inet", "netwarden", "forward",
                  "iifname", "guests0", "oifname", "servers0", "tcp", "dport", "445", "accept")  # fmt: skip
    assert added.returncode == 0, added.stderr
    code, text = _inside(lab, log, "matrix", "-i", str(lab), "--limit", FW, "--format", "json",
                         "--mismatches-only", "--timeout", TIMEOUT)  # fmt: skip
    assert code == 1, text[-3000:]
    report = json.loads(text[text.index("{") :])
    mismatches = [(r["src"], r["dst"], r["service"], r["policy"], r["live"], r["differing"])
                  for r in report["rows"]]  # fmt: skip
    assert mismatches == [("nyc/guests", "nyc/servers", "smb", "denied", "allowed", ["tcp/445"])]
    code, text = _inside(lab, log, "matrix", "-i", str(lab), "--limit", FW,
                         "--mismatches-only", "--timeout", TIMEOUT)  # fmt: skip
    assert code == 1
    assert "mismatch: nyc/guests -> nyc/servers smb: policy denied (default), live allowed" in text
    code, text = _inside(lab, log, "drift", "-i", str(lab), "--limit", FW, "--intended-only",
                         "--timeout", TIMEOUT)  # fmt: skip
    assert code == 1, text
    assert 'iifname "guests0" oifname "servers0" tcp dport 445 accept' in text, text
