"""Grafana provisioning JSON from the panel model, through grafana-foundation-sdk.

The SDK's builders produce Grafana's own types (schema 41, Grafana 11.6), so a field
Grafana does not know cannot be written; :func:`parse` reads the JSON back through the
same types (the round-trip test). The generated files are committed under
``dashboards/grafana/`` and a test checks they equal what :func:`render` produces now,
so they cannot go stale: regenerate with ``netwarden dashboards generate``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus as gp
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as gm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from netwarden.dashboards.model import DATASOURCE_VAR, SITE_VAR, Dashboard, Kind, Panel

DATASOURCE = gm.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VAR + "}")
"""Every panel and query reads the data source the ``$datasource`` variable selects."""
SITE_QUERY = "label_values(netwarden_up, site)"
"""The sites the ``$site`` variable offers: those the device exporter probes."""
TAG = "netwarden"
"""Every dashboard's tag: the dashboard links list the dashboards with it."""

_BUILDERS: dict[Kind, Any] = {
    Kind.TIMESERIES: timeseries.Panel,
    Kind.STAT: stat.Panel,
    Kind.TABLE: table.Panel,
    Kind.BARGAUGE: bargauge.Panel,
    Kind.STATE_TIMELINE: statetimeline.Panel,
}


def _panel(panel: Panel, panel_id: int) -> Any:
    builder = (
        _BUILDERS[panel.kind]()
        .id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(DATASOURCE)
        .unit(panel.unit)
        .height(panel.height)
        .span(panel.width)
    )
    if panel.thresholds:
        builder = builder.thresholds(
            gd.ThresholdsConfig()
            .mode(gm.ThresholdsMode.ABSOLUTE)
            .steps([gm.Threshold(value=s.value, color=s.color) for s in panel.thresholds])
        )
    if panel.min is not None:
        builder = builder.min(panel.min)
    if panel.max is not None:
        builder = builder.max(panel.max)
    for index, query in enumerate(panel.queries):
        target = (
            gp.Dataquery()
            .expr(query.expr)
            .legend_format(query.legend)
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
        )
        target = target.instant() if query.instant else target.range()
        if panel.kind is Kind.TABLE:
            target = target.format(PromQueryFormat.TABLE)  # one row per series
        builder = builder.with_target(target)
    return builder


def build(dash: Dashboard) -> gm.Dashboard:
    """The SDK's dashboard object of ``dash``: variables, links, rows and panels."""
    site = (
        gd.QueryVariable(SITE_VAR)
        .label("Site")
        .description("The sites to show (the device exporter's site label).")
        .datasource(DATASOURCE)
        .query(SITE_QUERY)
        .refresh(gm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(gm.VariableSort.ALPHABETICAL_ASC)
        .multi(dash.site_all)
        .include_all(dash.site_all)
    )
    if dash.site_all:
        site = site.all_value(".*")
    builder = (
        gd.Dashboard(dash.title)
        .uid(dash.uid)
        .description(dash.description)
        .tags(list(dash.tags))
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("1m")
        .readonly()
        .tooltip(gm.DashboardCursorSync.CROSSHAIR)
        .with_variable(
            gd.DatasourceVariable(DATASOURCE_VAR)
            .label("Data source")
            .description("The Prometheus that scrapes netwarden's exporters.")
            .type("prometheus")
        )
        .with_variable(site)
        .annotation(
            gd.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(gm.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .built_in(1)
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .type("dashboard")
        )
        .link(
            gd.DashboardLink("netwarden")
            .type(gm.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
        )
    )
    panel_id = 0
    for row in dash.rows:
        panel_id += 1
        builder = builder.with_row(gd.Row(row.title).id(panel_id))
        for panel in row.panels:
            panel_id += 1
            builder = builder.with_panel(_panel(panel, panel_id))
    return builder.build()


def to_dict(value: object) -> dict[str, Any]:
    """An SDK object as plain JSON data (what Grafana reads)."""
    data: dict[str, Any] = json.loads(json.dumps(value, cls=JSONEncoder))
    return data


def render(dash: Dashboard) -> str:
    """The provisioning file's text: sorted keys, two-space indent, a final newline.

    The built dashboard goes once through the SDK's types (:func:`parse`), which fill in
    the defaults of each panel type's options and field config (a state timeline's fill
    opacity, a table's alignment): the file holds what Grafana applies, and reading it back
    through the types changes nothing (the round-trip test).
    """
    built = json.dumps(to_dict(build(dash)))
    return json.dumps(to_dict(parse(built)), indent=2, sort_keys=True) + "\n"


def parse(text: str) -> gm.Dashboard:
    """A provisioning file read back into the SDK's types (queries and panel options
    typed through the SDK's registered plugins, not kept as untyped bags)."""
    register_default_plugins()
    return gm.Dashboard.from_json(json.loads(text))


def filename(dash: Dashboard) -> str:
    """The file of ``dash`` in the provisioning directory: its uid."""
    return f"{dash.uid}.json"


def write(dashboards: Sequence[Dashboard], out: Path) -> list[Path]:
    """Write every dashboard's JSON into ``out``; remove JSON files of dashboards that
    are gone (a renamed uid must not leave its old file provisioned)."""
    out.mkdir(parents=True, exist_ok=True)
    wanted = {filename(d): render(d) for d in dashboards}
    for stale in sorted(out.glob("*.json")):
        if stale.name not in wanted:
            stale.unlink()
    written = []
    for name, text in wanted.items():
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
