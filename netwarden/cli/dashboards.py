"""``netwarden dashboards generate`` and ``snapshot``: the dashboards as Grafana JSON,
and as offline HTML pages evaluated against a Prometheus.

The JSON under ``dashboards/grafana/`` is generated from :mod:`netwarden.dashboards.catalog`
and committed; a test fails when it differs from what this command writes, so after a
change to a panel run ``netwarden dashboards generate`` (or ``make dashboards``).
``snapshot`` reads the same catalog, so the pages and the Grafana JSON cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netwarden.cli.common import EXIT_FINDINGS, EXIT_USAGE, err_console
from netwarden.dashboards import catalog, chromium, grafana, page, snapshot

dashboards_app = typer.Typer(help="Grafana dashboards as code (issue 17).")

DEFAULT_OUT = Path("dashboards/grafana")
"""Where the provisioning JSON lives in the repository."""


@dashboards_app.command("generate")
def generate(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder of the provisioning JSON files.")
    ] = DEFAULT_OUT,
) -> None:
    """Write one JSON file per dashboard into OUT (named by uid; stale files removed)."""
    for path in grafana.write(catalog.dashboards(), out):
        err_console.print(f"wrote {path}", highlight=False, markup=False)


def _say(text: str) -> None:
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def _fail(text: str, code: int) -> typer.Exit:
    """One line on stderr (no traceback) and the exit to raise."""
    _say(f"error: {text}")
    return typer.Exit(code)


@dashboards_app.command("snapshot")
def snapshot_command(  # noqa: PLR0917  (typer maps each parameter to an option)
    prometheus: Annotated[
        str, typer.Option("--prometheus", help="Prometheus base URL (http://host:9090).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the HTML pages.")],
    time_range: Annotated[
        str, typer.Option("--range", help="How far back the charts go (30m, 6h, 1d).")
    ] = "6h",
    step: Annotated[
        str, typer.Option("--step", help="Resolution: a duration, or auto (about 240 points).")
    ] = "auto",
    site: Annotated[
        str | None, typer.Option("--site", help="One site for $site (default: every site).")
    ] = None,
    png: Annotated[
        bool, typer.Option("--png", help="Also a PNG of each page (headless Chromium).")
    ] = False,
) -> None:
    """Evaluate every panel of every dashboard against PROMETHEUS and write one
    self-contained HTML page per dashboard (<uid>.html) and index.html into OUT.

    Exit 0: pages written (a failed query shows its error in its panel).
    Exit 1: Prometheus does not answer. Exit 2: bad options.
    """
    try:
        range_s = snapshot.parse_duration(time_range)
        step_s = None if step == "auto" else snapshot.parse_duration(step)
    except ValueError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    if range_s <= 0 or (step_s is not None and not 0 < step_s <= range_s):
        raise _fail("--range must be positive and --step within it", EXIT_USAGE)
    if step_s is not None and range_s / step_s > snapshot.MAX_POINTS:
        raise _fail(
            f"--range/--step gives more than {snapshot.MAX_POINTS} points (Prometheus's limit)",
            EXIT_USAGE,
        )
    if site is not None and not snapshot.SITE_PATTERN.fullmatch(site):
        raise _fail(f"--site {site!r}: letters, digits, '.', '_' and '-' only", EXIT_USAGE)
    try:
        client = snapshot.Prometheus(prometheus)
        scrape_s = client.scrape_interval()
        window = snapshot.Window(
            end=snapshot.now(),
            range_s=range_s,
            step_s=step_s or snapshot.auto_step(range_s, scrape_s),
            scrape_s=scrape_s,
            site=site or ".*",
        )
        data = snapshot.evaluate(catalog.dashboards(), window, client.get)
    except snapshot.UnreachableError as exc:
        raise _fail(f"Prometheus does not answer: {exc}", EXIT_FINDINGS) from None
    out.mkdir(parents=True, exist_ok=True)
    source = client.url.split("://", 1)[-1]  # shown as text; no URL in the pages at all
    pages = []
    for item in data:
        path = out / f"{item.dashboard.uid}.html"
        path.write_text(page.dashboard_html(item, source), encoding="utf-8")
        pages.append((path, item))
        empty = sum(p.empty for p in item.panels)
        failed = [p for p in item.panels if p.errors]
        _say(f"wrote {path} ({len(item.panels) - empty}/{len(item.panels)} panels with data)")
        for panel in failed:
            _say(f"warning: {item.dashboard.uid}: {panel.panel.title!r}: {panel.errors[0]}")
    index = out / "index.html"
    index.write_text(page.index_html(data, source), encoding="utf-8")
    _say(f"wrote {index}")
    if png:
        _pngs(pages)


def _pngs(pages: list[tuple[Path, snapshot.DashboardData]]) -> None:
    binary = chromium.find()
    if binary is None:
        _say("note: no PNGs: chromium is not installed (Debian: apt install chromium)")
        return
    for path, item in pages:
        target = path.with_suffix(".png")
        done = chromium.screenshot(binary, path, target, page.page_height(item, chromium.WIDTH))
        if done.returncode == 0 and target.is_file():
            _say(f"wrote {target}")
        else:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            _say(f"warning: no PNG of {path.name}: chromium exited {done.returncode}: {last}")


def register(app: typer.Typer) -> None:
    """Add ``netwarden dashboards`` to ``app``."""
    app.add_typer(dashboards_app, name="dashboards")
