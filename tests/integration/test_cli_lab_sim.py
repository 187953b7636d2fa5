"""``netwarden lab sim`` as a user runs it: a process that serves until SIGTERM."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from netmiko import ConnectHandler


@pytest.mark.integration
def test_lab_sim_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    out = tmp_path / "lab"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netwarden.cli", "lab", "sim", "--devices", "5", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        known_hosts = out / "known_hosts.txt"
        deadline = time.monotonic() + 60
        while not known_hosts.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert known_hosts.exists(), "the simulator did not write its lab inventory"
        creds = yaml.safe_load((out / "group_vars" / "all" / "zz_lab_credentials.yml").read_text())
        switches = yaml.safe_load((out / "hosts.yml").read_text())["all"]["children"]["switches"]
        assert len(switches["hosts"]) == 5
        name = sorted(switches["hosts"])[0]
        hv = yaml.safe_load((out / "host_vars" / f"{name}.yml").read_text())
        with ConnectHandler(
            device_type="cisco_ios",
            host=hv["ansible_host"],
            port=hv["ansible_port"],
            username=creds["ansible_user"],
            password=creds["ansible_password"],
            secret=creds["ansible_become_password"],
            ssh_strict=True,
            system_host_keys=False,
            alt_host_keys=True,
            alt_key_file=str(known_hosts),
        ) as conn:
            assert name in conn.send_command("show version")
        check = subprocess.run(
            [sys.executable, "-m", "netwarden.cli", "inventory", "check", "-i", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            pytest.fail(f"netwarden lab sim did not stop on SIGTERM:\n{output}")
    assert proc.returncode == 0, output
    assert "5 simulated devices" in output


@pytest.mark.integration
def test_lab_sim_of_an_inventory_gets_a_fresh_private_vault_password(
    tmp_path: Path, example_inventory: Path
) -> None:
    """The lab's ``.vault-password`` is new, random and 0600; the lab inventory still loads."""
    out = tmp_path / "lab"
    env = {k: v for k, v in os.environ.items() if not k.endswith("VAULT_PASSWORD_FILE")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "netwarden.cli", "lab", "sim", "-i", str(example_inventory),
         "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**env, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (out / "known_hosts.txt").exists() and time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        assert (out / "known_hosts.txt").exists(), "the simulator did not write its lab inventory"
        source_pw = (example_inventory / ".vault-password").read_text()
        lab_pw = out / ".vault-password"
        assert lab_pw.read_text().strip() != source_pw.strip()
        assert len(lab_pw.read_text().strip()) >= 32
        assert stat.S_IMODE(lab_pw.stat().st_mode) == 0o600
        vault = (out / "group_vars" / "all" / "vault.yml").read_bytes()
        assert vault.startswith(b"$ANSIBLE_VAULT;")
        assert vault != (example_inventory / "group_vars" / "all" / "vault.yml").read_bytes()
        check = subprocess.run(
            [sys.executable, "-m", "netwarden.cli", "inventory", "check", "-i", str(out)],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
