"""The offline snapshot (netwarden dashboards snapshot): Grafana's variables filled in as
Grafana fills them, the SVG and HTML it draws (escaping, no data, units, thresholds, a
failed query in its box), and pages that load nothing from anywhere.

The whole command runs here against a stand-in Prometheus API on loopback that answers
with hostile labels; the real Prometheus and headless Chromium are in
tests/integration/test_dashboards_and_alerts.py.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from netwarden.dashboards import catalog, page, snapshot
from netwarden.dashboards.model import BAD_WHEN_ANY, Dashboard, Kind, Panel, Query, Row, Step
from netwarden.dashboards.snapshot import DashboardData, PanelData, Series, Window

HOSTILE = '<script>alert(1)</script><img src="http://evil.example/x.png">"\'&'
END = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
WINDOW = Window(end=END, range_s=3600, step_s=60, scrape_s=15)


def _panel(kind: Kind = Kind.TIMESERIES, unit: str = "short", **extra: Any) -> Panel:
    return Panel(
        extra.pop("title", "Errors"),
        extra.pop("description", "what it shows"),
        unit,
        (Query('rate(x_total{site=~"$site"}[$__rate_interval])', "{{device}}"),),
        kind,
        **extra,
    )


def _series(legend: str, values: list[float], labels: dict[str, str] | None = None) -> Series:
    start = WINDOW.start.timestamp()
    points = tuple((start + 60 * i, v) for i, v in enumerate(values))
    return Series(labels or {"device": legend}, legend, points)


def _html(data: PanelData) -> str:
    return page.panel_html(data, WINDOW.start.timestamp(), WINDOW.end.timestamp())


class _Attributes(HTMLParser):
    """Every tag and attribute of a page, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(name, value or "") for name, value in attrs]


def _external(text: str) -> list[str]:
    """Every reference to another host: a URL anywhere in the markup (the hostile label's
    URL, escaped text, aside), and any src/href attribute that is not one of our pages."""
    found = [u for u in re.findall(r"(?:https?:)?//[\w.-]+", text) if "evil.example" not in u]
    parser = _Attributes()
    parser.feed(text)
    for name, value in parser.attrs:
        if name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data"):
            if not re.fullmatch(r"[\w-]+\.html", value):
                found.append(f"{name}={value}")
        elif "//" in value and name != "content":
            found.append(f"{name}={value}")
    if {"script", "img", "link", "iframe", "object", "embed", "image"} & set(parser.tags):
        found.append(f"tags: {sorted(set(parser.tags))}")
    return found


# ---------------------------------------------------------------- variables


def test_rate_interval_is_grafanas() -> None:
    assert WINDOW.rate_interval_s == 75  # step + scrape > 4 scrapes
    fine = Window(end=END, range_s=600, step_s=3, scrape_s=3)
    assert fine.rate_interval_s == 12  # four scrapes
    expr = snapshot.substitute('rate(a_total{site=~"$site"}[$__rate_interval])', fine)
    assert expr == 'rate(a_total{site=~".*"}[12s])'
    one = Window(end=END, range_s=600, step_s=3, scrape_s=3, site="nyc")
    assert snapshot.substitute('x{site=~"${site}"}', one) == 'x{site=~"nyc"}'


def test_an_unknown_variable_fails_the_query_not_the_run() -> None:
    with pytest.raises(snapshot.QueryError, match="unknown Grafana variable"):
        snapshot.substitute("x{a=$nope}", WINDOW)


