"""The namespace lab's plan (netwarden.lab.ns.plan): pure, no root.

Run on the example inventory and on a generated one (HQ + 3 field offices). Besides
names and addresses, a small forwarding model walks packets hop by hop through the
plan's addresses, bridges and routes (longest prefix, source rules), both ways, so a
missing or wrong route fails here before any namespace exists.
"""

from __future__ import annotations

import shutil
from collections import Counter
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest
import yaml

from netwarden.errors import LabPlanError
from netwarden.inventory import Inventory, load_inventory
from netwarden.inventory.generate import generate
from netwarden.inventory.models import Function
from netwarden.lab.ns.plan import CLIENTS_PER_ZONE, IFNAME_MAX, INTERNET_HOST, plan_lab
from netwarden.lab.ns.topology import LabPlan, Node, NodeKind, lab_id_for

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def example() -> Inventory:
    return load_inventory(REPO / "inventory")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    out = tmp_path_factory.mktemp("gen") / "inventory"
    generate(out, 3)
    return load_inventory(out)


@pytest.fixture(scope="module", params=["example", "generated"])
def case(request: pytest.FixtureRequest) -> tuple[Inventory, LabPlan]:
    inv: Inventory = request.getfixturevalue(request.param)
    return inv, plan_lab(inv, "ab12")


def test_names_fit_and_are_unique(case: tuple[Inventory, LabPlan]) -> None:
    _, plan = case
    ends = [e for v in plan.veths for e in (v.node, v.far)]
    names = [(e.netns, e.ifname) for e in ends]
    names += [(n.netns, b) for n in plan.nodes for b in n.bridges]
    assert all(1 <= len(ifname) <= IFNAME_MAX for _, ifname in names)
    assert len(names) == len(set(names))
    assert len({n.netns for n in plan.nodes}) == len(plan.nodes)
    assert len({n.name for n in plan.nodes}) == len(plan.nodes)
    assert all(n.netns.startswith(f"{plan.prefix}-") for n in plan.nodes)
    # lab-side interfaces carry the lab prefix (recognisable anywhere)
    assert all(v.far.ifname.startswith(plan.prefix) for v in plan.veths)


def test_every_inventory_address_is_held_once(case: tuple[Inventory, LabPlan]) -> None:
    inv, plan = case
    held = Counter(
        (node.name if node.kind is not NodeKind.FABRIC else node.site, a.ip)
        for node in plan.nodes
        for a in plan.addresses_of(node)
    )
    by_address = Counter(ip for _, ip in held)
    assert all(count == 1 for count in by_address.values()), [
        ip for ip, c in by_address.items() if c > 1
    ]
    for dev in inv.devices.values():
        owner = dev.site if dev.function is Function.SWITCH else dev.name
        for _, addr in dev.addresses():
            assert held[(owner, addr)] == 1, f"{dev.name} {addr} is not in {owner}"
    for site in inv.sites.values():
        assert by_address[site.wan.peer] == 1
        assert by_address[site.wan.address.ip] == 1


def test_clients_use_free_addresses_of_their_zone(case: tuple[Inventory, LabPlan]) -> None:
    inv, plan = case
    used = {a for d in inv.devices.values() for _, a in d.addresses()}
    used |= {zs.gateway for s in inv.sites.values() for zs in s.zones.values()}
    clients = [n for n in plan.nodes if n.kind is NodeKind.CLIENT]
    zones_with_clients = sum(
        1 for s in inv.sites.values() for z in s.zones if z in ("staff", "guests", "voice")
    )
    assert len(clients) == CLIENTS_PER_ZONE * zones_with_clients
    seen: set[IPv4Address] = set()
    for node in clients:
        (addr,) = plan.addresses_of(node)
        assert node.site is not None
        zone = node.name.split("-")[1]
        subnet = inv.sites[node.site].zones[zone].subnet
        assert addr.network == subnet
        assert addr.ip not in used
        assert addr.ip not in seen
        assert addr.ip >= subnet.broadcast_address - 1 - len(used)  # from the top
        seen.add(addr.ip)


