"""IOS predicates: small functions the IOS pack (``packs/ios.yml``) names by id.

Generic ones (a line present, absent, required in every section, a number at
most N) carry most rules as data; the specific ones below exist where a rule
needs more than a regular expression (SNMP communities, routing protocol
authentication, interface roles from the inventory).

Examples:
    >>> from netwarden.compliance.sources import Target
    >>> cfg = parse_ios("aaa new-model\\n", "sw1.cfg")
    >>> ctx = AuditContext(Target("sw1", "ios", Artifact("sw1.cfg", "")), cfg)
    >>> present(ctx, PresentArgs(match="^aaa new-model$")).status.value
    'pass'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cached_property

from netwarden.basemodel import FrozenModel
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
from netwarden.ios.parse import IosConfig, Line, parse_ios


class IosDriver:
    name = "ios"
    pack = "ios.yml"

    def parse(self, artifact: Artifact, extra: Mapping[str, Artifact]) -> IosConfig:  # noqa: ARG002
        return parse_ios(artifact.text, artifact.path)


register_platform(IosDriver())


def ev(ctx: AuditContext, ln: Line, note: str = "", cfg: IosConfig | None = None) -> Evidence:
    """Evidence for one parsed line, as it stands in its file (indentation kept, secrets redacted)."""
    doc: IosConfig = cfg or ctx.doc
    text = doc.lines[ln.number - 1].rstrip() if 0 < ln.number <= len(doc.lines) else ln.text
    return evidence(doc.path, ln.number, text, note)


def nothing(ctx: AuditContext, note: str) -> Evidence:
    return absent(ctx.doc.path, note)


_WORD_RE = re.compile(r"^\^([A-Za-z][\w-]*)(?= |\\s|\$|$)")


def _first_word(pattern: str) -> str | None:
    """The literal first word a ``^word ...`` pattern needs (the command index key), if any."""
    m = _WORD_RE.match(pattern)
    return m[1] if m else None


def _scan(cfg: IosConfig, pattern: re.Pattern[str], word: str | None) -> list[Line]:
    lines = cfg.commands(word) if word is not None else cfg.top
    return [ln for ln in lines if pattern.search(ln.text)]


class PatternArgs(FrozenModel):
    """A regular expression on top-level commands; its literal first word selects the index."""

    match: str
    message: str = ""

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.match)

    @cached_property
    def word(self) -> str | None:
        return _first_word(self.match)


class PresentArgs(PatternArgs):
    contrary: str | None = None
    """Lines that prove the opposite (``^no aaa new-model``): cited as evidence of a failure."""


@predicate("ios.present", PresentArgs)
def present(ctx: AuditContext, args: PresentArgs) -> Outcome:
    """Pass when a top-level command matches ``match``."""
    hits = _scan(ctx.doc, args.regex, args.word)
    contrary = (
        _scan(ctx.doc, re.compile(args.contrary), _first_word(args.contrary))
        if args.contrary
        else []
    )
    # The later command wins, as when IOS applies the file in order.
    if hits and (not contrary or hits[-1].number > contrary[-1].number):
        return passed(
            "",
            [ev(ctx, h) for h in hits[-10:]]
            + [ev(ctx, c, "overridden by a later line") for c in contrary],
        )
    ev_lines = [ev(ctx, ln) for ln in contrary]
    return failed(
        args.message or f"no command matches {args.match!r}",
        ev_lines or [nothing(ctx, f"no line matches {args.match}")],
    )


@predicate("ios.absent", PatternArgs)
def absent_cmd(ctx: AuditContext, args: PatternArgs) -> Outcome:
    """Fail when a command at any depth matches ``match`` (every match is evidence)."""
    if args.word is not None:
        hits = _scan(ctx.doc, args.regex, args.word)
    else:
        hits = [ln for ln in ctx.doc.walk() if args.regex.search(ln.text)]
    if hits:
        return failed(
            args.message or f"{len(hits)} line(s) match {args.match!r}", [ev(ctx, h) for h in hits]
        )
    return passed(f"no line matches {args.match}")


class SectionArgs(FrozenModel):
    section: str
    """Prefix of the parent commands, e.g. ``line vty``."""
    require: str | None = None
    forbid: str | None = None
    message: str = ""
    missing_is_failure: bool = True

    @cached_property
    def require_re(self) -> re.Pattern[str] | None:
        return re.compile(self.require) if self.require else None

    @cached_property
    def forbid_re(self) -> re.Pattern[str] | None:
        return re.compile(self.forbid) if self.forbid else None


@predicate("ios.sections", SectionArgs)
def sections(ctx: AuditContext, args: SectionArgs) -> Outcome:
    """Every ``section`` has a child matching ``require`` and none matching ``forbid``."""
    secs = ctx.doc.sections(args.section)
    if not secs:
        if args.missing_is_failure:
            return failed(
                f"no {args.section} section", [nothing(ctx, f"no {args.section} section")]
            )
        return not_applicable(f"no {args.section} section")
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for sec in secs:
        kids = sec.children
        if args.require_re is not None:
            hit = next((c for c in kids if args.require_re.search(c.text)), None)
            if hit is None:
                bad.append(ev(ctx, sec, f"no child matches {args.require}"))
            else:
                good.append(ev(ctx, hit))
        if args.forbid_re is not None:
            bad += [ev(ctx, c, "forbidden") for c in kids if args.forbid_re.search(c.text)]
    if bad:
        return failed(args.message or f"{args.section}: requirement not met", bad)
    return passed("", good)


class ValueArgs(PatternArgs):
    """``match`` captures one number; it must be at most ``max`` (``default`` when the line is absent)."""

    max: int
    min: int | None = None
    default: int | None = None


@predicate("ios.value_at_most", ValueArgs)
def value_at_most(ctx: AuditContext, args: ValueArgs) -> Outcome:
    hits = _scan(ctx.doc, args.regex, args.word)
    if not hits:
        if args.default is not None and args.default <= args.max:
            return passed(f"not set; the IOS default {args.default} is within {args.max}")
        return failed(
            args.message or f"not set (IOS default {args.default}); must be at most {args.max}",
            [nothing(ctx, f"no line matches {args.match}")],
        )
    ln = hits[-1]
    m = args.regex.search(ln.text)
    value = int(m[1]) if m else -1
    if value > args.max or (args.min is not None and value < args.min):
        return failed(args.message or f"{value} exceeds {args.max}", [ev(ctx, ln)])
    return passed(f"{value} <= {args.max}", [ev(ctx, ln)])


class CountArgs(PatternArgs):
    min: int


@predicate("ios.count_at_least", CountArgs)
def count_at_least(ctx: AuditContext, args: CountArgs) -> Outcome:
    hits = _scan(ctx.doc, args.regex, args.word)
    evs = [ev(ctx, h) for h in hits] or [nothing(ctx, f"no line matches {args.match}")]
    if len(hits) < args.min:
        return failed(args.message or f"{len(hits)} configured, at least {args.min} required", evs)
    return passed(f"{len(hits)} configured", evs)


# --- lines (con, vty, aux) -------------------------------------------------------------

_TIMEOUT_RE = re.compile(r"^exec-timeout (\d+)(?: (\d+))?")


class ExecTimeoutArgs(FrozenModel):
    max_minutes: int = 10
    lines: tuple[str, ...] = ("con", "vty", "aux")


@predicate("ios.exec_timeout", ExecTimeoutArgs)
def exec_timeout(ctx: AuditContext, args: ExecTimeoutArgs) -> Outcome:
    """exec-timeout on every con/vty/aux line at most ``max_minutes`` (or the inventory policy) and not 0."""
    limit = args.max_minutes
    if ctx.inventory is not None:
        limit = min(limit, ctx.inventory.policy.exec_timeout_minutes)
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for kind in args.lines:
        for sec in ctx.doc.sections(f"line {kind}"):
            t = sec.child("exec-timeout")
            if t is None:
                if limit < 10:
                    bad.append(ev(ctx, sec, "IOS default 10 minutes exceeds the policy"))
                continue  # the IOS default is 10 minutes
            m = _TIMEOUT_RE.match(t.text)
            seconds = int(m[1]) * 60 + int(m[2] or 0) if m else 0
            if seconds == 0 or seconds > limit * 60:
                bad.append(
                    ev(ctx, t, "0 0 never times out" if seconds == 0 else f"over {limit} minutes")
                )
            else:
                good.append(ev(ctx, t))
    if bad:
        return failed(f"idle sessions stay open longer than {limit} minutes", bad)
    return passed(f"every line times out within {limit} minutes", good)


@predicate("ios.vty_login_auth")
def vty_login_auth(ctx: AuditContext, _args: None) -> Outcome:
    """Every VTY line authenticates through an AAA login list: its explicit
    ``login authentication X`` (X defined), or the ``default`` list when it names none."""
    lists = {
        ln.text.split()[3]: ln
        for ln in ctx.doc.starting("aaa authentication login ")
        if len(ln.text.split()) > 4
    }
    vtys = ctx.doc.sections("line vty")
    if not vtys:
        return failed("no line vty section", [nothing(ctx, "no line vty")])
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for sec in vtys:
        explicit = sec.child("login authentication ")
        name = explicit.text.split()[2] if explicit is not None else "default"
        if name in lists:
            good += [ev(ctx, explicit or sec), ev(ctx, lists[name], f"list {name}")]
            continue
        why = (
            f"login list {name} is not defined"
            if explicit is not None
            else "no AAA default login list"
        )
        bad.append(ev(ctx, explicit or sec, why))
        bad += [
            ev(ctx, c, "line password login")
            for c in sec.children
            if c.text in ("login", "login local", "no login")
        ]
    if bad:
        return failed("a VTY line does not authenticate through AAA", bad)
    return passed("every VTY line uses an AAA login list", good)


# --- banners ----------------------------------------------------------------------------


class BannerArgs(FrozenModel):
    kind: str


@predicate("ios.banner", BannerArgs)
def banner(ctx: AuditContext, args: BannerArgs) -> Outcome:
    b = ctx.doc.banners.get(args.kind)
    if b is None or not b.text.strip():
        return failed(f"no banner {args.kind}", [nothing(ctx, f"no banner {args.kind}")])
    first = ctx.doc.lines[b.first - 1]
    return passed("", [evidence(ctx.doc.path, b.first, first, f"banner lines {b.first}-{b.last}")])


# --- passwords --------------------------------------------------------------------------

_WEAK_PW_RE = re.compile(r"(?:^|\s)password(?: (?:0|7))? \S+|(?:^|\s)password$")
_TYPE_RE = re.compile(r"\bpassword (\d) ")
_PW_OTHER_RULES = ("no ", "service password", "aaa ", "security ", "username ", "enable password")


@predicate("ios.no_weak_passwords")
def no_weak_passwords(ctx: AuditContext, _args: None) -> Outcome:
    """No type-0 (clear) or type-7 (reversible) password anywhere (banners excluded)."""
    cfg: IosConfig = ctx.doc
    in_banner = [(b.first, b.last) for b in cfg.banners.values()]
    bad = []
    for i, raw in enumerate(cfg.lines):
        if "password" not in raw:
            continue
        n = i + 1
        t = raw.strip()
        # Users and `enable password` have their own rules; each line is judged once.
        if t.startswith(_PW_OTHER_RULES) or any(a <= n <= b for a, b in in_banner):
            continue
        m = _TYPE_RE.search(t)
        if (m is None or m[1] in ("0", "7")) and _WEAK_PW_RE.search(t):
            note = "type 7 is reversible" if m and m[1] == "7" else "clear text"
            bad.append(evidence(cfg.path, n, raw.rstrip(), note))
    if bad:
        return failed(f"{len(bad)} password(s) stored in clear text or type 7", bad)
    return passed("no type-0 or type-7 passwords")


@predicate("ios.users_secret")
def users_secret(ctx: AuditContext, _args: None) -> Outcome:
    users = ctx.doc.commands("username")
    if not users:
        return not_applicable("no local users")
    bad = [ev(ctx, u, "uses password, not secret") for u in users if " secret " not in u.text]
    if bad:
        return failed("local users with a reversible password instead of a secret", bad)
    return passed("every local user has a secret", [ev(ctx, u) for u in users])


# --- SNMP -------------------------------------------------------------------------------


def _communities(ctx: AuditContext) -> list[tuple[Line, list[str]]]:
    return [
        (ln, ln.text.split()[2:])
        for ln in ctx.doc.commands("snmp-server")
        if ln.text.startswith("snmp-server community ")
    ]


@predicate("ios.snmp_default_communities")
def snmp_default_communities(ctx: AuditContext, _args: None) -> Outcome:
    bad = [
        ev(ctx, ln)
        for ln, words in _communities(ctx)
        if words and words[0].lower() in ("public", "private")
    ]
    if bad:
        return failed("a well-known SNMP community (public/private) is configured", bad)
    return passed("no well-known community")


@predicate("ios.snmp_no_rw")
def snmp_no_rw(ctx: AuditContext, _args: None) -> Outcome:
    bad = [ev(ctx, ln) for ln, words in _communities(ctx) if "RW" in words[1:] or "rw" in words[1:]]
    if bad:
        return failed("an SNMP community grants write access", bad)
    return passed("no read-write community")


@predicate("ios.snmp_community_acl")
def snmp_community_acl(ctx: AuditContext, _args: None) -> Outcome:
    comms = _communities(ctx)
    if not comms:
        return not_applicable("no SNMP community configured")
    bad = []
    for ln, words in comms:
        rest = [w for w in words[1:] if w not in ("view", "RO", "RW", "ro", "rw")]
        if words[1:2] == ["view"]:
            rest = rest[1:]
        if not rest or rest[-1] == "ipv6":
            bad.append(ev(ctx, ln, "no access list"))
    if bad:
        return failed("an SNMP community answers any source address", bad)
    return passed("every community is limited by an access list", [ev(ctx, ln) for ln, _ in comms])


_V3_GROUP_RE = re.compile(r"^snmp-server group \S+ v3 (auth|noauth|priv)\b")


@predicate("ios.snmpv3_priv")
def snmpv3_priv(ctx: AuditContext, _args: None) -> Outcome:
    """SNMPv3 with privacy: at least one v3 ``priv`` group and no weaker v3 group.

    Communities (v1/v2c) are judged by the community rules (default names, RW, ACL).
    """
    groups = []
    bad = []
    for ln in ctx.doc.commands("snmp-server"):
        m = _V3_GROUP_RE.match(ln.text)
        if m:
            groups.append(ln)
            if m[1] != "priv":
                bad.append(ev(ctx, ln, f"v3 {m[1]}: no encryption"))
    if bad:
        return failed("SNMPv3 groups without encryption", bad)
    if not groups:
        shown = [
            ev(ctx, ln, "SNMP without v3") for ln in ctx.doc.starting("snmp-server community ")
        ]
        return failed(
            "SNMP is used without an SNMPv3 group with privacy",
            shown or [nothing(ctx, "no snmp-server group ... v3 priv")],
        )
    return passed("SNMPv3 with privacy", [ev(ctx, g) for g in groups])


# --- NTP and logging ----------------------------------------------------------------------


@predicate("ios.ntp_authentication")
def ntp_authentication(ctx: AuditContext, _args: None) -> Outcome:
    """ntp authenticate, an authentication key, that key trusted, and every server using a key."""
    cfg = ctx.doc
    ntp = cfg.commands("ntp")
    auth = [ln for ln in ntp if ln.text == "ntp authenticate"]
    keys = {ln.text.split()[2]: ln for ln in ntp if ln.text.startswith("ntp authentication-key ")}
    trusted = {ln.text.split()[2]: ln for ln in ntp if ln.text.startswith("ntp trusted-key ")}
    servers = [ln for ln in ntp if ln.text.startswith("ntp server ")]
    if not servers:
        return failed("no NTP server configured", [nothing(ctx, "no ntp server")])
    problems: list[Evidence] = []
    if not auth:
        problems.append(nothing(ctx, "no `ntp authenticate`"))
    for s in servers:
        words = s.text.split()
        key = words[words.index("key") + 1] if "key" in words[:-1] else None
        if key is None:
            problems.append(ev(ctx, s, "server without key"))
        elif key not in keys or key not in trusted:
            problems.append(ev(ctx, s, f"key {key} is not defined and trusted"))
    if problems:
        return failed("time can be spoofed: NTP is not authenticated", problems)
    return passed("NTP authenticated", [ev(ctx, ln) for ln in auth + servers])


_LEVELS = {
    "emergencies": 0,
    "alerts": 1,
    "critical": 2,
    "errors": 3,
    "warnings": 4,
    "notifications": 5,
    "informational": 6,
    "debugging": 7,
}


@predicate("ios.logging_trap")
def logging_trap(ctx: AuditContext, _args: None) -> Outcome:
    """``logging trap`` at informational or more verbose (the inventory's level when given)."""
    want = ctx.inventory.policy.syslog.trap_level if ctx.inventory is not None else "informational"
    need = _LEVELS[want]
    lines = ctx.doc.starting("logging trap")
    off = ctx.doc.first("no logging trap")
    if off is not None:
        return failed("syslog trap logging is disabled", [ev(ctx, off)])
    if not lines:
        # `logging trap informational` is the IOS default and not shown by show running-config.
        if need <= _LEVELS["informational"]:
            return passed("IOS default level informational")
        return failed(
            f"default level informational is below {want}", [nothing(ctx, "no logging trap")]
        )
    ln = lines[-1]
    word = ln.text.split()[2] if len(ln.text.split()) > 2 else "informational"
    level = int(word) if word.isdigit() else _LEVELS.get(word, -1)
    if level < need:
        return failed(f"trap level {word} drops messages below {want}", [ev(ctx, ln)])
    return passed(f"trap level {word}", [ev(ctx, ln)])
