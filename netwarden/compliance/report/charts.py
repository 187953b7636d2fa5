"""The trend chart of the report: geometry only, rendered as inline SVG by ``trend.svg.j2``.

Readers of the report (an auditor, a governing council) need a chart they can
read on paper: a date axis (one tick per kept report, thinned when there are
many), a 0-100 % score axis with gridlines, one line per site plus all sites
together, and a legend with each line's latest score. Everything here is
numbers and plain strings; the template autoescapes the site names.

Examples:
    >>> c = trend_chart({"gva": [("2026-11-01 09:00", 0.5), ("2026-11-08 09:00", 1.0)]}, [])
    >>> [t.label for t in c.xticks], [t.label for t in c.yticks][:2]
    (['01 Nov', '08 Nov'], ['0 %', '20 %'])
    >>> c.series[0].segments[0]
    '68.0,116.0 880.0,16.0'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#7f7f7f",
    "#bcbd22",
)
"""Line colours (Tableau 10); each line also has its own dash pattern for grey print."""
DASHES = ("", "6 3", "2 2", "8 3 2 3", "4 4", "1 3", "10 4", "6 2 2 2", "3 6", "12 3")
MAX_SITES = 10
"""Sites drawn at most: beyond, the lowest latest scores are drawn and the rest named."""
MAX_XLABELS = 8
LEGEND_COLUMN = 210
_DATE_FMT = "%Y-%m-%d %H:%M"


@dataclass
class Tick:
    pos: float
    label: str
    label2: str = ""


@dataclass
class Series:
    name: str
    color: str
    dash: str
    width: float
    points: list[tuple[float, float]] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    """SVG polyline ``points`` strings, one per run of two or more consecutive reports with a score
    (a lone point is drawn by its marker)."""
    latest: float | None = None


@dataclass
class LegendItem:
    x: float
    y: float
    series: Series


@dataclass
class TrendChart:
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    xticks: list[Tick]
    yticks: list[Tick]
    series: list[Series]
    legend: list[LegendItem]
    runs: int
    note: str = ""

    @property
    def empty(self) -> bool:
        return not self.series


def _parse(label: str) -> datetime:
    return datetime.strptime(label, _DATE_FMT)


def _xticks(dates: list[str], xs: list[float]) -> list[Tick]:
    """One label per report (``27 Nov``), under it the year when it changes, or the time
    when two reports share a day; at most :data:`MAX_XLABELS`, the last always shown."""
    stamps = [_parse(d) for d in dates]
    days = [s.date() for s in stamps]
    step = max(1, math.ceil(len(dates) / MAX_XLABELS))
    shown = set(range(len(dates) - 1, -1, -step))
    ticks = []
    year = None
    for i, (stamp, x) in enumerate(zip(stamps, xs, strict=True)):
        if i not in shown:
            ticks.append(Tick(x, ""))
            continue
        second = ""
        if days.count(stamp.date()) > 1:
            second = stamp.strftime("%H:%M")
        elif stamp.year != year:
            second = str(stamp.year)
        year = stamp.year
        ticks.append(Tick(x, stamp.strftime("%d %b"), second))
    return ticks


def trend_chart(
    sites: dict[str, list[tuple[str, float]]],
    overall: list[tuple[str, float]],
    width: int = 900,
) -> TrendChart:
    """Chart geometry for per-site and overall scores (0..1) by report date label."""
    dates = sorted({d for pts in sites.values() for d, _ in pts} | {d for d, _ in overall})
    left, right, top = 56.0, width - 8.0, 16.0
    plot_h = 200.0
    bottom = top + plot_h
    n = len(dates)
    pad = 12.0
    if n <= 1:
        xs = [(left + right) / 2] * n
    else:
        step = (right - left - 2 * pad) / (n - 1)
        xs = [round(left + pad + i * step, 1) for i in range(n)]
    x_of = dict(zip(dates, xs, strict=True))

    def y_of(score: float) -> float:
        return round(bottom - plot_h * score, 1)

    chosen = sorted(sites, key=lambda s: (sites[s][-1][1] if sites[s] else 1.0, s))
    hidden = chosen[MAX_SITES:]
    drawn = sorted(chosen[:MAX_SITES])
    named: list[tuple[str, list[tuple[str, float]]]] = [(s, sites[s]) for s in drawn]
    if len(sites) > 1 and overall:
        named.append(("all sites", overall))
    series = []
    for i, (name, pts) in enumerate(named):
        is_all = name == "all sites" and i == len(named) - 1 and len(sites) > 1
        s = Series(
            name,
            "#263238" if is_all else PALETTE[i % len(PALETTE)],
            "" if is_all else DASHES[i % len(DASHES)],
            3.0 if is_all else 2.0,
        )
        by_date = dict(pts)
        run: list[str] = []
        for d in dates:
            if d in by_date:
                point = (x_of[d], y_of(by_date[d]))
                s.points.append(point)
                run.append(f"{point[0]},{point[1]}")
            else:
                if len(run) > 1:
                    s.segments.append(" ".join(run))
                run = []
        if len(run) > 1:
            s.segments.append(" ".join(run))
        s.latest = pts[-1][1] if pts else None
        series.append(s)
    legend_top = bottom + 56
    per_row = max(1, int((width - left) // LEGEND_COLUMN))
    legend = [
        LegendItem(left + LEGEND_COLUMN * (i % per_row), legend_top + 22 * (i // per_row), s)
        for i, s in enumerate(series)
    ]
    rows = math.ceil(len(series) / per_row) if series else 0
    notes = []
    if n == 0:
        notes.append("No score to draw: nothing was assessed in the kept reports.")
    if n == 1:
        notes.append("First kept report: the lines start with the next report.")
    if hidden:
        notes.append(
            f"{len(hidden)} more site(s) not drawn ({', '.join(sorted(hidden)[:6])}"
            f"{' ...' if len(hidden) > 6 else ''}): see the summary per site."
        )
    return TrendChart(
        width=width,
        height=int(legend_top + 22 * rows + 4),
        left=left,
        top=top,
        right=right,
        bottom=bottom,
        xticks=_xticks(dates, xs) if dates else [],
        yticks=[Tick(y_of(v / 100), f"{v} %") for v in range(0, 101, 20)],
        series=series,
        legend=legend,
        runs=n,
        note=" ".join(notes),
    )
