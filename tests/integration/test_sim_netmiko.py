"""Netmiko's cisco_ios driver, unmodified: commands, config sets, save, SCP transfer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from netmiko import ConnectHandler, file_transfer
from netmiko.exceptions import ConfigInvalidException

from netwarden.lab.sim.device import SimDevice

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(sim_device: SimDevice, netmiko_params: Callable[..., dict[str, Any]]) -> Iterator[Any]:
    connection = ConnectHandler(**netmiko_params(sim_device))
    connection.enable()
    yield connection
    connection.disconnect()


def test_session_prompt_and_show(conn: Any, sim_device: SimDevice) -> None:
    assert conn.find_prompt() == f"{sim_device.hostname}#"
    output = conn.send_command("show running-config | include ^hostname")
    assert output.strip() == f"hostname {sim_device.hostname}"
    assert "% Invalid input detected at '^' marker." in conn.send_command("show nonsense")
    assert "Directory of flash:/" in conn.send_command("dir")


def test_multi_level_config_set(conn: Any, sim_device: SimDevice) -> None:
    output = conn.send_config_set(
        [
            "interface Loopback7",
            "description test loopback",
            "ip address 192.0.2.7 255.255.255.255",
            "exit",
            "archive",
            "log config",
            "logging enable",
            "exit",
            "exit",
            "vlan 77",
            "name seventy-seven",
            "int gi1/0/3",
            "shut",
        ]
    )
    assert "(config-archive-log-cfg)#" in output
    assert "(config-vlan)#" in output
    loopback = sim_device.running.find("interface Loopback7")
    assert loopback is not None
    assert [c.text for c in loopback.children] == [
        "description test loopback",
        "ip address 192.0.2.7 255.255.255.255",
    ]
    assert sim_device.running.find("archive", "log config", "logging enable") is not None
    assert sim_device.running.find("vlan 77", "name seventy-seven") is not None
    assert sim_device.running.find("interface GigabitEthernet1/0/3", "shutdown") is not None
    assert any(
        e.facility_mnemonic == "SYS-5-CONFIG_I" and "by netwarden on vty" in e.message
        for e in sim_device.log
    )


def test_config_set_with_an_invalid_line(conn: Any) -> None:
    output = conn.send_config_set(["interface GigabitEthernet9/0/9"])
    assert "% Invalid input detected at '^' marker." in output
    with pytest.raises(ConfigInvalidException):
        conn.send_config_set(["no such command"], error_pattern=r"% Invalid input")


def test_save_config(conn: Any, sim_device: SimDevice) -> None:
    conn.send_config_set(["ntp server 10.7.7.7"])
    assert sim_device.startup is not None
    assert "10.7.7.7" not in sim_device.startup
    output = conn.save_config()
    assert "[OK]" in output
    assert sim_device.startup == sim_device.running.render_body()


def test_login_is_logged_with_the_source(conn: Any, sim_device: SimDevice) -> None:
    messages = [e.message for e in sim_device.log if e.facility_mnemonic.startswith("SEC_LOGIN-5")]
    assert messages
    assert "[user: netwarden] [Source: 127.0.0.1]" in messages[-1]


def test_scp_file_transfer(conn: Any, sim_device: SimDevice, tmp_path: Path) -> None:
    source = tmp_path / "golden.cfg"
    source.write_bytes(b"hostname golden\n" + bytes(range(256)) * 40)
    result = file_transfer(conn, source_file=str(source), dest_file="golden.cfg")
    assert result == {"file_exists": True, "file_transferred": True, "file_verified": True}
    assert sim_device.read_file("flash:/golden.cfg") == source.read_bytes()
    digest = hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()
    assert digest in conn.send_command("verify /md5 flash:/golden.cfg")
    again = file_transfer(conn, source_file=str(source), dest_file="golden.cfg")
    assert again["file_transferred"] is False
    assert again["file_verified"] is True


def test_scp_get(conn: Any, sim_device: SimDevice, tmp_path: Path) -> None:
    sim_device.write_file("flash:/notes.txt", b"line one\nline two\n")
    target = tmp_path / "notes.txt"
    result = file_transfer(conn, source_file="notes.txt", dest_file=str(target), direction="get")
    assert result["file_verified"] is True
    assert target.read_bytes() == b"line one\nline two\n"