@pytest.mark.parametrize(
    ("text", "seconds"), [("6h", 21600), ("90s", 90), ("1h30m", 5400), ("1d", 86400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert snapshot.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "6", "6x", "h6", "1h 2m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        snapshot.parse_duration(text)


def test_auto_step_is_never_finer_than_a_scrape() -> None:
    assert snapshot.auto_step(21600, 15) == 90
    assert snapshot.auto_step(600, 15) == 15


def test_legend() -> None:
    assert snapshot.legend("{{site}} {{ device }}", {"site": "nyc", "device": "sw1"}) == "nyc sw1"
    assert snapshot.legend("", {"__name__": "up", "job": "a"}) == 'up{job="a"}'


# ---------------------------------------------------------------- units, colours


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.9512, "percentunit", "95.1 %"),
        (42.0, "percent", "42 %"),
        (1536.0, "bytes", "1.50 KiB"),
        (512.0, "bytes", "512 B"),
        (3 * 86400.0, "s", "3 days"),
        (7200.0, "s", "2 hours"),
        (0.25, "s", "250 ms"),
        (12.5, "s", "12.5 s"),
        (2_500_000.0, "bps", "2.50 Mb/s"),
        (1200.0, "pps", "1.20 kp/s"),
        (0.005, "pps", "0.005 p/s"),
        (3.0, "reqps", "3 req/s"),
        (45_000.0, "short", "45 k"),
        (45_600.0, "short", "45.6 k"),
        (7.0, "none", "7"),
        (None, "short", page.DASH),
        (float("nan"), "short", page.DASH),
    ],
)
def test_units(value: float | None, unit: str, text: str) -> None:
    assert page.format_value(value, unit) == text


def test_threshold_colours() -> None:
    steps = (Step(None, "green"), Step(0.8, "orange"), Step(0.95, "red"))
    assert page.threshold_color(0.5, steps) == page.COLORS["green"]
    assert page.threshold_color(0.8, steps) == page.COLORS["orange"]
    assert page.threshold_color(0.99, steps) == page.COLORS["red"]


# ---------------------------------------------------------------- drawing


def test_time_series_polylines_legend_and_threshold_lines() -> None:
    panel = _panel(thresholds=(Step(None, "green"), Step(5, "red")), unit="pps")
    data = PanelData(panel, [_series("sw1", [1, 2, 8, 3]), _series("sw2", [0, 0, 1, 1])])
    text = _html(data)
    assert 'data-state="data"' in text
    assert text.count("<polyline") == 2
    lines = re.findall(r'<line class="threshold"[^>]*stroke="([^"]+)"', text)
    assert lines == [page.COLORS["red"]]
    assert "max 8 p/s" in text  # the legend's max, in the unit
    assert "No data" not in text


def test_a_gap_breaks_the_line() -> None:
    data = PanelData(_panel(), [_series("sw1", [1, 2, float("nan"), 3, 4])])
    assert _html(data).count("<polyline") == 2


def test_no_data_is_said() -> None:
    text = _html(PanelData(_panel(), []))
    assert 'data-state="nodata"' in text
    assert ">No data<" in text
    assert "<svg" not in text


def test_a_failed_query_shows_its_error_in_the_box() -> None:
    data = PanelData(_panel(), errors=[f"parse error: {HOSTILE}"])
    text = _html(data)
    assert 'data-state="error"' in text
    assert "Query failed: parse error: &lt;script&gt;" in text
    assert "<script" not in text


def test_stat_table_bargauge_and_timeline() -> None:
    stat = _html(
        PanelData(_panel(Kind.STAT, "none", thresholds=BAD_WHEN_ANY), [_series("nyc", [2])])
    )
    assert re.search(r'class="v" style="color:#e02f44">2<', stat)
    table = _html(
        PanelData(_panel(Kind.TABLE, "s"), [_series("a", [90], {"rule": "r1", "site": "nyc"})])
    )
    assert "<th>rule</th><th>site</th><th>Value</th>" in table
    assert "<td>r1</td><td>nyc</td>" in table
    assert "1.5 min" in table
    gauge = _html(
        PanelData(_panel(Kind.BARGAUGE, "percentunit", min=0, max=1), [_series("nyc", [0.5])])
    )
    assert 'class="bar"' in gauge
    assert "50 %" in gauge
    timeline = _html(
        PanelData(
            _panel(Kind.STATE_TIMELINE, "none", thresholds=(Step(None, "red"), Step(1, "green"))),
            [_series("wan1", [1, 1, 0, 1])],
        )
    )
    bands = re.findall(r'<rect class="band"[^>]*fill="([^"]+)"', timeline)
    assert bands == [page.COLORS[c] for c in ("green", "green", "red", "green")]


