"""A site firewall's ruleset as data, built from the flow policy, and its own evaluator.

:func:`build_firewall` turns the inventory's flow policy into the rules of one
site firewall (:class:`Firewall`); :mod:`netwarden.render.nftables` prints them
as an ``nft -f`` file, and :func:`evaluate` runs a packet through them without
nft, so a unit test compares every cell of the connection matrix with the
policy engine.

Which rules a firewall holds. A policy rule allows a source (zone, sites) to
reach a destination (zone, sites). For the firewall of site ``S`` the rule
contributes the flows that cross it:

- local: source and destination both at ``S`` (zone interface to zone interface);
- outbound: the source at ``S``, the destination at another site or the internet
  (zone interface to the WAN);
- inbound: the source at another site or the internet, the destination at ``S``
  (WAN to zone interface).

A flow between two sites therefore crosses two firewalls (the source site's
outbound, the destination site's inbound) and both allow it. The same zone at
the same site crosses no firewall (the policy engine allows it). Rules keep the
policy's order, so the first matching rule decides, as in the engine. Traffic
to the firewall itself (``input``) is the management path only: the policy's
rules whose destination is the management zone of ``S``, to the firewall's
management address.

A partner's site-to-site VPN (:mod:`netwarden.inventory.partners`) ends on the
firewall of its site: ``input`` accepts its UDP port from the partner's public
address on the WAN, and its tunnel interface is a second interface of the
``partners`` zone, whose sources must be the partner's own networks
(anti-spoofing by the ``partner_<name>`` set). The policy's rules for the
``partners`` zone hold for the tunnel as for the zone's own subnet, so the
partner reaches what the flow policy publishes to ``partners`` and nothing else.

:class:`~netwarden.render.nftoptions.NftOptions` are the ``nftables_firewall`` role's toggles (logged drops
and their rate, anti-spoofing, NAT, the management path, the partner tunnels);
the defaults are what ``netwarden render`` prints.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network, collapse_addresses
from typing import Any

from netwarden.errors import RenderError
from netwarden.inventory.flows import NOT_INTERNET
from netwarden.inventory.models import (
    EXTERNAL_ZONE,
    Device,
    FlowRule,
    InterfaceMode,
    Inventory,
    Protocol,
    Site,
)
from netwarden.inventory.partners import PARTNERS_ZONE, PartnerTunnel, partner_tunnels
from netwarden.render.nftoptions import LOG_RATE, NftOptions

logger = logging.getLogger(__name__)

MGMT_ZONE = "mgmt"
TABLE = "netwarden"
NOT_INTERNET_SET = "not_internet"
LOCAL_SET = "local_nets"
SPOOF_COUNTER = "spoofed"
INVALID_COUNTER = "invalid"
DROP_COUNTER = {"input": "drop_input", "forward": "drop_forward"}
VPN_COUNTER = "vpn"
_IFNAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True)
class Addr:
    """An address match: a named set (``set_name``) or literal networks; ``negate``: not in."""

    nets: tuple[IPv4Network, ...]
    set_name: str | None = None
    negate: bool = False

    def contains(self, addr: IPv4Address) -> bool:
        hit = any(addr in n for n in self.nets)
        return not hit if self.negate else hit


@dataclass(frozen=True)
class Rule:
    """One nft rule: conditions, then counter, log, verdict (``jump`` needs ``target``)."""

    iif: str | None = None
    oif: str | None = None
    saddr: Addr | None = None
    daddr: Addr | None = None
    proto: Protocol | None = None
    ports: tuple[tuple[int, int], ...] = ()
    ct_state: tuple[str, ...] = ()
    verdict: str | None = None
    target: str | None = None
    counter: str | None = None
    log_prefix: str | None = None
    policy_rule: str | None = None
    comment: str | None = None


@dataclass
class Firewall:
    """One site firewall's ruleset: sets, counters, chains (in order), NAT."""

    device: str
    site: str
    zone_ifaces: dict[str, str]
    wan: str
    mgmt_address: IPv4Address
    sets: dict[str, tuple[IPv4Network, ...]] = field(default_factory=dict)
    counters: list[str] = field(default_factory=list)
    chains: dict[str, list[Rule]] = field(default_factory=dict)
    masquerade: bool = False
    log_rate: str = LOG_RATE
    tunnels: list[PartnerTunnel] = field(default_factory=list)

    def route(self, addr: IPv4Address) -> str:
        """The interface an address lies behind: a partner's tunnel, its local zone's, else the WAN."""
        for t in self.tunnels:
            if any(addr in n for n in t.networks):
                return t.interface
        for zone, iface in self.zone_ifaces.items():
            if addr in self.sets[zone_set(zone)][0]:
                return iface
        return self.wan

    def is_local(self, addr: IPv4Address) -> bool:
        return any(addr in n for n in self.sets[LOCAL_SET])

    def sides(self, zone: str) -> list[tuple[str, Addr]]:
        """The (interface, source set) pairs of a local zone: its own, then each partner tunnel's."""
        own = [(self.zone_ifaces[zone], Addr(self.sets[zone_set(zone)], zone_set(zone)))]
        if zone != PARTNERS_ZONE:
            return own
        return own + [
            (t.interface, Addr(self.sets[partner_set(t.name)], partner_set(t.name)))
            for t in self.tunnels
        ]


