"""Injected faults give the real clients the errors a real device would cause."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import pytest
from napalm.base.exceptions import ConnectionClosedException, ConnectionException
from netmiko import ConnectHandler
from netmiko.exceptions import (
    NetmikoAuthenticationException,
    NetmikoTimeoutException,
    ReadException,
    ReadTimeout,
)

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import SimFleet
from tests.integration.labfleet import wait_for

pytestmark = pytest.mark.integration

Params = Callable[..., dict[str, Any]]


def test_refused_login(sim_fleet: SimFleet, sim_device: SimDevice, netmiko_params: Params) -> None:
    sim_fleet.set_fault(sim_device.spec.name, refuse_login=True)
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**netmiko_params(sim_device))
    failures = [e for e in sim_device.log if e.facility_mnemonic == "SEC_LOGIN-4-LOGIN_FAILED"]
    assert failures
    assert "[Source: 127.0.0.1]" in failures[-1].message
    sim_fleet.clear_faults(sim_device.spec.name)
    ConnectHandler(**netmiko_params(sim_device)).disconnect()


def test_refused_login_through_napalm(
    sim_fleet: SimFleet, sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    sim_fleet.set_fault(sim_device.spec.name, refuse_login=True)
    with pytest.raises(NetmikoAuthenticationException):
        napalm_ios(sim_device)


def test_wrong_password(sim_device: SimDevice, netmiko_params: Params) -> None:
    with pytest.raises(NetmikoAuthenticationException):
        ConnectHandler(**netmiko_params(sim_device, password="not-the-password"))


def test_hung_device_times_out(
    sim_fleet: SimFleet, sim_device: SimDevice, netmiko_params: Params
) -> None:
    sim_fleet.set_fault(sim_device.spec.name, hang=True)
    started = time.monotonic()
    with pytest.raises(NetmikoTimeoutException):
        ConnectHandler(**netmiko_params(sim_device, banner_timeout=1, conn_timeout=1))
    assert time.monotonic() - started < 10
    sim_fleet.clear_faults(sim_device.spec.name)
    ConnectHandler(**netmiko_params(sim_device)).disconnect()


def test_hung_device_through_napalm(
    sim_fleet: SimFleet, sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    sim_fleet.set_fault(sim_device.spec.name, hang=True)
    with pytest.raises(ConnectionException):
        napalm_ios(sim_device, banner_timeout=1, conn_timeout=1)


def test_hang_in_an_open_session(
    sim_fleet: SimFleet, sim_device: SimDevice, netmiko_params: Params
) -> None:
    conn = ConnectHandler(**netmiko_params(sim_device, read_timeout_override=1))
    try:
        sim_fleet.set_fault(sim_device.spec.name, hang=True)
        with pytest.raises(ReadTimeout):  # not even the echo of the command comes back
            conn.send_command("show running-config", auto_find_prompt=False)
    finally:
        sim_fleet.clear_faults(sim_device.spec.name)
        conn.disconnect()


def test_slow_answers(sim_fleet: SimFleet, sim_device: SimDevice, netmiko_params: Params) -> None:
    conn = ConnectHandler(**netmiko_params(sim_device, read_timeout_override=None))
    try:
        conn.enable()
        sim_fleet.set_fault(sim_device.spec.name, delay_seconds=2.0)
        with pytest.raises(ReadTimeout):
            conn.send_command("show running-config", read_timeout=0.5)
        started = time.monotonic()
        output = conn.send_command("show running-config | include ^hostname", read_timeout=10)
        assert time.monotonic() - started >= 2.0
        assert output.strip() == f"hostname {sim_device.hostname}"
    finally:
        conn.disconnect()


def test_invalid_input_for_a_given_command(
    sim_fleet: SimFleet, sim_device: SimDevice, netmiko_params: Params
) -> None:
    sim_fleet.set_fault(sim_device.spec.name, invalid_commands={"show version"})
    conn = ConnectHandler(**netmiko_params(sim_device))
    try:
        assert "% Invalid input detected at '^' marker." in conn.send_command("show version")
        assert "% Invalid" not in conn.send_command("show clock")
    finally:
        conn.disconnect()


def test_session_dropped_mid_commit_reverts(
    sim_fleet: SimFleet, sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    sim_device.clock.set_scale(20)  # the 1-minute timer takes 3 s
    driver = napalm_ios(sim_device, read_timeout_override=3)
    running = driver.get_config(retrieve="running")["running"]
    driver.load_replace_candidate(
        config=running.replace("ntp server 10.0.0.2", "ntp server 10.0.0.99")
    )
    sim_fleet.set_fault(sim_device.spec.name, drop_on_commit=True)
    with pytest.raises((ReadException, OSError, EOFError, ConnectionClosedException)):
        driver.commit_config(revert_in=60)
    applied = [line for line in sim_device.running.flat_lines() if line.startswith("ntp server")]
    pending = sim_device.pending
    assert "ntp server 10.0.0.99" in applied or pending is None  # applied, then maybe reverted
    assert wait_for(lambda: sim_device.pending is None, timeout=20)
    assert "ntp server 10.0.0.2" in sim_device.running.flat_lines()
    assert "ntp server 10.0.0.99" not in sim_device.running.flat_lines()


def test_session_dropped_during_copy_to_running(
    sim_fleet: SimFleet, sim_device: SimDevice, netmiko_params: Params
) -> None:
    sim_device.write_file("flash:/change.txt", b"ntp server 10.8.8.8\n")
    conn = ConnectHandler(**netmiko_params(sim_device, read_timeout_override=2))
    conn.enable()
    conn.send_config_set(["file prompt quiet"])
    sim_fleet.set_fault(sim_device.spec.name, drop_on_commit=True)
    with pytest.raises((ReadException, OSError, EOFError)):
        conn.send_command("copy flash:/change.txt running-config")
    assert "ntp server 10.8.8.8" in sim_device.running.flat_lines()
    assert not conn.is_alive()
    with pytest.raises(OSError, match="closed"):
        conn.send_command("show clock")
    with contextlib.suppress(OSError, EOFError, ReadException):
        conn.disconnect()
