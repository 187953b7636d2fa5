"""The trend is a readable chart: dates, a 0-100 % axis, one line per site (issue 11 point 13).

It was a 120-pixel sparkline per site, without axes or dates. Now the report's
first page has an inline SVG chart (no script, printable) that works with one
report, two, and many.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.compliance.history import save_run
from netwarden.compliance.models import AuditRun, Status
from netwarden.compliance.report import write_reports
from netwarden.compliance.report.charts import MAX_SITES, MAX_XLABELS, trend_chart
from netwarden.compliance.sources import FolderSource

from .conftest import DATA

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _dates(n: int, days: int = 7) -> list[str]:
    return [(START + timedelta(days=days * i)).strftime("%Y-%m-%d %H:%M") for i in range(n)]


def test_one_report_is_a_point_per_site_with_axes() -> None:
    [d] = _dates(1)
    chart = trend_chart({"gva": [(d, 0.8)], "jed": [(d, 0.5)]}, [(d, 0.6)])
    assert [t.label for t in chart.yticks] == ["0 %", "20 %", "40 %", "60 %", "80 %", "100 %"]
    assert [(t.label, t.label2) for t in chart.xticks] == [("05 Jan", "2026")]
    assert [s.name for s in chart.series] == ["gva", "jed", "all sites"]
    assert all(len(s.points) == 1 for s in chart.series)
    assert "First kept report" in chart.note
    ys = {s.name: s.points[0][1] for s in chart.series}
    assert ys["jed"] == pytest.approx(chart.bottom - (chart.bottom - chart.top) * 0.5)


def test_two_reports_are_lines() -> None:
    a, b = _dates(2)
    chart = trend_chart({"gva": [(a, 0.5), (b, 1.0)]}, [(a, 0.5), (b, 1.0)])
    [gva] = chart.series  # one site: no separate "all sites" line
    assert len(gva.segments) == 1
    assert [t.label for t in chart.xticks] == ["05 Jan", "12 Jan"]
    assert gva.points[1][1] == chart.top  # 100 % is the top of the plot
    assert gva.latest == 1.0


def test_many_reports_keep_labels_readable() -> None:
    dates = _dates(30)
    chart = trend_chart({"gva": [(d, 0.9) for d in dates]}, [])
    labelled = [t for t in chart.xticks if t.label]
    assert len(chart.xticks) == 30
    assert len(labelled) <= MAX_XLABELS
    assert chart.xticks[-1].label == "27 Jul"  # the latest report is always labelled
    assert {t.label2 for t in labelled} == {"", "2026"}  # the year once


def test_reports_on_the_same_day_show_their_time() -> None:
    a, b = "2026-01-05 09:00", "2026-01-05 15:30"
    chart = trend_chart({"gva": [(a, 0.5), (b, 0.7)]}, [])
    assert [(t.label, t.label2) for t in chart.xticks] == [("05 Jan", "09:00"), ("05 Jan", "15:30")]


def test_a_site_missing_from_a_report_breaks_its_line() -> None:
    dates = _dates(5)
    gva = [(d, 0.5) for i, d in enumerate(dates) if i != 2]
    chart = trend_chart({"gva": gva, "jed": [(d, 1.0) for d in dates]}, [])
    line = next(s for s in chart.series if s.name == "gva")
    assert len(line.points) == 4
    assert [seg.count(",") for seg in line.segments] == [2, 2]


def test_many_sites_draw_the_lowest_and_name_the_rest() -> None:
    [d] = _dates(1)
    sites = {f"s{i:03}": [(d, i / 100)] for i in range(40)}
    chart = trend_chart(sites, [(d, 0.2)])
    names = [s.name for s in chart.series]
    assert len(names) == MAX_SITES + 1
    assert names[:3] == ["s000", "s001", "s002"]  # the worst sites are the ones drawn
    assert names[-1] == "all sites"
    assert "30 more site(s) not drawn" in chart.note
    assert len(chart.legend) == len(chart.series)
    assert len({s.color for s in chart.series[:MAX_SITES]}) == MAX_SITES
    assert len({s.dash for s in chart.series[:MAX_SITES]}) == MAX_SITES  # readable in grey


def _history_run(run: AuditRun, days_ago: int, fail_share: float) -> AuditRun:
    started = run.meta.started - timedelta(days=days_ago)
    meta = run.meta.model_copy(
        update={"started": started, "finished": started, "run_id": f"old-{days_ago:03}"}
    )
    flipped = []
    budget = int(len(run.results) * fail_share)
    for r in run.results:
        if budget and r.status is Status.PASS:
            r = r.model_copy(update={"status": Status.FAIL})  # noqa: PLW2901
            budget -= 1
        flipped.append(r)
    return run.model_copy(update={"meta": meta, "results": tuple(flipped)})


@pytest.mark.parametrize("kept", [0, 1, 11], ids=["one-report", "two-reports", "many-reports"])
def test_the_report_draws_the_chart(engine: Engine, tmp_path: Path, kept: int) -> None:
    d = tmp_path / "c"
    d.mkdir()
    base = (DATA / "ios" / "_baseline.cfg").read_text()
    for name in ("sw1", "sw2"):
        (d / f"{name}.cfg").write_text(base)
    run = engine.run(FolderSource(d))
    out = tmp_path / "out"
    for k in range(kept):
        save_run(_history_run(run, 7 * (kept - k), 0.05 * (kept - k)), out)
    html = write_reports(run, out, ["html"])["html"].read_text(encoding="utf-8")
    svg = re.search(r'<svg role="img" aria-labelledby="trend-title".*?</svg>', html, re.S)
    assert svg is not None
    chart = svg[0]
    for label in ("0 %", "40 %", "100 %"):
        assert f">{label}</text>" in chart
    assert run.meta.started.strftime("%d %b") in chart  # the date of this report
    assert chart.count("<circle") >= kept + 1
    assert ("<polyline" in chart) == (kept > 0)
    assert "unknown — 100%" in chart  # the legend: the site and its latest score
    assert "<script" not in html
