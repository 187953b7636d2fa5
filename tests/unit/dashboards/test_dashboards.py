"""The dashboards as code (netwarden/dashboards): the committed provisioning JSON is what
the catalog generates, it reads back through grafana-foundation-sdk's types unchanged,
and the dashboard linter passes on every panel and rule, and fails on bad ones.

The check that every metric a panel or rule reads is really exported runs against live
``/metrics`` pages: tests/integration/test_dashboard_metrics.py.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import dashboard as gm
from grafana_foundation_sdk.models import prometheus

from netwarden.dashboards import catalog, grafana, lint
from netwarden.dashboards.model import Dashboard, Kind, Panel, Query, Row

REPO = Path(__file__).resolve().parents[3]
GRAFANA = REPO / "dashboards" / "grafana"
RULES = sorted((REPO / "dashboards" / "rules").glob("*.rules.yml"))
DASHBOARDS = catalog.dashboards()


def _committed(dash: Dashboard) -> str:
    return (GRAFANA / grafana.filename(dash)).read_text(encoding="utf-8")


def _json(dash: Dashboard) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_committed(dash))
    return data


def test_the_five_dashboards_have_stable_unique_uids() -> None:
    assert [d.uid for d in DASHBOARDS] == [
        "netwarden-fleet",
        "netwarden-site",
        "netwarden-security",
        "netwarden-compliance",
        "netwarden-pipeline",
    ]
    for dash in DASHBOARDS:
        assert 8 <= len(dash.uid) <= 40, dash.uid  # Grafana's uid length
        assert _json(dash)["uid"] == dash.uid


def test_the_committed_json_is_what_the_catalog_generates() -> None:
    """Regenerate with `netwarden dashboards generate` (make dashboards) when this fails."""
    files = sorted(p.name for p in GRAFANA.glob("*.json"))
    assert files == sorted(grafana.filename(d) for d in DASHBOARDS)
    for dash in DASHBOARDS:
        assert _committed(dash) == grafana.render(dash), (
            f"dashboards/grafana/{grafana.filename(dash)} is stale: run "
            "`netwarden dashboards generate`"
        )


def test_the_generate_command_writes_the_same_files(tmp_path: Path) -> None:
    (tmp_path / "netwarden-old.json").write_text("{}", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "netwarden.cli", "dashboards", "generate", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.json")) == sorted(
        p.name for p in GRAFANA.glob("*.json")
    )  # the stale file is gone
    for path in GRAFANA.glob("*.json"):
        assert (tmp_path / path.name).read_text(encoding="utf-8") == path.read_text(
            encoding="utf-8"
        )


@pytest.mark.parametrize("dash", DASHBOARDS, ids=lambda d: d.uid)
def test_the_json_round_trips_through_the_sdk_types(dash: Dashboard) -> None:
    text = _committed(dash)
    parsed = grafana.parse(text)
    assert isinstance(parsed, gm.Dashboard)
    assert grafana.to_dict(parsed) == json.loads(text)
    panels = [p for p in parsed.panels or [] if isinstance(p, gm.Panel)]
    assert len(panels) == len(dash.panels())
    for panel in panels:
        # typed, not kept as an unknown bag: the SDK knows the panel type and the query
        assert panel.type_val in {k.value for k in Kind}
        for target in panel.targets or []:
            assert isinstance(target, prometheus.Dataquery), (panel.title, type(target))
            assert not isinstance(target, UnknownDataquery)


def test_the_round_trip_check_bites() -> None:
    """A field the SDK's types do not know is lost on the way back: the check sees it."""
    data = json.loads(_committed(DASHBOARDS[0]))
    data["panels"][1]["notAGrafanaField"] = 1
    text = json.dumps(data)
    assert grafana.to_dict(grafana.parse(text)) != json.loads(text)


@pytest.mark.parametrize("dash", DASHBOARDS, ids=lambda d: d.uid)
def test_every_dashboard_passes_the_linter(dash: Dashboard) -> None:
    assert lint.lint_dashboard(_json(dash)) == []


@pytest.mark.parametrize("dash", DASHBOARDS, ids=lambda d: d.uid)
def test_variables_links_and_rate_interval(dash: Dashboard) -> None:
    data = _json(dash)
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["site"]["type"] == "query"
    assert variables["site"]["includeAll"] is dash.site_all
    assert data["links"][0]["type"] == "dashboards"
    assert data["links"][0]["tags"] == ["netwarden"]
    assert "netwarden" in data["tags"]
    for item in lint.panel_expressions(data):
        if re.search(r"\b(rate|irate|increase)\(", item.expr):
            assert "[$__rate_interval]" in item.expr, item.where


def test_every_panel_has_a_unit_description_and_thresholds_where_it_says_so() -> None:
    for dash in DASHBOARDS:
        for panel in dash.panels():
            assert panel.unit, panel.title
            assert panel.description.strip(), panel.title
            values = [s.value for s in panel.thresholds]
            if values:
                assert values[0] is None, panel.title  # the base step
                assert values[1:] == sorted(v for v in values[1:] if v is not None), panel.title


