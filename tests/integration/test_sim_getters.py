"""The getter contract suite: every NAPALM getter, over SSH, against the simulator's own state.

Like NAPALM's shared driver tests, one suite for the platform; here the expected
values come from the simulated device itself (``build_context``), and a config
change made through Netmiko must show in the getters afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from napalm.base.helpers import mac as napalm_mac
from netmiko import ConnectHandler

from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet, specs_from_inventory
from netwarden.lab.sim.showmodel import ShowContext

pytestmark = pytest.mark.integration

DEVICE = (
    "nyc-acc-sw1"  # an access switch of the example inventory (LLDP uplink, policy NTP servers)
)


@pytest.fixture(scope="module")
def inventory_fleet(example_inventory: Path) -> Iterator[SimFleet]:
    creds = Credentials.generate()
    fleet = SimFleet(specs_from_inventory(example_inventory, creds, time_scale=60.0), creds)
    with fleet:
        yield fleet


@pytest.fixture(scope="module")
def device(inventory_fleet: SimFleet) -> SimDevice:
    return inventory_fleet.device(DEVICE)


@pytest.fixture(scope="module")
def driver(inventory_fleet: SimFleet, device: SimDevice) -> Iterator[Any]:
    from napalm import get_network_driver

    creds = inventory_fleet.credentials
    assert creds is not None
    drv = get_network_driver("ios")(
        device.spec.address,
        creds.username,
        creds.password,
        timeout=15,
        optional_args={"port": device.bound_port, "secret": creds.enable_secret, "conn_timeout": 5},
    )
    drv.open()
    yield drv
    drv.close()


@pytest.fixture
def ctx(device: SimDevice) -> ShowContext:
    return build_context(device)


def test_get_facts(driver: Any, ctx: ShowContext) -> None:
    facts = driver.get_facts()
    assert facts["hostname"] == ctx.hostname == DEVICE
    assert facts["fqdn"] == f"{ctx.hostname}.{ctx.domain_name}"
    assert facts["vendor"] == "Cisco"
    assert facts["serial_number"] == ctx.serial
    assert facts["model"] == ctx.model
    assert ctx.os_version in facts["os_version"]
    assert facts["uptime"] > 0
    assert facts["interface_list"] == [i.name for i in ctx.interfaces]


def test_get_interfaces(driver: Any, ctx: ShowContext) -> None:
    got = driver.get_interfaces()
    assert set(got) == {i.name for i in ctx.interfaces}
    for itf in ctx.interfaces:
        g = got[itf.name]
        assert g["is_enabled"] is (not itf.shutdown), itf.name
        assert g["is_up"] is (not itf.shutdown and itf.line_protocol_up), itf.name
        assert g["description"] == itf.description, itf.name
        assert g["mac_address"] == napalm_mac(itf.mac), itf.name
        assert g["mtu"] == itf.mtu, itf.name


def test_get_interfaces_counters_move_over_time(driver: Any, ctx: ShowContext) -> None:
    first = driver.get_interfaces_counters()
    assert set(first) <= {i.name for i in ctx.interfaces}
    up = next(i.name for i in ctx.interfaces if i.line_protocol_up and i.switchport_mode)
    time.sleep(1.5)  # 90 device-seconds at time scale 60
    second = driver.get_interfaces_counters()
    assert second[up]["tx_octets"] > first[up]["tx_octets"]
    assert second[up]["rx_unicast_packets"] >= first[up]["rx_unicast_packets"]


def test_get_interfaces_ip(driver: Any, ctx: ShowContext) -> None:
    got = driver.get_interfaces_ip()
    want = {i.name: dict(i.ipv4) for i in ctx.interfaces if i.ipv4}
    assert want, "the device has an addressed SVI"
    for name, addrs in want.items():
        assert {a: {"prefix_length": p} for a, p in addrs.items()} == got[name]["ipv4"]


def test_get_environment(driver: Any, ctx: ShowContext) -> None:
    env = driver.get_environment()
    assert env["memory"]["available_ram"] > 0
    assert env["memory"]["used_ram"] <= env["memory"]["available_ram"]
    assert all(0 <= c["%usage"] <= 100 for c in env["cpu"].values())
    assert env["temperature"], "a temperature sensor is reported"


def test_get_config(driver: Any, device: SimDevice) -> None:
    cfg = driver.get_config()
    running_lines = [
        ln for ln in cfg["running"].splitlines() if ln.strip() and not ln.startswith("!")
    ]
    device_lines = [
        ln for ln in device.render_running().splitlines() if ln.strip() and not ln.startswith("!")
    ]
    assert f"hostname {DEVICE}" in running_lines
    assert set(device_lines) - set(running_lines) <= {
        ln
        for ln in device_lines
        if ln.startswith(("Building configuration", "Current configuration"))
    }


def test_get_lldp_neighbors(driver: Any, ctx: ShowContext) -> None:
    got = driver.get_lldp_neighbors()
    assert ctx.lldp_neighbors, "the inventory gives the uplink a neighbour"
    for n in ctx.lldp_neighbors:
        assert {"hostname": n.remote_hostname, "port": n.remote_port} in got[n.local_interface]


def test_get_arp_table(driver: Any, ctx: ShowContext) -> None:
    got = {(e["ip"], e["mac"]) for e in driver.get_arp_table()}
    want = {(a.address, napalm_mac(a.mac)) for a in ctx.arp}
    assert want
    assert want == got


def test_get_users(driver: Any, ctx: ShowContext) -> None:
    got = driver.get_users()
    for user in ctx.users:
        assert got[user.username]["level"] == user.privilege


def test_get_snmp_information(driver: Any, ctx: ShowContext) -> None:
    got = driver.get_snmp_information()
    assert got["location"] == ctx.snmp_location
    assert got["contact"] == ctx.snmp_contact
    assert set(got["community"]) == {c[0] for c in ctx.snmp_communities}


def test_get_ntp_servers(driver: Any, ctx: ShowContext) -> None:
    assert set(driver.get_ntp_servers()) == set(ctx.ntp_servers)
    assert ctx.ntp_servers


def test_getters_follow_a_config_change(
    inventory_fleet: SimFleet,
    device: SimDevice,
    driver: Any,
    netmiko_params: Callable[..., dict[str, Any]],
) -> None:
    """Shut a port, describe it, add an NTP server through Netmiko; the getters see it."""
    creds = inventory_fleet.credentials
    assert creds is not None
    port = next(i.name for i in build_context(device).interfaces if i.switchport_mode == "access")
    params = netmiko_params(
        device, username=creds.username, password=creds.password, secret=creds.enable_secret
    )
    with ConnectHandler(**params) as conn:
        conn.enable()
        conn.send_config_set(
            [
                f"interface {port}",
                "shutdown",
                "description contract-test",
                "exit",
                "ntp server 192.0.2.123",
            ]
        )
    try:
        itf = driver.get_interfaces()[port]
        assert itf["is_enabled"] is False
        assert itf["is_up"] is False
        assert itf["description"] == "contract-test"
        assert "192.0.2.123" in driver.get_ntp_servers()
    finally:
        with ConnectHandler(**params) as conn:
            conn.enable()
            conn.send_config_set(
                [f"interface {port}", "no shutdown", "exit", "no ntp server 192.0.2.123"]
            )


def test_a_channel_group_brings_its_port_channel_into_the_getters(
    inventory_fleet: SimFleet,
    device: SimDevice,
    driver: Any,
    netmiko_params: Callable[..., dict[str, Any]],
) -> None:
    """Two linked ports join bundle 11: NAPALM sees Port-channel11 up at their summed speed;
    ``no interface Port-channel11`` takes it away again and frees the ports."""
    creds = inventory_fleet.credentials
    assert creds is not None
    ports = [
        i
        for i in build_context(device).interfaces
        if i.switchport_mode == "access" and i.line_protocol_up and not i.shutdown
    ][:2]
    assert len(ports) == 2, "the access switch has two linked access ports"
    params = netmiko_params(
        device, username=creds.username, password=creds.password, secret=creds.enable_secret
    )
    joined = [x for p in ports for x in (f"interface {p.name}", "channel-group 11 mode active")]
    with ConnectHandler(**params) as conn:
        conn.enable()
        output = conn.send_config_set(joined)
    assert "Creating a port-channel interface Port-channel 11" in output
    try:
        bundle = driver.get_interfaces()["Port-channel11"]
        assert bundle["is_up"] is True
        assert bundle["is_enabled"] is True
        assert bundle["speed"] == float(sum(p.speed_mbps for p in ports))
        assert bundle["mac_address"] == napalm_mac(ports[0].mac)
        assert "Port-channel11" in driver.get_facts()["interface_list"]
    finally:
        with ConnectHandler(**params) as conn:
            conn.enable()
            conn.send_config_set(["no interface Port-channel11"])
    assert "Port-channel11" not in driver.get_interfaces()
    after = {i.name: i for i in build_context(device).interfaces}
    assert all(after[p.name].channel_group is None for p in ports)
