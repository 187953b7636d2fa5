"""Self-contained HTML pages of evaluated dashboards: charts as inline SVG, drawn here.

No JavaScript, no CDN, no web font, no image file: the page is one HTML file whose CSS
is inline and whose Content-Security-Policy forbids loading anything (``default-src
'none'``), so it opens the same from a mail attachment, a file share or an air-gapped
laptop, and a hostile label cannot make it fetch anything. Every text that came from
Prometheus (label values, legends, errors) and every panel text goes through
:func:`html.escape`; the only links are the relative ones between the pages.

Time series are polylines (a gap where a value is missing or not finite), thresholds
dashed lines in their colour; stat panels big numbers in their threshold colour; bar
gauges horizontal bars; tables HTML tables; state timelines rows of coloured bands.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from netwarden.dashboards.model import Kind, Panel, Step
from netwarden.dashboards.snapshot import DashboardData, PanelData

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
"""Nothing may be loaded: inline styles only (no script at all)."""
COLORS = {
    "green": "#56a64b",
    "red": "#e02f44",
    "orange": "#ff9830",
    "yellow": "#f2cc0c",
    "blue": "#3274d9",
    "purple": "#a352cc",
    "transparent": "#00000000",
    "text": "#d8d9da",
}
"""Grafana's named colours (dark theme)."""
PALETTE = (
    "#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1", "#ba43a9",
    "#705da0", "#508642", "#cca300", "#447ebc", "#c15c17",
)  # fmt: skip
"""Series colours, Grafana's classic palette."""
COLUMN = 44
"""SVG user units per grid column: a chart's drawing is as wide as its panel is in pixels
on a 1100-pixel page, so text and lines are the same size in every panel."""
ROW_PX = 30
"""Pixels of one Grafana grid row (a panel's ``height``)."""
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 8, 8, 20

STYLE = """
body{margin:0;padding:12px;background:#111217;color:#d8d9da;
font:13px/1.35 -apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
a{color:#6e9fff}h1{font-size:20px;margin:4px 0}h2{font-size:15px;margin:16px 0 6px;
color:#ccccdc;border-bottom:1px solid #2c3235}
.meta{color:#8e8e8e;font-size:12px}.grid{display:grid;grid-template-columns:repeat(24,1fr);
gap:8px}.panel{background:#181b1f;border:1px solid #2c3235;border-radius:3px;padding:6px 8px;
overflow:hidden;box-sizing:border-box}.panel h3{font-size:13px;margin:0 0 2px}
.desc{color:#8e8e8e;font-size:11px;margin:0 0 4px}.nodata{color:#8e8e8e;font-size:16px;
text-align:center;padding:24px 0;border:1px dashed #3d4147}.error{color:#ff7383;
font-size:12px;white-space:pre-wrap;margin:4px 0}.note{color:#b0a070;font-size:11px}
.stats{display:flex;flex-wrap:wrap;gap:12px;justify-content:center}.stat{text-align:center}
.stat .v{font-size:34px;font-weight:600}.stat .l{font-size:11px;color:#a0a0a0}
table{border-collapse:collapse;width:100%;font-size:12px}td,th{border-bottom:1px solid
#2c3235;padding:2px 6px;text-align:left}th{color:#a0a0a0}
.legend{list-style:none;margin:2px 0 0;padding:0;font-size:11px;columns:2}
.legend li{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.sw{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
svg{display:block;width:100%;height:auto}svg line,svg rect{shape-rendering:crispEdges}svg text{fill:#8e8e8e;font-size:10px}
ul.index li{margin:6px 0}
"""


DASH = "\N{EN DASH}"
"""What a missing value shows."""


def esc(text: object) -> str:
    """Text for HTML content and quoted attributes (quotes too)."""
    return html.escape(str(text), quote=True)


# ---------------------------------------------------------------- units


def _si(value: float, suffix: str, base: float = 1000.0, units: str = " kMGTPE") -> str:
    if not math.isfinite(value):
        return str(value)
    sign = "-" if value < 0 else ""
    value = abs(value)
    index = 0
    while value >= base and index < len(units) - 1:
        value /= base
        index += 1
    prefix = units[index].strip()
    if value < 1 and value != 0:
        number = f"{value:.2g}"  # 0.005, not 0.01: small rates stay readable
    else:
        digits = 0 if value >= 100 or value == int(value) else (1 if value >= 10 else 2)
        number = f"{value:.{digits}f}"
    space = " " if prefix or suffix else ""
    return f"{sign}{number}{space}{prefix}{suffix}".rstrip()


