"""The ``compliance`` module: the latest audit report on disk, as counts and scores.

The report is ``<reports>/report.json`` (what ``netwarden audit --format json`` writes),
read again only when its modification time or size changes. ``target`` is a device
(its own results) or a site (the site's results). Per framework (``cis``,
``nist_800_53_r5``, ``iso27001_2022``, and ``all``): results by status and the
score (share of assessed results that pass or are waived; none when nothing was
assessed), as :class:`~netwarden.compliance.history.Posture` computes it. HELP
names the report and when its run finished.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric
from pydantic import ValidationError

from netwarden.compliance.history import Posture
from netwarden.compliance.models import AuditRun, Framework, Status
from netwarden.compliance.report import FORMATS
from netwarden.errors import NetwardenError

logger = logging.getLogger(__name__)

_STATUSES = (Status.PASS, Status.FAIL, Status.WAIVED, Status.ERROR, Status.NOT_APPLICABLE)


class ReportUnavailableError(NetwardenError):
    """No audit report to read, or one that is not an audit run."""


@dataclass(frozen=True)
class _Cached:
    key: tuple[int, int]
    run: AuditRun


class ComplianceReports:
    """The latest report in ``folder``, cached by modification time and size (thread-safe)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._cached: _Cached | None = None
        self._lock = threading.Lock()

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else self.folder / FORMATS["json"]

    def latest(self) -> AuditRun:
        """The report's run (read again only if the file changed).

        Raises:
            ReportUnavailableError: no folder configured, no report, or not an audit run.
        """
        path = self.path
        if path is None:
            raise ReportUnavailableError("no report folder: start the exporter with --reports DIR")
        try:
            st = path.stat()
        except OSError as exc:
            raise ReportUnavailableError(
                f"{path}: {exc.strerror or exc} (run netwarden audit --format json --out "
                f"{path.parent} first)"
            ) from exc
        key = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if self._cached is not None and self._cached.key == key:
                return self._cached.run
            try:
                run = AuditRun.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                raise ReportUnavailableError(
                    f"{path}: not a readable audit report: {str(exc).splitlines()[0]}"
                ) from exc
            self._cached = _Cached(key, run)
            logger.info("compliance report %s: run %s loaded", path, run.meta.run_id)
            return run


def compliance_families(run: AuditRun, path: Path, target: str) -> Iterator[Metric]:
    """Counts by framework and status, and the score, of ``target`` (a device or a site)."""
    frameworks: dict[str, frozenset[str]] = {
        fw.value: frozenset(r.id for r in run.rules if r.references.ids(fw)) for fw in Framework
    }
    unread = run.unread
    postures: dict[str, Posture] = {name: Posture() for name in ("all", *frameworks)}
    for result in run.results:
        if target not in {result.device, result.site}:
            continue
        gone = result.device in unread
        postures["all"].add(result.status, unread=gone)
        for name, rules in frameworks.items():
            if result.rule in rules:
                postures[name].add(result.status, unread=gone)
    when = run.meta.finished.isoformat(timespec="seconds")
    source = f"(report {path}, run {run.meta.run_id} finished {when})"
    counts = GaugeMetricFamily(
        "netwarden_compliance_results",
        f"Audit results of the target by framework and status {source}.",
        labels=["framework", "status"],
    )
    score = GaugeMetricFamily(
        "netwarden_compliance_score_ratio",
        f"Share (0-1) of assessed results that pass or are waived {source}.",
        labels=["framework"],
    )
    for name, posture in postures.items():
        values = {
            Status.PASS: posture.passed,
            Status.FAIL: posture.failed,
            Status.WAIVED: posture.waived,
            Status.ERROR: posture.errors,
            Status.NOT_APPLICABLE: posture.not_applicable,
        }
        for status in _STATUSES:
            counts.add_metric([name, status.value], values[status])
        if posture.score is not None:
            score.add_metric([name], posture.score)
    yield counts
    if score.samples:
        yield score
    yield GaugeMetricFamily(
        "netwarden_compliance_report_timestamp_seconds",
        f"Unix time the audit run of the report finished {source}.",
        value=run.meta.finished.timestamp(),
    )