def zone_set(zone: str) -> str:
    return f"zone_{zone.replace('-', '_')}"


def partner_set(name: str) -> str:
    return f"partner_{name.replace('-', '_')}"


def counter_name(rule_id: str) -> str:
    """The named counter of a policy rule: its id (``r_`` before an id that starts with a digit)."""
    return rule_id if rule_id[0].isalpha() else f"r_{rule_id}"


def _ifname(name: str, device: str) -> str:
    if not (1 <= len(name) <= 15) or not set(name) <= _IFNAME_OK:
        raise RenderError(
            f"{device}: interface name {name!r} is not a Linux interface name "
            "(1-15 letters, digits, '_', '.', '-')"
        )
    return name


def _ports(inv: Inventory, rule: FlowRule) -> dict[Protocol, tuple[tuple[int, int], ...]]:
    """The rule's services as protocol -> sorted port ranges (ICMP: no ports)."""
    by: dict[Protocol, set[tuple[int, int]]] = {}
    for name in rule.services:
        svc = inv.services.get(name)
        if svc is None:
            raise RenderError(f"flow rule {rule.id}: service {name!r} is not in the catalogue")
        for pr in svc.ports:
            ports = by.setdefault(pr.proto, set())
            if pr.first is not None and pr.last is not None:
                ports.add((pr.first, pr.last))
    return {p: tuple(sorted(by[p])) for p in Protocol if p in by}


def _placements(
    inv: Inventory, rule: FlowRule, *, same_zone: bool = False
) -> list[tuple[Site | None, Site | None]]:
    """(source site, destination site) pairs the rule selects; None is the internet.

    A zone to itself at one site crosses no firewall: left out unless ``same_zone``
    (traffic to the firewall's own address in that zone).
    """
    srcs: list[Site | None] = (
        [None]
        if rule.src_.zone == EXTERNAL_ZONE
        else [
            s
            for s in inv.sites.values()
            if rule.src_.zone in s.zones and rule.src_.matches_site(s, None)
        ]
    )
    out: list[tuple[Site | None, Site | None]] = []
    for a in srcs:
        if rule.dst.zone == EXTERNAL_ZONE:
            if a is not None:
                out.append((a, None))
            continue
        for b in inv.sites.values():
            if rule.dst.zone in b.zones and rule.dst.matches_site(b, a):
                if a is b and rule.src_.zone == rule.dst.zone and not same_zone:
                    continue  # the same zone at one site crosses no firewall
                out.append((a, b))
    return out


def _nets(inv: Inventory, sites: Iterable[Site], zone: str) -> tuple[IPv4Network, ...]:
    """The zone's subnets at ``sites`` (``partners``: with the networks of the partners there)."""
    names = {s.name for s in sites}
    nets = {inv.sites[n].zones[zone].subnet for n in names}
    if zone == PARTNERS_ZONE:
        nets |= {n for p in inv.partners.values() if p.site in names for n in p.networks}
    return tuple(sorted(nets))


