"""Host keys: unknown refused (nothing sent), recorded under trust-on-first-use, changed always refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.config.plan import plan_device
from netwarden.devices import SessionOptions, check_host_key, session_for
from netwarden.devices.hostkeys import HostKeyStatus, known_hosts_name
from netwarden.errors import HostKeyError
from netwarden.inventory.models import Connection, Device, Function, Platform
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet, synthetic_fleet

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet() -> Iterator[SimFleet]:
    with synthetic_fleet(2, Credentials.generate(), access_ports=4) as fleet:
        yield fleet


def _device(fleet: SimFleet, sim: SimDevice) -> Device:
    creds = fleet.credentials
    assert creds is not None
    return Device(
        name=sim.spec.name,
        site="lab",
        platform=Platform.IOS,
        function=Function.SWITCH,
        mgmt_address="10.0.0.1",
        connection=Connection(
            host=sim.spec.address,
            port=sim.bound_port,
            username=creds.username,
            password=creds.password,
            enable_secret=creds.enable_secret,
        ),
    )


def _line(fleet: SimFleet, name: str) -> str:
    sim = fleet.device(name)
    tag = known_hosts_name(sim.spec.address, sim.bound_port)
    return next(ln for ln in fleet.known_hosts().splitlines() if ln.startswith(tag + " "))


def _logins(sim: SimDevice) -> int:
    return sum(e.facility_mnemonic.startswith("SEC_LOGIN") for e in sim.log)


def test_known_key_is_accepted(fleet: SimFleet, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(fleet.known_hosts(), encoding="utf-8")
    sim = fleet.device("sim-sw001")
    check = check_host_key("sim-sw001", sim.spec.address, sim.bound_port, known)
    assert check.status is HostKeyStatus.KNOWN
    session = session_for(_device(fleet, sim), SessionOptions(known_hosts=known, conn_timeout=5))
    session.open()
    try:
        assert session.get_facts().hostname == "sim-sw001"
    finally:
        session.close()


def test_unknown_key_is_refused_without_trust_on_first_use(fleet: SimFleet, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(_line(fleet, "sim-sw002") + "\n", encoding="utf-8")  # another device only
    sim = fleet.device("sim-sw001")
    logins = _logins(sim)
    plan = plan_device(
        _device(fleet, sim), "hostname sim-sw001\n", SessionOptions(known_hosts=known)
    )
    assert plan.error is not None
    assert "sim-sw001: unknown host key" in plan.error
    assert str(known) in plan.error
    assert "--trust-on-first-use" in plan.error
    assert _logins(sim) == logins  # refused before any login
    assert known.read_text(encoding="utf-8").count("\n") == 1  # file untouched


def test_missing_known_hosts_file_means_every_key_is_unknown(
    fleet: SimFleet, tmp_path: Path
) -> None:
    sim = fleet.device("sim-sw001")
    with pytest.raises(HostKeyError, match="unknown host key"):
        check_host_key("sim-sw001", sim.spec.address, sim.bound_port, tmp_path / "absent")


def test_trust_on_first_use_records_an_unknown_key(fleet: SimFleet, tmp_path: Path) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    sim = fleet.device("sim-sw001")
    options = SessionOptions(known_hosts=known, trust_on_first_use=True, conn_timeout=5)
    session = session_for(_device(fleet, sim), options)
    session.open()  # TOFU records the key, then Netmiko checks it strictly
    session.close()
    assert known.read_text(encoding="utf-8").splitlines() == [_line(fleet, "sim-sw001")]
    again = check_host_key(
        "sim-sw001", sim.spec.address, sim.bound_port, known, trust_on_first_use=True
    )
    assert again.status is HostKeyStatus.KNOWN
    assert known.read_text(encoding="utf-8").splitlines() == [_line(fleet, "sim-sw001")]


@pytest.mark.parametrize("tofu", [False, True], ids=["strict", "trust-on-first-use"])
def test_changed_key_is_always_refused(fleet: SimFleet, tmp_path: Path, tofu: bool) -> None:
    sim1, sim2 = fleet.device("sim-sw001"), fleet.device("sim-sw002")
    tag1 = known_hosts_name(sim1.spec.address, sim1.bound_port)
    tag2 = known_hosts_name(sim2.spec.address, sim2.bound_port)
    forged = _line(fleet, "sim-sw002").replace(tag2, tag1, 1)  # sw002's key recorded for sw001
    known = tmp_path / "known_hosts"
    known.write_text(forged + "\n", encoding="utf-8")
    logins = _logins(sim1)
    options = SessionOptions(known_hosts=known, trust_on_first_use=tofu, conn_timeout=5)
    session = session_for(_device(fleet, sim1), options)
    with pytest.raises(HostKeyError) as info:
        session.open()
    message = str(info.value)
    assert message.startswith("sim-sw001: HOST KEY CHANGED")
    assert str(known) in message
    assert "never accepts a changed key" in message
    assert _logins(sim1) == logins
    assert known.read_text(encoding="utf-8") == forged + "\n"
