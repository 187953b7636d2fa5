"""The connection matrix, the flow policy side by side with what the live firewalls do.

For every (zone@site, zone@site, service) of :func:`~netwarden.inventory.matrix.connection_matrix`
(the policy's answer, the auditor's model and what the renderer renders), each
representative packet (the service's first and last port, from the tenth host of
the source subnet to the tenth host of the destination subnet; the internet as
198.51.100.10) is run through the ``nft -j list ruleset`` of every firewall on its
path by the evaluator of the nftables rule pack
(:class:`~netwarden.compliance.platforms.nftables.Ruleset`):

- the path: the source site's firewall (in by the source zone's interface, out by
  the destination zone's, or by the WAN interface when the destination is elsewhere)
  and, for another site, the destination site's firewall (in by its WAN interface);
  the internet is behind the WAN interface of the one firewall it talks to;
- a packet crosses a firewall when every ``filter`` base chain on its ``forward``
  hook accepts it (a new connection, conntrack state ``new``); it crosses the path
  when every firewall on it lets it through.

A row is ``allowed`` when every packet of the service is allowed, ``denied`` when
none is, ``partial`` otherwise; it is a *mismatch* when the live answer of some
packet differs from the policy's (the packets that differ are listed).

Limits of the evaluator, said in every report: IPv4 only; the ``forward`` hook of
the ``filter`` chains only (no ``prerouting``/``input`` chains, ``netdev`` ingress,
NAT, or routing decisions: a packet is assumed to be routed where the inventory
says); one representative address per zone and the first and last port of each
range; expressions it does not understand never match (a rule using them is
counted, so an unsupported ruleset cannot pass silently); conntrack state ``new``
only (established traffic is not evaluated).

Examples:
    >>> Row(src="nyc/staff", dst="jed/servers", service="https", policy="allowed",
    ...     live="denied", firewalls=("nyc-fw1", "jed-fw1")).mismatch
    True
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import model_validator

from netwarden.basemodel import FrozenModel
from netwarden.compliance.platforms.nftables import Packet, Ruleset, parse_ruleset
from netwarden.errors import NetwardenError
from netwarden.inventory.matrix import Endpoint, MatrixCell, connection_matrix
from netwarden.inventory.models import Device, Function, InterfaceMode, Inventory

if TYPE_CHECKING:
    from netwarden.devices import SessionOptions

logger = logging.getLogger(__name__)

LIMITS = (
    "IPv4; filter chains on the forward hook only (no prerouting/input/netdev chains, no NAT, "
    "routing as the inventory says); new connections only; one address per zone, the first "
    "and last port of each range; expressions the evaluator does not know never match"
)
ALLOWED, DENIED, PARTIAL, UNKNOWN = "allowed", "denied", "partial", "unknown"


class Row(FrozenModel):
    """One (source zone, destination zone, service): the policy's answer and the live one."""

    src: str
    dst: str
    service: str
    policy: str
    live: str
    firewalls: tuple[str, ...]
    policy_rules: tuple[str, ...] = ()
    """The policy rules that decided (``default`` when none did)."""
    live_rules: tuple[str, ...] = ()
    """The live rules that decided, ``<firewall>: <chain> handle <n> [<label>]``."""
    differing: tuple[str, ...] = ()
    """The packets whose live answer differs from the policy's (``tcp/443``)."""

    mismatch: bool = False
    """The live answer differs from the policy's for some packet (an unknown one never does);
    computed from the other fields when not given."""

    @model_validator(mode="before")
    @classmethod
    def _compute_mismatch(cls, data: Any) -> Any:
        if isinstance(data, dict) and "mismatch" not in data:
            live, policy = data.get("live"), data.get("policy")
            differs = live not in (UNKNOWN, policy) or bool(data.get("differing"))
            data = {**data, "mismatch": differs}
        return data


class FirewallRead(FrozenModel):
    """One firewall of the report: where its ruleset came from, or why it could not be read."""

    name: str
    site: str
    source: str = ""
    error: str = ""
    unsupported_rules: int = 0
    """Rules with an expression the evaluator does not understand (they never match)."""


