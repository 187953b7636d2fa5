"""Every panel's queries, evaluated against a Prometheus: the data of an offline snapshot.

The snapshot reads the same :mod:`.model` objects the Grafana JSON is built from, so the
two cannot drift apart. Grafana's variables are filled in the way Grafana (and the
linter) fills them: ``$__rate_interval`` is ``max(step + scrape interval, 4 * scrape
interval)``, ``$site`` is ``.*`` or the site asked for. A panel whose query fails keeps
the error and the others go on; only a Prometheus that does not answer at all stops the
snapshot (:class:`UnreachableError`). Every request has a timeout and every panel a cap on its
series, so one wide query cannot make the page unreadable or the run endless.

Labels come from devices (interface descriptions, user names in syslog): they are data,
never markup; :mod:`.page` escapes every one.
"""

from __future__ import annotations

import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from netwarden.dashboards.model import Dashboard, Panel, Query

TIMEOUT = 20.0
"""Seconds one HTTP request to Prometheus may take (also sent as its query timeout)."""
MAX_SERIES = 25
"""Series drawn per query; the rest are counted and said to be left out."""
MAX_POINTS = 11000
"""Prometheus refuses a range query of more points per series than this."""
POINTS = 240
"""Points per series ``--step auto`` aims at over the range."""
DEFAULT_SCRAPE = 15.0
"""Prometheus's default scrape interval, when its configuration does not say."""
SITE_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""A site name as the inventory writes it; it goes into a PromQL regex unquoted."""
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class UnreachableError(Exception):
    """Prometheus does not answer (connection refused, timeout, not a Prometheus)."""


class QueryError(Exception):
    """Prometheus answered a query with an error (bad PromQL, timeout, too many samples)."""


def parse_duration(text: str) -> float:
    """Seconds of a Prometheus duration (``90s``, ``1h30m``, ``6h``).

    Raises:
        ValueError: not a duration.
    """
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (examples: 30m, 6h, 1d)")
    return sum(float(n) * _SECONDS[u] for n, u in parts)


def seconds_text(seconds: float) -> str:
    """A duration PromQL accepts (whole seconds, at least one)."""
    return f"{max(1, math.ceil(seconds))}s"


@dataclass(frozen=True)
class Window:
    """The time range of the snapshot and what Grafana's variables become in it."""

    end: datetime
    range_s: float
    step_s: float
    scrape_s: float
    site: str = ".*"

    @property
    def start(self) -> datetime:
        return self.end - timedelta(seconds=self.range_s)

    @property
    def rate_interval_s(self) -> float:
        """Grafana's ``$__rate_interval``: at least four scrapes, and a step plus one."""
        return max(self.step_s + self.scrape_s, 4 * self.scrape_s)

    def variables(self) -> dict[str, str]:
        return {
            "__rate_interval": seconds_text(self.rate_interval_s),
            "__interval": seconds_text(self.step_s),
            "__range": seconds_text(self.range_s),
            "site": self.site,
        }


def auto_step(range_s: float, scrape_s: float) -> float:
    """``--step auto``: about :data:`POINTS` points, never finer than a scrape."""
    return float(max(math.ceil(range_s / POINTS), math.ceil(scrape_s), 1))


def substitute(expr: str, window: Window) -> str:
    """``expr`` with Grafana's variables replaced for ``window``.

    Raises:
        QueryError: a variable no dashboard defines (shown in the panel's box).
    """
    values = window.variables()

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise QueryError(f"unknown Grafana variable ${name}")
        return values[name]

    return _VARIABLE.sub(value, expr)


@dataclass(frozen=True)
class Series:
    """One series: its labels (hostile text), its legend and its points (unix s, value)."""

    labels: dict[str, str]
    legend: str
    points: tuple[tuple[float, float], ...]

    @property
    def last(self) -> float | None:
        finite = [v for _, v in self.points if math.isfinite(v)]
        return finite[-1] if finite else None


@dataclass
class PanelData:
    """What a panel shows: its series (every query's), errors and the series left out."""

    panel: Panel
    series: list[Series] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    left_out: int = 0
    queries: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(s.points for s in self.series)


@dataclass
class DashboardData:
    dashboard: Dashboard
    window: Window
    panels: list[PanelData]


_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def legend(template: str, labels: dict[str, str]) -> str:
    """Grafana's legend: ``{{label}}`` replaced by the label's value; no template, the
    series' labels (``{a="b"}``) as Grafana shows them."""
    if template.strip():
        return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), template)
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


