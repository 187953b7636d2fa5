"""Reports of an audit run: HTML (self-contained), JSON, CSV and SARIF 2.1.0.

Examples:
    >>> sorted(FORMATS)
    ['csv', 'html', 'json', 'sarif']
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from netwarden.compliance.history import (
    changes,
    load_history,
    overall_trend,
    previous_of,
    save_run,
    trend,
)
from netwarden.compliance.models import AuditRun, ComplianceError
from netwarden.compliance.report.exports import to_csv, to_json, to_sarif
from netwarden.compliance.report.html import render_html
from netwarden.compliance.report.summary import Summary, summarise

FORMATS = {
    "html": "report.html",
    "json": "report.json",
    "csv": "report.csv",
    "sarif": "report.sarif",
}


def summary_for(run: AuditRun, out: Path) -> Summary:
    history = load_history(out)
    prev = previous_of(history, run)
    return summarise(
        run, changes(prev, run), prev, trend(history, run), overall_trend(history, run)
    )


def write_reports(
    run: AuditRun, out: Path, formats: Iterable[str], keep: bool = True
) -> dict[str, Path]:
    """Write the asked formats into ``out`` (and keep the run in its history); return the paths."""
    wanted = [f.strip().lower() for f in formats if f.strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ComplianceError(
            f"--format {','.join(unknown)}: unknown; expected some of {', '.join(FORMATS)}"
        )
    out.mkdir(parents=True, exist_ok=True)
    summary: Summary | None = None  # the history summary: the HTML report alone shows it
    written: dict[str, Path] = {}
    for fmt in wanted:
        path = out / FORMATS[fmt]
        if fmt == "html":
            if summary is None:
                summary = summary_for(run, out)
            text = render_html(summary)
        elif fmt == "json":
            text = to_json(run)
        elif fmt == "csv":
            text = to_csv(run)
        else:
            text = to_sarif(run)
        path.write_text(text, encoding="utf-8")
        written[fmt] = path
    if keep:
        written["history"] = save_run(run, out)
    return written
