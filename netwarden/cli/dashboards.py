"""``netwarden dashboards generate``: the Grafana provisioning JSON of the dashboards.

The JSON under ``dashboards/grafana/`` is generated from :mod:`netwarden.dashboards.catalog`
and committed; a test fails when it differs from what this command writes, so after a
change to a panel run ``netwarden dashboards generate`` (or ``make dashboards``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netwarden.cli.common import err_console
from netwarden.dashboards import catalog, grafana

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


def register(app: typer.Typer) -> None:
    """Add ``netwarden dashboards`` to ``app``."""
    app.add_typer(dashboards_app, name="dashboards")