Fetch = Callable[[str, dict[str, str]], Any]
"""``(API path, parameters) -> the answer's data``; raises UnreachableError or QueryError."""


class Prometheus:
    """The few calls of Prometheus's HTTP API a snapshot needs, each with a timeout."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise UnreachableError(f"not an http(s) URL: {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout

    def get(self, path: str, params: dict[str, str]) -> Any:
        """The ``data`` of an API answer.

        Raises:
            UnreachableError: no answer, or an answer that is not Prometheus's JSON.
            QueryError: Prometheus's own error (status ``error``).
        """
        query = urllib.parse.urlencode(params)
        url = f"{self.url}{path}?{query}" if query else f"{self.url}{path}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:  # noqa: S310 (http(s) only, checked)
                body = answer.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            if exc.code not in (400, 422, 503):
                raise UnreachableError(f"{self.url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UnreachableError(f"{self.url}: {reason}") from None
        try:
            data = json.loads(body)
        except ValueError:
            raise UnreachableError(f"{self.url}: the answer is not Prometheus's JSON") from None
        if not isinstance(data, dict) or data.get("status") != "success":
            error = data.get("error", "unknown error") if isinstance(data, dict) else "?"
            raise QueryError(str(error))
        return data.get("data")

    def scrape_interval(self) -> float:
        """The global scrape interval of Prometheus's configuration (default 15 s).

        Raises:
            UnreachableError: Prometheus does not answer (the first call a snapshot makes).
        """
        try:
            data = self.get("/api/v1/status/config", {})
        except QueryError:
            return DEFAULT_SCRAPE
        found = re.search(r"^\s+scrape_interval:\s*(\S+)", str(data.get("yaml", "")), re.M)
        try:
            return parse_duration(found.group(1)) if found else DEFAULT_SCRAPE
        except ValueError:
            return DEFAULT_SCRAPE


def _series(result: list[dict[str, Any]], query: Query, instant: bool) -> list[Series]:
    out = []
    for item in result:
        labels = {str(k): str(v) for k, v in dict(item.get("metric", {})).items()}
        if instant:
            raw = item.get("value") or [0, "NaN"]
            points: tuple[tuple[float, float], ...] = ((_number(raw[0]), _number(raw[1])),)
        else:
            points = tuple((_number(t), _number(v)) for t, v in item.get("values", []))
        out.append(Series(labels, legend(query.legend, labels), points))
    return out


def evaluate_panel(panel: Panel, window: Window, fetch: Fetch) -> PanelData:
    """Every query of ``panel`` in ``window``; a failing query's error stays in the panel.

    Raises:
        UnreachableError: Prometheus stopped answering (the snapshot stops).
    """
    data = PanelData(panel)
    timeout = seconds_text(TIMEOUT)
    for query in panel.queries:
        try:
            expr = substitute(query.expr, window)
            data.queries.append(expr)
            if query.instant:
                answer = fetch(
                    "/api/v1/query",
                    {"query": expr, "time": f"{window.end.timestamp():.3f}", "timeout": timeout},
                )
            else:
                answer = fetch(
                    "/api/v1/query_range",
                    {
                        "query": expr,
                        "start": f"{window.start.timestamp():.3f}",
                        "end": f"{window.end.timestamp():.3f}",
                        "step": f"{window.step_s:g}",
                        "timeout": timeout,
                    },
                )
        except QueryError as exc:
            data.errors.append(str(exc))
            continue
        result = answer.get("result", []) if isinstance(answer, dict) else []
        if not isinstance(result, list):
            data.errors.append("Prometheus answered with a result that is not a vector")
            continue
        series = _series(result, query, query.instant)
        series.sort(key=lambda s: s.legend)
        data.left_out += max(0, len(series) - MAX_SERIES)
        data.series.extend(series[:MAX_SERIES])
    return data


def evaluate(
    dashboards: tuple[Dashboard, ...], window: Window, fetch: Fetch
) -> list[DashboardData]:
    """Every panel of every dashboard (the Site detail dashboard, without ``--site``,
    shows every site at once: Grafana would show the first)."""
    return [
        DashboardData(dash, window, [evaluate_panel(p, window, fetch) for p in dash.panels()])
        for dash in dashboards
    ]


def now() -> datetime:
    """The snapshot's end: now, to the second (UTC)."""
    return datetime.now(UTC).replace(microsecond=0)
