"""Which cells of the connection matrix to try in the lab, and from where to where.

Pure: :func:`choose_cells` picks a representative subset of
:func:`~netwarden.inventory.matrix.connection_matrix`, and :func:`place_probes`
gives each chosen cell a source (namespace, address) and a destination address
among the lab's nodes, or a reason why the lab cannot test it. ``probe.py`` runs
them.

The subset, deterministic (the same inventory chooses the same cells):

1. every policy rule allowed at least once: for each (rule, protocol, port) of
   the matrix's allowed cells, one (source, destination) pair, the testable
   one whose flow sorts first by its SHA-256 (so pairs vary across rules);
2. the forbidden cases named by issue 15, for a fixed set of ports
   (:data:`FORBIDDEN_PORTS`): guests to every site's and HQ's servers, field
   staff to HQ's management zone, the partners zone to everything it may not
   reach, the internet to every zone;
3. ``sample`` more cells, the rest ordered by the SHA-256 of their flow.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface

from netwarden.inventory.matrix import MatrixCell
from netwarden.inventory.models import EXTERNAL_ZONE, Inventory, Protocol, SiteRole
from netwarden.lab.ns.state import NodeEntry

FORBIDDEN_PORTS: tuple[tuple[Protocol, int | None], ...] = (
    (Protocol.TCP, 22),
    (Protocol.TCP, 443),
    (Protocol.TCP, 445),
    (Protocol.UDP, 53),
    (Protocol.ICMP, None),
)
"""The ports tried for the named forbidden cases (ssh, https, smb, dns, ping)."""
DEFAULT_SAMPLE = 40
PARTNERS_ZONE = "partners"
_DEST_KINDS = ("server", "sensor", "client")
_PARTNER_KIND = "partner"


@dataclass(frozen=True)
class Chosen:
    """A cell and why it was chosen (``rule <id>``, ``forbidden: ...``, ``sample``)."""

    cell: MatrixCell
    why: str


@dataclass(frozen=True)
class Probe:
    """One cell placed in the lab: from ``src_ns`` (``src``) to ``dst`` in ``dst_ns``.

    ``skip`` (not None) says why the lab cannot test the cell; the other fields
    are then empty.
    """

    chosen: Chosen
    src_node: str = ""
    src_ns: str = ""
    src: IPv4Address | None = None
    dst_node: str = ""
    dst_ns: str = ""
    dst: IPv4Address | None = None
    skip: str | None = None

    @property
    def cell(self) -> MatrixCell:
        return self.chosen.cell


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _named_forbidden(inv: Inventory, cell: MatrixCell) -> str | None:
    """Which of issue 15's forbidden cases ``cell`` is (None: none)."""
    src, dst = cell.src, cell.dst
    hq = {n for n, s in inv.sites.items() if s.role is SiteRole.HQ}
    if src.zone == "guests" and dst.zone == "servers" and (dst.site == src.site or dst.site in hq):
        return "guests to servers"
    if src.zone == "staff" and src.site not in hq and dst.zone == "mgmt" and dst.site in hq:
        return "field staff to HQ management"
    if src.zone == PARTNERS_ZONE:
        return "partners to what is not published"
    if src.zone == EXTERNAL_ZONE:
        return "the internet inward"
    return None


def choose_cells(
    inv: Inventory,
    cells: list[MatrixCell],
    testable: set[tuple[str, str]] | None = None,
    sample: int = DEFAULT_SAMPLE,
) -> list[Chosen]:
    """The representative subset of ``cells`` (see the module), in matrix order.

    ``testable``: the (source label, destination label) pairs the lab can place;
    rule representatives are chosen among them when given.
    """

    def ok(c: MatrixCell) -> bool:
        return testable is None or (c.src.label, c.dst.label) in testable

    why: dict[int, str] = {}
    by_rule: dict[tuple[str, Protocol, int | None], list[int]] = {}
    for i, c in enumerate(cells):
        if c.allowed and c.rule is not None:
            by_rule.setdefault((c.rule, c.proto, c.port), []).append(i)
    for (rule, _, _), idxs in by_rule.items():
        pool = [i for i in idxs if ok(cells[i])] or idxs
        why[min(pool, key=lambda i: _digest(cells[i].flow))] = f"rule {rule}"
    for i, c in enumerate(cells):
        if i in why or c.allowed or (c.proto, c.port) not in FORBIDDEN_PORTS:
            continue
        named = _named_forbidden(inv, c)
        if named is not None:
            why[i] = f"forbidden: {named}"
    rest = sorted(
        (i for i in range(len(cells)) if i not in why), key=lambda i: _digest(cells[i].flow)
    )
    for i in rest[:sample]:
        why[i] = "sample"
    return [Chosen(cells[i], why[i]) for i in sorted(why)]


