"""The simulator sends its log lines to the ``logging host`` of its running config (UDP)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from collectors.access.events import AccessEvent, access_event
from collectors.access.syslog import parse
from netwarden.lab.sim.config import ConfigTree
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.specs import synthetic_spec
from netwarden.lab.sim.syslogsend import settings_of


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5.0)
        yield sock


def test_login_failure_and_config_change_reach_the_logging_host(listener: socket.socket) -> None:
    device = SimDevice(synthetic_spec(1, password="user-pw", enable_secret="enable-pw"))
    port = listener.getsockname()[1]
    assert (
        device.merge(
            f"service sequence-numbers\nlogging host 127.0.0.1 transport udp port {port}\n"
        )
        == []
    )
    assert not device.check_password("bob", "guess-pw", "10.11.30.9", 22)
    data, _ = listener.recvfrom(4096)
    message = parse(data)
    assert data.startswith(b"<188>")  # local7, severity 4
    assert message.sequence is not None
    assert message.hostname is None  # no "logging origin-id hostname"
    assert settings_of(device.running).synchronized  # synthetic switches have NTP
    assert b": *" not in data  # so no "*" on the timestamp
    assert access_event(message) == AccessEvent("login", "failure", "bob", "10.11.30.9")
    assert b"guess-pw" not in data
    device.config_changed("admin", "10.11.30.4", 0)
    message = parse(listener.recvfrom(4096)[0])
    assert access_event(message) == AccessEvent("config_change", "success", "admin", "10.11.30.4")


def test_trap_level_filters(listener: socket.socket) -> None:
    device = SimDevice(synthetic_spec(2, password="user-pw", enable_secret="enable-pw"))
    port = listener.getsockname()[1]
    device.merge(f"logging trap warnings\nlogging host 127.0.0.1 transport udp port {port}\n")
    device.config_changed("admin", "10.11.30.4", 0)  # severity 5: above "warnings", not sent
    assert not device.check_password("bob", "guess-pw", "10.11.30.9", 22)  # severity 4: sent
    assert parse(listener.recvfrom(4096)[0]).app == "%SEC_LOGIN-4-LOGIN_FAILED"


def test_settings() -> None:
    tree = ConfigTree.build(
        "logging host 10.0.0.5\nlogging host 10.0.0.6 transport tcp port 601\n"
        "logging 10.0.0.7\nservice timestamps log datetime year\nntp server 10.0.0.1\n",
        frozenset(),
    )
    settings = settings_of(tree)
    assert settings.hosts == (("10.0.0.5", 514), ("10.0.0.7", 514))
    assert settings.stamp == ("datetime", "year")
    assert settings.synchronized


def test_ssh_logging_events_adds_ssh2_userauth(listener: socket.socket) -> None:
    device = SimDevice(synthetic_spec(3, password="user-pw", enable_secret="enable-pw"))
    port = listener.getsockname()[1]
    device.merge(f"ip ssh logging events\nlogging host 127.0.0.1 transport udp port {port}\n")
    assert device.check_password(device.spec.username, "user-pw", "10.11.30.9", 22)
    events = [access_event(parse(listener.recvfrom(4096)[0])) for _ in range(2)]
    user = device.spec.username
    assert events == [
        AccessEvent("ssh_userauth", "success", user, "10.11.30.9"),
        AccessEvent("login", "success", user, "10.11.30.9"),
    ]
