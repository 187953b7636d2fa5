"""What ``netwarden plan|apply|backup|drift`` print (the commands are in :mod:`netwarden.cli.fleet`).

What reaches the terminal is safe twice over: the results hold no secrets (their
text fields are redacted when built, :mod:`netwarden.config.models`), and every
text that comes from a device or the inventory is shown through :func:`shown`:
control characters and bidi overrides visibly escaped (``\x1b``), Rich markup
escaped. A device's banner cannot clear the screen or plant a hyperlink.

A table folds a long error over several lines at the terminal's width (it is whole,
but a fingerprint folded in two cannot be copied): every error or reason in a
table is printed again below it, one line per device (:func:`print_details`),
which the terminal wraps without breaking the text.
"""

from __future__ import annotations

import logging

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from netwarden.config.models import (
    ApplyReport,
    ApplyStatus,
    BackupReport,
    BackupStatus,
    DevicePlan,
    DriftReport,
    PlanReport,
)
from netwarden.textsafe import printable

logger = logging.getLogger(__name__)

STATUS_STYLE = {
    ApplyStatus.UNCHANGED: "dim",
    ApplyStatus.CHANGED: "green",
    ApplyStatus.ROLLED_BACK: "yellow",
    ApplyStatus.FAILED: "bold red",
    ApplyStatus.SKIPPED: "magenta",
}


def shown(text: str, *, multiline: bool = False) -> str:
    """``text`` for the terminal: control characters escaped visibly, Rich markup escaped.

    Examples:
        >>> print(shown("sw1\\x1b[2J[bold]"))
        sw1\\x1b[2J\\[bold]
    """
    return escape(printable(text, multiline=multiline))


def print_details(console: Console, details: list[tuple[str, str, str]]) -> None:
    """Each ``(device, status, text)`` on one line below a table: whole, copyable.

    A table folds a long cell at the terminal's width; these lines are soft-wrapped
    (the terminal wraps them, no newline is inserted), so a fingerprint or a path
    can be selected whole. Nothing is printed without details.
    """
    for device, status, text in details:
        line = Text.assemble(
            (printable(device), "bold"), f" ({status}): " if status else ": ", printable(text)
        )
        console.print(line, highlight=False, soft_wrap=True)


def _print_diff(console: Console, diff: str) -> None:
    for line in diff.splitlines():
        style = (
            "green"
            if line.startswith("+") and not line.startswith("+++")
            else "red"
            if line.startswith("-") and not line.startswith("---")
            else "cyan"
            if line.startswith("@@")
            else None
        )
        # already redacted (the models), the line's control characters escaped here
        console.print(shown(line), style=style, highlight=False, soft_wrap=True)


def print_device_plan(console: Console, plan: DevicePlan) -> None:
    if plan.error:
        console.print(
            f"[bold red]{shown(plan.device)}: cannot plan:[/] {shown(plan.error, multiline=True)}"
        )
        return
    if not plan.changed:
        console.print(f"[dim]{shown(plan.device)}: in sync, nothing to do[/]")
        return
    console.rule(f"{shown(plan.device)}: {len(plan.commands)} command(s)")
    if plan.device_diff:
        console.print("[bold]device diff[/] (show archive config differences):")
        _print_diff(console, plan.device_diff)
    if plan.commands:
        console.print("[bold]remediation[/] (the commands that would be sent):")
        for command in plan.commands:  # redacted by the model: type 7 keys are reversible
            console.print(shown(command), highlight=False, soft_wrap=True)


def print_plan(console: Console, report: PlanReport, *, summary: bool = False) -> None:
    if summary:
        table = Table(title="plan")
        for col in ("device", "device diff lines", "commands", "error"):
            table.add_column(col, justify="left" if col in {"device", "error"} else "right")
        for p in report.plans:
            table.add_row(
                shown(p.device),
                str(len(p.device_diff.splitlines())),
                str(len(p.commands)),
                shown(p.error or "", multiline=True),
            )
        console.print(table)
        print_details(
            console, [(p.device, "cannot plan", p.error) for p in report.plans if p.error]
        )
    else:
        for plan in report.plans:
            print_device_plan(console, plan)
    console.print(
        f"plan: {len(report.changed)} to change, "
        f"{len(report.plans) - len(report.changed) - len(report.failed)} in sync, "
        f"{len(report.failed)} failed"
    )


