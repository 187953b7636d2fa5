"""scrapli 1.x (``IOSXEDriver``), unmodified, against the simulator: system and paramiko transports.

scrapli writes a command, reads until it sees the command echoed, and only then
sends Return: this works only with the per-key echo of a real IOS line editor.

Host keys are checked (``auth_strict_key=True``). The system transport hands the
lab's known_hosts to OpenSSH, which looks up ``[127.0.0.1]:PORT``; scrapli's
paramiko transport looks a host up by its name alone (it ignores the port), so
it gets a known_hosts file of its own with the one device's key under
``127.0.0.1``. A wrong key fails the open (tested).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapli.driver.core import IOSXEDriver
from scrapli.exceptions import ScrapliAuthenticationFailed

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet
from netwarden.lab.sim.server import new_host_key

pytestmark = pytest.mark.integration

TRANSPORTS = [
    pytest.param(
        "system",
        marks=pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client"),
    ),
    "paramiko",
]


def _known_hosts(path: Path, fleet: SimFleet, device: SimDevice, transport: str) -> Path:
    if transport == "paramiko":
        key = device.host_key
        assert key is not None
        path.write_text(f"{device.spec.address} {key.get_name()} {key.get_base64()}\n", "utf-8")
    else:
        path.write_text(fleet.known_hosts(), encoding="utf-8")
    return path


def _driver(
    device: SimDevice, credentials: Credentials, known_hosts: Path, transport: str
) -> IOSXEDriver:
    return IOSXEDriver(
        host=device.spec.address,
        port=device.bound_port,
        auth_username=credentials.username,
        auth_password=credentials.password,
        auth_secondary=credentials.enable_secret,
        auth_strict_key=True,
        ssh_known_hosts_file=str(known_hosts),
        ssh_config_file=False,
        transport=transport,
        timeout_socket=10,
        timeout_transport=20,
        timeout_ops=20,
    )


@pytest.fixture(params=TRANSPORTS)
def conn(
    request: pytest.FixtureRequest,
    sim_fleet: SimFleet,
    sim_device: SimDevice,
    sim_credentials: Credentials,
    tmp_path: Path,
) -> Iterator[IOSXEDriver]:
    transport: str = request.param
    known = _known_hosts(tmp_path / "known_hosts", sim_fleet, sim_device, transport)
    driver = _driver(sim_device, sim_credentials, known, transport)
    driver.open()
    yield driver
    driver.close()


def test_open_and_send_command(conn: IOSXEDriver, sim_device: SimDevice) -> None:
    assert conn.get_prompt() == f"{sim_device.hostname}#"
    response = conn.send_command("show version")
    assert not response.failed
    assert sim_device.spec.os_version in response.result
    assert conn.send_command("show privilege").result == "Current privilege level is 15"
    assert conn.send_command("show bogus").failed


def test_send_configs_reports_the_bad_line_and_stays_in_the_mode(
    conn: IOSXEDriver, sim_device: SimDevice
) -> None:
    responses = conn.send_configs(
        [
            "interface GigabitEthernet1/0/3",
            "description first",
            "frobnicate the port",
            "description second",
        ]
    )
    assert [r.failed for r in responses] == [False, False, True, False]
    assert "% Invalid input detected" in responses[2].result
    port = sim_device.running.find("interface GigabitEthernet1/0/3")
    assert port is not None
    # the line after the error still landed in the interface, not in global config
    assert "description second" in [c.text for c in port.children]
    assert sim_device.running.find("description second") is None
    # scrapli leaves the session where the last line left it: still in the interface
    assert conn.get_prompt() == f"{sim_device.hostname}(config-if)#"
    conn.acquire_priv("privilege_exec")
    assert conn.get_prompt() == f"{sim_device.hostname}#"


def test_acquire_priv_and_send_interactive(conn: IOSXEDriver, sim_device: SimDevice) -> None:
    conn.acquire_priv("exec")
    assert conn.get_prompt() == f"{sim_device.hostname}>"
    conn.acquire_priv("privilege_exec")  # enable, Password:, the secondary password
    assert conn.get_prompt() == f"{sim_device.hostname}#"
    response = conn.send_interactive(
        [
            ("copy running-config flash:scrapli.cfg", "Destination filename", False),
            ("", f"{sim_device.hostname}#", False),
        ]
    )
    assert "bytes copied" in response.result
    assert sim_device.read_file("flash:scrapli.cfg") is not None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_wrong_host_key_fails_the_open(
    transport: str,
    sim_fleet: SimFleet,
    sim_device: SimDevice,
    sim_credentials: Credentials,
    tmp_path: Path,
) -> None:
    other = new_host_key()
    known = tmp_path / "known_hosts"
    host = (
        sim_device.spec.address
        if transport == "paramiko"
        else f"[{sim_device.spec.address}]:{sim_device.bound_port}"
    )
    known.write_text(f"{host} {other.get_name()} {other.get_base64()}\n", encoding="utf-8")
    driver = _driver(sim_device, sim_credentials, known, transport)
    with pytest.raises(ScrapliAuthenticationFailed):
        driver.open()