def test_every_rule_passes_the_linter() -> None:
    for path in RULES:
        groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for item in lint.rule_expressions(groups, path.name):
            assert lint.lint_expression(item) == [], item.where


def test_every_alert_links_to_a_dashboard_of_the_catalog() -> None:
    uids = {d.uid for d in DASHBOARDS}
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                url = rule["annotations"].get("dashboard_url", "")
                found = re.fullmatch(r"/d/([\w-]+)\?var-site=\{\{ .*\$labels\.site.* \}\}", url)
                assert found, (rule["alert"], url)
                assert found.group(1) in uids, (rule["alert"], url)


# The linter must fail on bad panels: each case breaks one thing of a good dashboard.


def _good() -> dict[str, Any]:
    return copy.deepcopy(_json(DASHBOARDS[2]))  # Security: rates, counters, ALERTS


def _first_panel(data: dict[str, Any]) -> dict[str, Any]:
    panel: dict[str, Any] = next(p for p in data["panels"] if p["type"] != "row")
    return panel


def _break_expr(expr: str) -> dict[str, Any]:
    data = _good()
    _first_panel(data)["targets"][0]["expr"] = expr
    return data


BAD: dict[str, tuple[Any, str]] = {
    "no unit": (lambda d: _first_panel(d)["fieldConfig"]["defaults"].pop("unit"), "no unit"),
    "unknown unit": (
        lambda d: _first_panel(d)["fieldConfig"]["defaults"].update(unit="furlongs"),
        "not one Grafana knows",
    ),
    "no description": (lambda d: _first_panel(d).pop("description"), "no description"),
    "fixed data source": (
        lambda d: _first_panel(d).update(datasource={"type": "prometheus", "uid": "prom1"}),
        "panel data source",
    ),
    "query data source": (
        lambda d: _first_panel(d)["targets"][0].update(datasource={"uid": "prom1"}),
        "query data source",
    ),
    "no site variable": (
        lambda d: d["templating"].update(
            list=[v for v in d["templating"]["list"] if v["name"] != "site"]
        ),
        "no $site variable",
    ),
}
BAD_EXPR = {
    "does not parse": ("sum(rate(netwarden_auditor_events_total[$__rate_interval])", "parse"),
    "bare counter": ("sum by (site) (netwarden_auditor_events_total)", "counter"),
    "counter in arithmetic": (
        "rate(netwarden_auditor_events_total[$__rate_interval]) + netwarden_auditor_events_total",
        "counter",
    ),
    "hand-written range": ("rate(netwarden_auditor_events_total[5m])", "range other than"),
    "hand-written subquery": ("max_over_time(netwarden_up[1h:1m])", "range other than"),
    "unknown variable": ('netwarden_up{site=~"$region"}', "unknown Grafana variable"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_the_linter_fails_on_a_bad_panel(case: str) -> None:
    breaker, message = BAD[case]
    data = _good()
    breaker(data)
    problems = lint.lint_dashboard(data)
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize("case", sorted(BAD_EXPR))
def test_the_linter_fails_on_a_bad_query(case: str) -> None:
    expr, message = BAD_EXPR[case]
    problems = lint.lint_dashboard(_break_expr(expr))
    assert any(message in p for p in problems), problems


def test_a_counter_known_from_its_type_line_is_held_too() -> None:
    """A counter without the _total suffix (node_exporter has some) is named by TYPE."""
    data = _break_expr("node_context_switches")
    assert lint.lint_dashboard(data) == []
    assert any("counter" in p for p in lint.lint_dashboard(data, {"node_context_switches"}))


def test_a_bad_panel_in_the_model_fails_through_the_generated_json() -> None:
    """End to end: a panel of the model with a bare counter and no unit does not pass."""
    bad = Dashboard(
        "netwarden-bad",
        "bad",
        "a deliberately bad dashboard",
        (
            Row(
                "r",
                (Panel("p", "", "", (Query("netwarden_access_events_total", "{{site}}"),)),),
            ),
        ),
    )
    problems = lint.lint_dashboard(grafana.to_dict(grafana.build(bad)))
    assert any("no unit" in p for p in problems)
    assert any("no description" in p for p in problems)
    assert any("counter netwarden_access_events_total" in p for p in problems)


def test_existence_tests_may_read_a_counter() -> None:
    good = [
        "count(netwarden_access_events_total)",
        "up and on (instance) netwarden_access_events_total",
        "(x_total unless x_total offset 5m) and on (job) up",
    ]
    for expr in good:
        assert lint.lint_expression(lint.Expression("t", expr, in_panel=False)) == [], expr
    bad = ["x_total and up", "x_total unless y_total offset 5m"]
    for expr in bad:
        assert lint.lint_expression(lint.Expression("t", expr, in_panel=False)), expr


def test_the_provisioning_files() -> None:
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards.yml").read_text(encoding="utf-8")
    )
    assert provider["apiVersion"] == 1
    assert provider["providers"][0]["type"] == "file"
    assert provider["providers"][0]["options"]["path"]
    source = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasource.example.yml").read_text(encoding="utf-8")
    )
    assert source["datasources"][0]["type"] == "prometheus"
    assert source["datasources"][0]["url"] == "http://localhost:9090"