class MatrixReport(FrozenModel):
    """The connection matrix report (``netwarden matrix --format json``)."""

    inventory: str
    source: str
    limits: str = LIMITS
    firewalls: tuple[FirewallRead, ...]
    rows: tuple[Row, ...]

    @property
    def mismatches(self) -> list[Row]:
        return [r for r in self.rows if r.mismatch]

    @property
    def unread(self) -> list[str]:
        return [f.name for f in self.firewalls if f.error]

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.unread


def site_firewalls(inv: Inventory) -> dict[str, Device]:
    """The nftables firewall of each site that has one (the first by name)."""
    out: dict[str, Device] = {}
    for _name, device in sorted(inv.devices.items()):
        if device.function is Function.FIREWALL and device.model == "nftables":
            out.setdefault(device.site, device)
    return out


@dataclass(frozen=True)
class Hop:
    firewall: str
    iif: str
    oif: str


def _iface(device: Device, zone: str | None) -> str:
    wan = next((i.name for i in device.interfaces if i.mode is InterfaceMode.WAN), "wan0")
    if zone is None:
        return wan
    return next((i.name for i in device.interfaces if i.zone == zone), wan)


def path_of(firewalls: Mapping[str, Device], src: Endpoint, dst: Endpoint) -> list[Hop] | None:
    """The firewalls a packet from ``src`` to ``dst`` crosses (None: a site without one)."""
    hops: list[Hop] = []
    for site in dict.fromkeys(s for s in (src.site, dst.site) if s is not None):
        fw = firewalls.get(site)
        if fw is None:
            return None
        iif = _iface(fw, src.zone if src.site == site else None)
        oif = _iface(fw, dst.zone if dst.site == site else None)
        hops.append(Hop(fw.name, iif, oif))
    return hops


def _label(fw: str, rs: Ruleset, pkt: Packet) -> tuple[bool, str]:
    """Whether every forward filter chain of ``rs`` accepts ``pkt``, and the rule that decided."""
    said: list[str] = []
    for chain in rs.base_chains("forward"):
        verdict, rule = rs.evaluate(chain, pkt)
        if rule is None:
            where = f"{fw}: {chain.table} {chain.name} policy {chain.policy}"
        else:
            where = f"{fw}: {rule.table} {rule.chain} handle {rule.handle}" + (
                f" [{rule.label}]" if rule.label else ""
            )
        if verdict != "accept":
            return False, where
        said.append(where)
    return True, "; ".join(said) or f"{fw}: no forward chain (forwards everything)"


def compare(
    inv: Inventory,
    rulesets: Mapping[str, Ruleset],
    cells: Sequence[MatrixCell] | None = None,
) -> list[Row]:
    """One :class:`Row` per (source, destination, service) of the cells whose path is read.

    ``rulesets``: firewall name -> its parsed live ruleset; a cell that crosses a firewall
    not in it (unread, or not chosen) is ``unknown``, never a mismatch.
    """
    firewalls = site_firewalls(inv)
    grouped: dict[tuple[str, str, str], list[MatrixCell]] = {}
    for cell in cells if cells is not None else connection_matrix(inv):
        grouped.setdefault((cell.src.label, cell.dst.label, cell.service), []).append(cell)
    rows: list[Row] = []
    for (src, dst, service), group in grouped.items():
        hops = path_of(firewalls, group[0].src, group[0].dst) or []
        policy_rules = tuple(dict.fromkeys(c.rule or "default" for c in group))
        live_rules: list[str] = []
        differing: list[str] = []
        answers: list[bool | None] = []
        for cell in group:
            answer: bool | None = True
            if not hops or any(h.firewall not in rulesets for h in hops):
                answer = None
            else:
                for hop in hops:
                    pkt = Packet(
                        int(cell.src.address),
                        int(cell.dst.address),
                        cell.proto.value,
                        cell.port,
                        iif=hop.iif,
                        oif=hop.oif,
                    )
                    ok, by = _label(hop.firewall, rulesets[hop.firewall], pkt)
                    live_rules.append(by)
                    if not ok:
                        answer = False
                        break
            answers.append(answer)
            if answer is not None and answer != cell.allowed:
                differing.append(cell.proto.value + (f"/{cell.port}" if cell.port else ""))
        rows.append(
            Row(
                src=src,
                dst=dst,
                service=service,
                policy=_summary([c.allowed for c in group]),
                live=UNKNOWN if None in answers else _summary([bool(a) for a in answers]),
                firewalls=tuple(h.firewall for h in hops),
                policy_rules=policy_rules,
                live_rules=tuple(dict.fromkeys(live_rules)),
                differing=tuple(differing),
            )
        )
    return rows


