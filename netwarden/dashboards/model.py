"""The panel model: one definition of every dashboard, read by every renderer.

A dashboard is rows of panels; a panel has a title, a description, a unit, thresholds
and PromQL queries with their legends. The Grafana builder (:mod:`.grafana`) turns it
into provisioning JSON and the offline snapshot reads the same objects, so what Grafana
shows and what the snapshot draws cannot drift apart. The model knows nothing of
Grafana's JSON: only what a reader of the panel needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SITE_VAR = "site"
"""The site variable every dashboard has (multi-select, "All" except Site detail)."""
DATASOURCE_VAR = "datasource"
"""The Prometheus data source variable every panel's queries go through."""


class Kind(StrEnum):
    """How a panel draws its data (the Grafana panel type of the same name)."""

    TIMESERIES = "timeseries"
    STAT = "stat"
    TABLE = "table"
    BARGAUGE = "bargauge"
    STATE_TIMELINE = "state-timeline"


@dataclass(frozen=True)
class Query:
    """One PromQL expression and its series' legend (Grafana ``{{label}}`` syntax).

    ``instant`` asks for the value now (stat, table, bar gauge) instead of a range.
    """

    expr: str
    legend: str
    instant: bool = False


@dataclass(frozen=True)
class Step:
    """A threshold step: from ``value`` upwards the colour is ``color`` (``None``: the base)."""

    value: float | None
    color: str


@dataclass(frozen=True)
class Panel:
    """A panel: what it shows (title, description), in which unit, with which thresholds."""

    title: str
    description: str
    unit: str
    queries: tuple[Query, ...]
    kind: Kind = Kind.TIMESERIES
    thresholds: tuple[Step, ...] = ()
    width: int = 12
    height: int = 8
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Row:
    """A titled row of panels, laid out left to right (24 columns wide)."""

    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: its stable uid (links and alerts point at it), rows and tags.

    ``site_all``: the site variable offers "All" (the fleet-wide dashboards); Site detail
    shows one site at a time.
    """

    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = field(default=("netwarden",))
    site_all: bool = True

    def panels(self) -> tuple[Panel, ...]:
        """Every panel, row by row."""
        return tuple(panel for row in self.rows for panel in row.panels)


# Threshold palettes shared by panels (Grafana's named colours).
OK_WHEN_HIGH = (Step(None, "red"), Step(0.5, "orange"), Step(0.99, "green"))
"""Ratios where 1 is healthy (devices up, collectors succeeding)."""
BAD_WHEN_ANY = (Step(None, "green"), Step(1, "red"))
"""Counts where any is a problem (devices down, drifted, failing rules)."""