def test_sensor_mirrors_every_bridge_port_of_its_site(case: tuple[Inventory, LabPlan]) -> None:
    inv, plan = case
    for site in inv.sites:
        fabric = plan.node(f"{site}-fabric")
        sensors = [n for n in plan.nodes if n.kind is NodeKind.SENSOR and n.site == site]
        assert sensors
        assert len(fabric.spans) == len(sensors)
        span_ends = {
            v.far.ifname
            for v in plan.veths
            if v.node.capture and v.node.netns in {s.netns for s in sensors}
        }
        assert set(fabric.spans) == span_ends
        site_nodes = {n.netns for n in plan.nodes if n.site == site and n is not fabric}
        attached = {
            v.far.ifname
            for v in plan.veths
            if v.node.netns in site_nodes and v.far.netns == fabric.netns and not v.node.capture
        }
        assert set(plan.mirrored_ports(fabric)) == attached
        assert not attached & span_ends
        assert {e.bridge for e in plan.ends_in(fabric.netns) if e.bridge} == set(fabric.bridges)


# --- a forwarding model over the plan -------------------------------------------------------


def _segments(plan: LabPlan) -> dict[IPv4Address, tuple[str, str]]:
    """Address -> (L2 segment, interface): the zone bridge, or the veth for point-to-point."""
    seg: dict[IPv4Address, tuple[str, str]] = {}
    for i, v in enumerate(plan.veths):
        where = f"{v.far.netns}/{v.far.bridge}" if v.far.bridge else f"veth{i}"
        for a in v.node.addresses:
            seg[a.ip] = (where, v.node.ifname)
        for a in v.far.addresses:
            seg[a.ip] = (where, v.far.ifname)
    for node in plan.nodes:
        for dev, a in node.local_addresses:
            seg[a.ip] = (f"{node.netns}/{dev}" if dev != "lo" else f"lo-{node.netns}", dev)
    return seg


def _owner(plan: LabPlan) -> dict[IPv4Address, Node]:
    return {a.ip: n for n in plan.nodes for a in plan.addresses_of(n)}


def _next_hop(plan: LabPlan, node: Node, src: IPv4Address, dst: IPv4Address) -> IPv4Address:
    """Where ``node`` sends a packet from ``src`` to ``dst``: dst itself or a gateway."""
    tables = [r.table for r in sorted(node.rules, key=lambda r: r.priority) if r.src == src]
    for table in [*tables, None]:
        candidates: list[tuple[int, IPv4Address]] = []
        if table is None:
            for a in plan.addresses_of(node):
                if dst in a.network and a.network.prefixlen < 32:
                    candidates.append((a.network.prefixlen, dst))
        for r in node.routes:
            if r.table != table:
                continue
            net = r.dst or IPv4Network("0.0.0.0/0")
            if dst in net:
                candidates.append((net.prefixlen, r.via or dst))
        if candidates:
            return max(candidates, key=lambda c: c[0])[1]
    raise AssertionError(f"{node.name}: no route from {src} to {dst}")


def _walk(plan: LabPlan, start: Node, src: IPv4Address, dst: IPv4Address) -> list[str]:
    owner, seg = _owner(plan), _segments(plan)
    here, path, came_on = start, [start.name], ""
    for _ in range(12):
        if here.strict_rp_filter and came_on:  # strict rp_filter: the way back is the way in
            back = _next_hop(plan, here, dst, src)
            assert seg[back][0] == came_on, f"{here.name} drops {src} -> {dst} (rp_filter)"
        if any(a.ip == dst for a in plan.addresses_of(here)):
            return path
        hop = _next_hop(plan, here, src, dst)
        mine = {seg[a.ip][0] for a in plan.addresses_of(here) if a.ip in seg}
        assert seg[hop][0] in mine, f"{here.name}: next hop {hop} is on no segment of it"
        if here is not start and not here.forwarding:
            raise AssertionError(f"{here.name} would have to forward {src} -> {dst}")
        came_on = seg[hop][0]
        here = owner[hop]
        path.append(here.name)
    raise AssertionError(f"{src} -> {dst}: no arrival in 12 hops: {path}")


def _both_ways(plan: LabPlan, a: Node, a_addr: IPv4Address, b_addr: IPv4Address) -> None:
    path = _walk(plan, a, a_addr, b_addr)
    back = _walk(plan, plan.node(path[-1]), b_addr, a_addr)
    assert back[-1] == a.name


