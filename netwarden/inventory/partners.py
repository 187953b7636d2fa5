"""Where each partner's site-to-site VPN ends: its tunnel interface and UDP port.

One numbering for the renderer (the HQ firewall's ruleset accepts the tunnel and
treats its interface as the ``partners`` zone's) and the namespace lab (which
starts the tunnels): the partners sorted by name, the N-th (from 0) on UDP port
``1194 + N`` and the TUN device ``nwvpn<N>`` of the firewall that terminates it
(:mod:`netwarden.lab.ns.vpn` numbers a fresh lab's tunnels the same way).

Examples:
    >>> tunnel_port(0), tunnel_interface(1)
    (1194, 'nwvpn1')
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from netwarden.inventory.models import Inventory

VPN_BASE_PORT = 1194
TUNNEL_PREFIX = "nwvpn"
PARTNERS_ZONE = "partners"


def tunnel_port(index: int) -> int:
    return VPN_BASE_PORT + index


def tunnel_interface(index: int) -> str:
    return f"{TUNNEL_PREFIX}{index}"


@dataclass(frozen=True)
class PartnerTunnel:
    """One partner's tunnel as its terminating site's firewall sees it."""

    name: str
    site: str
    interface: str
    port: int
    peer: IPv4Address
    """The partner router's public address: the only source of the tunnel's UDP."""
    tunnel: IPv4Network
    networks: tuple[IPv4Network, ...]


def partner_tunnels(inv: Inventory, site: str | None = None) -> list[PartnerTunnel]:
    """Every partner's tunnel (those ending at ``site`` when given), by partner name."""
    out = []
    for index, (name, p) in enumerate(sorted(inv.partners.items())):
        if site is None or p.site == site:
            out.append(
                PartnerTunnel(
                    name=name,
                    site=p.site,
                    interface=tunnel_interface(index),
                    port=tunnel_port(index),
                    peer=p.public_address.ip,
                    tunnel=p.tunnel,
                    networks=tuple(p.networks),
                )
            )
    return out
