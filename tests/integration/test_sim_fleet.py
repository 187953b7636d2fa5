"""``run_sim``: devices served until stopped, a lab inventory and a usable known_hosts."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import paramiko
import pytest
import yaml

from netwarden.lab.sim.fleet import CREDENTIALS_FILE, KNOWN_HOSTS_FILE, SimFleet, run_sim

pytestmark = pytest.mark.integration

REPO_INVENTORY = Path(__file__).resolve().parents[2] / "inventory"


def _serve(tmp_path: Path, **kwargs: object) -> tuple[SimFleet, threading.Event, threading.Thread]:
    stop = threading.Event()
    ready = threading.Event()
    holder: list[SimFleet] = []

    def on_ready(fleet: SimFleet, known_hosts: Path) -> None:
        assert known_hosts == tmp_path / KNOWN_HOSTS_FILE
        holder.append(fleet)
        ready.set()

    thread = threading.Thread(
        target=run_sim,
        kwargs={"out": tmp_path, "ready": on_ready, "stop": stop, **kwargs},
        daemon=True,
    )
    thread.start()
    assert ready.wait(60), "the simulator did not start"
    return holder[0], stop, thread


def test_synthetic_lab_inventory_and_known_hosts(tmp_path: Path) -> None:
    fleet, stop, thread = _serve(tmp_path, devices=2)
    try:
        hosts = yaml.safe_load((tmp_path / "hosts.yml").read_text())
        assert set(hosts["all"]["children"]["switches"]["hosts"]) == {"sim-sw001", "sim-sw002"}
        creds_file = tmp_path / CREDENTIALS_FILE
        assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
        creds = yaml.safe_load(creds_file.read_text())
        host_vars = yaml.safe_load((tmp_path / "host_vars" / "sim-sw002.yml").read_text())
        device = fleet.device("sim-sw002")
        assert host_vars["ansible_port"] == device.bound_port
        client = paramiko.SSHClient()
        client.load_host_keys(str(tmp_path / KNOWN_HOSTS_FILE))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            host_vars["ansible_host"],
            port=host_vars["ansible_port"],
            username=creds["ansible_user"],
            password=creds["ansible_password"],
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
        )
        _stdin, stdout, _stderr = client.exec_command("show flash: | include bytes free")
        assert "bytes total" in stdout.read().decode()
        _stdin, stdout, _stderr = client.exec_command("show running-config | include ^host")
        assert "% Invalid input" in stdout.read().decode()  # privilege 1 until enable
        client.close()
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


@pytest.mark.skipif(not REPO_INVENTORY.is_dir(), reason="no inventory/ in this checkout")
def test_lab_from_the_inventory(tmp_path: Path) -> None:
    fleet, stop, thread = _serve(tmp_path, inventory=REPO_INVENTORY)
    try:
        assert fleet.devices
        name, device = next(iter(fleet.devices.items()))
        assert device.hostname == name
        host_vars = yaml.safe_load((tmp_path / "host_vars" / f"{name}.yml").read_text())
        assert host_vars["ansible_port"] == device.bound_port
        assert host_vars["platform"] == "ios"
        assert (tmp_path / "group_vars").is_dir()
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
