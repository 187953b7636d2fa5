"""The partner link in the HQ firewall's ruleset and the ``nftables_firewall`` role's toggles.

The partner's LAN (inventory ``partners:``) is HQ's ``partners`` zone reached over the
site-to-site VPN: the policy engine places it there, the HQ firewall accepts the
tunnel's UDP port from the partner's public address only, carries the partner's
networks (and nothing else) on the tunnel interface, and lets them reach only
what the flow policy publishes to ``partners``.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest

from netwarden.errors import RenderError
from netwarden.inventory import load_inventory
from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.models import Function, Inventory, Protocol
from netwarden.inventory.partners import partner_tunnels
from netwarden.render import render_config
from netwarden.render.nftables import render_firewall
from netwarden.render.nftmodel import build_firewall, evaluate, path_verdict
from netwarden.render.nftoptions import NftOptions

PARTNER = IPv4Address("192.168.170.1")
PEER = IPv4Address("203.0.113.2")
DMZ = IPv4Address("10.10.60.10")


@pytest.fixture(scope="module")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


def test_the_engine_places_the_partner_lan_in_hqs_partners_zone(inv: Inventory) -> None:
    engine = FlowPolicyEngine(inv)
    assert engine.place(PARTNER).label == "jed/partners"
    assert engine.decide(PARTNER, DMZ, Protocol.TCP, 443).allowed
    assert not engine.decide(PARTNER, IPv4Address("10.10.20.10"), Protocol.TCP, 443).allowed


def test_one_numbering_for_the_tunnels(inv: Inventory) -> None:
    (t,) = partner_tunnels(inv)
    assert (t.name, t.site, t.interface, t.port, t.peer) == (
        "ms-mofa",
        "jed",
        "nwvpn0",
        1194,
        PEER,
    )
    assert partner_tunnels(inv, "nyc") == []


def test_hq_accepts_the_tunnel_from_the_partner_only(inv: Inventory) -> None:
    text = render_firewall(inv, inv.devices["jed-fw1"])
    assert 'iifname "wan0" ip saddr 203.0.113.2 udp dport 1194 counter name "vpn" accept' in text
    assert 'iifname "nwvpn0" ip saddr != @partner_ms_mofa counter name "spoofed" drop' in text
    assert "192.168.170.0/24" in text.split("set partner_ms_mofa {", 1)[1].split("}", 1)[0]
    fw = build_firewall(inv, inv.devices["jed-fw1"])
    assert fw.route(PARTNER) == "nwvpn0"
    # an internet host on the VPN port is no tunnel
    assert evaluate(fw, IPv4Address("198.51.100.10"), fw.mgmt_address, Protocol.UDP, 1194)[0] == (
        "drop"
    )
    for name in ("nyc-fw1", "gva-fw1"):
        assert "nwvpn" not in render_firewall(inv, inv.devices[name])


def test_the_partner_reaches_only_what_is_published(inv: Inventory) -> None:
    fws = [build_firewall(inv, d) for d in inv.devices.values() if d.function is Function.FIREWALL]
    engine = FlowPolicyEngine(inv)
    ok, hops = path_verdict(fws, PARTNER, DMZ, Protocol.TCP, 443)
    assert ok, hops
    assert hops == [("jed-fw1", "accept", "partners-dmz")]
    for site in inv.sites.values():
        for zone, zs in site.zones.items():
            dst = zs.subnet.network_address + 10
            for proto, port in ((Protocol.TCP, 22), (Protocol.TCP, 443), (Protocol.UDP, 53)):
                allowed, _ = path_verdict(fws, PARTNER, dst, proto, port)
                assert allowed == engine.decide(PARTNER, dst, proto, port).allowed, (
                    site.name,
                    zone,
                    port,
                )
    # a forged source on the tunnel is spoofed, even to the published service
    fw = next(f for f in fws if f.device == "jed-fw1")
    forged = IPv4Address("10.10.30.10")  # hq staff, claimed from the tunnel
    assert fw.route(forged) != "nwvpn0"  # (the evaluator routes by source: check the chain)
    from netwarden.render.nftmodel import _Pkt, _run

    pkt = _Pkt(forged, DMZ, Protocol.TCP, 443, "nwvpn0", "dmz0")
    assert _run(fw, "forward", pkt)[0] == "drop"


def test_toggles_leave_their_part_out(inv: Inventory) -> None:
    jed = inv.devices["jed-fw1"]
    full = render_firewall(inv, jed)
    assert render_config(inv, jed, {}) == full  # no options: what `netwarden render` prints
    off = lambda **kw: render_firewall(  # noqa: E731
        inv, jed, {f"nftables_firewall_{k}": v for k, v in kw.items()}
    )
    assert "log prefix" not in off(log_drops_enabled=False)
    assert "limit rate 5/minute log prefix" in off(log_rate="5/minute")
    assert '@partner_ms_mofa counter name "spoofed"' not in off(antispoof_enabled=False)
    assert "nwvpn0" not in off(partners_enabled=False)
    cut = off(management_path_enabled=False)
    cut_input = cut.split("chain input {", 1)[1].split("\n\t}", 1)[0]
    assert "ct state established,related accept" not in cut_input  # the open session too
    assert "ct state established,related accept" in cut.split("chain forward {", 1)[1]
    assert "mgmt-devices: jed/mgmt -> jed-fw1" in full
    assert "mgmt-devices: jed/mgmt -> jed-fw1" not in cut
    fw = build_firewall(inv, jed, NftOptions(management_path_enabled=False))
    assert evaluate(fw, IPv4Address("10.10.10.10"), fw.mgmt_address, Protocol.TCP, 22)[0] == (
        "drop"
    )


def test_nat_toggle(inv: Inventory) -> None:
    sites = dict(inv.sites)
    jed = sites["jed"]
    nat = inv.model_copy(
        update={
            "sites": {
                **sites,
                "jed": jed.model_copy(
                    update={"wan": jed.wan.model_copy(update={"masquerade": True})}
                ),
            }
        }
    )
    dev = nat.devices["jed-fw1"]
    assert "masquerade" in render_firewall(nat, dev)
    assert "masquerade" not in render_firewall(nat, dev, {"nftables_firewall_nat_enabled": False})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("nftables_firewall_log_rate", "10/second; flush ruleset"),
        ("nftables_firewall_nat_enabled", "no"),
    ],
)
def test_bad_toggles_are_refused(inv: Inventory, key: str, value: object) -> None:
    with pytest.raises(RenderError, match=key):
        render_firewall(inv, inv.devices["jed-fw1"], {key: value})
