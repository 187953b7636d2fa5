"""The nftables ruleset of the site firewalls (issue 15): structure, determinism, and the
connection matrix: for every cell the rendered firewalls (evaluated on their own rule
model) and the flow policy engine agree."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.matrix import connection_matrix
from netwarden.inventory.models import Function, Inventory, Protocol
from netwarden.render import renderer_for
from netwarden.render.nftables import render_firewall, render_model
from netwarden.render.nftmodel import Firewall, build_firewall, evaluate, path_verdict


@pytest.fixture(scope="module")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


@pytest.fixture(scope="module")
def firewalls(inv: Inventory) -> list[Firewall]:
    return [build_firewall(inv, d) for d in inv.devices.values() if d.function is Function.FIREWALL]


FIREWALLS = ["jed-fw1", "nyc-fw1", "gva-fw1", "bru-fw1", "kbl-fw1"]


@pytest.mark.parametrize("name", FIREWALLS)
def test_ruleset_structure(inv: Inventory, name: str) -> None:
    text = render_firewall(inv, inv.devices[name])
    lines = [line.strip() for line in text.splitlines()]
    assert lines[3] == "flush ruleset"
    assert lines.count("table inet netwarden {") == 1
    for chain in ("input", "forward"):
        assert f"type filter hook {chain} priority filter; policy drop;" in lines
        body = text.split(f"chain {chain} {{", 1)[1].split("\n\t}", 1)[0].strip().splitlines()
        assert body[1].strip() in ("ct state established,related accept", 'iifname "lo" accept')
        assert (
            body[-2]
            .strip()
            .startswith(f'limit rate 10/second burst 20 packets log prefix "nw-drop {chain}: "')
        )
        assert body[-1].strip() == f'counter name "drop_{chain}" drop'
    assert "type filter hook output priority filter; policy accept;" in lines
    for iface in inv.devices[name].interfaces:
        if iface.zone:
            assert (
                f'iifname "{iface.name}" ip saddr != @zone_{iface.zone} counter name "spoofed" drop'
                in lines
            )
    assert 'iifname "wan0" ip saddr @local_nets counter name "spoofed" drop' in lines
    assert "masquerade" not in text  # the example inventory asks for no NAT
    # every policy rule's counter is declared and used
    for counter in {w.split('"')[1] for w in text.split("counter name ")[1:]}:
        assert f"counter {counter} {{" in text


def test_management_path_stays_open(inv: Inventory, firewalls: list[Firewall]) -> None:
    hq_mgmt = IPv4Address("10.10.10.10")
    for fw in firewalls:
        assert evaluate(fw, hq_mgmt, fw.mgmt_address, Protocol.TCP, 22) == (
            "accept",
            "mgmt-devices",
        )
        # nothing else reaches the firewall: staff ssh, or hq mgmt on an unlisted port
        staff = IPv4Address(str(inv.sites[fw.site].zones["staff"].subnet.network_address + 10))
        assert evaluate(fw, staff, fw.mgmt_address, Protocol.TCP, 22)[0] == "drop"
        assert evaluate(fw, hq_mgmt, fw.mgmt_address, Protocol.TCP, 23)[0] == "drop"


def test_antispoofing_drops_a_forged_source(firewalls: list[Firewall]) -> None:
    nyc = next(fw for fw in firewalls if fw.site == "nyc")
    # nyc staff to hq https is allowed; the same packet claiming a guests address is not
    ok = evaluate(nyc, IPv4Address("10.11.30.10"), IPv4Address("10.10.20.10"), Protocol.TCP, 443)
    assert ok == ("accept", "staff-hq-services")
    from netwarden.render.nftmodel import _Pkt, _run

    forged = _Pkt(
        IPv4Address("10.11.40.10"), IPv4Address("10.10.20.10"), Protocol.TCP, 443, "staff0", "wan0"
    )
    assert _run(nyc, "forward", forged) == ("drop", None)
    from_wan = _Pkt(
        IPv4Address("10.11.30.10"),
        IPv4Address("10.11.20.10"),
        Protocol.TCP,
        445,
        "wan0",
        "servers0",
    )
    assert _run(nyc, "forward", from_wan) == ("drop", None)


def test_every_matrix_cell_agrees_with_the_policy(
    inv: Inventory, firewalls: list[Firewall]
) -> None:
    cells = connection_matrix(inv, engine=FlowPolicyEngine(inv))
    assert len(cells) > 10000
    allowed = 0
    wrong: list[str] = []
    for cell in cells:
        ok, hops = path_verdict(
            firewalls, cell.src.address, cell.dst.address, cell.proto, cell.port
        )
        if ok != cell.allowed:
            wrong.append(f"{cell.flow}: policy {cell.reason}, firewalls {hops}")
        elif ok:
            allowed += 1
            # the counter that counts it is the policy rule's, on every firewall crossed
            assert {rule for _, _, rule in hops} == {cell.rule}, cell.flow
    assert not wrong, "\n".join(wrong[:20])
    # both kinds occur, and cross-site flows cross two firewalls
    assert 0 < allowed < len(cells)
    _, hops = path_verdict(
        firewalls, IPv4Address("10.11.30.10"), IPv4Address("10.10.20.10"), Protocol.TCP, 443
    )
    assert [h[0] for h in hops] == ["jed-fw1", "nyc-fw1"]


@pytest.mark.parametrize(
    ("src", "dst", "proto", "port"),
    [
        ("10.10.40.10", "10.10.20.10", Protocol.TCP, 22),  # guests -> servers ssh
        ("10.11.30.10", "10.10.10.10", Protocol.TCP, 22),  # field staff -> HQ mgmt
        ("10.10.70.10", "10.10.20.10", Protocol.TCP, 443),  # partners -> unpublished
        ("198.51.100.10", "10.10.20.10", Protocol.TCP, 443),  # the internet inward
        (
            "10.11.30.10",
            "10.12.20.10",
            Protocol.TCP,
            445,
        ),  # staff -> another field office's servers
    ],
)
def test_forbidden_flows_are_dropped(
    firewalls: list[Firewall], src: str, dst: str, proto: Protocol, port: int
) -> None:
    ok, hops = path_verdict(firewalls, IPv4Address(src), IPv4Address(dst), proto, port)
    assert not ok
    assert any(v == "drop" for _, v, _ in hops)


def test_rendering_is_deterministic(inv: Inventory, example_inventory: Path) -> None:
    again = load_inventory(example_inventory)
    for name in FIREWALLS:
        text = render_firewall(inv, inv.devices[name])
        assert text == render_firewall(again, again.devices[name])
        assert text == render_model(build_firewall(inv, inv.devices[name]))


def test_masquerade_only_where_the_inventory_asks(inv: Inventory) -> None:
    jed = inv.sites["jed"]
    nat = inv.model_copy(
        update={
            "sites": {
                **inv.sites,
                "jed": jed.model_copy(
                    update={"wan": jed.wan.model_copy(update={"masquerade": True})}
                ),
            }
        }
    )
    text = render_firewall(nat, nat.devices["jed-fw1"])
    assert 'oifname "wan0" ip daddr != @not_internet masquerade' in text
    assert "type nat hook postrouting priority srcnat; policy accept;" in text
    assert "masquerade" not in render_firewall(nat, nat.devices["nyc-fw1"])


def test_renderers_are_registered_by_platform(inv: Inventory) -> None:
    kinds = {d.name: (r.name if (r := renderer_for(d)) else None) for d in inv.devices.values()}
    assert kinds["nyc-fw1"] == "nftables"
    assert kinds["nyc-acc-sw1"] == "ios"
    assert kinds["nyc-srv1"] is None
    assert kinds["nyc-sensor1"] is None
