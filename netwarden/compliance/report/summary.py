"""What every report shows, computed once: posture, frameworks, severities, top risks, charts.

Plain data, no markup: the HTML template renders it (autoescaped), and the
charts are built here as numbers (bar lengths, polyline points) so no device
text is ever put into markup by hand.

Examples:
    >>> spark([("a", 0.5), ("b", 1.0)], width=100, height=20)
    '0.0,10.0 100.0,0.0'
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from netwarden.compliance.history import Changes, Posture, overall, posture_by_site
from netwarden.compliance.models import (
    FRAMEWORK_TITLES,
    AuditRun,
    Framework,
    Result,
    Rule,
    Severity,
    Status,
)
from netwarden.compliance.report.charts import TrendChart, trend_chart
from netwarden.compliance.scope import ScopeSummary, scope_of


@dataclass
class ControlRow:
    control: str
    rules: list[str] = field(default_factory=list)
    posture: Posture = field(default_factory=Posture)


@dataclass
class Risk:
    rule: Rule
    devices: list[str]
    sites: list[str]


@dataclass
class SiteRow:
    site: str
    posture: Posture
    previous: float | None
    trend_points: str
    critical_open: int


@dataclass
class Summary:
    run: AuditRun
    rules: dict[str, Rule]
    overall: Posture
    sites: list[SiteRow]
    frameworks: dict[str, list[ControlRow]]
    framework_titles: dict[str, str]
    severities: list[tuple[str, int, int]]
    """(severity, failed, waived) from the most to the least severe."""
    risks: list[Risk]
    changes: Changes
    failures: list[Result]
    by_rule: dict[str, list[Result]]
    expired_waivers: list[Result]
    cis_benchmarks: list[str]
    scope: ScopeSummary
    """What was audited, what was not and why (page 1)."""
    trend_chart: TrendChart


def spark(points: list[tuple[str, float]], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for scores 0..1 (a flat line for one point)."""
    if not points:
        return ""
    if len(points) == 1:
        y = round(height * (1 - points[0][1]), 1)
        return f"0.0,{y} {float(width)},{y}"
    step = width / (len(points) - 1)
    return " ".join(
        f"{round(i * step, 1)},{round(height * (1 - s), 1)}" for i, (_, s) in enumerate(points)
    )


def summarise(
    run: AuditRun,
    changes: Changes,
    previous: AuditRun | None,
    trend: dict[str, list[tuple[str, float]]],
    overall_trend: list[tuple[str, float]] | None = None,
) -> Summary:
    """Everything the report shows; results of unreadable devices count in no score."""
    rules = {r.id: r for r in run.rules}
    unread = run.unread
    prev_sites = posture_by_site(previous.results, previous.unread) if previous else {}
    sites = []
    for site, p in posture_by_site(run.results, unread).items():
        crit = sum(
            1
            for r in run.results
            if r.site == site and r.status is Status.FAIL and r.severity is Severity.CRITICAL
        )
        sites.append(
            SiteRow(
                site,
                p,
                prev_sites[site].score if site in prev_sites else None,
                spark(trend.get(site, [])),
                crit,
            )
        )
    frameworks: dict[str, list[ControlRow]] = {}
    for fw in Framework:
        rows: dict[str, ControlRow] = {}
        for r in run.results:
            rule = rules.get(r.rule)
            if rule is None:
                continue
            for cid in rule.references.ids(fw):
                row = rows.setdefault(cid, ControlRow(cid))
                if rule.id not in row.rules:
                    row.rules.append(rule.id)
                row.posture.add(r.status, unread=r.device in unread)
        frameworks[fw.value] = sorted(rows.values(), key=lambda c: _natural(c.control))
    failed = Counter(r.severity for r in run.results if r.status is Status.FAIL)
    waived = Counter(r.severity for r in run.results if r.status is Status.WAIVED)
    severities = [(s.value, failed[s], waived[s]) for s in Severity]
    failures = sorted(
        (r for r in run.results if r.status in (Status.FAIL, Status.ERROR)),
        key=lambda r: (-r.severity.rank, r.rule, r.device),
    )
    by_rule: dict[str, list[Result]] = {}
    for r in run.results:
        if r.status in (Status.FAIL, Status.ERROR, Status.WAIVED):
            by_rule.setdefault(r.rule, []).append(r)
    risks = []
    for rid, res in by_rule.items():
        open_ = [r for r in res if r.status is Status.FAIL]
        if open_ and rid in rules:
            risks.append(
                Risk(rules[rid], sorted({r.device for r in open_}), sorted({r.site for r in open_}))
            )
    risks.sort(key=lambda k: (-k.rule.severity.rank, -len(k.devices), k.rule.id))
    benchmarks = sorted({c.benchmark for r in run.rules for c in r.references.cis})
    return Summary(
        run=run,
        rules=rules,
        overall=overall(run.results, unread),
        sites=sites,
        frameworks=frameworks,
        framework_titles={f.value: t for f, t in FRAMEWORK_TITLES.items()},
        severities=severities,
        risks=risks[:5],
        changes=changes,
        failures=failures,
        by_rule=dict(
            sorted(
                by_rule.items(),
                key=lambda kv: (-rules[kv[0]].severity.rank if kv[0] in rules else 0, kv[0]),
            )
        ),
        expired_waivers=[r for r in run.results if r.expired_waiver is not None],
        cis_benchmarks=benchmarks,
        scope=scope_of(run),
        trend_chart=trend_chart(trend, overall_trend or []),
    )


def _natural(text: str) -> tuple[tuple[int, object], ...]:
    parts: list[tuple[int, object]] = []
    for chunk in text.replace("(", ".").replace(")", "").replace("-", ".").split("."):
        parts.append((0, int(chunk)) if chunk.isdigit() else (1, chunk))
    return tuple(parts)
