"""The spanning-tree election between simulated switches (netwarden.lab.sim.stp), on small graphs.

Every case checks the 802.1D invariants (one root per VLAN and connected part, one
root port per other bridge, one designated end per link, the forwarding links a tree)
and the roles a network engineer would draw on the whiteboard.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from netwarden.lab.sim.config import ConfigTree
from netwarden.lab.sim.stp import (
    Bridge,
    BridgeId,
    Link,
    Port,
    Role,
    VlanTree,
    elect,
    settings_from,
)
from netwarden.lab.sim.stpconfig import PRIORITY_HELP, vlan_command

VLANS = frozenset({1, 10})


def _bridge(name: str, mac: str, ports: Sequence[str], **kwargs: object) -> Bridge:
    return Bridge(
        name,
        mac,
        ports=tuple(Port(p, n, VLANS) for n, p in enumerate(ports, start=1)),
        vlans=VLANS,
        **kwargs,  # type: ignore[arg-type]
    )


def _links(*cables: str) -> list[Link]:
    """``"a:p1-b:p2"`` -> Link(("a", "p1"), ("b", "p2"))."""
    out = []
    for cable in cables:
        left, right = cable.split("-")
        a, pa = left.split(":")
        b, pb = right.split(":")
        out.append(Link((a, pa), (b, pb)))
    return out


def _roles(trees: dict[str, dict[int, VlanTree]], vlan: int) -> dict[tuple[str, str], Role]:
    return {(b, p.name): p.role for b, per in trees.items() if vlan in per for p in per[vlan].ports}


def check_invariants(bridges: Sequence[Bridge], links: Sequence[Link], vlan: int) -> None:
    """What must hold for any graph: a loop-free tree whose ends agree."""
    trees = elect(bridges, links)
    views = {b: per[vlan] for b, per in trees.items() if vlan in per}
    roles = _roles(trees, vlan)
    roots = {t.root for t in views.values()}
    for name, tree in views.items():
        if tree.is_root:
            assert tree.root_port is None, name
            assert tree.root_cost == 0, name
            assert all(p.role is Role.DESIGNATED for p in tree.ports), name
        else:
            assert [p.name for p in tree.ports if p.role is Role.ROOT] == [tree.root_port], name
    forwarding: list[Link] = []
    for link in links:
        a, b = roles[link.a], roles[link.b]
        if link.a[0] != link.b[0]:
            assert (a is Role.DESIGNATED) != (b is Role.DESIGNATED), (link, a, b)
        if a is Role.ROOT:
            assert b is Role.DESIGNATED, link
        if a in (Role.ROOT, Role.DESIGNATED) and b in (Role.ROOT, Role.DESIGNATED):
            forwarding.append(link)
    # per connected part: the forwarding links join all its bridges without a cycle
    parent = {name: name for name in views}

    def find(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for link in forwarding:
        ra, rb = find(link.a[0]), find(link.b[0])
        assert ra != rb, f"forwarding loop through {link}"
        parent[ra] = rb
    parts = {find(name) for name in views}
    assert len(parts) == len(roots)  # one root per connected part
    for name, tree in views.items():
        assert tree.root == min(views[n].bridge for n in views if find(n) == find(name))


def test_triangle_blocks_one_port() -> None:
    bridges = [
        _bridge("a", "0000.0000.000a", ["p1", "p2"]),
        _bridge("b", "0000.0000.000b", ["p1", "p2"]),
        _bridge("c", "0000.0000.000c", ["p1", "p2"]),
    ]
    links = _links("a:p1-b:p1", "a:p2-c:p1", "b:p2-c:p2")
    check_invariants(bridges, links, 10)
    trees = elect(bridges, links)
    roles = _roles(trees, 10)
    assert trees["a"][10].is_root
    assert trees["b"][10].root_port == "p1"
    assert trees["c"][10].root_port == "p1"
    # b and c are both at cost 4: the lower bridge ID (b) is designated on their link
    assert roles[("b", "p2")] is Role.DESIGNATED
    assert roles[("c", "p2")] is Role.ALTERNATE
    assert trees["c"][10].port("p2") is not None
    assert trees["c"][10].port("p2").state == "BLK"  # type: ignore[union-attr]
    assert trees["b"][10].root == BridgeId(32768 + 10, "0000.0000.000a")


def test_square_breaks_the_tie_on_the_sender_bridge_id() -> None:
    bridges = [_bridge(n, f"0000.0000.000{n}", ["p1", "p2"]) for n in "abcd"]
    links = _links("a:p1-b:p1", "b:p2-c:p2", "c:p1-d:p2", "d:p1-a:p2")
    check_invariants(bridges, links, 1)
    trees = elect(bridges, links)
    # c reaches a at cost 8 through b (its p2) or through d (its p1): b has the lower
    # bridge ID, which decides before c's own port IDs do
    assert trees["c"][1].root_cost == 8
    assert trees["c"][1].root_port == "p2"
    assert _roles(trees, 1)[("c", "p1")] is Role.ALTERNATE
    assert _roles(trees, 1)[("d", "p2")] is Role.DESIGNATED


def _hq(
    core1: dict[str, object] | None = None, core2: dict[str, object] | None = None
) -> tuple[list[Bridge], list[Link]]:
    """The example HQ: two cores and two access switches cabled to both, cores cabled together."""
    bridges = [
        _bridge("core1", "00be.0000.0001", ["Te1", "Te2", "Te3", "Te4"], **(core1 or {})),
        _bridge("core2", "001c.0000.0001", ["Te1", "Te2", "Te3", "Te4"], **(core2 or {})),
        _bridge("acc1", "0002.0000.0001", ["Gi1", "Gi2"]),
        _bridge("acc2", "0003.0000.0001", ["Gi1", "Gi2"]),
    ]
    links = _links(
        "core1:Te2-acc1:Gi1", "core1:Te3-acc2:Gi1", "core2:Te2-acc1:Gi2", "core2:Te3-acc2:Gi2",
        "core1:Te4-core2:Te4",
    )  # fmt: skip
    return bridges, links


def test_hq_core_pair_with_priorities() -> None:
    """``root primary`` on core1 and ``root secondary`` on core2: every access switch blocks
    its uplink to core2, and core2 reaches the root over the core link."""
    bridges, links = _hq(core1={"priorities": ((10, 24576),)}, core2={"priorities": ((10, 28672),)})
    check_invariants(bridges, links, 10)
    trees = elect(bridges, links)
    roles = _roles(trees, 10)
    assert trees["core1"][10].is_root
    assert trees["core2"][10].root_port == "Te4"
    for acc in ("acc1", "acc2"):
        assert trees[acc][10].root_port == "Gi1"
        assert roles[(acc, "Gi2")] is Role.ALTERNATE
    assert roles[("core2", "Te2")] is Role.DESIGNATED
    # VLAN 1 has no priorities: the lowest MAC (acc1) is its root, as on an untuned network
    check_invariants(bridges, links, 1)
    assert trees["acc1"][1].is_root


def test_the_root_moves_per_vlan() -> None:
    bridges, links = _hq(core2={"priorities": ((1, 4096),)})
    trees = elect(bridges, links)
    assert trees["core2"][1].is_root
    assert trees["acc1"][10].is_root
    assert trees["core1"][1].root == trees["acc2"][1].root == trees["core2"][1].bridge


def test_a_vlan_not_allowed_on_a_trunk_is_not_linked_there() -> None:
    a = Bridge("a", "0000.0000.000a", ports=(Port("p1", 1, frozenset({1, 10})),), vlans=VLANS)
    b = Bridge("b", "0000.0000.000b", ports=(Port("p1", 1, frozenset({1})),), vlans=VLANS)
    trees = elect([a, b], _links("a:p1-b:p1"))
    assert trees["b"][1].root_port == "p1"
    assert 10 not in trees["b"]  # no port of b carries VLAN 10: no instance
    assert trees["a"][10].is_root


def test_parallel_cables_keep_the_lower_port_id() -> None:
    bridges = [
        _bridge("a", "0000.0000.000a", ["p1", "p2"]),
        _bridge("b", "0000.0000.000b", ["p1", "p2"]),
    ]
    links = _links("a:p2-b:p1", "a:p1-b:p2")
    check_invariants(bridges, links, 1)
    trees = elect(bridges, links)
    # equal cost and sender: the lower sender port ID (a's p1) wins, so b's p2 is its root port
    assert trees["b"][1].root_port == "p2"
    assert _roles(trees, 1)[("b", "p1")] is Role.ALTERNATE


def test_cost_and_legacy_neighbour() -> None:
    a = _bridge("a", "0000.0000.000a", ["p1", "p2"], mode="pvst")
    b = Bridge(
        "b",
        "0000.0000.000b",
        ports=(Port("p1", 1, VLANS, cost=100), Port("p2", 2, VLANS)),
        vlans=VLANS,
    )
    c = _bridge("c", "0000.0000.000c", ["p1", "p2"])
    links = _links("a:p1-b:p1", "a:p2-c:p1", "c:p2-b:p2")
    check_invariants([a, b, c], links, 1)
    trees = elect([a, b, c], links)
    assert trees["b"][1].root_port == "p2"  # 4 + 4 through c beats the direct 100
    assert trees["b"][1].root_cost == 8
    assert trees["b"][1].port("p1").peer_stp  # type: ignore[union-attr]
    assert trees["b"][1].port("p1").role is Role.ALTERNATE  # type: ignore[union-attr]


def test_two_islands_elect_a_root_each() -> None:
    bridges = [_bridge(n, f"0000.0000.000{n}", ["p1"]) for n in "abcd"]
    links = _links("a:p1-b:p1", "c:p1-d:p1")
    check_invariants(bridges, links, 1)
    trees = elect(bridges, links)
    assert trees["a"][1].is_root
    assert trees["c"][1].is_root
    assert not trees["b"][1].is_root
    assert not trees["d"][1].is_root


@pytest.mark.parametrize("seed", range(12))
def test_random_meshes_give_trees(seed: int) -> None:
    """Bounded random graphs (6-10 bridges, extra cables, random priorities and costs)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible graph, not a secret
    count = rng.randint(6, 10)
    ports: dict[str, list[Port]] = {f"s{n}": [] for n in range(count)}
    links: list[Link] = []

    def cable(a: str, b: str) -> None:
        pa = Port(f"p{len(ports[a]) + 1}", len(ports[a]) + 1, VLANS, cost=rng.choice([2, 4, 19]))
        pb = Port(f"p{len(ports[b]) + 1}", len(ports[b]) + 1, VLANS, cost=rng.choice([2, 4, 19]))
        ports[a].append(pa)
        ports[b].append(pb)
        links.append(Link((a, pa.name), (b, pb.name)))

    names = list(ports)
    for n in range(1, count):
        cable(names[n], names[rng.randrange(n)])
    for _ in range(rng.randint(1, count)):
        cable(*rng.sample(names, 2))
    bridges = [
        Bridge(
            name,
            f"0000.0000.{rng.randrange(16**4):04x}",
            tuple(ports[name]),
            VLANS,
            priorities=((10, rng.choice([4096, 24576, 32768])),),
        )
        for name in names
    ]
    for vlan in sorted(VLANS):
        check_invariants(bridges, links, vlan)


