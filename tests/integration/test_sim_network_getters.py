"""NAPALM's layer-2/3 getters against the simulated example fleet, and the fleet's topology.

``get_mac_address_table``, ``get_route_to``, ``traceroute``, ``get_ntp_stats`` and
``get_lldp_neighbors_detail`` must return what the simulated device holds (its
interfaces, its config's routes, the neighbour's own identity), and LLDP/CDP must
be consistent across the fleet: A sees B on the port where B sees A.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from napalm.base.helpers import mac as napalm_mac
from netmiko import ConnectHandler

from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.fleet import Credentials, SimFleet, specs_from_inventory
from netwarden.lab.sim.shows_cdp import full_name
from netwarden.lab.sim.shows_health import _ntp_address
from netwarden.lab.sim.shows_l2 import mac_entries
from netwarden.lab.sim.shows_stp import trees
from netwarden.lab.sim.shows_util import abbreviate
from tests.integration.labfleet import netmiko_args

pytestmark = pytest.mark.integration

CORE, ACCESS = "jed-core-sw1", "jed-acc-sw1"  # linked in the example inventory


@pytest.fixture(scope="module")
def fleet(example_inventory: Path) -> Iterator[SimFleet]:
    creds = Credentials.generate()
    fleet = SimFleet(specs_from_inventory(example_inventory, creds, time_scale=60.0), creds)
    with fleet:
        yield fleet


def _driver(fleet: SimFleet, name: str) -> Any:
    from napalm import get_network_driver

    creds = fleet.credentials
    assert creds is not None
    device = fleet.device(name)
    return get_network_driver("ios")(
        device.spec.address,
        creds.username,
        creds.password,
        timeout=15,
        optional_args={"port": device.bound_port, "secret": creds.enable_secret, "conn_timeout": 5},
    )


@pytest.fixture(scope="module")
def access(fleet: SimFleet) -> Iterator[Any]:
    creds = fleet.credentials
    assert creds is not None
    with ConnectHandler(**netmiko_args(fleet.device(ACCESS), creds)) as conn:
        conn.enable()
        conn.send_config_set(
            ["ip default-gateway 10.10.10.1", "ip route 192.0.2.0 255.255.255.0 10.10.10.254"]
        )
    driver = _driver(fleet, ACCESS)
    driver.open()
    yield driver
    driver.close()


def test_get_mac_address_table_lists_the_learned_hosts(fleet: SimFleet, access: Any) -> None:
    ctx = build_context(fleet.device(ACCESS))
    table = access.get_mac_address_table()
    dynamic = {(e["vlan"], e["mac"], e["interface"]) for e in table if not e["static"]}
    expected = {(vlan, napalm_mac(mac), abbreviate(port)) for vlan, mac, port in mac_entries(ctx)}
    assert dynamic == expected
    up_access = [i for i in ctx.interfaces if i.switchport_mode == "access" and i.line_protocol_up]
    assert up_access, "the example switch has access ports with link"
    assert {abbreviate(i.name) for i in up_access} <= {e["interface"] for e in table}
    # a neighbour is learned on an uplink that spanning tree lets forward, not on a blocked one
    learned = {(e["mac"], e["interface"]) for e in table}
    forwarding = trees(ctx)[1]
    states = []
    for uplink in ctx.lldp_neighbors:
        state = forwarding.port(uplink.local_interface)
        assert state is not None
        seen = (napalm_mac(uplink.remote_chassis_id), abbreviate(uplink.local_interface))
        assert (seen in learned) is state.forwarding, uplink.local_interface
        states.append(state.forwarding)
    assert True in states  # the root port


def test_get_route_to_connected_static_and_default(access: Any) -> None:
    connected = access.get_route_to("10.10.10.77")
    assert list(connected) == ["10.10.10.0/24"]
    assert connected["10.10.10.0/24"][0]["protocol"] == "connected"
    assert connected["10.10.10.0/24"][0]["outgoing_interface"] == "Vlan10"
    static = access.get_route_to("192.0.2.9")
    assert static["192.0.2.0/24"][0]["protocol"] == "static"
    assert static["192.0.2.0/24"][0]["next_hop"] == "10.10.10.254"
    default = access.get_route_to("0.0.0.0/0")
    assert default["0.0.0.0/0"][0]["next_hop"] == "10.10.10.1"
    assert access.get_route_to("198.51.100.1") == {}  # IOS: "% Network not in table"


def test_traceroute_follows_the_routing_table(access: Any) -> None:
    result = access.traceroute("192.0.2.9")
    hops = result["success"]
    assert [hops[n]["probes"][1]["ip_address"] for n in sorted(hops)] == [
        "10.10.10.254",
        "192.0.2.9",
    ]
    assert all(hops[n]["probes"][p]["rtt"] > 0 for n in hops for p in (1, 2, 3))
    assert "error" in access.traceroute("no-such-host")


def test_get_ntp_stats_names_the_servers_by_address(fleet: SimFleet, access: Any) -> None:
    ctx = build_context(fleet.device(ACCESS))
    stats = access.get_ntp_stats()
    hosts = dict(ctx.hosts)
    assert {s["remote"] for s in stats} == {_ntp_address(hosts, name) for name in ctx.ntp_servers}
    assert all(s["remote"][0].isdigit() for s in stats)
    assert sum(s["synchronized"] for s in stats) == 1


def test_get_lldp_neighbors_detail_is_the_neighbours_own_identity(
    fleet: SimFleet, access: Any
) -> None:
    detail = access.get_lldp_neighbors_detail()
    core_ctx = build_context(fleet.device(CORE))
    [(local, [seen])] = [(k, v) for k, v in detail.items() if v[0]["remote_system_name"] == CORE]
    assert seen["remote_chassis_id"] == napalm_mac(core_ctx.base_mac)
    assert seen["remote_chassis_id"] != "00:00:00:00:00:00"
    port = next(i for i in core_ctx.interfaces if full_name(seen["remote_port"]) == i.name)
    assert seen["remote_port_description"] == port.description
    assert core_ctx.os_version in seen["remote_system_description"]
    raw = access.cli(["show lldp neighbors detail"])["show lldp neighbors detail"]
    assert "Technical Support: http://www.cisco.com/techsupport" in raw  # the whole description
    management = [a for i in core_ctx.interfaces for a, _ in i.ipv4 if i.name.startswith("Vlan")]
    assert "remote_management_address" not in seen or seen["remote_management_address"] in (
        management
    )
    assert local.startswith("GigabitEthernet")


def test_lldp_and_cdp_are_symmetric_across_the_fleet(fleet: SimFleet) -> None:
    """Every simulated link is seen from both ends, on the same pair of ports, by both protocols."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    names = {device.spec.name for device in fleet}
    for device in fleet:
        ctx = build_context(device)
        for n in ctx.lldp_neighbors:
            if n.remote_hostname in names:
                seen[(device.spec.name, n.local_interface)] = (
                    n.remote_hostname,
                    full_name(n.remote_port),
                )
    assert seen, "the example inventory has links between simulated switches"
    for (me, port), (peer, peer_port) in seen.items():
        assert seen.get((peer, peer_port)) == (me, port), f"{me} {port} -> {peer} {peer_port}"
    drivers = {name: _driver(fleet, name) for name in (CORE, ACCESS)}
    try:
        for driver in drivers.values():
            driver.open()
        core = drivers[CORE].get_lldp_neighbors()
        acc = drivers[ACCESS].get_lldp_neighbors()
        cdp = drivers[ACCESS].cli(["show cdp neighbors detail"])["show cdp neighbors detail"]
    finally:
        for driver in drivers.values():
            driver.close()
    [(acc_port, [to_core])] = [(k, v) for k, v in acc.items() if v[0]["hostname"] == CORE]
    core_port = full_name(to_core["port"])
    assert [n["port"] for n in core[core_port] if n["hostname"] == ACCESS] == [
        acc_port.replace("GigabitEthernet", "Gi")
    ]
    assert f"Interface: {acc_port},  Port ID (outgoing port): {core_port}" in cdp
