"""nftables rulesets (``nft -j list ruleset``): a model, an evaluator, and the firewall predicates.

The evaluator runs a packet (addresses, protocol, ports, interfaces, conntrack
state) through a base chain the way the kernel does (jump, goto, return,
verdicts, chain policy), for the subset of expressions netwarden's rulesets
use: ip addresses, l4 protocol, ports, interface names, ct state, named and
anonymous sets. A rule with an expression it does not understand never
matches and is reported, so an unsupported ruleset cannot pass silently.

Examples:
    >>> rs = parse_ruleset('{"nftables": [{"table": {"family": "inet", "name": "f"}}, '
    ...     '{"chain": {"family": "inet", "table": "f", "name": "input", "hook": "input", '
    ...     '"type": "filter", "policy": "drop"}}, {"rule": {"family": "inet", "table": "f", '
    ...     '"chain": "input", "handle": 3, "expr": [{"match": {"op": "==", "left": '
    ...     '{"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}}]}', "fw.json")
    >>> rs.evaluate(rs.base_chain("input"), Packet(saddr=ip("10.0.0.1"), daddr=ip("10.0.0.2"), proto="tcp", dport=22))[0]
    'accept'
    >>> rs.evaluate(rs.base_chain("input"), Packet(saddr=ip("10.0.0.1"), daddr=ip("10.0.0.2"), proto="tcp", dport=23))[0]
    'drop'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Any

from netwarden.compliance.models import Evidence
from netwarden.compliance.predicates import (
    AuditContext,
    Outcome,
    absent,
    evidence,
    failed,
    not_applicable,
    passed,
    predicate,
    register_platform,
)
from netwarden.compliance.sources import Artifact

Interval = tuple[int, int]
TERMINAL = frozenset({"accept", "drop", "reject", "queue"})
_PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1}


def ip(text: str) -> int:
    return int(IPv4Address(text))


@dataclass(frozen=True, slots=True)
class Packet:
    saddr: int
    daddr: int
    proto: str
    dport: int | None = None
    sport: int = 40000
    iif: str = ""
    oif: str = ""
    state: str = "new"

    def get(self, key: str) -> int | str | None:  # noqa: PLR0911
        if key == "ip.saddr":
            return self.saddr
        if key == "ip.daddr":
            return self.daddr
        if key in ("meta.l4proto", "ip.protocol"):
            return self.proto
        if key in ("th.dport", f"{self.proto}.dport"):
            return self.dport if self.proto in ("tcp", "udp") else None
        if key in ("th.sport", f"{self.proto}.sport"):
            return self.sport if self.proto in ("tcp", "udp") else None
        if key in ("meta.iifname", "meta.iif"):
            return self.iif
        if key in ("meta.oifname", "meta.oif"):
            return self.oif
        if key == "ct.state":
            return self.state
        if key == "meta.nfproto":
            return "ipv4"
        return None


@dataclass(frozen=True, slots=True)
class Values:
    """A set of values: integer intervals (addresses, ports) or strings (names, states)."""

    ints: tuple[Interval, ...] = ()
    strs: frozenset[str] = frozenset()

    def contains(self, v: int | str | None) -> bool:
        if v is None:
            return False
        if isinstance(v, int):
            return any(lo <= v <= hi for lo, hi in self.ints)
        return v in self.strs or any(s.endswith("*") and v.startswith(s[:-1]) for s in self.strs)

    def subset_of(self, other: Values) -> bool:
        if not all(any(olo <= lo and hi <= ohi for olo, ohi in other.ints) for lo, hi in self.ints):
            return False
        return all(other.contains(s) for s in self.strs)


@dataclass(frozen=True, slots=True)
class Cond:
    key: str
    values: Values
    negate: bool = False
    l4: str = field(default="", compare=False)
    """``tcp``/``udp``/``icmp`` for a key of that header (a packet of another protocol never matches)."""

    def __post_init__(self) -> None:
        head = self.key.split(".")[0]
        object.__setattr__(self, "l4", head if head in ("tcp", "udp", "icmp") else "")

    def matches(self, pkt: Packet) -> bool:
        if self.l4 and pkt.proto != self.l4:
            return False
        hit = self.values.contains(pkt.get(self.key))
        return not hit if self.negate else hit


@dataclass(slots=True)
class NftRule:
    chain: str
    table: str
    family: str
    handle: int
    index: int
    conds: list[Cond]
    verdict: str | None
    target: str | None
    log: bool
    unsupported: list[str]
    text: str
    label: str = ""
    """The rule's comment, else its named counter (the renderer names both after the policy rule)."""