def build_firewall(inv: Inventory, device: Device, options: NftOptions | None = None) -> Firewall:
    """The ruleset of one site firewall (``platform: linux``, ``model: nftables``) as data."""
    opts = options or NftOptions()
    site = inv.sites[device.site]
    zone_ifaces: dict[str, str] = {}
    wan: str | None = None
    for iface in device.interfaces:
        if iface.mode is InterfaceMode.WAN and wan is None:
            wan = _ifname(iface.name, device.name)
        elif iface.mode is InterfaceMode.ROUTED and iface.zone in site.zones:
            zone_ifaces.setdefault(iface.zone, _ifname(iface.name, device.name))
    if wan is None:
        raise RenderError(f"{device.name}: a site firewall needs an interface of mode wan")
    missing = [z for z in site.zones if z not in zone_ifaces]
    if missing:
        raise RenderError(
            f"{device.name}: no routed interface for zone(s) {', '.join(missing)} of site "
            f"{site.name}; a site firewall has one interface per zone of its site ({device.where('interfaces')})"
        )
    fw = Firewall(device.name, site.name, zone_ifaces, wan, device.mgmt_address)
    fw.masquerade = site.wan.masquerade and opts.nat_enabled
    fw.log_rate = opts.log_rate
    if opts.partners_enabled and PARTNERS_ZONE in zone_ifaces:
        fw.tunnels = [
            replace(t, interface=_ifname(t.interface, device.name))
            for t in partner_tunnels(inv, site.name)
        ]
    for zone in zone_ifaces:
        fw.sets[zone_set(zone)] = (site.zones[zone].subnet,)
    for t in fw.tunnels:
        fw.sets[partner_set(t.name)] = tuple(collapse_addresses(t.networks))
    behind = [zs.subnet for zs in site.zones.values()] + [n for t in fw.tunnels for n in t.networks]
    fw.sets[LOCAL_SET] = tuple(collapse_addresses(behind))
    all_nets = [zs.subnet for s in inv.sites.values() for zs in s.zones.values()]
    all_nets += [n for p in inv.partners.values() for n in p.networks]
    fw.sets[NOT_INTERNET_SET] = tuple(collapse_addresses([*all_nets, *NOT_INTERNET]))
    forward, inp = _policy_rules(inv, fw, site)
    if not opts.management_path_enabled:
        inp = []  # a lock-out (commit-confirm's test): see NftOptions
    inp = _vpn_input(fw) + inp
    fw.counters = sorted({r.counter for r in [*forward, *inp] if r.counter}) + sorted(
        {SPOOF_COUNTER, INVALID_COUNTER, *DROP_COUNTER.values()}
    )
    fw.chains = {
        "antispoof": _antispoof(fw) if opts.antispoof_enabled else [],
        "input": [
            *(_head() if opts.management_path_enabled else _head()[1:]),
            Rule(iif=None, verdict="jump", target="antispoof"),
            *inp,
            *_tail("input"),
        ],
        "forward": [
            *_head(),
            Rule(verdict="jump", target="antispoof"),
            *forward,
            *_tail("forward"),
        ],
    }
    if not opts.log_drops_enabled:
        fw.chains = {
            name: [r for r in rules if r.log_prefix is None] for name, rules in fw.chains.items()
        }
    fw.chains["input"].insert(0, Rule(iif="lo", verdict="accept", comment="loopback"))
    return fw


def _head() -> list[Rule]:
    return [
        Rule(ct_state=("established", "related"), verdict="accept"),
        Rule(ct_state=("invalid",), counter=INVALID_COUNTER, verdict="drop"),
    ]


def _tail(chain: str) -> list[Rule]:
    return [
        Rule(log_prefix=f"nw-drop {chain}: "),
        Rule(counter=DROP_COUNTER[chain], verdict="drop"),
    ]


def _vpn_input(fw: Firewall) -> list[Rule]:
    """Each partner's VPN: its UDP port from its public address on the WAN (counter ``vpn``)."""
    return [
        Rule(
            iif=fw.wan,
            saddr=Addr((IPv4Network(t.peer),)),
            proto=Protocol.UDP,
            ports=((t.port, t.port),),
            counter=VPN_COUNTER,
            verdict="accept",
            policy_rule=f"vpn-{t.name}",
            comment=f"vpn {t.name}: {t.peer} -> {fw.device} udp/{t.port} ({t.interface})",
        )
        for t in fw.tunnels
    ]


def _antispoof(fw: Firewall) -> list[Rule]:
    out: list[Rule] = []
    ifaces = [(iface, zone_set(zone)) for zone, iface in fw.zone_ifaces.items()]
    ifaces += [(t.interface, partner_set(t.name)) for t in fw.tunnels]
    for iface, name in ifaces:
        src = Addr(fw.sets[name], name, negate=True)
        out += [
            Rule(iif=iface, saddr=src, log_prefix=f"nw-spoof {iface}: "),
            Rule(iif=iface, saddr=src, counter=SPOOF_COUNTER, verdict="drop"),
        ]
    local = Addr(fw.sets[LOCAL_SET], LOCAL_SET)
    out += [
        Rule(iif=fw.wan, saddr=local, log_prefix=f"nw-spoof {fw.wan}: "),
        Rule(iif=fw.wan, saddr=local, counter=SPOOF_COUNTER, verdict="drop"),
    ]
    return out