def _duration(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    for size, name in ((86400, "day"), (3600, "hour"), (60, "min")):
        if magnitude >= size:
            count = value / size
            text = f"{count:.1f}".removesuffix(".0")
            return f"{text} {name}" + ("s" if name != "min" and abs(count) != 1 else "")
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.3g} s"
    if magnitude >= 0.001:
        return f"{value * 1000:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def _plain(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _percent(value: float) -> str:
    return f"{value:.3g} %" if abs(value) < 1000 else f"{value:.0f} %"


def _bytes(value: float) -> str:
    return _si(value, "iB", 1024.0, " KMGTPE").replace(" iB", " B")


_UNITS: dict[str, Callable[[float], str]] = {
    "percentunit": lambda v: _percent(v * 100),
    "percent": _percent,
    "s": _duration,
    "dtdurations": _duration,
    "ms": lambda v: _duration(v / 1000),
    "bytes": _bytes,
    "decbytes": lambda v: _si(v, "B"),
    "bps": lambda v: _si(v, "b/s"),
    "Bps": lambda v: _si(v, "B/s"),
    "pps": lambda v: _si(v, "p/s"),
    "reqps": lambda v: _si(v, "req/s"),
    "short": lambda v: _si(v, ""),
    "none": _plain,
}
"""Grafana unit ids and how each shows a value (those the dashboards use, and a few)."""


def format_value(value: float | None, unit: str) -> str:
    """``value`` as Grafana shows it in ``unit`` (a unit not in :data:`_UNITS`: a plain
    number and the unit's id)."""
    if value is None or math.isnan(value):
        return DASH
    if unit in _UNITS:
        return _UNITS[unit](value)
    return f"{_plain(value)} {unit}"


def threshold_color(value: float | None, steps: Sequence[Step]) -> str:
    """The colour of ``value``: the last step at or below it (the base step's when none)."""
    if not steps or value is None or math.isnan(value):
        return COLORS["text"]
    color = steps[0].color
    for step in steps:
        if step.value is None or value >= step.value:
            color = step.color
    return COLORS.get(color, COLORS["text"]) if not color.startswith("#") else color


# ---------------------------------------------------------------- charts


def chart_width(panel: Panel) -> int:
    """The drawing width of ``panel``'s chart (:data:`COLUMN` per grid column)."""
    return min(max(panel.width, 4), 24) * COLUMN


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    for _ in range(count + 3):
        if value >= low - 1e-9 * step:
            ticks.append(round(value, 12))
        if value > high:
            break
        value += step
    return ticks


def _time_label(stamp: float, span: float) -> str:
    """Hours and minutes; seconds too when the range is short enough to need them."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%H:%M" if span > 900 else "%H:%M:%S")


def _segments(points: Iterable[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Runs of finite points (a missing or infinite value breaks the line)."""
    out: list[list[tuple[float, float]]] = [[]]
    for t, v in points:
        if math.isfinite(v) and math.isfinite(t):
            out[-1].append((t, v))
        elif out[-1]:
            out.append([])
    return [run for run in out if run]


def _time_axis(left: float, plot_w: float, start: float, span: float, height: int) -> str:
    """Five time labels along the bottom of a chart whose plot starts at ``left``."""
    labels = []
    for index in range(5):
        anchor = "start" if index == 0 else ("end" if index == 4 else "middle")
        labels.append(
            f'<text x="{left + plot_w * index / 4:.1f}" y="{height - 5}" '
            f'text-anchor="{anchor}">{_time_label(start + span * index / 4, span)}</text>'
        )
    return "".join(labels)


