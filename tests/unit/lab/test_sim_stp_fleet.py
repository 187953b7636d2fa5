"""One spanning tree over the simulated fleet of the example inventory, driven through the CLI.

HQ's access switches are cabled to both core switches, and the cores to each other (the
example inventory declares each cable at both ends): every switch's ``show spanning-tree`` must tell the same
story, ``root primary`` on a core moves the root for the whole fleet, and only a change
that touches spanning tree elects again. No SSH: the sessions run in-process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.lab.sim.context import build_context
from netwarden.lab.sim.fleet import Credentials, SimFleet, specs_from_inventory
from netwarden.lab.sim.shows_stp import trees
from netwarden.lab.sim.stp import Role
from tests.unit.lab.sim_terminal import Terminal

REPO = Path(__file__).resolve().parents[3]
HQ = ("jed-core-sw1", "jed-core-sw2", "jed-acc-sw1", "jed-acc-sw2")


@pytest.fixture(scope="module")
def fleet() -> Iterator[SimFleet]:
    creds = Credentials("netwarden", "pw", "en")
    built = SimFleet(specs_from_inventory(REPO / "inventory", creds))
    yield built  # never started: no sockets, the sessions are in-process
    for device in built:
        device.stop()


def _term(fleet: SimFleet, name: str) -> Terminal:
    term = Terminal(fleet.device(name))
    term.type("enable")
    term.type("en")
    return term


def _configure(term: Terminal, *lines: str) -> str:
    term.type("configure terminal")
    out = "".join(term.type(line) for line in lines)
    term.type("end")
    return out


def _agree(fleet: SimFleet, vlan: int) -> None:
    """Both ends of every cable tell one story; one root, one root port per other switch."""
    views = {d.spec.name: trees(build_context(d)).get(vlan) for d in fleet}
    for link in fleet.stp.links:
        (a, pa), (b, pb) = link.a, link.b
        ta, tb = views[a], views[b]
        assert ta is not None
        assert tb is not None
        ra, rb = ta.port(pa), tb.port(pb)
        assert ra is not None
        assert rb is not None
        assert ta.root == tb.root, link
        assert (ra.role is Role.DESIGNATED) != (rb.role is Role.DESIGNATED), (link, ra, rb)
        if ra.role is Role.ROOT:
            assert rb.role is Role.DESIGNATED
    hq = {n: views[n] for n in HQ}
    roots = {t.root for t in hq.values() if t is not None}
    assert len(roots) == 1
    for name, tree in hq.items():
        assert tree is not None
        assert (tree.root_port is None) == tree.is_root, name


def test_the_hq_cables_are_links_of_the_fleet(fleet: SimFleet) -> None:
    cables = {frozenset((link.a[0], link.b[0])) for link in fleet.stp.links}
    for core in ("jed-core-sw1", "jed-core-sw2"):
        for access in ("jed-acc-sw1", "jed-acc-sw2"):
            assert frozenset((core, access)) in cables
    assert frozenset(("jed-core-sw1", "jed-core-sw2")) in cables
    assert all(link.a[0] != link.b[0] for link in fleet.stp.links)


def test_every_switch_tells_the_same_story(fleet: SimFleet) -> None:
    for vlan in (1, 10, 20):
        _agree(fleet, vlan)


def test_root_primary_on_a_core_moves_the_root_of_the_fleet(fleet: SimFleet) -> None:
    core1, core2 = _term(fleet, "jed-core-sw1"), _term(fleet, "jed-core-sw2")
    _configure(core2, "spanning-tree vlan 10 priority 4096")  # someone tuned core2 first
    _configure(core1, "spanning-tree vlan 1-4094 root primary")
    _configure(core2, "spanning-tree vlan 1,20-4094 root secondary")
    running = core1.type("show running-config | include spanning-tree vlan")
    # 24576 beats the default everywhere; VLAN 10's root (core2, 4096) needs 4096 below it
    assert "spanning-tree vlan 1-9,11-4094 priority 24576" in running
    assert "spanning-tree vlan 10 priority 0" in running
    assert "root primary" not in running
    for vlan in (1, 10, 20):
        _agree(fleet, vlan)
    summary = core1.type("show spanning-tree summary")
    assert re.search(r"^Root bridge for: VLAN0001, VLAN0010, VLAN0020", summary, re.M)
    access = _term(fleet, "jed-acc-sw1")
    tree = access.type("show spanning-tree vlan 20")
    assert re.search(r"^Gi1/1/1\s+Root FWD 4\s+128\.8\s+P2p$", tree, re.M)  # to core1
    assert re.search(r"^Gi1/1/2\s+Altn BLK 4\s+128\.9\s+P2p$", tree, re.M)  # to core2
    assert re.search(r"^\s+Port\s+8 \(GigabitEthernet1/1/1\)$", tree, re.M)
    root_mac = build_context(fleet.device("jed-core-sw1")).base_mac
    assert f"Address     {root_mac}" in tree.split("Bridge ID")[0]
    roots = access.type("show spanning-tree root")
    assert re.search(rf"^VLAN0020\s+24596 {root_mac}\s+4\s+2\s+20\s+15\s+Gi1/1/1$", roots, re.M)
    # the blocked uplink forwards no VLAN, the root port forwards them all
    trunk = access.type("show interfaces trunk").split("forwarding state and not pruned")[1]
    assert re.search(r"^Gi1/1/2\s+none$", trunk, re.M)
    assert re.search(r"^Gi1/1/1\s+1,10,20,30,40,50,60,70$", trunk, re.M)
    # core2 reaches the root over the core link; its ports to the access switches forward
    core2_tree = core2.type("show spanning-tree vlan 20")
    assert re.search(r"^Te1/0/4\s+Root FWD", core2_tree, re.M)
    assert re.search(r"^Te1/0/2\s+Desg FWD", core2_tree, re.M)


def test_only_spanning_tree_changes_elect_again(fleet: SimFleet) -> None:
    _configure(_term(fleet, "jed-core-sw1"), "spanning-tree vlan 1-4094 root primary")
    access = _term(fleet, "jed-acc-sw2")
    access.type("show spanning-tree")
    elections = fleet.stp.elections
    _configure(access, "interface GigabitEthernet1/0/1", "description a new desk")
    access.type("show spanning-tree")
    assert fleet.stp.elections == elections  # read again, same inputs: no election
    _configure(access, "interface GigabitEthernet1/1/1", "shutdown")
    tree = access.type("show spanning-tree vlan 10")
    assert fleet.stp.elections == elections + 1
    assert "Gi1/1/1 " not in tree
    assert re.search(r"^Gi1/1/2\s+Root FWD", tree, re.M)  # the uplink to core2 takes over
    _configure(access, "interface GigabitEthernet1/1/1", "no shutdown")
    _configure(access, "interface GigabitEthernet1/1/2", "switchport trunk allowed vlan 1,20")
    tree = access.type("show spanning-tree vlan 10")
    assert "Gi1/1/2 " not in tree  # VLAN 10 no longer crosses that trunk
    assert re.search(r"^Gi1/1/1\s+Root FWD", tree, re.M)


def test_priority_errors_as_ios_prints_them(fleet: SimFleet) -> None:
    term = _term(fleet, "jed-acc-sw1")
    term.type("configure terminal")
    out = term.type("spanning-tree vlan 10 priority 1000")
    assert "% Bridge Priority must be in increments of 4096." in out
    assert "  32768 36864 40960 45056 49152 53248 57344 61440" in out
    assert "% Invalid input detected" in term.type("spanning-tree vlan 10 priority 70000")
    assert "% Incomplete command." in term.type("spanning-tree vlan 10 root")
    assert term.type("spanning-tree vlan 10 pri 61440").endswith("(config)#")
    term.type("end")
    assert "spanning-tree vlan 10 priority 61440" in term.type("show running-config")