@dataclass(slots=True)
class Chain:
    family: str
    table: str
    name: str
    hook: str | None
    type: str | None
    policy: str
    rules: list[NftRule] = field(default_factory=list)


@dataclass(slots=True)
class Ruleset:
    path: str
    chains: dict[tuple[str, str, str], Chain]
    sets: dict[tuple[str, str, str], Values]
    undefined: list[tuple[NftRule, str]]

    def base_chains(self, hook: str) -> list[Chain]:
        return [c for c in self.chains.values() if c.hook == hook and c.type in (None, "filter")]

    def base_chain(self, hook: str) -> Chain:
        return self.base_chains(hook)[0]

    def evaluate(self, chain: Chain, pkt: Packet) -> tuple[str, NftRule | None]:
        """The verdict for ``pkt`` and the rule that gave it (None: the chain policy)."""
        verdict, rule = self._run(chain, pkt, 0)
        if verdict in (None, "return"):
            return chain.policy, None
        return verdict, rule

    def _run(self, chain: Chain, pkt: Packet, depth: int) -> tuple[str | None, NftRule | None]:
        if depth > 16:
            return None, None
        for r in chain.rules:
            if r.unsupported or not all(c.matches(pkt) for c in r.conds):
                continue
            if r.verdict in TERMINAL:
                return r.verdict, r
            if r.verdict in ("jump", "goto") and r.target:
                sub = self.chains.get((r.family, r.table, r.target))
                if sub is None:
                    continue
                v, by = self._run(sub, pkt, depth + 1)
                if v in TERMINAL:
                    return v, by
                if r.verdict == "goto":
                    return "return", None
            elif r.verdict == "return":
                return "return", r
        return None, None


class NftablesDriver:
    name = "nftables"
    pack = "nftables.yml"

    def parse(self, artifact: Artifact, extra: Mapping[str, Artifact]) -> Ruleset:  # noqa: ARG002
        return parse_ruleset(artifact.text, artifact.path)


register_platform(NftablesDriver())


