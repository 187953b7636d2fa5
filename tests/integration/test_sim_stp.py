"""Spanning tree between two simulated switches cabled twice, read over SSH by Netmiko.

sim-sw001 and sim-sw002 are joined by two cables (Gi1/1/1 to Gi1/1/1, Gi1/1/2 to
Gi1/1/2): a loop that spanning tree must break. Each switch is asked alone, as an
engineer would at two terminals, and the two answers must agree: the root's ports
are designated, the other switch's root port faces it and its second uplink blocks.
A priority set on one switch moves the root of that VLAN for both. ntc-templates
parses what they print.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from netmiko import ConnectHandler
from ntc_templates.parse import parse_output

from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.fleet import Credentials, SimFleet
from netwarden.lab.sim.showmodel import LldpNeighborView
from netwarden.lab.sim.shows_util import abbreviate
from netwarden.lab.sim.specs import DeviceSpec, synthetic_spec
from tests.integration.labfleet import netmiko_args

pytestmark = pytest.mark.integration

UPLINKS = ("GigabitEthernet1/1/1", "GigabitEthernet1/1/2")
NAMES = ("sim-sw001", "sim-sw002")


def _cabled(number: int, peer: str, creds: Credentials) -> DeviceSpec:
    """A synthetic switch whose two first uplinks are cabled to ``peer``'s."""
    spec = synthetic_spec(
        number, password=creds.password, enable_secret=creds.enable_secret, access_ports=4
    )
    interfaces = tuple(
        replace(i, connected=True) if i.name in UPLINKS else i for i in spec.interfaces
    )
    seen = tuple(LldpNeighborView(port, peer, abbreviate(port)) for port in UPLINKS)
    return replace(spec, interfaces=interfaces, lldp_neighbors=seen, arp=())


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[SimFleet, dict[str, Any]]]:
    creds = Credentials.generate()
    fleet = SimFleet([_cabled(1, NAMES[1], creds), _cabled(2, NAMES[0], creds)], creds)
    with fleet:
        conns = {n: ConnectHandler(**netmiko_args(fleet.device(n), creds)) for n in NAMES}
        for conn in conns.values():
            conn.enable()
        yield fleet, conns
        for conn in conns.values():
            conn.disconnect()


def _ports(output: str) -> dict[str, tuple[str, str]]:
    """``{port: (role, state)}`` of one ``show spanning-tree vlan N`` block."""
    return {
        m[1]: (m[2], m[3])
        for m in re.finditer(r"^(\S+)\s+(Root|Desg|Altn|Back) (\w+)", output, re.M)
    }


def test_the_two_switches_agree_on_the_tree(pair: tuple[SimFleet, dict[str, Any]]) -> None:
    fleet, conns = pair
    macs = {n: build_context(fleet.device(n)).base_mac for n in NAMES}
    root, other = sorted(NAMES, key=lambda n: macs[n])  # equal priorities: the lower MAC
    at_root = conns[root].send_command("show spanning-tree vlan 20")
    at_other = conns[other].send_command("show spanning-tree vlan 20")
    assert "This bridge is the root" in at_root
    assert "This bridge is the root" not in at_other
    for output in (at_root, at_other):
        assert re.search(
            rf"^\s+Root ID\s+Priority\s+32788\n\s+Address\s+{macs[root]}$", output, re.M
        )
    assert _ports(at_root)["Gi1/1/1"] == ("Desg", "FWD")
    assert _ports(at_root)["Gi1/1/2"] == ("Desg", "FWD")
    # both cables cost 4 from the same sender: the sender's lower port ID (128.x of Gi1/1/1) wins
    assert _ports(at_other)["Gi1/1/1"] == ("Root", "FWD")
    assert _ports(at_other)["Gi1/1/2"] == ("Altn", "BLK")
    assert re.search(r"^\s+Cost\s+4\n\s+Port\s+\d+ \(GigabitEthernet1/1/1\)$", at_other, re.M)
    rows = parse_output(platform="cisco_ios", command="show spanning-tree vlan 20", data=at_other)
    parsed = {r["interface"]: (r["role"], r["status"]) for r in rows}
    assert parsed["Gi1/1/1"] == ("Root", "FWD")
    assert parsed["Gi1/1/2"] == ("Altn", "BLK")
    trunks = conns[other].send_command("show interfaces trunk").split("not pruned")[1]
    assert re.search(r"^Gi1/1/2\s+none$", trunks, re.M)


def test_a_priority_moves_the_root_for_both(pair: tuple[SimFleet, dict[str, Any]]) -> None:
    fleet, conns = pair
    macs = {n: build_context(fleet.device(n)).base_mac for n in NAMES}
    _root, other = sorted(NAMES, key=lambda n: macs[n])
    conns[other].send_config_set(["spanning-tree vlan 20 priority 4096"])
    for name in NAMES:
        roots = conns[name].send_command("show spanning-tree root")
        rows = {r["vlan_id"]: r for r in parse_output(
            platform="cisco_ios", command="show spanning-tree root", data=roots)}  # fmt: skip
        assert (rows["VLAN0020"]["priority"], rows["VLAN0020"]["root_id"]) == ("4116", macs[other])
        assert rows["VLAN0001"]["root_id"] != macs[other]  # only VLAN 20 moved
        summary = conns[name].send_command("show spanning-tree summary")
        root_of = re.search(r"^Root bridge for: (.*)$", summary, re.M)
        assert root_of is not None
        assert ("VLAN0020" in root_of[1]) is (name == other)
        assert "Switch is in rapid-pvst mode" in summary
    moved = conns[_root].send_command("show spanning-tree vlan 20")
    assert _ports(moved)["Gi1/1/1"] == ("Root", "FWD")
    assert _ports(moved)["Gi1/1/2"] == ("Altn", "BLK")
    running = conns[other].send_command("show running-config | include ^spanning-tree")
    assert "spanning-tree vlan 20 priority 4096" in running