def test_settings_read_the_stored_lines() -> None:
    settings = settings_from(
        [
            "spanning-tree mode pvst",
            "spanning-tree portfast edge default",
            "spanning-tree vlan 1-3 priority 8192",
            "no spanning-tree vlan 40",
            "spanning-tree pathcost method long",
        ]
    )
    assert settings.mode == "pvst"
    assert settings.portfast_default
    assert settings.pathcost_long
    assert settings.priorities == ((1, 8192), (2, 8192), (3, 8192))
    assert settings.disabled == frozenset({40})


def test_priority_lines_as_ios_stores_them() -> None:
    lines = vlan_command(["spanning-tree", "vlan", "1-10", "priority", "4096"], []).lines
    lines = vlan_command(["spanning-tree", "vlan", "5", "priority", "8192"], lines).lines
    assert lines == [
        "spanning-tree vlan 1-4,6-10 priority 4096",
        "spanning-tree vlan 5 priority 8192",
    ]
    lines = vlan_command(["no", "spanning-tree", "vlan", "1-4", "priority"], lines).lines
    lines = vlan_command(["no", "spanning-tree", "vlan", "20"], lines).lines
    assert lines == [
        "spanning-tree vlan 5 priority 8192",
        "spanning-tree vlan 6-10 priority 4096",
        "no spanning-tree vlan 20",
    ]
    assert vlan_command(["spanning-tree", "vlan", "20"], lines).lines == lines[:2]
    refused = vlan_command(["spanning-tree", "vlan", "10", "priority", "100"], [])
    assert (refused.error, refused.message) == ("refused", PRIORITY_HELP)
    assert vlan_command(["spanning-tree", "vlan", "10", "priority", "65536"], []).error == "invalid"
    assert vlan_command(["spanning-tree", "vlan", "4095", "priority", "0"], []).error == "invalid"
    assert vlan_command(["spanning-tree", "vlan", "10", "priority"], []).error == "incomplete"