def parse_ruleset(text: str, path: str) -> Ruleset:
    """Build a :class:`Ruleset` from ``nft -j list ruleset`` output."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from exc
    items = data.get("nftables") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(  # noqa: TRY004  (the driver contract: ValueError means "cannot parse")
            f"{path}: expected an object with an `nftables` list (nft -j list ruleset)"
        )
    rs = Ruleset(path, {}, {}, [])
    raw_rules: list[dict[str, Any]] = []
    for item in items:
        if "chain" in item:
            c = item["chain"]
            rs.chains[(c["family"], c["table"], c["name"])] = Chain(
                c["family"],
                c["table"],
                c["name"],
                c.get("hook"),
                c.get("type"),
                c.get("policy", "accept"),
            )
        elif "set" in item or "map" in item:
            s = item.get("set") or item["map"]
            rs.sets[(s["family"], s["table"], s["name"])] = _values(s.get("elem", []), "")
        elif "rule" in item:
            raw_rules.append(item["rule"])
    for r in raw_rules:
        chain = rs.chains.get((r["family"], r["table"], r["chain"]))
        if chain is None:
            continue
        rule = _rule(rs, r, len(chain.rules))
        chain.rules.append(rule)
    return rs


def _key(left: Any) -> str | None:
    if not isinstance(left, dict):
        return None
    if "payload" in left:
        p = left["payload"]
        return f"{p.get('protocol')}.{p.get('field')}"
    if "meta" in left:
        return f"meta.{left['meta'].get('key')}"
    if "ct" in left:
        return f"ct.{left['ct'].get('key')}"
    return None


def _values(right: Any, key: str) -> Values:
    ints: list[Interval] = []
    strs: set[str] = set()

    def add(v: Any) -> None:  # noqa: PLR0912  (one branch per JSON value shape)
        if isinstance(v, dict) and "elem" in v:
            add(v["elem"].get("val"))
        elif isinstance(v, dict) and "prefix" in v:
            net = IPv4Network(f"{v['prefix']['addr']}/{v['prefix']['len']}", strict=False)
            ints.append((int(net.network_address), int(net.broadcast_address)))
        elif isinstance(v, dict) and "range" in v:
            lo, hi = v["range"]
            ints.append((_scalar(lo, key), _scalar(hi, key)))
        elif isinstance(v, dict) and "set" in v:
            for x in v["set"]:
                add(x)
        elif isinstance(v, list):
            for x in v:
                add(x)
        elif isinstance(v, bool):
            strs.add(str(v).lower())
        elif isinstance(v, int):
            ints.append((v, v))
        elif isinstance(v, str):
            if key in ("meta.l4proto", "ip.protocol") and v.isdigit():
                strs.add({6: "tcp", 17: "udp", 1: "icmp"}.get(int(v), v))
            elif "." in v and v.replace(".", "").isdigit():
                ints.append((ip(v), ip(v)))
            else:
                strs.add(v)

    add(right)
    return Values(tuple(ints), frozenset(strs))


def _scalar(v: Any, key: str) -> int:
    if isinstance(v, int):
        return v
    if isinstance(v, str) and "." in v:
        return ip(v)
    return int(v) if str(v).isdigit() else _PROTO_NUM.get(str(v), 0) if key else 0


def _rule(rs: Ruleset, r: dict[str, Any], index: int) -> NftRule:
    conds: list[Cond] = []
    verdict: str | None = None
    target: str | None = None
    log = False
    unsupported: list[str] = []
    words: list[str] = []
    for e in r.get("expr", []):
        ((kind, body),) = e.items()
        if kind == "match":
            key = _key(body.get("left"))
            right = body.get("right")
            op = body.get("op", "==")
            if key is None or op not in ("==", "!=", "in"):
                unsupported.append(json.dumps(e, sort_keys=True))
                continue
            if isinstance(right, str) and right.startswith("@"):
                values = rs.sets.get((r["family"], r["table"], right[1:]))
                if values is None:
                    rs.undefined.append((_stub(r, index), f"set {right}"))
                    unsupported.append(f"undefined set {right}")
                    continue
            else:
                values = _values(right, key)
            conds.append(Cond(key, values, op == "!="))
            words.append(f"{key.replace('.', ' ')} {'!= ' if op == '!=' else ''}{_show(right)}")
        elif kind in TERMINAL or kind in ("return", "continue"):
            verdict = kind
            words.append(kind)
        elif kind in ("jump", "goto"):
            verdict, target = kind, body.get("target")
            words.append(f"{kind} {target}")
            if (r["family"], r["table"], target) not in rs.chains:
                rs.undefined.append((_stub(r, index), f"chain {target}"))
        elif kind == "log":
            log = True
            words.append(
                "log"
                + (
                    f' prefix "{body["prefix"]}"'
                    if isinstance(body, dict) and body.get("prefix")
                    else ""
                )
            )
        elif kind in ("counter", "limit", "comment"):
            words.append(kind)
        else:
            unsupported.append(kind)
            words.append(kind)
    return NftRule(
        r["chain"],
        r["table"],
        r["family"],
        int(r.get("handle", 0)),
        index,
        conds,
        verdict,
        target,
        log,
        unsupported,
        " ".join(words),
        str(r.get("comment") or _counter_name(r)),
    )


def _counter_name(r: dict[str, Any]) -> str:
    """The named counter a rule counts in (``counter name "x"``), "" when none."""
    for e in r.get("expr", []):
        body = e.get("counter") if isinstance(e, dict) else None
        if isinstance(body, str):
            return body
    return ""


def _stub(r: dict[str, Any], index: int) -> NftRule:
    return NftRule(
        r["chain"],
        r["table"],
        r["family"],
        int(r.get("handle", 0)),
        index,
        [],
        None,
        None,
        False,
        [],
        "",
    )


def _show(v: Any) -> str:
    if isinstance(v, dict) and "prefix" in v:
        return f"{v['prefix']['addr']}/{v['prefix']['len']}"
    if isinstance(v, dict) and "set" in v:
        return "{ " + ", ".join(_show(x) for x in v["set"]) + " }"
    if isinstance(v, dict) and "range" in v:
        return f"{v['range'][0]}-{v['range'][1]}"
    if isinstance(v, list):
        return "{ " + ", ".join(_show(x) for x in v) + " }"
    return str(v)


def rule_ev(rs: Ruleset, r: NftRule, note: str = "") -> Evidence:
    where = f"{r.family} {r.table} {r.chain} handle {r.handle}"
    return evidence(rs.path, 0, f"{where}: {r.text or '(' + ', '.join(r.unsupported) + ')'}", note)


def chain_ev(rs: Ruleset, c: Chain, note: str = "") -> Evidence:
    hook = f"hook {c.hook} " if c.hook else ""
    return evidence(
        rs.path,
        0,
        f"chain {c.family} {c.table} {c.name} {{ type {c.type} {hook}policy {c.policy}; }}",
        note,
    )


# --- predicates -----------------------------------------------------------------------------


@predicate("nft.default_deny")
def default_deny(ctx: AuditContext, _args: None) -> Outcome:
    rs: Ruleset = ctx.doc
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for hook in ("input", "forward"):
        chains = rs.base_chains(hook)
        if not chains:
            bad.append(absent(rs.path, f"no base chain on hook {hook}: everything is accepted"))
        for c in chains:
            last = c.rules[-1] if c.rules else None
            closes = last is not None and not last.conds and last.verdict in ("drop", "reject")
            (good if c.policy == "drop" or closes else bad).append(chain_ev(rs, c))
    if bad:
        return failed("input or forward is not default-deny", bad)
    return passed("input and forward drop by default", good)


@predicate("nft.no_accept_all")
def no_accept_all(ctx: AuditContext, _args: None) -> Outcome:
    rs: Ruleset = ctx.doc
    bad = [
        rule_ev(rs, r, "accepts everything")
        for c in rs.chains.values()
        for r in c.rules
        if r.verdict == "accept" and not r.conds and not r.unsupported
    ]
    if bad:
        return failed("a rule accepts every packet", bad)
    return passed("no accept-all rule")


@predicate("nft.logged_drops")
def logged_drops(ctx: AuditContext, _args: None) -> Outcome:
    rs: Ruleset = ctx.doc
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for hook in ("input", "forward"):
        for c in rs.base_chains(hook):
            tail = [r for r in c.rules if not r.conds]
            logged = any(r.log for r in tail)
            (good if logged else bad).append(
                chain_ev(rs, c, "drops logged" if logged else "drops not logged")
            )
    if bad:
        return failed("dropped packets leave no trace", bad)
    if not good:
        return not_applicable("no input/forward chain")
    return passed("drops are logged", good)


def _covers(a: NftRule, b: NftRule) -> bool:
    """Whether ``a`` matches every packet ``b`` matches (conservative: False when unsure)."""
    if a.unsupported or b.unsupported:
        return False
    for ca in a.conds:
        if ca.negate:
            if not any(cb.key == ca.key and cb.negate and cb.values == ca.values for cb in b.conds):
                return False
            continue
        same = [cb for cb in b.conds if cb.key == ca.key and not cb.negate]
        if not any(cb.values.subset_of(ca.values) for cb in same):
            return False
    return True


def _overlaps(ctx: AuditContext, same_verdict: bool) -> list[Evidence]:
    rs: Ruleset = ctx.doc
    out: list[Evidence] = []
    for c in rs.chains.values():
        for j, b in enumerate(c.rules):
            if b.verdict not in TERMINAL:
                continue
            for a in c.rules[:j]:
                if (
                    a.verdict not in TERMINAL
                    or (a.verdict == b.verdict) != same_verdict
                    or (a.log != b.log and same_verdict)
                ):
                    continue
                if _covers(a, b):
                    out.append(rule_ev(rs, b, "never reached" if not same_verdict else "redundant"))
                    out.append(rule_ev(rs, a, f"covers handle {b.handle}"))
                    break
    return out


@predicate("nft.shadowed_rules")
def shadowed_rules(ctx: AuditContext, _args: None) -> Outcome:
    evs = _overlaps(ctx, same_verdict=False)
    if evs:
        return failed(
            "a rule is never reached: an earlier rule matches all its packets with another verdict",
            evs,
        )
    return passed("no shadowed rule")


@predicate("nft.redundant_rules")
def redundant_rules(ctx: AuditContext, _args: None) -> Outcome:
    evs = _overlaps(ctx, same_verdict=True)
    if evs:
        return failed("a rule repeats what an earlier rule already does", evs)
    return passed("no redundant rule")


@predicate("nft.undefined_references")
def undefined_references(ctx: AuditContext, _args: None) -> Outcome:
    rs: Ruleset = ctx.doc
    bad = [rule_ev(rs, r, f"refers to undefined {what}") for r, what in rs.undefined]
    if bad:
        return failed("rules refer to sets or chains that do not exist", bad)
    return passed("every set and chain referred to exists")


@predicate("nft.unsupported")
def unsupported_rules(ctx: AuditContext, _args: None) -> Outcome:
    """Condition helper: the ruleset uses only expressions the evaluator understands."""
    rs: Ruleset = ctx.doc
    bad = [rule_ev(rs, r) for c in rs.chains.values() for r in c.rules if r.unsupported]
    return failed("unsupported expressions", bad) if bad else passed()


@predicate("nft.in_inventory")
def in_inventory(ctx: AuditContext, _args: None) -> Outcome:
    """Condition: the firewall is in the inventory (its site, zones and interfaces are known)."""
    if ctx.device is None or ctx.inventory is None:
        return not_applicable(
            "the firewall is not in the inventory: no flow policy to check against"
        )
    return passed()
