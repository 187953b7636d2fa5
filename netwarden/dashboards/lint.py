"""The dashboard linter: what Grafana and promtool do not check, held for every panel.

- every panel reads the ``$datasource`` variable (panel and each query) and has a
  description and a unit Grafana knows (the SDK's unit list);
- every dashboard has the ``$datasource`` and ``$site`` variables;
- every PromQL expression parses (``promql-parser``, after the Grafana variables are
  replaced by values of their kind);
- a counter (a name ending ``_total``, or one a ``/metrics`` page declares
  ``# TYPE counter``) appears only inside ``rate``, ``irate`` or ``increase``: its raw
  value is an artefact of when the process started. Existence tests are the exception:
  the right operand of ``and``/``unless``, the argument of ``count``/``absent``, and
  ``C unless C offset D`` (the series that appeared within D: the access rules count a
  counter's first events so, since a rate needs two samples);
- in a panel, every range is ``[$__rate_interval]`` (Grafana's range of at least four
  scrapes, so a rate never runs on one sample).

:func:`metric_names` gives the names an expression reads, for the check (integration
test) that every one is exported by our exporters, the auditor, node_exporter, the
recording rules or Prometheus itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import promql_parser as pp
from grafana_foundation_sdk.models import units

RATE_INTERVAL_SENTINEL = timedelta(seconds=7777)
"""What ``$__rate_interval`` becomes before parsing: a range no one writes by hand, so a
range that is not it was not ``$__rate_interval``."""
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase"})
EXISTENCE = frozenset({"and", "unless", "count", "absent", "absent_over_time"})
"""Operators and functions that read whether a series exists, not its value."""
GRAFANA_UNITS = frozenset(
    value
    for name, value in vars(units).items()
    if not name.startswith("_") and isinstance(value, str)
)
"""Every unit id the SDK knows (grafana_foundation_sdk.models.units)."""
PANEL_VARIABLES = {
    "__rate_interval": f"{int(RATE_INTERVAL_SENTINEL.total_seconds())}s",
    "__interval": "1m",
    "__range": "6h",
    "site": "lint-site",
    "datasource": "lint-datasource",
}
"""Grafana variables a panel may use and what each becomes for the parser."""
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Expression:
    """A PromQL expression and where it is (for the linter's messages)."""

    where: str
    expr: str
    in_panel: bool


def substitute(expr: str) -> str:
    """``expr`` with the Grafana variables replaced by values the parser accepts.

    Raises:
        ValueError: a variable no dashboard defines.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in PANEL_VARIABLES:
            raise ValueError(f"unknown Grafana variable ${name}")
        return PANEL_VARIABLES[name]

    return _VARIABLE.sub(value, expr)


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, pp.AggregateExpr):
        yield node.expr
        if node.param is not None:
            yield node.param
    elif isinstance(node, pp.BinaryExpr):
        yield node.lhs
        yield node.rhs
    elif isinstance(node, pp.Call):
        yield from node.args
    elif isinstance(node, pp.MatrixSelector):
        yield node.vector_selector
    elif isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
        yield node.expr


def _name(selector: Any) -> str | None:
    if selector.name:
        return str(selector.name)
    for matcher in selector.matchers.matchers:
        if matcher.name == "__name__" and matcher.op == pp.MatchOp.Equal:
            return str(matcher.value)
    return None


def _new_series_idiom(node: Any) -> bool:
    """``C unless C offset D``: the series of counter C that appeared within D, whose raw
    value is then their increase since they appeared (the access rules count a device's
    first events this way; a rate needs two samples)."""
    return (
        isinstance(node, pp.BinaryExpr)
        and str(node.op) == "unless"
        and isinstance(node.lhs, pp.VectorSelector)
        and isinstance(node.rhs, pp.VectorSelector)
        and _name(node.lhs) == _name(node.rhs)
        and node.rhs.offset is not None
    )


def _child_allowed(node: Any, child: Any, allowed: bool) -> bool:
    if isinstance(node, pp.Call):
        return node.func.name in COUNTER_FUNCTIONS or node.func.name in EXISTENCE
    if isinstance(node, pp.AggregateExpr):
        return str(node.op) in EXISTENCE
    if isinstance(node, pp.BinaryExpr) and str(node.op) in EXISTENCE:
        # the right operand of and/unless only filters: its values are never read
        return child is node.rhs or _new_series_idiom(node) or allowed
    # a range or parentheses pass the permission on; anything else takes it away
    return allowed and isinstance(node, (pp.MatrixSelector, pp.ParenExpr))


def _walk(node: Any, allowed: bool) -> Iterator[tuple[Any, bool]]:
    """Every node with whether a counter may be there (the range of a rate/irate/
    increase, or an existence test)."""
    yield node, allowed
    for child in _children(node):
        yield from _walk(child, _child_allowed(node, child, allowed))


def metric_names(expr: str, in_panel: bool = True) -> set[str]:
    """The metric names ``expr`` reads (a panel's after substituting Grafana variables)."""
    tree = pp.parse(substitute(expr) if in_panel else expr)
    names = set()
    for node, _ in _walk(tree, False):
        if isinstance(node, pp.VectorSelector):
            name = _name(node)
            if name:
                names.add(name)
    return names


def lint_expression(item: Expression, counters: Iterable[str] = ()) -> list[str]:
    """Problems of one expression: parse errors, bare counters, hand-written ranges."""
    known_counters = set(counters)
    try:
        tree = pp.parse(substitute(item.expr) if item.in_panel else item.expr)
    except ValueError as exc:
        return [f"{item.where}: does not parse: {exc} ({item.expr!r})"]
    problems = []
    for node, inside in _walk(tree, False):
        if isinstance(node, pp.VectorSelector):
            name = _name(node)
            if name and (name.endswith("_total") or name in known_counters) and not inside:
                problems.append(
                    f"{item.where}: counter {name} outside rate/irate/increase ({item.expr!r})"
                )
        if (
            item.in_panel
            and isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr))
            and node.range != RATE_INTERVAL_SENTINEL
        ):
            problems.append(f"{item.where}: range other than [$__rate_interval] ({item.expr!r})")
    return problems


