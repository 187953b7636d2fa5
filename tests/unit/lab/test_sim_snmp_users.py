"""SNMPv3 users live outside the running config, as on IOS.

``snmp-server user`` is accepted and stored; ``show snmp user`` lists the user;
``show running-config`` (and so backups, ``write memory`` and the archive) never
prints it; ``configure replace`` and a rollback, which work on config text, keep
the users; the line shows in every incremental diff (it is never in running).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from netwarden.lab.sim.device import SimDevice
from tests.unit.lab.sim_terminal import Terminal, sim_device

USER = "snmp-server user ops OPS v3 auth sha a1234567 priv aes 128 p1234567"


@pytest.fixture
def device() -> Iterator[SimDevice]:
    created = sim_device()
    yield created
    created.stop()


@pytest.fixture
def term(device: SimDevice) -> Iterator[Terminal]:
    terminal = Terminal(device).enable()
    yield terminal
    terminal.session.close()


def _configure(term: Terminal, *lines: str) -> str:
    term.type("configure terminal")
    out = "".join(term.type(line) for line in lines)
    term.type("end")
    return out


def test_the_user_is_listed_but_never_in_the_running_config(
    term: Terminal, device: SimDevice
) -> None:
    assert "Invalid" not in _configure(term, USER)
    user = term.type("show snmp user")
    assert "User name: ops" in user
    assert "Group-name: OPS" in user
    assert "Privacy Protocol: AES128" in user
    assert "snmp-server user" not in term.type("show running-config")
    term.type("write memory")
    assert "snmp-server user" not in term.type("show startup-config")
    assert "%SNMP agent not enabled" not in term.type("show snmp")  # a user enables the agent


def test_a_user_is_replaced_and_removed_by_name(term: Terminal) -> None:
    _configure(term, USER, "snmp-server user ops OPS2 v3 auth sha a1234567")
    user = term.type("show snmp user")
    assert user.count("User name: ops") == 1
    assert "Group-name: OPS2" in user
    assert "Privacy Protocol: NONE" in user
    _configure(term, "no snmp-server user ops OPS2 v3")
    assert "User name" not in term.type("show snmp user")


def test_a_user_line_is_checked(term: Terminal) -> None:
    assert "% Incomplete command." in _configure(term, "snmp-server user ops")
    assert "% Invalid input detected" in _configure(term, "snmp-server user ops OPS v4")
    assert "User name" not in term.type("show snmp user")


def test_configure_replace_and_rollback_keep_the_users(term: Terminal, device: SimDevice) -> None:
    _configure(term, USER, "archive", "path flash:archive", "exit")
    body = device.running.render_body()
    assert "snmp-server user" not in body
    device.write_file("flash:/same.cfg", body.replace("ntp server 10.0.0.2", "").encode())
    output = term.type("configure replace flash:/same.cfg force revert trigger error timer 5")
    assert "Rollback Done" in output
    _configure(term, "snmp-server user mon MON v3 auth sha b1234567")
    term.type("configure revert now")
    assert "ntp server 10.0.0.2" in device.running.flat_lines()  # the config rolled back
    users = term.type("show snmp user")
    assert "User name: ops" in users
    assert "User name: mon" in users  # users are not part of the archived config


def test_incremental_diff_always_lists_the_user(device: SimDevice) -> None:
    device.merge(USER)
    diff = device.incremental(device.running.render_body().replace("end\n", USER + "\nend\n"))
    assert USER in diff.splitlines()
