"""IOS predicates that need the network around a device: routing protocol authentication,
interfaces by role (inventory first, else the config), running vs startup, drift from intended.

Examples:
    >>> from netwarden.ios.parse import parse_ios
    >>> from netwarden.compliance.sources import Artifact, Target
    >>> cfg = parse_ios("interface Vlan10\\n ip address 10.0.0.1 255.255.255.0\\n", "sw1.cfg")
    >>> ctx = AuditContext(Target("sw1", "ios", Artifact("sw1.cfg", "")), cfg)
    >>> proxy_arp_l3(ctx, None).status.value
    'fail'
"""

from __future__ import annotations

import re

from netwarden.basemodel import FrozenModel
from netwarden.compliance.models import Evidence
from netwarden.compliance.platforms.ios_rules import ev, nothing
from netwarden.compliance.predicates import (
    AuditContext,
    Outcome,
    absent,
    evidence,
    failed,
    not_applicable,
    passed,
    predicate,
)
from netwarden.inventory.models import InterfaceMode
from netwarden.ios.normalize import banner_kind, filtered, from_hier, ignored
from netwarden.ios.parse import Banner, IosConfig, Line, canonical_interface, interface_name
from netwarden.ios.sanitize import redact_line

# --- routing protocol authentication -----------------------------------------------------


def _l3_interfaces(ctx: AuditContext) -> list[Line]:
    memo = ctx.memo.get("l3")
    if memo is None:
        memo = ctx.memo["l3"] = [
            i
            for i in ctx.doc.sections("interface ")
            if i.mentions("ip address ")
            and i.child("ip address ") is not None
            and not interface_name(i.text).lower().startswith(("loopback", "null"))
        ]
    return list(memo)


_AREA_RE = re.compile(r"\barea (\S+)")


@predicate("ios.ospf_auth")
def ospf_auth(ctx: AuditContext, _args: None) -> Outcome:
    """Every OSPF area authenticated (router-level ``area N authentication``), or every OSPF
    interface with ``ip ospf authentication`` (message-digest or key-chain)."""
    bad: list[Evidence] = []
    good: list[Evidence] = []
    iface_auth = [i for i in _l3_interfaces(ctx) if i.mentions("ip ospf authentication")]
    for proc in ctx.doc.sections("router ospf"):
        areas = {
            m[1]
            for c in proc.children
            if c.text.startswith("network ")
            for m in [_AREA_RE.search(c.text)]
            if m
        }
        authed = {
            c.text.split()[1]
            for c in proc.children
            if c.text.startswith("area ") and " authentication" in c.text
        }
        missing = sorted(areas - authed)
        if not missing and areas:
            good += [
                ev(ctx, c)
                for c in proc.children
                if c.text.startswith("area ") and "authentication" in c.text
            ]
            continue
        if iface_auth and not authed:
            good += [ev(ctx, i.child("ip ospf authentication") or i) for i in iface_auth]
            continue
        bad.append(ev(ctx, proc, f"area(s) {', '.join(missing) or 'all'} without authentication"))
        bad += [ev(ctx, c) for c in proc.children if c.text.startswith("network ")]
    if bad:
        return failed("OSPF accepts routes from any neighbour: no authentication", bad)
    return passed("OSPF authenticated", good)


@predicate("ios.eigrp_auth")
def eigrp_auth(ctx: AuditContext, _args: None) -> Outcome:
    good = [
        ev(ctx, c)
        for p in ctx.doc.sections("router eigrp")
        for c in p.walk()
        if c.text.startswith("authentication mode")
    ]
    good += [
        ev(ctx, c)
        for i in ctx.doc.sections("interface ")
        if i.mentions("ip authentication mode eigrp")
        for c in i.children
        if c.text.startswith("ip authentication mode eigrp")
    ]
    if good:
        return passed("EIGRP authenticated", good)
    return failed(
        "EIGRP accepts routes from any neighbour: no authentication",
        [ev(ctx, p) for p in ctx.doc.sections("router eigrp")],
    )


@predicate("ios.bgp_auth")
def bgp_auth(ctx: AuditContext, _args: None) -> Outcome:
    """Every BGP neighbour (directly or through its peer-group) has a password."""
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for proc in ctx.doc.sections("router bgp"):
        kids = proc.children
        pw: set[str] = set()
        groups: set[str] = set()
        member_of: dict[str, str] = {}
        peers: dict[str, Line] = {}
        for c in kids:
            w = c.text.split()
            if len(w) < 3 or w[0] != "neighbor":
                continue
            if w[2] == "password":
                pw.add(w[1])
                good.append(ev(ctx, c))
            elif w[2] == "peer-group" and len(w) == 3:
                groups.add(w[1])
            elif w[2] == "peer-group":
                member_of[w[1]] = w[3]
                peers.setdefault(w[1], c)
            elif w[2] == "remote-as":
                peers.setdefault(w[1], c)
        for nb, ln in peers.items():
            if nb in groups or nb in pw or member_of.get(nb) in pw:
                continue
            bad.append(ev(ctx, ln, f"neighbour {nb} without password"))
    if bad:
        return failed("BGP sessions without TCP MD5 authentication", bad)
    return passed("every BGP neighbour authenticated", good)