def _policy_rules(inv: Inventory, fw: Firewall, site: Site) -> tuple[list[Rule], list[Rule]]:
    """The forward and input rules of ``fw``, in policy order.

    A local zone is matched by each of its sides (:meth:`Firewall.sides`): its
    interface and subnet, and for ``partners`` each partner's tunnel and networks.
    """
    internet = Addr(fw.sets[NOT_INTERNET_SET], NOT_INTERNET_SET, negate=True)
    forward: list[Rule] = []
    inp: list[Rule] = []
    for rule in inv.flow_policy.rules:
        pairs = _placements(inv, rule)
        ports = _ports(inv, rule)
        zs, zd = rule.src_.zone, rule.dst.zone
        groups: list[tuple[str, str, Addr, str, Addr]] = []
        if any(a is site and b is site for a, b in pairs):
            what = f"{site.name}/{zs} -> {site.name}/{zd}"
            for iif, saddr in fw.sides(zs):
                for oif, daddr in fw.sides(zd):
                    if iif != oif:
                        groups.append((what, iif, saddr, oif, daddr))
        outbound = [b for a, b in pairs if a is site and b is not site]
        if outbound:
            dst = (
                internet
                if zd == EXTERNAL_ZONE
                else Addr(_nets(inv, [b for b in outbound if b is not None], zd))
            )
            where = "internet" if zd == EXTERNAL_ZONE else f"{rule.dst.site or 'any'}/{zd}"
            for iif, saddr in fw.sides(zs):
                groups.append((f"{site.name}/{zs} -> {where}", iif, saddr, fw.wan, dst))
        inbound = [a for a, b in pairs if b is site and a is not site]
        if inbound:
            src = (
                internet
                if zs == EXTERNAL_ZONE
                else Addr(_nets(inv, [a for a in inbound if a is not None], zs))
            )
            where = "internet" if zs == EXTERNAL_ZONE else f"{rule.src_.site or 'any'}/{zs}"
            for oif, daddr in fw.sides(zd):
                groups.append((f"{where} -> {site.name}/{zd}", fw.wan, src, oif, daddr))
        for what, iif, saddr, oif, daddr in groups:
            forward += _rules_for(rule, ports, what, iif=iif, oif=oif, saddr=saddr, daddr=daddr)
        if zd == MGMT_ZONE:
            inp += _input_rules(inv, fw, site, rule)
    return _prune(forward), _prune(inp)


def _input_rules(inv: Inventory, fw: Firewall, site: Site, rule: FlowRule) -> list[Rule]:
    """The management path: the rule's sources allowed to the firewall's management address."""
    out: list[Rule] = []
    ports = _ports(inv, rule)
    internet = Addr(fw.sets[NOT_INTERNET_SET], NOT_INTERNET_SET, negate=True)
    zs = rule.src_.zone
    to_me = Addr((IPv4Network(fw.mgmt_address),))
    srcs = [a for a, b in _placements(inv, rule, same_zone=True) if b is site]
    here = [a for a in srcs if a is site]
    there = [a for a in srcs if a is not site]
    if here:
        for iif, own in fw.sides(zs):
            out += _rules_for(
                rule,
                ports,
                f"{site.name}/{zs} -> {fw.device}",
                iif=iif,
                oif=None,
                saddr=own,
                daddr=to_me,
            )
    if there:
        src = (
            internet
            if zs == EXTERNAL_ZONE
            else Addr(_nets(inv, [a for a in there if a is not None], zs))
        )
        out += _rules_for(
            rule,
            ports,
            f"{rule.src_.site or 'any'}/{zs} -> {fw.device}",
            iif=fw.wan,
            oif=None,
            saddr=src,
            daddr=to_me,
        )
    return out


