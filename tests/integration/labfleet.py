"""A simulated fleet of the example inventory, its lab inventory, and helpers to read device state.

Shared by the plan/apply/backup/drift integration tests: every device runs real
NAPALM and Netmiko against the simulator in this process; the clock runs 60x
(an IOS minute is a second) so revert timers fire within the test.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netwarden.config.plan import remediation
from netwarden.devices import SessionOptions
from netwarden.errors import RenderError
from netwarden.inventory import Inventory, load_inventory
from netwarden.inventory.models import Device
from netwarden.ios.normalize import canonical
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet, specs_from_inventory, write_lab_inventory
from netwarden.render import render_device, select_devices

TIME_SCALE = 60.0
CONFIRM_MINUTES = 30  # 30 s of real time at 60x: post-checks finish well before


def netmiko_args(device: SimDevice, credentials: Credentials, **overrides: Any) -> dict[str, Any]:
    """Netmiko ``ConnectHandler`` arguments for a simulated device (short timeouts)."""
    return {
        "device_type": "cisco_ios",
        "host": device.spec.address,
        "port": device.bound_port,
        "username": credentials.username,
        "password": credentials.password,
        "secret": credentials.enable_secret,
        "conn_timeout": 5,
        "banner_timeout": 5,
        "auth_timeout": 5,
        "read_timeout_override": 15,
        **overrides,
    }


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


@dataclass
class Lab:
    fleet: SimFleet
    path: Path
    known_hosts: Path
    credentials: Credentials
    inventory: Inventory
    devices: list[Device]
    configs: dict[str, str]
    initial: dict[str, str] = field(default_factory=dict)

    def options(self, **overrides: Any) -> SessionOptions:
        base: dict[str, Any] = {
            "known_hosts": self.known_hosts,
            "conn_timeout": 5.0,
            "timeout": 30.0,
            "read_timeout": 30.0,
        }
        return SessionOptions(**{**base, **overrides})

    def device(self, name: str) -> Device:
        return self.inventory.devices[name]

    def sim(self, name: str) -> SimDevice:
        return self.fleet.device(name)

    def manual_change(self, name: str, commands: list[str]) -> None:
        """What an engineer does by hand: config commands over SSH (Netmiko), not saved."""
        from netmiko import ConnectHandler

        conn = ConnectHandler(**netmiko_args(self.sim(name), self.credentials))
        try:
            conn.enable()
            conn.send_config_set(commands)
        finally:
            conn.disconnect()

    def ssh_login(self, name: str, user: str, password: str) -> bool:
        """One password login over SSH to a simulated device (host key checked); did it
        succeed? (What a user, or someone guessing passwords, does.)"""
        import paramiko

        sim = self.sim(name)
        known = paramiko.HostKeys(str(self.known_hosts)).lookup(f"[127.0.0.1]:{sim.bound_port}")
        assert known is not None
        with paramiko.Transport(("127.0.0.1", sim.bound_port)) as transport:
            transport.start_client(timeout=10)
            key = transport.get_remote_server_key()
            assert known.get(key.get_name()) == key, "the simulator's host key changed"
            try:
                transport.auth_password(user, password, fallback=False)
            except paramiko.AuthenticationException:
                return False
            return transport.is_authenticated()


@contextlib.contextmanager
def start_lab(source: Path, out: Path) -> Iterator[Lab]:
    creds = Credentials.generate()
    fleet = SimFleet(specs_from_inventory(source, creds, time_scale=TIME_SCALE), creds)
    with fleet:
        known_hosts = write_lab_inventory(fleet, out, creds, source)
        inv = load_inventory(out)
        devices = select_devices(inv)
        lab = Lab(
            fleet=fleet,
            path=out,
            known_hosts=known_hosts,
            credentials=creds,
            inventory=inv,
            devices=devices,
            configs=_intended(inv, devices),
            initial={name: running(dev) for name, dev in fleet.devices.items()},
        )
        yield lab


def _intended(inv: Inventory, devices: list[Device]) -> dict[str, str]:
    """Each device's intended config. A lab inventory may declare what the ios_baseline
    templates do not render (a ``mode: wan`` port on a switch, in the monitoring lab):
    such a device has none here, and a test that plans it fails on the missing key."""
    configs = {}
    for device in devices:
        try:
            configs[device.name] = render_device(inv, device)
        except RenderError:
            continue
    return configs


def running(device: SimDevice) -> str:
    """The device's running config, as ``show running-config`` prints it."""
    return device.render_running()


def running_lines(device: SimDevice) -> list[str]:
    with device.lock:
        return list(device.running.flat_lines())


def state_of(lab: Lab, name: str) -> str:
    """``previous``, ``intended`` or ``other``: which config a device runs now."""
    now = running(lab.sim(name))
    if canonical(now) == canonical(lab.initial[name]):
        return "previous"
    if not remediation(now, lab.configs[name]):
        return "intended"
    return "other"