# --- interfaces by role -----------------------------------------------------------------

_WAN_DESC_RE = re.compile(r"(?i)\b(wan|internet|isp|mpls|provider)\b")


def interfaces_by_role(ctx: AuditContext, role: str) -> list[Line]:
    """Interfaces in a role (``edge``, ``wan``): from the inventory when the device is in it,
    else from the config (``switchport mode access``; a WAN-like description or ``ip nat outside``)."""
    key = f"role:{role}"
    if key in ctx.memo:
        return list(ctx.memo[key])
    ifaces = ctx.doc.sections("interface ")
    dev = ctx.device
    if dev is not None and dev.interfaces:
        mode = InterfaceMode.ACCESS if role == "edge" else InterfaceMode.WAN
        names = {
            canonical_interface(i.name) for i in dev.interfaces if i.mode is mode and not i.shutdown
        }
        out = [i for i in ifaces if canonical_interface(interface_name(i.text)) in names]
    elif role == "edge":
        out = [i for i in ifaces if i.mentions("switchport mode access")]
    else:
        out = [
            i
            for i in ifaces
            if i.mentions("ip nat outside")
            or _WAN_DESC_RE.search(i.child_text("description ")) is not None
        ]
    ctx.memo[key] = out
    return list(out)


class RoleArgs(FrozenModel):
    role: str


@predicate("ios.has_interfaces", RoleArgs)
def has_interfaces(ctx: AuditContext, args: RoleArgs) -> Outcome:
    """Condition: the device has interfaces in ``role`` (``edge``, ``wan``, ``l3``)."""
    found = _l3_interfaces(ctx) if args.role == "l3" else interfaces_by_role(ctx, args.role)
    return passed() if found else not_applicable(f"no {args.role} interfaces")


@predicate("ios.cdp_edge")
def cdp_edge(ctx: AuditContext, _args: None) -> Outcome:
    off = ctx.doc.first("no cdp run")
    if off is not None:
        return passed("CDP disabled globally", [ev(ctx, off)])
    bad = [
        ev(ctx, i, "CDP enabled")
        for i in interfaces_by_role(ctx, "edge")
        if not i.mentions("no cdp enable")
    ]
    if bad:
        return failed("CDP reveals the device to hosts on edge ports", bad)
    return passed("CDP off on every edge port")


@predicate("ios.proxy_arp_l3")
def proxy_arp_l3(ctx: AuditContext, _args: None) -> Outcome:
    bad = [
        ev(ctx, i, "proxy ARP on") for i in _l3_interfaces(ctx) if not i.mentions("no ip proxy-arp")
    ]
    if bad:
        return failed("proxy ARP answers for other hosts on routed interfaces", bad)
    return passed("proxy ARP off on every routed interface")


_URPF_RE = re.compile(r"^ip verify unicast (?:source )?reachable-via (rx|any)")


@predicate("ios.urpf_wan")
def urpf_wan(ctx: AuditContext, _args: None) -> Outcome:
    bad: list[Evidence] = []
    good: list[Evidence] = []
    wan = interfaces_by_role(ctx, "wan")
    for i in wan:
        hit = next((c for c in i.children if _URPF_RE.match(c.text)), None)
        if hit is None:
            bad.append(ev(ctx, i, "no uRPF"))
        else:
            good.append(ev(ctx, hit))
    if ctx.device is not None and not wan:
        declared = [x.name for x in ctx.device.interfaces if x.mode is InterfaceMode.WAN]
        if declared:
            return failed(
                f"WAN interface(s) {', '.join(declared)} from the inventory are missing from the config",
                [nothing(ctx, "no interface " + declared[0])],
            )
    if bad:
        return failed("spoofed source addresses are accepted from the WAN", bad)
    return passed("uRPF on every WAN interface", good)


def config_lines(cfg: IosConfig) -> dict[tuple[str, ...], Line]:
    """Every command by its path of parent texts (the key hier_config and diffs use)."""
    out: dict[tuple[str, ...], Line] = {}
    for ln in cfg.walk():
        path = [ln.text]
        p = ln.parent
        while p is not None:
            path.append(p.text)
            p = p.parent
        out.setdefault(tuple(reversed(path)), ln)
    return out


