"""The live attack matrix's definitions (netwarden.lab.ns.attacks): pure, no root.

``make demo`` and tests/lab/test_attack_matrix.py run these against a real lab; here
the plan is checked against the example inventory's lab plan: every attack starts
from a node of the lab, expects HQ's sensor, and no two attacks one detector reports
share a source (so one incident never stands for another attack's).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory
from netwarden.lab.ns.attacks import TITLES, Attack, Expect, at_log_host, plan_attacks
from netwarden.lab.ns.plan import plan_lab
from netwarden.lab.ns.state import Header, LabState, NodeEntry

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(REPO / "inventory")


@pytest.fixture(scope="module")
def state(inventory: Inventory) -> LabState:
    """What ``lab up`` records for the example inventory (the node table), not running."""
    plan = plan_lab(inventory, "ab12")
    nodes = {
        n.name: NodeEntry(kind=n.kind.value, netns=n.netns, site=n.site,
                          addresses=tuple(str(a) for a in plan.addresses_of(n)))
        for n in plan.nodes
    }  # fmt: skip
    header = Header(lab_id="ab12", prefix=plan.prefix, lab_dir="/lab", source="inventory",
                    created=0.0, pid=1, nodes=nodes)  # fmt: skip
    return LabState(lab_dir=Path("/lab"), header=header, entries=(), phases=("ready",))


@pytest.fixture(scope="module")
def attacks(inventory: Inventory, state: LabState) -> dict[str, Attack]:
    return plan_attacks(inventory, state, mac=lambda _state, node: f"mac-of-{node}")


def test_every_attack_runs_in_the_lab_and_expects_hqs_sensor(
    attacks: dict[str, Attack], state: LabState
) -> None:
    assert set(attacks) == set(TITLES)
    for attack in attacks.values():
        for command in (*attack.setup, *attack.commands):
            assert command.node in state.header.nodes, (attack.name, command.node)
            assert command.timeout > 0
        assert (attack.expect.site, attack.expect.sensor) == ("jed", "jed-sensor1")


def test_no_two_attacks_of_one_detector_share_a_source(attacks: dict[str, Attack]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for attack in attacks.values():
        for source in attack.expect.sources:
            key = (attack.expect.detector, source)
            assert key not in seen, f"{attack.name} and {seen.get(key)} share {key}"
            seen[key] = attack.name


def test_expect_matches_its_event_only(attacks: dict[str, Attack]) -> None:
    scan = attacks["port_scan"].expect
    event = {"detector": "port_scan", "src": scan.sources[0], "dst": scan.dst,
             "site": "jed", "sensor": "jed-sensor1"}  # fmt: skip
    assert scan.matches(event)
    for key, other in (("detector", "udp_sweep"), ("src", "10.9.9.9"), ("dst", "10.9.9.9"),
                       ("site", "nyc"), ("sensor", "nyc-sensor1")):  # fmt: skip
        assert not scan.matches({**event, key: other}), key
    spoof = attacks["arp_spoof"].expect
    assert spoof == Expect("arp_spoof", ("mac-of-jed-voice-c1",), None, "jed", "jed-sensor1")


def test_the_partner_attack_comes_from_the_partners_lan(
    attacks: dict[str, Attack], inventory: Inventory
) -> None:
    attack = attacks["partner_unpublished"]
    partner = inventory.partners["ms-mofa"]
    assert attack.node == "ms-mofa"
    assert attack.expect.sources == (str(next(partner.networks[0].hosts())),)
    assert attack.expect.dst == str(inventory.devices["jed-web1"].service_address())


def test_hqs_copy_of_the_sensor_events(inventory: Inventory, state: LabState) -> None:
    path = at_log_host(Path("/lab"), inventory, state, "jed-sensor1")
    assert path == Path("/lab/.lab/nodes/jed-log1/upper/var/log/remote/10.10.10.201.log")