def _summary(answers: Sequence[bool]) -> str:
    if all(answers):
        return ALLOWED
    return DENIED if not any(answers) else PARTIAL


def cells_for(inv: Inventory, firewalls: Sequence[str]) -> list[MatrixCell]:
    """The cells whose every firewall is among ``firewalls`` (local, internet, between them)."""
    chosen = set(firewalls)
    by_site = site_firewalls(inv)
    sites = [s for s, fw in by_site.items() if fw.name in chosen]
    return [
        c
        for c in connection_matrix(inv, sites)
        if (path := path_of(by_site, c.src, c.dst)) and all(h.firewall in chosen for h in path)
    ]


def parsed(name: str, text: str, where: str) -> tuple[Ruleset | None, FirewallRead]:
    """A firewall's ``nft -j list ruleset`` text parsed, and its :class:`FirewallRead`."""
    try:
        rs = parse_ruleset(text, where)
    except ValueError as exc:
        return None, FirewallRead(name=name, site="", source=where, error=str(exc))
    unsupported = sum(1 for c in rs.chains.values() for r in c.rules if r.unsupported)
    return rs, FirewallRead(name=name, site="", source=where, unsupported_rules=unsupported)


def read_live(
    devices: Sequence[Device],
    options: SessionOptions,
    *,
    concurrency: int = 8,
    on_done: Callable[[object], None] | None = None,
) -> dict[str, tuple[str | None, str]]:
    """Each firewall's ``nft -j list ruleset`` over its session: name -> (text, None) or (None, why)."""
    from netwarden.devices import session_for  # noqa: PLC0415  (the session layer: paramiko)
    from netwarden.devices.linux_nft import NFT_JSON  # noqa: PLC0415
    from netwarden.devices.runner import run_each  # noqa: PLC0415

    def read(device: Device) -> tuple[str, str | None, str]:
        try:
            session = session_for(device, options)
            session.open()
            try:
                return device.name, session.send_command(NFT_JSON), ""
            finally:
                session.close()
        except NetwardenError as exc:
            return device.name, None, str(exc)

    done = run_each(
        devices,
        read,
        lambda d, exc: (d.name, None, f"{d.name}: internal error: {exc!r}"),
        concurrency=concurrency,
        on_done=on_done,
    )
    return {name: (text, error) for name, text, error in done}


def build_report(
    inv: Inventory,
    firewalls: Sequence[Device],
    texts: Mapping[str, tuple[str | None, str]],
    source: str,
    where: Callable[[str], str],
) -> MatrixReport:
    """The report of ``firewalls`` from their ruleset texts (name -> (text, error))."""
    rulesets: dict[str, Ruleset] = {}
    reads: list[FirewallRead] = []
    for fw in firewalls:
        text, error = texts.get(fw.name, (None, "not read"))
        if text is None:
            reads.append(FirewallRead(name=fw.name, site=fw.site, error=error or "not read"))
            continue
        rs, read = parsed(fw.name, text, where(fw.name))
        reads.append(read.model_copy(update={"site": fw.site}))
        if rs is not None:
            rulesets[fw.name] = rs
    rows = compare(inv, rulesets, cells_for(inv, [f.name for f in firewalls]))
    return MatrixReport(
        inventory=str(inv.path), source=source, firewalls=tuple(reads), rows=tuple(rows)
    )