@dataclass(frozen=True)
class _Holder:
    node: str
    kind: str
    netns: str
    site: str | None
    address: IPv4Interface


def _holders(nodes: dict[str, NodeEntry]) -> list[_Holder]:
    out: list[_Holder] = []
    for name, entry in sorted(nodes.items()):
        for text in entry.addresses:
            out.append(_Holder(name, entry.kind, entry.netns, entry.site, IPv4Interface(text)))
    return out


def _in_zone(inv: Inventory, holders: list[_Holder], site: str, zone: str) -> list[_Holder]:
    """Lab nodes (servers, sensors, clients; never the firewall) holding an address of the zone,
    the matrix's representative address first, then by kind and name.

    The ``partners`` zone is also each partner of the site, by its LAN address: the
    partner reaches the zone over its VPN tunnel (the policy engine places its networks
    there)."""
    subnet = inv.sites[site].zones[zone].subnet
    found = [h for h in holders if h.kind in _DEST_KINDS and h.address.ip in subnet]
    if zone == PARTNERS_ZONE:
        nets = [n for p in inv.partners.values() if p.site == site for n in p.networks]
        found += [
            h for h in holders if h.kind == _PARTNER_KIND and any(h.address.ip in n for n in nets)
        ]
    return sorted(
        found,
        key=lambda h: (
            h.address.ip != subnet.network_address + 10,
            _DEST_KINDS.index(h.kind) if h.kind in _DEST_KINDS else len(_DEST_KINDS),
            h.node,
        ),
    )


def place_probes(inv: Inventory, chosen: list[Chosen], nodes: dict[str, NodeEntry]) -> list[Probe]:
    """A source and destination in the lab for each chosen cell, or why there is none."""
    holders = _holders(nodes)
    internet = [h for h in holders if h.kind == "internet"]
    out: list[Probe] = []
    for ch in chosen:
        c = ch.cell
        if c.src.zone == PARTNERS_ZONE and c.dst.zone == EXTERNAL_ZONE:
            out.append(Probe(ch, skip=_PARTNER_INTERNET))
            continue
        if c.src.zone == EXTERNAL_ZONE:
            srcs = internet
        else:
            srcs = _in_zone(inv, holders, c.src.site or "", c.src.zone)
        if c.dst.zone == EXTERNAL_ZONE:
            dsts = internet
        else:
            dsts = _in_zone(inv, holders, c.dst.site or "", c.dst.zone)
        if not srcs or not dsts:
            which = c.src.label if not srcs else c.dst.label
            out.append(Probe(ch, skip=f"no lab host in {which}"))
            continue
        dst = dsts[0]
        src = next((s for s in srcs if s.node != dst.node), None)
        if src is None:
            dst = next((d for d in dsts if d.node != srcs[0].node), dst)
            src = srcs[0] if dst.node != srcs[0].node else None
        if src is None:
            out.append(Probe(ch, skip=f"only {dst.node} holds both ends"))
            continue
        out.append(
            Probe(ch, src.node, src.netns, src.address.ip, dst.node, dst.netns, dst.address.ip)
        )
    return out


_PARTNER_INTERNET = (
    "the partner reaches the internet over its own link, not through HQ's firewall: "
    "the partners zone is HQ's only over the tunnel"
)


def testable_pairs(inv: Inventory, nodes: dict[str, NodeEntry]) -> set[tuple[str, str]]:
    """(source label, destination label) of zone pairs the lab can place both ends of."""
    holders = _holders(nodes)
    labels: set[str] = {EXTERNAL_ZONE}
    for name, site in inv.sites.items():
        for zone in site.zones:
            if _in_zone(inv, holders, name, zone):
                labels.add(f"{name}/{zone}")
    return {(a, b) for a in labels for b in labels if a != b}
