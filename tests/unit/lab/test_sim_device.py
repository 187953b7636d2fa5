"""Device state of the simulator: credentials, revert timer, archive, flash, log."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from netwarden.lab.sim import passwords
from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.device import DeviceClock, SimDevice
from netwarden.lab.sim.specs import DeviceSpec, synthetic_spec


@pytest.fixture
def device() -> Iterator[SimDevice]:
    spec = synthetic_spec(1, password="user-pw", enable_secret="enable-pw", access_ports=4)
    created = SimDevice(spec)
    yield created
    created.stop()


def _wait_for(predicate: object, timeout: float) -> bool:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_config_holds_hashes_not_secrets(device: SimDevice) -> None:
    body = device.running.render_body()
    assert "user-pw" not in body
    assert "enable-pw" not in body
    assert "enable secret 9 $9$" in body
    assert "username netwarden privilege 1 secret 9 $9$" in body


def test_password_and_enable_checks_log_logins(device: SimDevice) -> None:
    assert device.check_password("netwarden", "user-pw", "127.0.0.9", 2222)
    assert not device.check_password("netwarden", "nope", "127.0.0.9", 2222)
    assert device.check_enable("enable-pw") is True
    assert device.check_enable("nope") is False
    mnemonics = [e.facility_mnemonic for e in device.log]
    assert mnemonics == ["SEC_LOGIN-5-LOGIN_SUCCESS", "SEC_LOGIN-4-LOGIN_FAILED"]
    assert "[user: netwarden] [Source: 127.0.0.9] [localport: 2222]" in device.log[0].message


def test_refuse_login_fault(device: SimDevice) -> None:
    device.faults.refuse_login = True
    assert not device.check_password("netwarden", "user-pw", "127.0.0.1", 22)
    device.faults.clear()
    assert device.check_password("netwarden", "user-pw", "127.0.0.1", 22)


def test_revert_timer_restores_the_snapshot(device: SimDevice) -> None:
    device.clock.set_scale(600)  # one IOS minute = 0.1 s
    before = device.running.flat_lines()
    assert device.start_revert("netwarden", 1) == ""
    device.merge("ntp server 10.9.9.9\n")
    assert "ntp server 10.9.9.9" in device.running.flat_lines()
    assert "Timer value: 1 min" in device.rollback_timer_text()
    assert _wait_for(lambda: device.pending is None, timeout=5)
    assert device.running.flat_lines() == before
    assert device.rollback_timer_text() == "%No Rollback Confirmed Change pending"


def test_confirm_keeps_the_change(device: SimDevice) -> None:
    device.clock.set_scale(600)
    device.start_revert("netwarden", 1)
    device.merge("ntp server 10.9.9.9\n")
    assert device.confirm("netwarden") == ""
    time.sleep(0.3)
    assert "ntp server 10.9.9.9" in device.running.flat_lines()


def test_revert_needs_archive(device: SimDevice) -> None:
    device.merge("no archive\n")
    assert device.start_revert("netwarden", 1).startswith("%Please turn config archive on")
    assert device.show_archive() == "Archive feature not enabled"


def test_archive_files_rotate(device: SimDevice) -> None:
    device.merge("archive\n maximum 2\n")
    names = [device.archive_now() for _ in range(3)]
    assert names == ["flash:archive-1", "flash:archive-2", "flash:archive-3"]
    assert not device.flash.exists("flash:archive-1")
    assert "flash:archive-3 <- Most Recent" in device.show_archive()


def test_flash_dir_and_md5(device: SimDevice) -> None:
    free = device.flash.free()
    assert device.write_file("flash:/x.txt", b"abc") == ""
    assert device.flash.free() == free - 3
    listing = device.flash.dir_text("flash:/x.txt")
    assert listing.startswith("Directory of flash:/x.txt")
    assert "%Error opening flash:/y.txt" in device.flash.dir_text("flash:/y.txt")
    assert device.flash.md5_line("flash:/x.txt").endswith("900150983cd24fb0d6963f7d28e17f72")
    assert device.write_file("flash:/big", b"0" * (device.flash.free() + 1)).startswith("%Error")


def test_physical_interfaces_survive_a_replace(device: SimDevice) -> None:
    device.replace("hostname bare\nend\n")
    assert device.hostname == "bare"
    assert device.running.find("interface GigabitEthernet1/0/1") is not None
    assert device.running.find("interface Vlan10") is None


def test_show_context_follows_the_config(device: SimDevice) -> None:
    device.merge("interface GigabitEthernet1/0/1\n shutdown\n description down\n")
    context = build_context(device)
    by_name = {i.name: i for i in context.interfaces}
    assert by_name["GigabitEthernet1/0/1"].shutdown
    assert not by_name["GigabitEthernet1/0/1"].line_protocol_up
    assert by_name["GigabitEthernet1/0/1"].description == "down"
    assert by_name["Vlan10"].ipv4 == (("10.10.0.3", 24),)
    assert context.ntp_servers == ("10.0.0.1", "10.0.0.2")
    assert context.users[0].username == "netwarden"
    assert (20, "staff") in context.vlans


def test_counters_move_over_time(device: SimDevice) -> None:
    device.clock.set_scale(1000)
    first = {i.name: i.counters.rx_packets for i in build_context(device).interfaces}
    time.sleep(0.05)
    second = {i.name: i.counters.rx_packets for i in build_context(device).interfaces}
    assert second["GigabitEthernet1/0/1"] > first["GigabitEthernet1/0/1"]


def test_clock_scale_does_not_jump() -> None:
    clock = DeviceClock(scale=1.0)
    before = clock.elapsed()
    clock.set_scale(1000.0)
    assert clock.elapsed() - before < 1.0
    assert clock.real_seconds(60) == pytest.approx(0.06)


def test_password_types() -> None:
    assert passwords.verify("0 plain", "plain")
    assert passwords.verify("7 " + passwords.type7_encode("cisco"), "cisco")
    assert not passwords.verify("5 $1$abcd$xyz", "anything")


@pytest.mark.parametrize(
    ("model", "version", "processor"),
    [
        ("C9300-48P", "Cisco IOS XE Software, Version 17.9.4a", "cisco C9300-48P (X86) processor"),
        ("C9200L-24P-4G", "Cisco IOS XE Software, Version 17.9.4a", "cisco C9200L-24P-4G (X86)"),
        ("WS-C3750X-24P", "Cisco IOS Software, C3750E Software", "cisco WS-C3750X-24P (PowerPC"),
    ],
    ids=["c9300", "c9200l", "c3750x"],
)
def test_show_version_matches_the_model(model: str, version: str, processor: str) -> None:
    """A spec names its model only (as the lab inventory does): the software follows it."""
    from netwarden.lab.sim.context import build_context
    from netwarden.lab.sim.shows import render_show

    ports = synthetic_spec(1, password="p", enable_secret="e", access_ports=2).interfaces
    device = SimDevice(DeviceSpec(name="s1", hostname="s1", interfaces=ports, model=model))
    try:
        text = render_show(["version"], build_context(device)) or ""
    finally:
        device.stop()
    assert text.startswith(version)
    assert processor in text
    xe = model.startswith("C9")
    assert ('System image file is "flash:packages.conf"' in text) == xe
