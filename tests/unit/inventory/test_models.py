"""Model-level rules: port specs, site selectors, waivers."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from netwarden.inventory.models import FlowEndpoint, PortRange, Protocol, Site, Waiver, WaiverScope


@pytest.mark.parametrize(
    ("text", "proto", "port", "inside"),
    [
        ("tcp/443", Protocol.TCP, 443, True),
        ("tcp/443", Protocol.UDP, 443, False),
        ("udp/16384-32767", Protocol.UDP, 20000, True),
        ("udp/16384-32767", Protocol.UDP, 16383, False),
        ("icmp", Protocol.ICMP, None, True),
    ],
)
def test_port_range(text: str, proto: Protocol, port: int | None, inside: bool) -> None:
    assert PortRange.parse(text).contains(proto, port) is inside


@pytest.mark.parametrize("bad", ["tcp/0", "tcp/70000", "sctp/9", "udp/20-10", "443"])
def test_port_range_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=repr(bad.lower())):
        PortRange.parse(bad)


def _site(name: str, role: str) -> Site:
    return Site.model_validate(
        {
            "name": name,
            "code": name.upper(),
            "city": name,
            "country": "ZZ",
            "role": role,
            "timezone": "UTC",
            "zones": {"mgmt": {"vlan": 10, "subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}},
            "wan": {"address": "172.31.0.1/30", "peer": "172.31.0.2"},
        }
    )


def test_site_selectors() -> None:
    hq, nyc, gva = _site("jed", "hq"), _site("nyc", "field"), _site("gva", "field")
    assert FlowEndpoint(zone="mgmt", site="hq").matches_site(hq, nyc)
    assert not FlowEndpoint(zone="mgmt", site="hq").matches_site(nyc, nyc)
    assert FlowEndpoint(zone="mgmt", site="field").matches_site(gva, hq)
    assert FlowEndpoint(zone="servers", site="same").matches_site(nyc, nyc)
    assert not FlowEndpoint(zone="servers", site="same").matches_site(gva, nyc)
    assert FlowEndpoint(zone="servers", site="gva").matches_site(gva, nyc)
    assert FlowEndpoint(zone="internet").matches_site(None, nyc)
    assert not FlowEndpoint(zone="internet").matches_site(nyc, nyc)


def test_gateway_outside_subnet_is_rejected() -> None:
    with pytest.raises(
        ValidationError, match=r"gateway 10\.0\.1\.1 is outside subnet 10\.0\.0\.0/24"
    ):
        Site.model_validate(
            {
                **_site("jed", "hq").model_dump(exclude={"src", "zones"}),
                "zones": {"mgmt": {"vlan": 10, "subnet": "10.0.0.0/24", "gateway": "10.0.1.1"}},
            }
        )


def test_waiver_scope_and_expiry() -> None:
    with pytest.raises(ValidationError, match="exactly one of device, site or pattern"):
        WaiverScope(device="a", site="b")
    w = Waiver(
        rule="r",
        scope=WaiverScope(site="kbl"),
        justification="satellite link only",
        approver="CISO",
        expires=date(2027, 6, 30),
    )
    assert not w.expired(date(2027, 6, 30))
    assert w.expired(date(2027, 7, 1))
