"""Layer-3 show commands: routes, VRFs, IPv6 neighbours, and ``traceroute``.

The routing table is the one the config makes: a connected and a local route for
each address of an interface that is up, the static routes (``ip route``, also
per VRF), and ``ip default-gateway`` as the candidate default when no static
default exists (the simulated switches route between their SVIs). ``traceroute``
follows that table: a connected destination is one hop away, one behind a static
next hop two, and one without a route never answers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from netwarden.lab.sim.showmodel import ShowContext
from netwarden.lab.sim.shows_util import abbreviate, config_lines, config_value

_CODES = """\
Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP
       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2
       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2
       ia - IS-IS inter area, * - candidate default, U - per-user static route
       o - ODR, P - periodic downloaded static route, H - NHRP, l - LISP
       a - application route
       + - replicated route, % - next hop override, p - overrides from PfR
"""
_STATIC = re.compile(
    r"ip route (?:vrf (?P<vrf>\S+) )?(?P<net>[\d.]+) (?P<mask>[\d.]+) (?P<via>\S+)(?: (?P<ad>\d+))?"
)


@dataclass(frozen=True)
class Route:
    """One route of the table: ``code`` is IOS's letter (C, L, S)."""

    code: str
    network: ipaddress.IPv4Network
    next_hop: str = ""  # "" for connected routes
    interface: str = ""  # "" for a static route via a next hop only
    distance: int = 0
    candidate_default: bool = False


def routes(ctx: ShowContext, vrf: str = "") -> list[Route]:
    """The routing table of ``vrf`` ("" = the global table), sorted as IOS lists it."""
    table: list[Route] = []
    for itf in ctx.interfaces:
        if itf.vrf != vrf or itf.shutdown or not itf.line_protocol_up:
            continue
        for address, plen in itf.ipv4:
            network = ipaddress.IPv4Interface(f"{address}/{plen}").network
            table.append(Route("C", network, interface=itf.name))
            if plen < 32:
                table.append(Route("L", ipaddress.IPv4Network(f"{address}/32"), interface=itf.name))
    for match in config_lines(ctx.running_config, _STATIC.pattern):
        if (match["vrf"] or "") != vrf:
            continue
        try:
            network = ipaddress.IPv4Network(f"{match['net']}/{match['mask']}", strict=False)
        except ValueError:
            continue
        via = match["via"]
        is_ip = re.fullmatch(r"[\d.]+", via) is not None
        table.append(
            Route(
                "S",
                network,
                next_hop=via if is_ip else "",
                interface="" if is_ip else via,
                distance=int(match["ad"] or 1),
                candidate_default=network.prefixlen == 0,
            )
        )
    gateway = config_value(ctx.running_config, r"ip default-gateway (\S+)")
    if not vrf and gateway and not any(r.network.prefixlen == 0 for r in table):
        table.append(
            Route(
                "S",
                ipaddress.IPv4Network("0.0.0.0/0"),
                next_hop=gateway,
                distance=1,
                candidate_default=True,
            )
        )
    return sorted(table, key=lambda r: (r.network.network_address, r.network.prefixlen))


def lookup(
    table: Sequence[Route], address: str, mask: str = "", *, default: bool = True
) -> Route | None:
    """The longest-prefix match for ``address`` (or the exact ``address mask`` route).

    ``default=False`` leaves out the default route, as ``show ip route ADDRESS``
    does on IOS (``% Network not in table``), while forwarding uses it.
    """
    if mask:
        wanted = ipaddress.IPv4Network(f"{address}/{mask}", strict=False)
        return next((r for r in table if r.network == wanted), None)
    target = ipaddress.IPv4Address(address)
    matches = [
        r
        for r in table
        if target in r.network and (default or r.network.prefixlen or not int(target))
    ]
    return max(matches, key=lambda r: r.network.prefixlen) if matches else None


def _age(ctx: ShowContext) -> str:
    days, rest = divmod(int(ctx.uptime_seconds), 86400)
    return f"{days // 7}w{days % 7}d" if days >= 7 else f"{days}d{rest // 3600:02d}h"


def _route_line(route: Route, indent: int, with_mask: bool) -> str:
    code = route.code + ("*" if route.candidate_default else "")
    prefix = str(route.network) if with_mask else str(route.network.network_address)
    head = f"{code:<{indent}}{prefix}"
    if route.code in ("C", "L"):
        return f"{head} is directly connected, {route.interface}"
    if route.next_hop:
        return f"{head} [{route.distance}/0] via {route.next_hop}"
    return f"{head} is directly connected, {route.interface}"