def test_every_label_is_escaped() -> None:
    labels = {"device": HOSTILE, HOSTILE: "v"}
    series = [_series(HOSTILE, [1, 2], labels)]
    for kind in Kind:
        text = _html(PanelData(_panel(kind, title=HOSTILE, description=HOSTILE), series))
        assert "<script" not in text, kind
        assert "<img" not in text, kind
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text, kind
        # the hostile URL is there only as escaped text, never as an attribute
        assert 'src="http' not in text, kind


def _dashboard_data() -> DashboardData:
    dash = Dashboard(
        "uid-x",
        HOSTILE,
        HOSTILE,
        (Row(HOSTILE, (_panel(), _panel(Kind.STAT), _panel(Kind.TABLE))),),
    )
    panels = [
        PanelData(dash.rows[0].panels[0], [_series(HOSTILE, [1, 2, 3])]),
        PanelData(dash.rows[0].panels[1], []),
        PanelData(dash.rows[0].panels[2], errors=[HOSTILE]),
    ]
    return DashboardData(dash, WINDOW, panels)


def test_the_page_loads_nothing_from_anywhere() -> None:
    data = _dashboard_data()
    for text in (page.dashboard_html(data, HOSTILE), page.index_html([data], HOSTILE)):
        assert "Content-Security-Policy" in text
        assert "default-src 'none'" in text
        assert "<script" not in text
        assert "<img" not in text
        assert "<link" not in text
        assert _external(text) == [], _external(text)
        assert "@import" not in text
        assert "url(" not in text


def test_the_page_height_grows_with_the_panels() -> None:
    data = _dashboard_data()
    one = page.page_height(data, 1400)
    data.panels[0].series.extend(_series(f"s{i}", [1, 2]) for i in range(40))
    assert page.page_height(data, 1400) > one > 300


# ---------------------------------------------------------------- evaluation


def test_evaluate_asks_range_or_instant_caps_series_and_keeps_errors() -> None:
    asked: list[tuple[str, dict[str, str]]] = []
    many = [{"metric": {"device": f"d{i:02}"}, "values": [[1, "1"], [2, "2"]]} for i in range(40)]

    def fetch(path: str, params: dict[str, str]) -> Any:
        asked.append((path, params))
        if "broken" in params["query"]:
            raise snapshot.QueryError("bad_data: parse error")
        if path.endswith("query_range"):
            return {"resultType": "matrix", "result": many}
        return {"resultType": "vector", "result": [{"metric": {"site": "nyc"}, "value": [2, "3"]}]}

    panel = Panel(
        "p",
        "d",
        "short",
        (
            Query("rate(a_total[$__rate_interval])", "{{device}}"),
            Query("broken", ""),
            Query("b", "{{site}}", instant=True),
        ),
    )
    data = snapshot.evaluate_panel(panel, WINDOW, fetch)
    assert [p for p, _ in asked] == ["/api/v1/query_range", "/api/v1/query_range", "/api/v1/query"]
    assert asked[0][1]["query"] == "rate(a_total[75s])"
    assert asked[0][1]["step"] == "60"
    assert asked[2][1]["time"] == f"{END.timestamp():.3f}"
    assert all("timeout" in p for _, p in asked)
    assert len(data.series) == snapshot.MAX_SERIES + 1
    assert data.left_out == 40 - snapshot.MAX_SERIES
    assert data.errors == ["bad_data: parse error"]
    assert data.series[-1].legend == "nyc"
    assert data.series[-1].last == 3


