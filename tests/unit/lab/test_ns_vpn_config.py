"""The site-to-site VPN's configs (no root): addressing, routes, checks of the other end."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import pytest

from netwarden.errors import LabError
from netwarden.lab.ns.vpn import TunnelEnds, config_text


def _config(role: str) -> list[str]:
    return config_text(
        role=role,
        index=2,
        directory=Path("/lab/vpn/t2"),
        local=IPv4Address("172.31.10.1" if role == "server" else "198.51.100.20"),
        remote=IPv4Address("198.51.100.20" if role == "server" else "172.31.10.1"),
        ends=TunnelEnds.of(IPv4Network("10.255.0.8/29")),
        routes=[IPv4Network("192.168.77.0/24"), IPv4Network("192.168.78.0/24")],
    ).splitlines()


def test_server_end_listens_on_its_wan_address_and_routes_the_partner_lans() -> None:
    lines = _config("server")
    assert {"dev nwvpn2", "local 172.31.10.1", "lport 1196", "topology subnet", "tls-server",
            "ifconfig 10.255.0.9 255.255.255.248", "remote-cert-tls client",
            "verify-x509-name vpn-client-2 name"} <= set(lines)  # fmt: skip
    assert "route 192.168.77.0 255.255.255.0 10.255.0.10" in lines
    assert "route 192.168.78.0 255.255.255.0 10.255.0.10" in lines
    assert not any(line.startswith("remote ") for line in lines)


def test_client_end_dials_the_server_and_checks_its_name() -> None:
    lines = _config("client")
    assert {"remote 172.31.10.1 1196", "nobind", "tls-client", "ifconfig 10.255.0.10 255.255.255.248",
            "remote-cert-tls server", "verify-x509-name vpn-server-2 name", "tls-crypt tls-crypt.key"} <= set(lines)  # fmt: skip
    assert "route 192.168.77.0 255.255.255.0 10.255.0.9" in lines


def test_a_tunnel_needs_two_hosts() -> None:
    with pytest.raises(LabError, match="needs two host addresses"):
        TunnelEnds.of(IPv4Network("10.255.0.0/31"))