def timeseries_svg(data: PanelData, start: float, end: float, height: int) -> str:
    """The chart of a time series panel: axes, grid, one polyline per series, thresholds."""
    panel = data.panel
    values = [v for s in data.series for _, v in s.points if math.isfinite(v)]
    low = panel.min if panel.min is not None else min([*values, 0.0])
    high = panel.max if panel.max is not None else max([*values, low])
    if high - low < 1e-9:
        high = low + 1  # flat (all zero): an axis of one unit, not of rounding noise
    ticks = _nice_ticks(low, high)
    if panel.max is not None:  # a fixed maximum (100 %) is the top of the axis
        ticks = [tick for tick in ticks if tick <= high + 1e-9]
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    width = chart_width(panel)
    plot_w = width - MARGIN_L - MARGIN_R
    plot_h = height - MARGIN_T - MARGIN_B
    span = max(end - start, 1e-9)

    def x(t: float) -> float:
        return MARGIN_L + (t - start) / span * plot_w

    def y(v: float) -> float:
        return MARGIN_T + (high - v) / (high - low) * plot_h

    parts = [_svg_open(panel, height)]
    for tick in ticks:
        parts.append(
            f'<line x1="{MARGIN_L}" x2="{width - MARGIN_R}" y1="{y(tick):.1f}" '
            f'y2="{y(tick):.1f}" stroke="#2c3235" stroke-width="1"/>'
            f'<text x="{MARGIN_L - 4}" y="{y(tick) + 3:.1f}" text-anchor="end">'
            f"{esc(format_value(tick, panel.unit))}</text>"
        )
    parts.append(_time_axis(MARGIN_L, plot_w, start, span, height))
    for step in panel.thresholds:
        if step.value is not None and low <= step.value <= high:
            parts.append(
                f'<line class="threshold" x1="{MARGIN_L}" x2="{width - MARGIN_R}" '
                f'y1="{y(step.value):.1f}" y2="{y(step.value):.1f}" '
                f'stroke="{threshold_color(step.value, panel.thresholds)}" '
                f'stroke-width="1" stroke-dasharray="4 3"/>'
            )
    for index, series in enumerate(data.series):
        color = PALETTE[index % len(PALETTE)]
        for run in _segments(series.points):
            if len(run) == 1:
                t, v = run[0]
                parts.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2" fill="{color}"/>')
            line = (
                run
                if len(run) > 1
                else [(run[0][0] - span / 400, run[0][1]), (run[0][0] + span / 400, run[0][1])]
            )
            coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in line)
            parts.append(
                f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(data: PanelData, start: float, end: float) -> str:
    """A state timeline: one row per series, each step a band in its threshold colour."""
    panel = data.panel
    rows = [s for s in data.series if s.points]
    band, gap = 18, 4
    label_w = 200
    height = MARGIN_B + len(rows) * (band + gap) + MARGIN_T
    span = max(end - start, 1e-9)
    width = chart_width(panel)
    plot_w = width - label_w - MARGIN_R
    parts = [_svg_open(panel, height)]
    for index, series in enumerate(rows):
        top = MARGIN_T + index * (band + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{top + band / 2 + 3:.1f}" text-anchor="end">'
            f"{esc(_clip(series.legend, 32))}</text>"
        )
        points = [(t, v) for t, v in series.points if math.isfinite(t)]
        for number, (t, v) in enumerate(points):
            following = points[number + 1][0] if number + 1 < len(points) else end
            left = label_w + (max(t, start) - start) / span * plot_w
            right = label_w + (min(following, end) - start) / span * plot_w
            color = (
                threshold_color(v, panel.thresholds)
                if panel.thresholds
                else PALETTE[index % len(PALETTE)]
            )
            parts.append(
                f'<rect class="band" x="{left:.1f}" y="{top}" '
                f'width="{max(right - left, 0.5):.1f}" height="{band}" fill="{color}">'
                f"<title>{esc(format_value(v, panel.unit))}</title></rect>"
            )
    parts.append(_time_axis(label_w, plot_w, start, span, height))
    parts.append("</svg>")
    return "".join(parts)


def bargauge_svg(data: PanelData) -> str:
    """Horizontal bars, one per series, from the panel's min to max (0 to the largest)."""
    panel = data.panel
    rows = [(s, s.last) for s in data.series if s.last is not None]
    band, gap, label_w, value_w = 16, 6, 150, 70
    height = MARGIN_T * 2 + len(rows) * (band + gap)
    values = [v for _, v in rows if v is not None]
    low = panel.min if panel.min is not None else min([0.0, *values])
    high = panel.max if panel.max is not None else max([*values, low + 1e-9])
    if high <= low:
        high = low + 1
    width = chart_width(panel)
    plot_w = width - label_w - value_w - MARGIN_R
    parts = [_svg_open(panel, height)]
    for index, (series, value) in enumerate(rows):
        top = MARGIN_T + index * (band + gap)
        share = min(max(((value or 0.0) - low) / (high - low), 0.0), 1.0)
        color = threshold_color(value, panel.thresholds) if panel.thresholds else PALETTE[0]
        parts.append(
            f'<text x="{label_w - 6}" y="{top + band / 2 + 3:.1f}" text-anchor="end">'
            f"{esc(_clip(series.legend, 26))}</text>"
            f'<rect x="{label_w}" y="{top}" width="{plot_w}" height="{band}" fill="#22252b"/>'
            f'<rect class="bar" x="{label_w}" y="{top}" width="{max(share * plot_w, 1):.1f}" '
            f'height="{band}" fill="{color}"/>'
            f'<text x="{width - MARGIN_R}" y="{top + band / 2 + 3:.1f}" text-anchor="end" '
            f'style="fill:{color}">{esc(format_value(value, panel.unit))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(panel: Panel, height: int) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {chart_width(panel)} {height}" role="img" '
        f'aria-label="{esc(panel.title)}">'
    )


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


# ---------------------------------------------------------------- panels


def _legend(data: PanelData) -> str:
    items = []
    for index, series in enumerate(data.series):
        finite = [v for _, v in series.points if math.isfinite(v)]
        last = format_value(finite[-1], data.panel.unit) if finite else DASH
        peak = format_value(max(finite), data.panel.unit) if finite else DASH
        items.append(
            f'<li title="last {esc(last)}, max {esc(peak)}"><span class="sw" '
            f'style="background:{PALETTE[index % len(PALETTE)]}"></span>'
            f'{esc(series.legend)} <span class="meta">{esc(last)}</span></li>'
        )
    return f'<ul class="legend">{"".join(items)}</ul>'


def _stat(data: PanelData) -> str:
    items = []
    for series in data.series:
        value = series.last
        color = threshold_color(value, data.panel.thresholds)
        label = f'<div class="l">{esc(series.legend)}</div>' if series.legend else ""
        items.append(
            f'<div class="stat"><div class="v" style="color:{color}">'
            f"{esc(format_value(value, data.panel.unit))}</div>{label}</div>"
        )
    return f'<div class="stats">{"".join(items)}</div>'


def _table(data: PanelData) -> str:
    names = sorted({k for s in data.series for k in s.labels if k != "__name__"})
    head = "".join(f"<th>{esc(n)}</th>" for n in names) + "<th>Value</th>"
    rows = []
    for series in data.series:
        cells = "".join(f"<td>{esc(series.labels.get(n, ''))}</td>" for n in names)
        value = series.last
        color = threshold_color(value, data.panel.thresholds)
        rows.append(
            f'<tr>{cells}<td style="color:{color}">'
            f"{esc(format_value(value, data.panel.unit))}</td></tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def panel_html(data: PanelData, start: float, end: float) -> str:
    """One panel's box: title, description, its drawing (or "No data"), errors, notes.

    ``data-state`` says ``data``, ``nodata`` or ``error`` (the tests read it)."""
    panel: Panel = data.panel
    height_px = panel.height * ROW_PX
    state = "data" if not data.empty else ("error" if data.errors else "nodata")
    body = ""
    if not data.empty:
        if panel.kind is Kind.STAT:
            body = _stat(data)
        elif panel.kind is Kind.TABLE:
            body = _table(data)
        elif panel.kind is Kind.BARGAUGE:
            body = bargauge_svg(data)
        elif panel.kind is Kind.STATE_TIMELINE:
            body = timeline_svg(data, start, end)
        else:
            chart_h = max(120, height_px - 110)
            body = timeseries_svg(data, start, end, chart_h) + _legend(data)
    elif not data.errors:
        body = '<div class="nodata">No data</div>'
    errors = "".join(f'<div class="error">Query failed: {esc(e)}</div>' for e in data.errors)
    note = (
        f'<div class="note">{data.left_out} more series not drawn (cap per query)</div>'
        if data.left_out
        else ""
    )
    queries = "".join(f"<div>{esc(q)}</div>" for q in data.queries)
    return (
        f'<section class="panel" data-state="{state}" data-title="{esc(panel.title)}" '
        f'style="grid-column:span {min(max(panel.width, 1), 24)};min-height:{height_px}px">'
        f'<h3>{esc(panel.title)}</h3><p class="desc">{esc(panel.description)}</p>'
        f"{errors}{body}{note}"
        f'<details class="meta"><summary>PromQL</summary>{queries}</details></section>'
    )


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def _meta(data: DashboardData, source: str) -> str:
    window = data.window
    return (
        f'<p class="meta">{esc(window.start.strftime("%Y-%m-%d %H:%M:%S"))} {DASH} '
        f"{esc(window.end.strftime('%Y-%m-%d %H:%M:%S'))} UTC · step {window.step_s:g} s · "
        f"$__rate_interval {window.rate_interval_s:g} s · site {esc(window.site)} · "
        f"Prometheus {esc(source)}</p>"
    )


def dashboard_html(data: DashboardData, source: str) -> str:
    """The page of one dashboard (``source``: the Prometheus it was read from, as text)."""
    start, end = data.window.start.timestamp(), data.window.end.timestamp()
    panels = iter(data.panels)
    sections = []
    for row in data.dashboard.rows:
        boxes = "".join(panel_html(next(panels), start, end) for _ in row.panels)
        sections.append(f'<h2>{esc(row.title)}</h2><div class="grid">{boxes}</div>')
    body = (
        f'<p class="meta"><a href="index.html">All dashboards</a></p>'
        f"<h1>{esc(data.dashboard.title)}</h1>"
        f'<p class="desc">{esc(data.dashboard.description)}</p>{_meta(data, source)}'
        + "".join(sections)
    )
    return _page(f"{data.dashboard.title} (snapshot)", body)


def index_html(dashboards: Sequence[DashboardData], source: str) -> str:
    """The index: each dashboard's page with how many of its panels have data."""
    items = []
    for data in dashboards:
        total = len(data.panels)
        with_data = sum(not p.empty for p in data.panels)
        failed = sum(bool(p.errors) for p in data.panels)
        items.append(
            f'<li><a href="{esc(data.dashboard.uid)}.html">{esc(data.dashboard.title)}</a> '
            f'<span class="meta">{with_data}/{total} panels with data'
            + (f", {failed} with failed queries" if failed else "")
            + f'</span><div class="desc">{esc(data.dashboard.description)}</div></li>'
        )
    meta = _meta(dashboards[0], source) if dashboards else ""
    body = f'<h1>netwarden dashboards (snapshot)</h1>{meta}<ul class="index">{"".join(items)}</ul>'
    return _page("netwarden dashboards (snapshot)", body)


def _body_px(data: PanelData, box_px: float) -> float:
    """About how tall a panel's drawing is at ``box_px`` wide (for the screenshot)."""
    scale = box_px / chart_width(data.panel)
    count = max(len(data.series), 1)
    kind = data.panel.kind
    if data.empty:
        return 80.0
    if kind is Kind.STAT:
        return 70.0 * math.ceil(count / max(1, int(box_px // 140)))
    if kind is Kind.TABLE:
        return 22.0 * (count + 1)
    if kind is Kind.BARGAUGE:
        return (MARGIN_T * 2 + count * 22) * scale
    if kind is Kind.STATE_TIMELINE:
        return (MARGIN_B + MARGIN_T + count * 22) * scale
    chart = max(120, data.panel.height * ROW_PX - 110) * scale
    return chart + 16.0 * math.ceil(count / 2)


def page_height(data: DashboardData, width_px: int) -> int:
    """About how tall :func:`dashboard_html` is at ``width_px`` (screenshots have no
    "full page" switch on the command line, so the window is made this tall)."""
    column = (width_px - 24) / 24
    total = 150.0
    panels = iter(data.panels)
    for row in data.dashboard.rows:
        total += 40
        used, line = 0, 0.0
        for _ in row.panels:
            item = next(panels)
            width = min(max(item.panel.width, 1), 24)
            if used + width > 24:
                total += line + 8
                used, line = 0, 0.0
            box = width * column
            text = 60 + 14 * math.ceil(len(item.panel.description) * 6 / max(box, 1))
            line = max(line, float(item.panel.height * ROW_PX), text + _body_px(item, box))
            used += width
        total += line + 8
    return int(total) + 40