def panel_expressions(dashboard: dict[str, Any]) -> list[Expression]:
    """Every query of every panel of a provisioning JSON dashboard."""
    out = []
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            where = f"{dashboard.get('uid')}: {panel.get('title')!r} {target.get('refId')}"
            out.append(Expression(where, str(target.get("expr", "")), in_panel=True))
    return out


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def lint_dashboard(dashboard: dict[str, Any], counters: Iterable[str] = ()) -> list[str]:
    """Every problem of a provisioning JSON dashboard (empty: it passes)."""
    uid = dashboard.get("uid")
    problems = []
    variables = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}
    for needed in ("datasource", "site"):
        if needed not in variables:
            problems.append(f"{uid}: no ${needed} variable")
    wanted_ds = "${datasource}"
    for panel in _panels(dashboard):
        where = f"{uid}: {panel.get('title')!r}"
        if not panel.get("title"):
            problems.append(f"{uid}: panel {panel.get('id')} has no title")
        if not str(panel.get("description", "")).strip():
            problems.append(f"{where}: no description")
        unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
        if not unit:
            problems.append(f"{where}: no unit")
        elif unit not in GRAFANA_UNITS:
            problems.append(f"{where}: unit {unit!r} is not one Grafana knows")
        if (panel.get("datasource") or {}).get("uid") != wanted_ds:
            problems.append(f"{where}: panel data source is not {wanted_ds}")
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{where}: no query")
        for target in targets:
            if (target.get("datasource") or {}).get("uid") != wanted_ds:
                problems.append(
                    f"{where} {target.get('refId')}: query data source is not {wanted_ds}"
                )
    for item in panel_expressions(dashboard):
        problems += lint_expression(item, counters)
    return problems


def rule_expressions(groups: Iterable[dict[str, Any]], source: str) -> list[Expression]:
    """Every expression of the rule groups of a Prometheus rule file."""
    out = []
    for group in groups:
        for rule in group.get("rules", []):
            name = rule.get("record") or rule.get("alert")
            out.append(Expression(f"{source}: {name}", str(rule["expr"]), in_panel=False))
    return out
