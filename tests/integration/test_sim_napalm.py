"""NAPALM's ios driver, unmodified, runs its whole config workflow against the simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from netwarden.lab.sim.config import ConfigTree
from netwarden.lab.sim.device import SimDevice
from tests.integration.labfleet import wait_for

pytestmark = pytest.mark.integration

MERGE = "interface GigabitEthernet1/0/2\n description merged by test\nntp server 10.9.9.9\nend\n"


def _running_lines(device: SimDevice) -> list[str]:
    """Running config lines, less NAPALM's own ``file prompt quiet`` toggle."""
    with device.lock:
        return [line for line in device.running.flat_lines() if line != "file prompt quiet"]


def _replace_candidate(driver: Any) -> str:
    running = driver.get_config(retrieve="running")["running"]
    assert "ntp server 10.0.0.2" in running
    return running.replace("ntp server 10.0.0.2", "ntp server 10.0.0.99")


def test_merge_compare_commit(sim_device: SimDevice, napalm_ios: Callable[..., Any]) -> None:
    driver = napalm_ios(sim_device)
    driver.load_merge_candidate(config=MERGE)
    diff = driver.compare_config()
    assert "+ntp server 10.9.9.9" in diff
    assert "+ description merged by test" in diff
    assert "+interface GigabitEthernet1/0/2" in diff
    assert "ntp server 10.0.0.1" not in diff  # unchanged lines are not in the diff
    driver.commit_config()
    lines = _running_lines(sim_device)
    assert "ntp server 10.9.9.9" in lines
    assert " description merged by test" in lines
    assert sim_device.startup is not None
    assert "ntp server 10.9.9.9" in sim_device.startup
    assert "ntp server 10.9.9.9" in driver.get_config(retrieve="running")["running"]


def test_merge_without_changes_has_empty_diff(
    sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    driver = napalm_ios(sim_device)
    driver.load_merge_candidate(config="ntp server 10.0.0.1\n")
    assert driver.compare_config() == ""


def test_replace_compare_commit(sim_device: SimDevice, napalm_ios: Callable[..., Any]) -> None:
    driver = napalm_ios(sim_device)
    candidate = _replace_candidate(driver)
    candidate = candidate.replace("snmp-server location lab", "snmp-server location rack 7")
    driver.load_replace_candidate(config=candidate)
    diff = driver.compare_config()
    assert "+ntp server 10.0.0.99" in diff
    assert "-ntp server 10.0.0.2" in diff
    assert "+snmp-server location rack 7" in diff
    assert "-snmp-server location lab" in diff
    driver.commit_config()
    expected = ConfigTree.build(candidate, sim_device.physical)
    assert _running_lines(sim_device) == expected.flat_lines()
    assert sim_device.startup == sim_device.running.render_body()
    driver.load_replace_candidate(config=candidate)
    assert driver.compare_config() == ""


def test_commit_with_revert_in_reverts_by_itself(
    sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    sim_device.clock.set_scale(10)  # the 1-minute IOS timer takes 6 s
    driver = napalm_ios(sim_device)
    before = _running_lines(sim_device)
    driver.load_replace_candidate(config=_replace_candidate(driver))
    driver.commit_config(revert_in=60)
    assert "ntp server 10.0.0.99" in _running_lines(sim_device)
    assert driver.has_pending_commit()
    assert wait_for(lambda: _running_lines(sim_device) == before, timeout=30)
    assert not driver.has_pending_commit()
    assert any("ROLLBK_CNFMD_CHG_ROLLBACK" in e.facility_mnemonic for e in sim_device.log)


@pytest.mark.slow
def test_confirm_commit_keeps_the_change(
    sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    sim_device.clock.set_scale(10)
    driver = napalm_ios(sim_device)
    driver.load_replace_candidate(config=_replace_candidate(driver))
    driver.commit_config(revert_in=60)
    driver.confirm_commit()
    assert not driver.has_pending_commit()
    time.sleep(7)  # past the (time-scaled) revert deadline
    assert "ntp server 10.0.0.99" in _running_lines(sim_device)
    assert sim_device.startup is not None
    assert "ntp server 10.0.0.99" in sim_device.startup


def test_rollback_restores_the_pre_commit_config(
    sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    driver = napalm_ios(sim_device)
    before = _running_lines(sim_device)
    driver.load_merge_candidate(config=MERGE)
    driver.commit_config()
    assert _running_lines(sim_device) != before
    driver.rollback()
    assert _running_lines(sim_device) == before


def test_rollback_of_a_pending_commit_reverts_now(
    sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    driver = napalm_ios(sim_device)
    before = _running_lines(sim_device)
    driver.load_replace_candidate(config=_replace_candidate(driver))
    driver.commit_config(revert_in=120)
    assert driver.has_pending_commit()
    driver.rollback()
    assert not driver.has_pending_commit()
    assert _running_lines(sim_device) == before


def test_discard_leaves_running_untouched(
    sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    driver = napalm_ios(sim_device)
    before = _running_lines(sim_device)
    driver.load_merge_candidate(config=MERGE)
    driver.discard_config()
    assert driver.compare_config() == ""
    assert _running_lines(sim_device) == before
    assert sim_device.read_file("flash:/merge_config.txt") == b""


def test_get_facts_and_config_match_the_device(
    sim_device: SimDevice, napalm_ios: Callable[..., Any]
) -> None:
    driver = napalm_ios(sim_device)
    facts = driver.get_facts()
    assert facts["hostname"] == sim_device.hostname
    assert facts["serial_number"] == sim_device.spec.serial
    config = driver.get_config()
    assert config["running"].endswith("end")
    assert "hostname sim-sw001" in config["startup"]
