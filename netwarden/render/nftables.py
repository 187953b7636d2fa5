"""The nftables ruleset of a site firewall, as an ``nft -f`` file, from the flow policy.

:func:`render_firewall` prints the rules :func:`~netwarden.render.nftmodel.build_firewall`
derives from the inventory (see that module for which flows a firewall holds).
The file starts with ``flush ruleset`` and declares the one table
``inet netwarden``: ``nft -f`` applies it as one transaction, so the firewall
goes from the old ruleset to the new one atomically (or keeps the old one when
the file fails to load); the whole ruleset is netwarden's.

Inside the table:

- one interval set per zone of the site (``zone_<zone>``, anti-spoofing and the
  rules' sources and destinations), ``local_nets`` (the site's subnets: nothing
  from the WAN may claim them) and ``not_internet`` (every site subnet and the
  private, loopback and link-local ranges: the ``internet`` zone is what is
  outside it, as for the policy engine);
- one named counter per policy rule the firewall holds (named after the rule id),
  and ``spoofed``, ``invalid``, ``drop_input``, ``drop_forward``;
- ``input`` and ``forward`` (policy drop): established/related accepted, invalid
  dropped, ``jump antispoof``, the policy's rules, a rate-limited log
  (``nw-drop <chain>:``) and a counted drop; ``input`` also accepts loopback and
  holds only the management path to the firewall's management address;
- ``output`` (policy accept: the firewall's own NTP, syslog, DNS);
- ``postrouting`` (NAT) only when the site's ``wan.masquerade`` is true:
  masquerade what leaves by the WAN for the internet;
- at a site where a partner's VPN ends: ``partner_<name>`` (the partner's
  networks, the only sources its tunnel interface may carry) and, in ``input``,
  the tunnel's UDP port from the partner's public address (counter ``vpn``).

The ``nftables_firewall`` role's toggles (:class:`~netwarden.render.nftoptions.NftOptions`)
leave parts out; without them the full ruleset is printed.

Deterministic: the same inventory prints the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from ipaddress import IPv4Network

from netwarden.inventory.models import Device, Function, Inventory, Platform, Protocol
from netwarden.render.nftmodel import (
    NOT_INTERNET_SET,
    TABLE,
    Addr,
    Firewall,
    Rule,
    build_firewall,
)
from netwarden.render.nftoptions import LOG_RATE, NftOptions
from netwarden.render.platforms import register_renderer

HEADER = "#!/usr/sbin/nft -f\n# {device}: rendered by netwarden from the inventory's flow policy; do not edit.\n"


def render_firewall(
    inv: Inventory, device: Device, options: Mapping[str, object] | None = None
) -> str:
    """The whole ruleset of one site firewall as an ``nft -f`` file.

    ``options``: the role's variables (``nftables_firewall_*``, :meth:`NftOptions.from_vars`).
    """
    return render_model(build_firewall(inv, device, NftOptions.from_vars(options)))


def render_model(fw: Firewall) -> str:
    """Print a :class:`Firewall` as an ``nft -f`` file."""
    lines = [HEADER.format(device=fw.device), "flush ruleset", "", f"table inet {TABLE} {{"]
    for name in fw.counters:
        lines.append(f"\tcounter {name} {{\n\t}}")
    for name, nets in fw.sets.items():
        lines += [
            f"\tset {name} {{",
            "\t\ttype ipv4_addr",
            "\t\tflags interval",
            f"\t\telements = {{ {', '.join(_net(n) for n in nets)} }}",
            "\t}",
        ]
    lines += ["", "\tchain antispoof {"]
    lines += [f"\t\t{_rule(r, fw.log_rate)}" for r in fw.chains["antispoof"]]
    lines.append("\t}")
    for chain in ("input", "forward"):
        lines += [
            "",
            f"\tchain {chain} {{",
            f"\t\ttype filter hook {chain} priority filter; policy drop;",
        ]
        lines += [f"\t\t{_rule(r, fw.log_rate)}" for r in fw.chains[chain]]
        lines.append("\t}")
    lines += [
        "",
        "\tchain output {",
        "\t\ttype filter hook output priority filter; policy accept;",
        "\t}",
    ]
    if fw.masquerade:
        lines += [
            "",
            "\tchain postrouting {",
            "\t\ttype nat hook postrouting priority srcnat; policy accept;",
            f'\t\toifname "{fw.wan}" ip daddr != @{NOT_INTERNET_SET} masquerade',
            "\t}",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _net(n: IPv4Network) -> str:
    return str(n.network_address) if n.prefixlen == 32 else str(n)


def _addr(a: Addr) -> str:
    neg = "!= " if a.negate else ""
    if a.set_name is not None:
        return f"{neg}@{a.set_name}"
    if len(a.nets) == 1:
        return f"{neg}{_net(a.nets[0])}"
    return f"{neg}{{ {', '.join(_net(n) for n in a.nets)} }}"


def _ports(ports: tuple[tuple[int, int], ...]) -> str:
    items = [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in ports]
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _rule(r: Rule, rate: str = LOG_RATE) -> str:
    words: list[str] = []
    if r.iif is not None:
        words.append(f'iifname "{r.iif}"')
    if r.ct_state:
        words.append(f"ct state {','.join(r.ct_state)}")
    if r.saddr is not None:
        words.append(f"ip saddr {_addr(r.saddr)}")
    if r.oif is not None:
        words.append(f'oifname "{r.oif}"')
    if r.daddr is not None:
        words.append(f"ip daddr {_addr(r.daddr)}")
    if r.proto is Protocol.ICMP:
        words.append("meta l4proto icmp")
    elif r.proto is not None:
        words.append(
            f"{r.proto.value} dport {_ports(r.ports)}"
            if r.ports
            else f"meta l4proto {r.proto.value}"
        )
    if r.log_prefix is not None:
        words.append(f'limit rate {rate} log prefix "{r.log_prefix}" level info')
    if r.counter is not None:
        words.append(f'counter name "{r.counter}"')
    if r.verdict in ("jump", "goto"):
        words.append(f"{r.verdict} {r.target}")
    elif r.verdict is not None:
        words.append(r.verdict)
    if r.comment is not None and r.policy_rule is not None:
        words.append(f'comment "{r.comment}"')
    return " ".join(words)


class NftablesRenderer:
    """Site firewalls: ``platform: linux``, ``model: nftables``, function firewall."""

    name = "nftables"
    suffix = ".nft"

    def handles(self, device: Device) -> bool:
        return (
            device.platform is Platform.LINUX
            and device.function is Function.FIREWALL
            and device.model.lower() == "nftables"
        )

    def render(
        self, inv: Inventory, device: Device, options: Mapping[str, object] | None = None
    ) -> str:
        return render_firewall(inv, device, options)


register_renderer(NftablesRenderer())
