"""Fixtures of the integration tests: simulated IOS devices on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from netmiko.exceptions import ReadException

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet, synthetic_fleet
from tests.integration.labfleet import netmiko_args

logger = logging.getLogger(__name__)

SIM_DEVICES = 2


@pytest.fixture
def sim_credentials() -> Credentials:
    return Credentials.generate()


@pytest.fixture
def sim_fleet(sim_credentials: Credentials) -> Iterator[SimFleet]:
    """Started synthetic switches (``sim-sw001``...) on free 127.0.0.1 ports; stopped after."""
    fleet = synthetic_fleet(SIM_DEVICES, sim_credentials, access_ports=6)
    with fleet:
        yield fleet


@pytest.fixture
def sim_device(sim_fleet: SimFleet) -> SimDevice:
    return sim_fleet.device("sim-sw001")


@pytest.fixture
def netmiko_params(sim_credentials: Credentials) -> Callable[..., dict[str, Any]]:
    """ConnectHandler arguments for a simulated device (short timeouts: nothing hangs)."""

    def params(device: SimDevice, **overrides: Any) -> dict[str, Any]:
        return netmiko_args(device, sim_credentials, **overrides)

    return params


@pytest.fixture
def napalm_ios(sim_credentials: Credentials) -> Iterator[Callable[..., Any]]:
    """Open NAPALM ios drivers on simulated devices; they are closed after the test."""
    from napalm import get_network_driver

    opened: list[Any] = []

    def make(device: SimDevice, *, password: str | None = None, **optional: Any) -> Any:
        optional_args = {
            "port": device.bound_port,
            "secret": sim_credentials.enable_secret,
            "conn_timeout": 5,
            "banner_timeout": 5,
            "read_timeout_override": 15,
            **optional,
        }
        driver = get_network_driver("ios")(
            device.spec.address,
            sim_credentials.username,
            sim_credentials.password if password is None else password,
            timeout=10,
            optional_args=optional_args,
        )
        driver.open()
        opened.append(driver)
        return driver

    yield make
    for driver in opened:
        try:
            driver.close()
        except (
            OSError,
            EOFError,
            ValueError,
            ReadException,
        ) as exc:  # a test may have broken the session
            logger.info("closing a NAPALM session failed: %r", exc)
