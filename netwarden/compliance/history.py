"""Every audit run kept as JSON, and what the report derives from them: posture, trend, changes.

Runs live in ``<out>/history/<run_id>.json`` (the JSON report's own schema). The
previous run of a run is the latest earlier one that audited the same packs,
so an IOS-only run is not compared with a firewall run.

Scores count what was assessed only: a result that is not applicable, or that
belongs to a device that could not be read (:attr:`AuditRun.unread`), is in no
score; a posture with nothing assessed has no score (``None``, shown as "not
assessed"), never 100 %.

Examples:
    >>> Posture(passed=8, failed=1, waived=1).score
    0.9
    >>> Posture(not_applicable=3).score is None
    True
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from netwarden.compliance.models import AuditRun, ComplianceError, Result, Status

logger = logging.getLogger(__name__)

HISTORY_DIR = "history"


@dataclass
class Posture:
    """Counts of results; ``score``: share of assessed results that pass or are waived.

    ``unread``: results of devices that could not be read (not assessed).
    """

    passed: int = 0
    failed: int = 0
    waived: int = 0
    errors: int = 0
    not_applicable: int = 0
    unread: int = 0

    def add(self, status: Status, *, unread: bool = False) -> None:
        if unread:
            self.unread += 1
        elif status is Status.PASS:
            self.passed += 1
        elif status is Status.FAIL:
            self.failed += 1
        elif status is Status.WAIVED:
            self.waived += 1
        elif status is Status.ERROR:
            self.errors += 1
        else:
            self.not_applicable += 1

    @property
    def applicable(self) -> int:
        return self.passed + self.failed + self.waived + self.errors

    @property
    def assessed(self) -> bool:
        """Whether anything was assessed (else the score is ``None``: "not assessed")."""
        return self.applicable > 0

    @property
    def score(self) -> float | None:
        """Share of assessed results that pass or are waived; None when nothing was assessed."""
        if not self.applicable:
            return None
        return round((self.passed + self.waived) / self.applicable, 4)


def posture_by_site(results: Iterable[Result], unread: Collection[str] = ()) -> dict[str, Posture]:
    """Posture per site; results of ``unread`` devices are counted apart (in no score)."""
    out: dict[str, Posture] = {}
    for r in results:
        out.setdefault(r.site, Posture()).add(r.status, unread=r.device in unread)
    return dict(sorted(out.items()))


def overall(results: Iterable[Result], unread: Collection[str] = ()) -> Posture:
    """Posture of all ``results``; results of ``unread`` devices are counted apart."""
    p = Posture()
    for r in results:
        p.add(r.status, unread=r.device in unread)
    return p


def run_posture_by_site(run: AuditRun) -> dict[str, Posture]:
    """:func:`posture_by_site` of a run, its unreadable devices left out of the scores."""
    return posture_by_site(run.results, run.unread)


@dataclass
class Changes:
    """Failures since the previous run: new, resolved, and still open (device, rule) pairs."""

    previous_run: str | None
    new: list[tuple[str, str]] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)
    still: list[tuple[str, str]] = field(default_factory=list)


def _failing(run: AuditRun) -> set[tuple[str, str]]:
    return {(r.device, r.rule) for r in run.results if r.status.blocks_exit}


def changes(previous: AuditRun | None, run: AuditRun) -> Changes:
    if previous is None:
        return Changes(None, new=sorted(_failing(run)))
    before, now = _failing(previous), _failing(run)
    return Changes(
        previous.meta.run_id, sorted(now - before), sorted(before - now), sorted(now & before)
    )


def history_dir(out: Path) -> Path:
    return out / HISTORY_DIR


def save_run(run: AuditRun, out: Path) -> Path:
    d = history_dir(out)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{run.meta.run_id}.json"
    path.write_text(run.model_dump_json(indent=1), encoding="utf-8")
    return path


def load_history(out: Path) -> list[AuditRun]:
    """Every kept run, oldest first; an unreadable file is skipped with a warning."""
    runs = []
    d = history_dir(out)
    if not d.is_dir():
        return []
    for path in sorted(d.glob("*.json")):
        try:
            runs.append(AuditRun.model_validate_json(path.read_text(encoding="utf-8")))
        except (ValidationError, OSError) as exc:
            logger.warning(
                "%s: not a readable audit run, skipped: %s", path, str(exc).splitlines()[0]
            )
    return sorted(runs, key=lambda r: r.meta.started)


def previous_of(history: list[AuditRun], run: AuditRun) -> AuditRun | None:
    same = [
        h
        for h in history
        if h.meta.run_id != run.meta.run_id
        and h.meta.started < run.meta.started
        and set(h.meta.packs) == set(run.meta.packs)
    ]
    return same[-1] if same else None


def trend_runs(history: list[AuditRun], run: AuditRun, last: int = 12) -> list[AuditRun]:
    """Up to ``last`` runs comparable with ``run`` (same packs), oldest first, ending with it."""
    runs = [
        h
        for h in history
        if set(h.meta.packs) == set(run.meta.packs)
        and h.meta.run_id != run.meta.run_id
        and h.meta.started <= run.meta.started
    ]
    return [*runs, run][-last:]


def trend(
    history: list[AuditRun], run: AuditRun, last: int = 12
) -> dict[str, list[tuple[str, float]]]:
    """Per site, (run date, score) of up to ``last`` comparable runs ending with ``run``.

    A run in which a site had nothing assessed gives no point for that site.
    """
    out: dict[str, list[tuple[str, float]]] = {}
    for h in trend_runs(history, run, last):
        for site, p in run_posture_by_site(h).items():
            if p.score is not None:
                out.setdefault(site, []).append(
                    (h.meta.started.strftime("%Y-%m-%d %H:%M"), p.score)
                )
    return out


def overall_trend(
    history: list[AuditRun], run: AuditRun, last: int = 12
) -> list[tuple[str, float]]:
    """(run date, score of all sites) of up to ``last`` comparable runs ending with ``run``."""
    out = []
    for h in trend_runs(history, run, last):
        score = overall(h.results, h.unread).score
        if score is not None:
            out.append((h.meta.started.strftime("%Y-%m-%d %H:%M"), score))
    return out


def require_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ComplianceError(f"--out {out}: exists and is not a directory")
