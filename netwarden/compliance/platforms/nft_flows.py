"""Flows the inventory's policy forbids but the firewall's ruleset accepts.

Checked by evaluation, not text matching: for every zone pair that crosses
this firewall (its site's zones, the WAN side: other sites and the internet)
and every port range of every service in the catalogue, one representative
packet (first and last port of the range) goes through the forward chain; an
``accept`` where :class:`FlowPolicyEngine` says deny is a finding, with the
accepting rule as evidence.

Examples:
    >>> host_in("10.10.20.0/24")
    '10.10.20.10'
"""

from __future__ import annotations

from ipaddress import IPv4Network

from netwarden.compliance.models import Evidence
from netwarden.compliance.platforms.nftables import Packet, Ruleset, chain_ev, ip, rule_ev
from netwarden.compliance.predicates import (
    AuditContext,
    Outcome,
    failed,
    not_applicable,
    passed,
    predicate,
)
from netwarden.inventory.flows import FlowPolicyEngine
from netwarden.inventory.models import EXTERNAL_ZONE, InterfaceMode, Inventory, Protocol

INTERNET_HOST = (
    "198.51.100.10"  # TEST-NET-2: outside every private range, so the policy's "internet"
)


# The last inventory's policy engine: built once, asked for every firewall of the run.
_POLICY: list[tuple[Inventory, FlowPolicyEngine]] = []


def _policy_for(inv: Inventory) -> FlowPolicyEngine:
    """The :class:`FlowPolicyEngine` of ``inv`` (the same object for the same inventory)."""
    entry = _POLICY[0] if _POLICY else None
    if entry is None or entry[0] is not inv:
        entry = (inv, FlowPolicyEngine(inv))
        _POLICY[:] = [entry]
    return entry[1]


def host_in(subnet: str) -> str:
    net = IPv4Network(subnet)
    return str(net.network_address + min(10, net.num_addresses - 2))


def _endpoints(ctx: AuditContext) -> list[tuple[str, str, str]]:
    """(label, address, interface) for each zone this firewall sees: local zones, remote ones, internet."""
    inv, dev = ctx.inventory, ctx.device
    assert inv is not None  # noqa: S101  (guarded by applies.when)
    assert dev is not None  # noqa: S101
    site = inv.sites[dev.site]
    by_zone = {i.zone: i.name for i in dev.interfaces if i.zone}
    wan = next((i.name for i in dev.interfaces if i.mode is InterfaceMode.WAN), "wan0")
    out = [
        (f"{site.name}/{z}", host_in(str(zs.subnet)), by_zone.get(z, wan))
        for z, zs in site.zones.items()
    ]
    others = [s for s in inv.sites.values() if s.name != site.name]
    # One remote site of each role is enough: the policy selects sites by role or name.
    remote = {s.role: s for s in others}
    for s in remote.values():
        out += [(f"{s.name}/{z}", host_in(str(zs.subnet)), wan) for z, zs in s.zones.items()]
    out.append((EXTERNAL_ZONE, INTERNET_HOST, wan))
    return out


@predicate("nft.forbidden_flows")
def forbidden_flows(ctx: AuditContext, _args: None) -> Outcome:  # noqa: PLR0912  (endpoints x services x ports)
    rs: Ruleset = ctx.doc
    inv = ctx.inventory
    assert inv is not None  # noqa: S101  (guarded by applies.when)
    chains = rs.base_chains("forward")
    if not chains:
        return failed("no forward chain: the firewall forwards everything", [])
    chain = chains[0]
    policy = _policy_for(inv)
    local = f"{ctx.device.site}/" if ctx.device else ""
    ends = _endpoints(ctx)
    bad: list[Evidence] = []
    seen: set[tuple[str, str, str]] = set()
    checked = 0
    for s_label, s_addr, s_if in ends:
        for d_label, d_addr, d_if in ends:
            if s_label == d_label or not (s_label.startswith(local) or d_label.startswith(local)):
                continue
            for svc in inv.services.values():
                for pr in svc.ports:
                    ports: list[int | None] = [None]
                    if (
                        pr.proto is not Protocol.ICMP
                        and pr.first is not None
                        and pr.last is not None
                    ):
                        ports = [pr.first] if pr.first == pr.last else [pr.first, pr.last]
                    for port in ports:
                        checked += 1
                        pkt = Packet(
                            ip(s_addr), ip(d_addr), pr.proto.value, port, iif=s_if, oif=d_if
                        )
                        verdict, rule = rs.evaluate(chain, pkt)
                        if verdict != "accept":
                            continue
                        decision = policy.decide(s_addr, d_addr, pr.proto, port)
                        if decision.allowed:
                            continue
                        key = (s_label, d_label, svc.name)
                        if key in seen:
                            continue
                        seen.add(key)
                        flow = f"{s_label} -> {d_label} {pr.proto.value}{'/' + str(port) if port else ''} ({svc.name})"
                        note = f"policy: {decision.reason}; ruleset accepts {flow}"
                        bad.append(rule_ev(rs, rule, note) if rule else chain_ev(rs, chain, note))
    if bad:
        return failed(f"{len(bad)} flow(s) the policy forbids are accepted", bad[:100])
    if checked == 0:
        return not_applicable("no zone pair crosses this firewall")
    return passed(
        f"{checked} representative packets: the ruleset accepts nothing the policy forbids"
    )
