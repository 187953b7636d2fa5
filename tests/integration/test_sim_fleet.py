"""``run_sim``: devices served until stopped, a lab inventory and a usable known_hosts."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import paramiko
import pytest
import yaml

from netwarden.inventory.loader import read_inventory
from netwarden.lab.sim.fleet import (
    Credentials,
    SimFleet,
    run_sim,
    write_lab_inventory,
)
from netwarden.lab.sim.labdir import CREDENTIALS_FILE, KNOWN_HOSTS_FILE, LAB_MARKER

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


def test_generated_lab_inventory_and_known_hosts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``--devices N``: the N switches of a generated inventory that passes every check."""
    # Once (1 run in ~3,000 of the suite, a fresh clone under full load) the second command
    # below found the connection closed; not reproduced in 40 runs under load. The server's
    # and paramiko's own account of how a connection ends, shown if it happens again:
    caplog.set_level(logging.DEBUG, logger="netwarden.lab.sim")
    caplog.set_level(logging.DEBUG, logger="paramiko")
    fleet, stop, thread = _serve(tmp_path, devices=6)
    try:
        hosts = yaml.safe_load((tmp_path / "hosts.yml").read_text())
        switches = set(hosts["all"]["children"]["switches"]["hosts"])
        assert switches == set(fleet.devices)
        assert len(switches) == 6
        inventory, problems = read_inventory(tmp_path)
        assert problems == []
        assert inventory is not None
        assert {d.name for d in inventory.devices.values() if d.platform.value == "ios"} == switches
        creds_file = tmp_path / CREDENTIALS_FILE
        assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
        creds = yaml.safe_load(creds_file.read_text())
        name = sorted(switches)[-1]
        host_vars = yaml.safe_load((tmp_path / "host_vars" / f"{name}.yml").read_text())
        device = fleet.device(name)
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
        # a device the simulator does not run is marked absent and can reach nothing real
        firewall = yaml.safe_load((tmp_path / "host_vars" / "nyc-fw1.yml").read_text())
        assert firewall["netwarden_lab_absent"] is True
        assert (firewall["ansible_host"], firewall["ansible_port"]) == ("127.0.0.1", 9)
        assert "nyc-fw1" not in fleet.devices
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_lab_dir_replaces_a_previous_lab_and_refuses_anything_else(tmp_path: Path) -> None:
    out = tmp_path / "lab"
    (out / "host_vars").mkdir(parents=True)
    (out / "host_vars" / "stale-sw9.yml").write_text("platform: ios\n")
    (out / "notes.txt").write_text("mine\n")
    (out / CREDENTIALS_FILE).parent.mkdir(parents=True)
    (out / CREDENTIALS_FILE).write_text("{}\n")  # looks like a lab, but has no marker
    (out / KNOWN_HOSTS_FILE).write_text("")
    fleet = SimFleet([])
    with pytest.raises(ValueError, match="not a lab written by netwarden lab sim"):
        write_lab_inventory(fleet, out, Credentials.generate(), REPO_INVENTORY)
    assert (out / "notes.txt").read_text() == "mine\n"  # refused, and nothing deleted
    (out / LAB_MARKER).write_text("")
    write_lab_inventory(fleet, out, Credentials.generate(), REPO_INVENTORY)
    assert not (out / "host_vars" / "stale-sw9.yml").exists()  # a previous lab is replaced whole
    assert (out / "hosts.yml").is_file()
    assert (out / LAB_MARKER).is_file()
    # a lab built from a lab (-i lab --out lab) would delete its own input: refused
    with pytest.raises(ValueError, match="overlaps the inventory"):
        write_lab_inventory(fleet, out, Credentials.generate(), out)
    with pytest.raises(ValueError, match="overlaps the inventory"):
        write_lab_inventory(fleet, out / "inner", Credentials.generate(), out)
    assert (out / "hosts.yml").is_file()
    # a lab copied from a lab elsewhere is fine
    write_lab_inventory(fleet, tmp_path / "lab2", Credentials.generate(), out)
    assert (tmp_path / "lab2" / "hosts.yml").is_file()
