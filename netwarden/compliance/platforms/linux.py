"""Linux servers: ``sshd -T``, ``sysctl -a``, ``auditctl -l``/``-s``, login.defs, PAM, packages, sockets.

A device is either a folder of files (``sshd-T.txt``, ``sysctl.txt``, ...; see
:mod:`netwarden.compliance.sources`) or one bundle file whose sections start
with ``#@ <name>`` lines (``sshd``, ``sysctl``, ``auditctl-l``, ``auditctl-s``,
``login.defs``, ``pam``, ``packages``, ``sockets``). The live audit reads a server
into the same bundle (the server snapshot, :mod:`netwarden.devices.linuxstate`), so
live, offline and a server's backup are parsed here alike. A section's
``# read: <what> as <whom> on <device> (<address>)`` line is its source: evidence
from it carries that as its note. A ``# not read: <why>`` line marks a section the
session could not read: its rules are errors with that reason, not failures.
Line numbers in evidence are those of the file the line came from.

Examples:
    >>> facts = parse_bundle("#@ sshd\\npermitrootlogin no\\n#@ sysctl\\nnet.ipv4.ip_forward = 0\\n", "s.linux")
    >>> facts.sections["sshd"].values["permitrootlogin"]
    (2, 'no')
    >>> facts.sections["sysctl"].values["net.ipv4.ip_forward"]
    (4, '0')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from netwarden.basemodel import FrozenModel
from netwarden.compliance.models import Evidence, Status
from netwarden.compliance.predicates import (
    AuditContext,
    Outcome,
    absent,
    evidence,
    failed,
    passed,
    predicate,
    register_platform,
)
from netwarden.compliance.sources import LINUX_FILES, Artifact

SECTIONS = tuple(LINUX_FILES)
READ_MARK = "# read:"
UNREAD_MARK = "# not read:"


@dataclass(slots=True)
class Section:
    """One command output or file: its lines (number, text) and ``key value`` pairs."""

    path: str
    lines: list[tuple[int, str]] = field(default_factory=list)
    values: dict[str, tuple[int, str]] = field(default_factory=dict)
    source: str = ""
    """What was read, as whom and where (a live read's ``# read:`` line); "" for files."""
    unread: str = ""
    """Why the section could not be read (``# not read:``); "" when it was."""


@dataclass(slots=True)
class LinuxFacts:
    path: str
    sections: dict[str, Section]


def _section(name: str, path: str, lines: list[tuple[int, str]]) -> Section:
    sec = Section(path, lines)
    for n, text in lines:
        t = text.strip()
        if t.startswith(READ_MARK) and not sec.source:
            sec.source = t.removeprefix(READ_MARK).strip()
        elif t.startswith(UNREAD_MARK) and not sec.unread:
            sec.unread = t.removeprefix(UNREAD_MARK).strip()
        if not t or t.startswith("#"):
            continue
        if name == "sysctl":
            k, sep, v = t.partition("=")
            if sep:
                sec.values[k.strip()] = (n, v.strip())
        elif name in ("sshd", "login.defs", "auditctl-s"):
            k, *rest = t.split(None, 1)  # login.defs separates with tabs as often as spaces
            v = rest[0] if rest else ""
            sec.values.setdefault(k.lower() if name == "sshd" else k, (n, v.strip()))
    return sec


def parse_bundle(text: str, path: str) -> LinuxFacts:
    facts = LinuxFacts(path, {})
    current: str | None = None
    lines: list[tuple[int, str]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.startswith("#@ "):
            if current is not None:
                facts.sections[current] = _section(current, path, lines)
            current, lines = raw[3:].strip(), []
            if current not in SECTIONS:
                raise ValueError(
                    f"{path}:{n}: unknown section {current!r}; expected one of {', '.join(SECTIONS)}"
                )
            continue
        if current is not None:
            lines.append((n, raw))
    if current is not None:
        facts.sections[current] = _section(current, path, lines)
    if not facts.sections:
        raise ValueError(
            f"{path}: no `#@ <section>` header; expected sections {', '.join(SECTIONS)}"
        )
    return facts


class LinuxDriver:
    name = "linux"
    pack = "linux.yml"

    def parse(self, artifact: Artifact, extra: Mapping[str, Artifact]) -> LinuxFacts:
        if extra:
            return LinuxFacts(
                artifact.path,
                {
                    k: _section(k, a.path, list(enumerate(a.text.splitlines(), 1)))
                    for k, a in extra.items()
                },
            )
        return parse_bundle(artifact.text, artifact.path)


register_platform(LinuxDriver())


def _sec(ctx: AuditContext, name: str) -> Section | Outcome:
    """The section ``name``, or the error outcome of a rule whose command output was not collected."""
    sec: Section | None = ctx.doc.sections.get(name)
    if sec is None:
        return Outcome(
            Status.ERROR,
            f"the {name} output was not collected",
            [absent(ctx.doc.path, f"no {name} section")],
        )
    if sec.unread:
        return Outcome(
            Status.ERROR,
            f"the {name} output could not be read: {sec.unread}",
            [absent(sec.path, f"{sec.source}: {sec.unread}" if sec.source else sec.unread)],
        )
    return sec


def _ev(sec: Section, n: int, text: str, note: str = "") -> Evidence:
    """Evidence for line ``n``; a live section's source (what was read, where) is the note."""
    if sec.source:
        note = f"{note}; read: {sec.source}" if note else f"read: {sec.source}"
    return evidence(sec.path, n, text, note)


def _said(sec: Section) -> list[Evidence]:
    """The section's first line of output (not its ``# read:`` line) as evidence; [] when empty."""
    return [_ev(sec, n, t) for n, t in sec.lines if t.strip() and not t.startswith(READ_MARK)][:1]


def _absent(sec: Section, note: str) -> Evidence:
    return absent(sec.path, f"{note}; read: {sec.source}" if sec.source else note)


class ValueArgs(FrozenModel):
    section: str
    key: str
    allowed: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    default: str | None = None


@predicate("linux.value", ValueArgs)
def value(ctx: AuditContext, args: ValueArgs) -> Outcome:
    """One ``key value`` of a section: in ``allowed``, or a number within ``min``..``max``."""
    sec = _sec(ctx, args.section)
    if isinstance(sec, Outcome):
        return sec
    got = sec.values.get(args.key)
    if got is None:
        if args.default is None:
            return failed(f"{args.key} is not set", [_absent(sec, f"no {args.key}")])
        got = (0, args.default)
    n, v = got
    ok = True
    if args.allowed:
        ok = v.lower() in {a.lower() for a in args.allowed}
    if args.min is not None or args.max is not None:
        num = int(v) if v.lstrip("-").isdigit() else None
        ok = (
            ok
            and num is not None
            and (args.min is None or num >= args.min)
            and (args.max is None or num <= args.max)
        )
    shown = (
        _ev(sec, n, f"{args.key} {v}") if n else _absent(sec, f"{args.key} not set; default {v}")
    )
    if not ok:
        want = (
            ", ".join(args.allowed)
            if args.allowed
            else f"{args.min if args.min is not None else '-inf'}..{args.max if args.max is not None else 'inf'}"
        )
        return failed(f"{args.key} is {v}; expected {want}", [shown])
    return passed(f"{args.key} {v}", [shown])


class AlgorithmsArgs(FrozenModel):
    key: str
    forbid: str
    """A regular expression; any algorithm matching it fails the rule."""

    @cached_property
    def regex(self) -> re.Pattern[str]:
        return re.compile(self.forbid)


@predicate("linux.ssh_algorithms", AlgorithmsArgs)
def ssh_algorithms(ctx: AuditContext, args: AlgorithmsArgs) -> Outcome:
    sec = _sec(ctx, "sshd")
    if isinstance(sec, Outcome):
        return sec
    got = sec.values.get(args.key)
    if got is None:
        return failed(f"{args.key} not in sshd -T output", [_absent(sec, f"no {args.key}")])
    n, v = got
    weak = [a for a in v.split(",") if args.regex.search(a)]
    if weak:
        return failed(f"weak {args.key}: {', '.join(weak)}", [_ev(sec, n, f"{args.key} {v}")])
    return passed(f"{args.key}: no weak algorithm", [_ev(sec, n, f"{args.key} {v}")])


class SysctlArgs(FrozenModel):
    settings: dict[str, tuple[str, ...]]
    """sysctl key -> allowed values."""


@predicate("linux.sysctl", SysctlArgs)
def sysctl(ctx: AuditContext, args: SysctlArgs) -> Outcome:
    sec = _sec(ctx, "sysctl")
    if isinstance(sec, Outcome):
        return sec
    bad: list[Evidence] = []
    good: list[Evidence] = []
    for key, allowed in args.settings.items():
        got = sec.values.get(key)
        if got is None:
            bad.append(_absent(sec, f"{key} not in sysctl -a output"))
        elif got[1] not in allowed:
            bad.append(_ev(sec, got[0], f"{key} = {got[1]}", f"expected {' or '.join(allowed)}"))
        else:
            good.append(_ev(sec, got[0], f"{key} = {got[1]}"))
    if bad:
        return failed(f"{len(bad)} network sysctl(s) not hardened", bad)
    return passed("network sysctls hardened", good)


@predicate("linux.auditd_running")
def auditd_running(ctx: AuditContext, _args: None) -> Outcome:
    sec = _sec(ctx, "auditctl-s")
    if isinstance(sec, Outcome):
        return sec
    enabled, pid = sec.values.get("enabled"), sec.values.get("pid")
    evs = [
        _ev(sec, n, f"{k} {v}")
        for k, (n, v) in (("enabled", enabled or (0, "")), ("pid", pid or (0, "")))
        if n
    ]
    if enabled is None or enabled[1] not in ("1", "2") or pid is None or pid[1] in ("", "0"):
        return failed(
            "auditd is not running or auditing is disabled",
            evs or _said(sec) or [_absent(sec, "no enabled/pid")],
        )
    return passed("auditd runs and auditing is enabled", evs)


class AuditRulesArgs(FrozenModel):
    require: tuple[str, ...] = ()
    """Substrings that must each appear in some loaded rule (e.g. ``-w /etc/passwd``)."""


@predicate("linux.audit_rules", AuditRulesArgs)
def audit_rules(ctx: AuditContext, args: AuditRulesArgs) -> Outcome:
    sec = _sec(ctx, "auditctl-l")
    if isinstance(sec, Outcome):
        return sec
    rules = [(n, t) for n, t in sec.lines if t.strip().startswith("-")]
    if not rules:
        shown = _said(sec) or [_absent(sec, "empty")]
        return failed("no audit rules are loaded", shown)
    missing = [r for r in args.require if not any(r in t for _, t in rules)]
    if missing:
        return failed(
            f"audit rules do not watch {', '.join(missing)}",
            [_absent(sec, f"no rule with {m}") for m in missing],
        )
    return passed(f"{len(rules)} audit rules loaded", [_ev(sec, n, t) for n, t in rules[:5]])


class PamArgs(FrozenModel):
    module: str = "pam_pwquality.so"
    minlen: int = 14


_MINLEN_RE = re.compile(r"\bminlen=(\d+)")
_CONF_MINLEN_RE = re.compile(r"^\s*minlen\s*=\s*(\d+)\s*$")


@predicate("linux.pam_quality", PamArgs)
def pam_quality(ctx: AuditContext, args: PamArgs) -> Outcome:
    sec = _sec(ctx, "pam")
    if isinstance(sec, Outcome):
        return sec
    lines = [(n, t) for n, t in sec.lines if args.module in t and not t.lstrip().startswith("#")]
    if not lines:
        return failed(
            f"{args.module} is not in the password stack", [_absent(sec, f"no {args.module}")]
        )
    n, t = lines[0]
    m = _MINLEN_RE.search(t)
    evs = [_ev(sec, n, t)]
    if m is None:
        # no minlen argument: the module reads pwquality.conf, then pwquality.conf.d/*.conf
        # (a later setting wins); a live snapshot keeps their lines in this section
        settings = [(k, v) for k, v in sec.lines if _CONF_MINLEN_RE.match(v)]
        if settings:
            k, v = settings[-1]
            m = _CONF_MINLEN_RE.match(v)
            evs.append(_ev(sec, k, v))
    if m is None or int(m[1]) < args.minlen:
        return failed(f"minimum password length below {args.minlen}", evs)
    return passed(f"minlen {m[1]}", evs)


class PackagesArgs(FrozenModel):
    forbid: tuple[str, ...]
    """Package names that must not be installed (Debian names)."""


@predicate("linux.packages_absent", PackagesArgs)
def packages_absent(ctx: AuditContext, args: PackagesArgs) -> Outcome:
    """None of ``forbid`` is installed (the ``packages`` section: ``package version`` lines)."""
    sec = _sec(ctx, "packages")
    if isinstance(sec, Outcome):
        return sec
    forbidden = set(args.forbid)
    found = [
        (n, t.strip())
        for n, t in sec.lines
        if t.strip() and not t.lstrip().startswith("#") and t.split()[0] in forbidden
    ]
    if found:
        return failed(
            f"{len(found)} forbidden package(s) installed: "
            + ", ".join(t.split()[0] for _, t in found),
            [_ev(sec, n, t) for n, t in found],
        )
    count = sum(1 for _, t in sec.lines if t.strip() and not t.lstrip().startswith("#"))
    return passed(
        f"none of {', '.join(args.forbid)} among {count} installed packages",
        [_absent(sec, f"{count} packages searched")],
    )