def print_apply(console: Console, report: ApplyReport) -> None:
    table = Table(
        title=f"apply by {shown(report.user)} "
        f"(confirm timeout {report.confirm_timeout_minutes} min)"
    )
    for col in ("device", "wave", "result", "reason", "s"):
        table.add_column(col, no_wrap=col in ("device", "result"))
    for r in report.results:
        table.add_row(
            shown(r.device),
            str(r.wave),
            f"[{STATUS_STYLE[r.status]}]{r.status.value}[/]",
            shown(r.reason, multiline=True),
            f"{r.duration_seconds:.1f}",
        )
    console.print(table)
    print_details(
        console, [(r.device, r.status.value, r.reason) for r in report.results if r.reason]
    )
    counts = ", ".join(
        f"{len(report.by_status(s))} {s.value}" for s in ApplyStatus if report.by_status(s)
    )
    console.print(f"apply: {counts}")
    if report.change_commit:
        console.print(f"recorded the change: commit {report.change_commit[:12]}", highlight=False)


def print_backup(console: Console, report: BackupReport) -> None:
    table = Table(title=f"backup in {shown(report.repo)}")
    table.add_column("device", no_wrap=True)
    table.add_column("status")
    table.add_column("detail")
    for d in report.devices:
        style = "bold red" if d.status is BackupStatus.UNREACHABLE else None
        table.add_row(
            shown(d.device),
            f"[{style}]{d.status.value}[/]" if style else d.status.value,
            shown(d.error or d.path or "", multiline=True),
        )
    console.print(table)
    print_details(console, [(d.device, d.status.value, d.error) for d in report.devices if d.error])
    console.print(f"commit {report.commit[:12]}" if report.commit else "nothing changed: no commit")


def print_drift(console: Console, report: DriftReport) -> None:
    """Per device: its diffs, or "no drift", or why it could not be compared; then the counts.

    With a backup repository asked for, a device without a backup there is said so
    (``nyc-acc-sw1: no backup to compare with (last backup: none in var/backups)``):
    it is not counted in sync.
    """
    missing = set(report.without_backup)
    for d in report.devices:
        if d.error:
            console.print(
                f"[bold red]{shown(d.device)}: cannot read:[/] {shown(d.error, multiline=True)}"
            )
            continue
        if d.intended_diff:
            console.rule(f"{shown(d.device)}: differs from the intended config")
            _print_diff(console, d.intended_diff)
        if d.backup_diff:
            since = f" ({d.backup_commit[:12]})" if d.backup_commit else ""
            console.rule(f"{shown(d.device)}: differs from the last backup{since}")
            _print_diff(console, d.backup_diff)
        if d.device in missing:
            line = Text.assemble(
                (printable(d.device), "yellow"),
                ": no backup to compare with (last backup: none in "
                f"{printable(report.backup_repo or '')})",
            )
            console.print(line, highlight=False, soft_wrap=True)
        elif not d.drifted:
            console.print(f"[dim]{shown(d.device)}: no drift[/]")
        if not d.intended_compared:
            console.print(
                f"[dim]{shown(d.device)}: no intended config (a linux server): "
                "compared with its last backup only[/]"
            )
    in_sync = [
        d for d in report.devices if not d.error and not d.drifted and d.device not in missing
    ]
    parts = [f"{len(report.drifted)} device(s) drifted", f"{len(report.failed)} unreadable"]
    if report.backup_repo is not None:
        parts.append(f"{len(missing)} without a backup")
    console.print(f"drift: {', '.join(parts)}, {len(in_sync)} in sync")