def test_every_dashboard_is_evaluated_from_the_catalog() -> None:
    exprs: list[str] = []

    def fetch(path: str, params: dict[str, str]) -> Any:
        exprs.append(params["query"])
        return {"result": []}

    data = snapshot.evaluate(catalog.dashboards(), WINDOW, fetch)
    wanted = [q.expr for d in catalog.dashboards() for p in d.panels() for q in p.queries]
    assert len(exprs) == len(wanted)
    assert not any("$" in e for e in exprs)
    assert [d.dashboard.uid for d in data] == [d.uid for d in catalog.dashboards()]
    assert all(p.empty for d in data for p in d.panels)


# ---------------------------------------------------------------- the command


class _Api(BaseHTTPRequestHandler):
    """A stand-in for Prometheus's HTTP API: hostile labels, one failing query."""

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        params = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/api/v1/status/config":
            body: dict[str, Any] = {
                "status": "success",
                "data": {"yaml": "global:\n  scrape_interval: 5s\n"},
            }
        elif "netwarden_up" in params.get("query", "") and "ratio" not in params["query"]:
            body = {"status": "error", "errorType": "bad_data", "error": HOSTILE}
        elif url.path == "/api/v1/query_range":
            start = float(params["start"])
            values = [[start + 60 * i, str(i % 3)] for i in range(10)]
            body = {"status": "success", "data": {"resultType": "matrix", "result": [
                {"metric": {"site": HOSTILE, "device": HOSTILE}, "values": values}]}}  # fmt: skip
        else:
            body = {"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"site": HOSTILE}, "value": [params.get("time", 0), "1"]}]}}  # fmt: skip
        raw = json.dumps(body).encode()
        self.send_response(400 if body["status"] == "error" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _snapshot(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netwarden.cli", "dashboards", "snapshot", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def test_the_command_writes_every_page(api: str, tmp_path: Path) -> None:
    done = _snapshot("--prometheus", api, "--out", str(tmp_path), "--range", "10m")
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["index.html", *(f"{d.uid}.html" for d in catalog.dashboards())])
    for path in tmp_path.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text, path
        assert "<img" not in text, path
        assert _external(text) == [], (path, _external(text))
    fleet = (tmp_path / "netwarden-fleet.html").read_text(encoding="utf-8")
    assert 'data-state="error"' in fleet
    assert 'data-state="data"' in fleet
    assert "warning: netwarden-fleet:" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_prometheus_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: refused
        done = _snapshot("--prometheus", f"http://127.0.0.1:{port}", "--out", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith("error: Prometheus does not answer")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args",
    [
        ["--range", "soon"],
        ["--step", "x"],
        ["--range", "0s"],
        ["--range", "1h", "--step", "2h"],
        ["--range", "30d", "--step", "1s"],
        ["--site", 'nyc"}or vector(1)'],
    ],
)
def test_bad_options(tmp_path: Path, args: list[str]) -> None:
    done = _snapshot("--prometheus", "http://127.0.0.1:9", "--out", str(tmp_path), *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error:")


def test_png_without_chromium_is_a_note(api: str, tmp_path: Path) -> None:
    """No Chromium on the PATH: the pages are written, a note says there are no PNGs."""
    env = {**os.environ, "PATH": str(tmp_path / "empty-path")}
    done = _snapshot("--prometheus", api, "--out", str(tmp_path / "out"), "--png", env=env)
    assert done.returncode == 0, done.stderr
    assert "note: no PNGs: chromium is not installed" in done.stderr
    assert (tmp_path / "out" / "index.html").is_file()
    assert not list((tmp_path / "out").glob("*.png"))


def test_a_fixed_maximum_is_the_top_of_the_axis() -> None:
    panel = _panel(unit="percentunit", min=0, max=1)
    text = _html(PanelData(panel, [_series("sw1", [0.2, 0.5])]))
    labels = re.findall(rf'<text x="{page.MARGIN_L - 4}"[^>]*>([^<]+)</text>', text)
    assert labels[-1] == "100 %"
    assert "120 %" not in text