def _key_lines(cfg: IosConfig) -> dict[tuple[str, ...], Line]:
    """:func:`config_lines` less the blocks plan and drift ignore (:func:`normalize.ignored`)."""
    return {k: v for k, v in config_lines(cfg).items() if not ignored(k[0])}


@predicate("ios.running_equals_startup")
def running_equals_startup(ctx: AuditContext, _args: None) -> Outcome:
    run, start = _key_lines(ctx.doc), _key_lines(ctx.startup)
    only_run = [ev(ctx, ln, "running only") for k, ln in run.items() if k not in start]
    only_start = [
        ev(ctx, ln, "startup only", ctx.startup) for k, ln in start.items() if k not in run
    ]
    if only_run or only_start:
        return failed(
            f"unsaved changes: {len(only_run)} line(s) only in running, {len(only_start)} only in startup; "
            "a reload would change the device",
            (only_run + only_start)[:50],
        )
    return passed("running and startup configs are the same")


@predicate("ios.intended_drift")
def intended_drift(ctx: AuditContext, _args: None) -> Outcome:
    """No remediation needed to reach the intended config (hier_config computes it).

    Both sides are normalised as ``netwarden config plan`` does (:func:`normalize.filtered`):
    lines IOS never shows or writes by itself are no drift, and a banner reads the
    same in every form. A banner that differs is one finding, shown by its first line.
    """
    from hier_config import Platform, WorkflowRemediation, get_hconfig  # noqa: PLC0415

    running = get_hconfig(Platform.CISCO_IOS, filtered("\n".join(ctx.doc.lines)))
    intended = get_hconfig(Platform.CISCO_IOS, filtered("\n".join(ctx.intended.lines)))
    remediation = WorkflowRemediation(running, intended).remediation_config
    run_idx, int_idx = config_lines(ctx.doc), config_lines(ctx.intended)
    evs: list[Evidence] = []
    banners_seen: set[str] = set()
    for child in remediation.all_children_sorted():
        if child.children:
            continue
        path: tuple[str, ...] = tuple(from_hier(c.text) for c in child.lineage())
        kind = banner_kind(path[0]) if len(path) == 1 else None
        if kind is not None:
            if kind not in banners_seen:
                banners_seen.add(kind)
                evs.extend(_banner_drift(ctx, kind))
            continue
        positive = (*path[:-1], path[-1][3:])
        if path[-1].startswith("no ") and positive in run_idx:
            evs.append(ev(ctx, run_idx[positive], "not in the intended config"))
        elif path in int_idx:
            evs.append(ev(ctx, int_idx[path], "missing from running", ctx.intended))
        else:
            evs.append(absent(ctx.doc.path, "remediation: " + _redacted_path(path)))
    if evs:
        return failed(f"{len(evs)} line(s) drift from the intended config", evs[:50])
    return passed("running matches the intended config")


def _banner_drift(ctx: AuditContext, kind: str) -> list[Evidence]:
    """Evidence for a ``banner KIND`` that differs: its first line and text on each side that has it."""
    out: list[Evidence] = []
    mine, want = ctx.doc.banners.get(kind), ctx.intended.banners.get(kind)
    if mine is not None:
        note = "differs from the intended one" if want is not None else "not in the intended config"
        out.append(_banner_ev(ctx.doc, mine, f"banner {kind} {note}"))
    if want is not None:
        note = "intended text" if mine is not None else "missing from running"
        out.append(_banner_ev(ctx.intended, want, f"banner {kind} {note}"))
    return out


_BANNER_SHOWN = 200
"""Characters of a banner quoted in a drift finding."""


def _banner_ev(cfg: IosConfig, banner: Banner, note: str) -> Evidence:
    """The banner at its command's line, on one line (text lines joined by `` / ``, shortened)."""
    text = " / ".join(line.strip() for line in banner.text.splitlines() if line.strip())
    if len(text) > _BANNER_SHOWN:
        text = text[: _BANNER_SHOWN - 3] + "..."
    return evidence(cfg.path, banner.first, f"banner {banner.kind} ^C{text}^C", note)


def _redacted_path(path: tuple[str, ...]) -> str:
    """A command path as ``parent / child``, each line redacted at its own indentation.

    Examples:
        >>> _redacted_path(("tacacs server a", "key 7 0822455D0A16"))
        'tacacs server a / key 7 <redacted>'
    """
    return " / ".join(redact_line(" " * depth + text).strip() for depth, text in enumerate(path))