def _classful(network: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    first = int(network.network_address) >> 24
    plen = 8 if first < 128 else 16 if first < 192 else 24
    return ipaddress.IPv4Network(f"{network.network_address}/{plen}", strict=False)


def _table_text(table: Sequence[Route], vrf: str) -> str:
    lines = [f"\nRouting Table: {vrf}"] if vrf else []
    lines.append(_CODES)
    default = next((r for r in table if r.candidate_default and r.next_hop), None)
    if default is not None:
        lines.append(f"Gateway of last resort is {default.next_hop} to network 0.0.0.0\n")
    else:
        lines.append("Gateway of last resort is not set\n")
    groups: dict[ipaddress.IPv4Network, list[Route]] = {}
    for route in table:
        major = _classful(route.network)
        key = major if route.network.prefixlen > major.prefixlen else route.network
        groups.setdefault(key, []).append(route)
    for major, members in groups.items():
        if len(members) == 1 and members[0].network == major:
            lines.append(_route_line(members[0], 6, True))
            continue
        masks = {r.network.prefixlen for r in members}
        subnets = f"{len(members)} subnet" + ("s" if len(members) > 1 else "")
        if len(masks) == 1:
            mask = next(iter(masks))
            lines.append(f"      {major.network_address}/{mask} is subnetted, {subnets}")
        else:
            lines.append(f"      {major} is variably subnetted, {subnets}, {len(masks)} masks")
        lines += [_route_line(r, 9, len(masks) > 1) for r in members]
    return "\n".join(lines)


def _entry_text(route: Route) -> str:
    supernet = ", supernet" if route.network.prefixlen < _classful(route.network).prefixlen else ""
    lines = [f"Routing entry for {route.network}{supernet}"]
    if route.code in ("C", "L"):
        lines += [
            '  Known via "connected", distance 0, metric 0 (connected, via interface)',
            "  Routing Descriptor Blocks:",
            f"  * directly connected, via {route.interface}",
        ]
    else:
        default = ", candidate default path" if route.candidate_default else ""
        lines += [
            f'  Known via "static", distance {route.distance}, metric 0{default}',
            "  Routing Descriptor Blocks:",
            f"  * {route.next_hop}"
            if route.next_hop
            else f"  * directly connected, via {route.interface}",
        ]
    lines.append("      Route metric is 0, traffic share count is 1")
    return "\n".join(lines)


def ip_route(ctx: ShowContext, args: Sequence[str]) -> str | None:  # noqa: PLR0911 - one return per form of the command
    """``show ip route [vrf NAME] [connected|static|ADDRESS [MASK]]``."""
    words = list(args)
    vrf = ""
    if words and "vrf".startswith(words[0].lower()) and len(words[0]) > 1:
        if len(words) < 2:
            return None
        vrf, words = words[1], words[2:]
        if vrf not in vrf_names(ctx):
            return f"% IP routing table {vrf} does not exist"
    table = routes(ctx, vrf)
    if not words:
        return _table_text(table, vrf)
    keyword = words[0].lower()
    for code, name in (("C", "connected"), ("S", "static")):
        if len(words) == 1 and len(keyword) > 1 and name.startswith(keyword):
            codes = ("C", "L") if code == "C" else (code,)
            return _table_text([r for r in table if r.code in codes], vrf)
    try:
        ipaddress.IPv4Address(words[0])
        if len(words) > 1:
            ipaddress.IPv4Network(f"0.0.0.0/{words[1]}")
    except ValueError:
        return None
    if len(words) > 2:
        return None
    route = lookup(table, words[0], words[1] if len(words) > 1 else "", default=False)
    if route is None:
        return "% Subnet not in table" if len(words) > 1 else "% Network not in table"
    return _entry_text(route)


def vrf_names(ctx: ShowContext) -> list[str]:
    return [m.group(2) for m in config_lines(ctx.running_config, r"(vrf definition|ip vrf) (\S+)")]


def _vrf_sections(ctx: ShowContext) -> list[tuple[str, str, list[str]]]:
    """(name, RD, protocols) of each VRF of the config."""
    found: list[tuple[str, str, list[str]]] = []
    current: tuple[str, str, list[str]] | None = None
    for line in ctx.running_config.splitlines():
        header = re.match(r"(vrf definition|ip vrf) (\S+)$", line)
        if header:
            current = (
                header.group(2),
                "<not set>",
                ["ipv4"] if header.group(1) == "ip vrf" else [],
            )
            found.append(current)
            continue
        if current is None or not line.startswith(" "):
            current = None
            continue
        words = line.split()
        if words[0] == "rd" and len(words) > 1:
            found[-1] = current = (current[0], words[1], current[2])
        elif words[0] == "address-family" and len(words) > 1:
            current[2].append(words[1])
    return found


def vrf(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show vrf``: the VRFs of the config, their RD, protocols and interfaces."""
    if args:
        return None
    sections = _vrf_sections(ctx)
    if not sections:
        return ""
    lines = ["  Name                             Default RD            Protocols   Interfaces"]
    for name, rd, protocols in sections:
        members = [abbreviate(i.name) for i in ctx.interfaces if i.vrf == name]
        head = f"  {name:<33}{rd:<22}{','.join(protocols) or '<none>':<12}"
        lines.append((head + (members[0] if members else "")).rstrip())
        lines += [" " * 69 + member for member in members[1:]]
    return "\n".join(lines)


def _neighbor_host(network: ipaddress.IPv6Network, own: ipaddress.IPv6Address) -> str:
    first = network.network_address + 1
    return str(first if first != own else first + 1).upper()


def _link_local(mac: str) -> str:
    """The EUI-64 link-local address of a MAC (``FE80::211:22FF:FE00:1``)."""
    value = int(mac.replace(".", ""), 16) ^ (1 << 41)
    digits = f"{value:012x}"
    eui = digits[:6] + "fffe" + digits[6:]
    return str(
        ipaddress.IPv6Address(f"fe80::{eui[0:4]}:{eui[4:8]}:{eui[8:12]}:{eui[12:16]}")
    ).upper()


def ipv6_neighbors(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show ipv6 neighbors``: the first other host of each IPv6 prefix of an interface that is up."""
    if args:
        return None
    lines = ["IPv6 Address                              Age Link-layer Addr State Interface"]
    for itf in ctx.interfaces:
        if itf.shutdown or not itf.line_protocol_up:
            continue
        for text in itf.ipv6:
            address = ipaddress.IPv6Interface(text)
            digest = hashlib.sha256(f"{ctx.hostname}/{itf.name}/v6".encode()).hexdigest()
            mac = f"0050.{digest[0:4]}.{digest[4:8]}"
            for neighbor in (_neighbor_host(address.network, address.ip), _link_local(mac)):
                lines.append(f"{neighbor:<40}{0:>5} {mac}  REACH {abbreviate(itf.name)}")
    return "\n".join(lines) + "\n"


def resolve_host(ctx: ShowContext, target: str) -> str | None:
    """The IPv4 address of ``target`` (an address, or an ``ip host`` name); None if unknown."""
    try:
        return str(ipaddress.IPv4Address(target))
    except ValueError:
        return next(
            (address for name, address in ctx.hosts if name.lower() == target.lower()), None
        )


def traceroute(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``traceroute [vrf NAME] DEST [source X] [ttl MIN MAX] [timeout N]`` along the table."""
    words = list(args)
    vrf_name = ""
    if len(words) >= 2 and words[0].lower() == "vrf":
        vrf_name, words = words[1], words[2:]
    if not words:
        return None
    target = words[0]
    max_ttl = 30
    if "ttl" in [w.lower() for w in words]:
        index = [w.lower() for w in words].index("ttl")
        tail = words[index + 1 : index + 3]
        if len(tail) == 2 and tail[1].isdigit():
            max_ttl = max(1, min(int(tail[1]), 255))
    address = resolve_host(ctx, target)
    if address is None:
        return (
            f'Translating "{target}"...domain server (255.255.255.255)\n'
            "% Unrecognized host or address, or protocol not running.\n"
        )
    lines = [
        "Type escape sequence to abort.",
        f"Tracing the route to {address}",
        "VRF info: (vrf in name/id, vrf out name/id)",
    ]
    route = lookup(routes(ctx, vrf_name), address)
    hops: list[str] = []
    if route is not None and route.code in ("C", "L"):
        hops = [address]
    elif route is not None and route.next_hop:
        hops = [route.next_hop] if route.next_hop == address else [route.next_hop, address]
    for number in range(1, max_ttl + 1):
        if number <= len(hops):
            rtt = 1 + number
            lines.append(f"{number:>3} {hops[number - 1]} {rtt} msec {rtt - 1} msec {rtt} msec")
        else:
            lines.append(f"{number:>3}  *  *  * ")
        if number == len(hops):
            break
    return "\n".join(lines)