def _rules_for(
    rule: FlowRule,
    ports: dict[Protocol, tuple[tuple[int, int], ...]],
    what: str,
    *,
    iif: str,
    oif: str | None,
    saddr: Addr,
    daddr: Addr,
) -> list[Rule]:
    """One rule per protocol of the policy rule's services (deny: a rate-limited log first)."""
    verdict = "accept" if rule.action == "allow" else "drop"
    log = rule.log or rule.action == "deny"
    kind = "accept" if verdict == "accept" else "deny"
    out: list[Rule] = []
    for proto, rng in ports.items():
        base = Rule(iif=iif, oif=oif, saddr=saddr, daddr=daddr, proto=proto, ports=rng)
        if log:
            out.append(_with(base, log_prefix=f"nw-{kind} {rule.id}: "[:127]))
        out.append(
            _with(
                base,
                verdict=verdict,
                counter=counter_name(rule.id),
                policy_rule=rule.id,
                comment=f"{rule.id}: {what}",
            )
        )
    return out


def _with(rule: Rule, **changes: Any) -> Rule:
    return replace(rule, **changes)


def _covers(a: Rule, b: Rule) -> bool:
    """Whether terminal rule ``a`` matches every packet ``b`` matches (both policy rules)."""
    if a.iif != b.iif or a.oif != b.oif or a.proto != b.proto:
        return False
    for x, y in ((a.saddr, b.saddr), (a.daddr, b.daddr)):
        if x is None or y is None or x.negate or y.negate:
            if x != y:
                return False
        elif not all(any(n.subnet_of(m) for m in x.nets) for n in y.nets):
            return False
    return all(any(lo <= blo and bhi <= hi for lo, hi in a.ports) for blo, bhi in b.ports) and (
        bool(a.ports) or not b.ports
    )


def _prune(rules: list[Rule]) -> list[Rule]:
    """Leave out rules an earlier terminal rule covers: they never match (first match wins)."""
    kept: list[Rule] = []
    for r in rules:
        if r.verdict is not None and any(k.verdict is not None and _covers(k, r) for k in kept):
            logger.debug("left out %s: an earlier rule covers it", r.comment)
            continue
        kept.append(r)
    return kept


def evaluate(
    fw: Firewall, src: IPv4Address, dst: IPv4Address, proto: Protocol, port: int | None
) -> tuple[str, str | None]:
    """The verdict of ``fw`` for a new connection and the policy rule that gave it (None: none).

    The packet enters by the interface ``src`` lies behind and, unless it is for the
    firewall's management address (``input``), leaves by ``dst``'s (``forward``).
    """
    iif = fw.route(src)
    if dst == fw.mgmt_address:
        return _run(fw, "input", _Pkt(src, dst, proto, port, iif, None))
    return _run(fw, "forward", _Pkt(src, dst, proto, port, iif, fw.route(dst)))


@dataclass(frozen=True)
class _Pkt:
    src: IPv4Address
    dst: IPv4Address
    proto: Protocol
    port: int | None
    iif: str
    oif: str | None


def _run(fw: Firewall, chain: str, p: _Pkt) -> tuple[str, str | None]:
    src, dst, proto, port, iif, oif = p.src, p.dst, p.proto, p.port, p.iif, p.oif
    for r in fw.chains[chain]:
        if r.ct_state and "new" not in r.ct_state:
            continue
        if (r.iif is not None and r.iif != iif) or (r.oif is not None and r.oif != oif):
            continue
        if (r.saddr is not None and not r.saddr.contains(src)) or (
            r.daddr is not None and not r.daddr.contains(dst)
        ):
            continue
        if r.proto is not None and r.proto != proto:
            continue
        if r.ports and (port is None or not any(lo <= port <= hi for lo, hi in r.ports)):
            continue
        if r.verdict == "jump" and r.target:
            verdict, by = _run(fw, r.target, p)
            if verdict in ("accept", "drop"):
                return verdict, by
        elif r.verdict in ("accept", "drop"):
            return r.verdict, r.policy_rule
    return ("drop", None) if chain in DROP_COUNTER else ("return", None)


def path_verdict(
    firewalls: Iterable[Firewall],
    src: IPv4Address,
    dst: IPv4Address,
    proto: Protocol,
    port: int | None,
) -> tuple[bool, list[tuple[str, str, str | None]]]:
    """Whether every firewall the flow crosses accepts it, and each one's (device, verdict, rule).

    A firewall is crossed when ``src`` or ``dst`` is one of its site's addresses.
    """
    hops = [
        (fw.device, *evaluate(fw, src, dst, proto, port))
        for fw in firewalls
        if fw.is_local(src) or fw.is_local(dst)
    ]
    return bool(hops) and all(v == "accept" for _, v, _ in hops), hops