def test_root_primary_goes_below_the_current_root() -> None:
    def seen(root: BridgeId | None) -> object:
        return lambda _vlan: (root, "0000.0000.00ff")

    command = ["spanning-tree", "vlan", "10", "root", "primary"]
    assert vlan_command(command, [], seen(None)).lines == ["spanning-tree vlan 10 priority 24576"]
    # a root at the default priority: 24576 is enough
    default_root = BridgeId(32778, "0000.0000.0001")
    assert vlan_command(command, [], seen(default_root)).lines[0].endswith("priority 24576")
    # a root already at 8192: 4096 below it
    tuned_root = BridgeId(8192 + 10, "0000.0000.0001")
    assert vlan_command(command, [], seen(tuned_root)).lines[0].endswith("priority 4096")
    # a root at 0 with a lower MAC cannot be beaten
    failed = vlan_command(command, [], seen(BridgeId(10, "0000.0000.0001")))
    assert failed.error == "refused"
    assert "Failed to make the bridge root for vlan 10" in failed.message
    secondary = ["spanning-tree", "vlan", "10", "root", "secondary"]
    assert vlan_command(secondary, [], seen(tuned_root)).lines[0].endswith("priority 28672")


def test_only_spanning_tree_vlan_commands_are_rewritten() -> None:
    """``RO`` abbreviates ``root`` only after ``spanning-tree vlan N``."""
    tree = ConfigTree.build(
        "snmp-server community n3tw4rden RO 10\n"
        "spanning-tree vlan 10 ro pri\n"
        "spanning-tree vlan 20 hello-time 1\n"
    )
    assert tree.find("snmp-server community n3tw4rden RO 10") is not None
    assert tree.find("spanning-tree vlan 10 priority 24576") is not None
    assert tree.find("spanning-tree vlan 20 hello-time 1") is not None  # stored as typed