def _primary(plan: LabPlan, node: Node) -> IPv4Address:
    """The source address a node's default route uses (the interface towards its gateway)."""
    default = next(r for r in node.routes if r.dst is None and r.table is None)
    assert default.via is not None
    return next(a.ip for a in plan.addresses_of(node) if default.via in a.network)


def test_routes_reach_across_sites_and_back(case: tuple[Inventory, LabPlan]) -> None:
    inv, plan = case
    hq = inv.hq().name
    servers = [n for n in plan.nodes if n.kind is NodeKind.SERVER and n.site == hq]
    clients = [n for n in plan.nodes if n.kind is NodeKind.CLIENT]
    for client in clients:
        src = _primary(plan, client)
        for server in servers:
            service = inv.devices[server.name].service_address()
            _both_ways(plan, client, src, service)
        _both_ways(plan, client, src, INTERNET_HOST.ip)
    # the management server reaches every device's management address, and back
    mon = next(n for n in servers if n.name.endswith("mon1"))
    for dev in inv.devices.values():
        if dev.name != mon.name:
            _both_ways(plan, mon, inv.devices[mon.name].mgmt_address, dev.mgmt_address)


def test_firewalls_route_and_filter_nothing_yet(case: tuple[Inventory, LabPlan]) -> None:
    inv, plan = case
    for fw in plan.firewalls:
        node = plan.node(fw.name)
        assert node.forwarding
        assert node.strict_rp_filter
        site = inv.sites[fw.site]
        assert len(node.routes) == 1
        assert node.routes[0].via == site.wan.peer
        assert {z for _, z in fw.zones} == {*site.zones, "wan"}
    wan = plan.node("wan")
    for site in inv.sites.values():
        for zs in site.zones.values():
            assert any(r.dst == zs.subnet and r.via == site.wan.address.ip for r in wan.routes)
    assert not any(r.dst is None for r in wan.routes), "the WAN has no default route: sealed"


def test_partner_reaches_only_its_vpn_peer_in_clear(example: Inventory) -> None:
    plan = plan_lab(example, "ab12")
    (partner,) = plan.partners
    node = plan.node(partner.name)
    assert partner.server_addr == example.sites["jed"].wan.address.ip
    # the whole organisation goes into the tunnel: the HQ firewall decides, not routing
    for site in example.sites.values():
        for zs in site.zones.values():
            assert any(zs.subnet.subnet_of(net) for net in partner.client_routes), zs.subnet
    _walk(plan, node, partner.client_addr, partner.server_addr)
    with pytest.raises(AssertionError, match="no route"):
        _walk(plan, node, partner.lan_addresses[0], IPv4Address("10.10.70.1"))


def test_hosts_for_the_servers_module(example: Inventory) -> None:
    plan = plan_lab(example, "ab12")
    hosts = {h.name: h for h in plan.hosts}
    assert {h.kind for h in hosts.values()} == {
        NodeKind.SERVER,
        NodeKind.SENSOR,
        NodeKind.FIREWALL,
    }
    ntp1 = hosts["jed-ntp1"]
    assert ntp1.services == ("ntp",)
    assert IPv4Address("10.10.20.13") in ntp1.ntp_upstreams  # the other NTP server
    assert IPv4Address("10.10.20.12") not in ntp1.ntp_upstreams  # not itself
    assert hosts["nyc-srv1"].site_networks == tuple(
        zs.subnet for zs in example.sites["nyc"].zones.values()
    )


def test_lab_id_changes_the_names_only(example: Inventory) -> None:
    a, b = plan_lab(example, "0000"), plan_lab(example, "ffff")
    assert [n.name for n in a.nodes] == [n.name for n in b.nodes]
    assert not set(a.namespaces()) & set(b.namespaces())
    assert lab_id_for("/srv/a") != lab_id_for("/srv/b")


def test_a_too_long_interface_name_is_refused(tmp_path: Path) -> None:
    inv_dir = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv_dir)
    host = inv_dir / "host_vars" / "nyc-srv1.yml"
    data = yaml.safe_load(host.read_text(encoding="utf-8"))
    data["interfaces"][1]["name"] = "servers-interface0"
    host.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(LabPlanError, match=r"servers-interface0.*1-15"):
        plan_lab(load_inventory(inv_dir), "ab12")
