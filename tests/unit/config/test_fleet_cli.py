"""plan, apply, backup and drift: selection messages, details below tables, drift without a backup.

Issue 11 points 2 and 5. Nothing here reaches a device: every command stops at a
usage error before its first session, and the output functions are given reports.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from netwarden.cli.app import app
from netwarden.cli.common import EXIT_USAGE, ReadableConsole
from netwarden.cli.output import print_apply, print_backup, print_drift, print_plan
from netwarden.config.models import (
    ApplyReport,
    ApplyStatus,
    BackupReport,
    BackupStatus,
    DeviceApplyResult,
    DeviceBackup,
    DeviceDrift,
    DevicePlan,
    DriftReport,
    PlanReport,
)
from tests.unit.terminal import ANSI, MODE_IDS, MODES

runner = CliRunner()

OLD_KEY = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
NEW_KEY = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
HOST_KEY_CHANGED = (
    f"jed-core-sw1: HOST KEY CHANGED for 10.10.10.2: known_hosts.txt has ssh-ed25519 {OLD_KEY}, "
    f"the device offers ssh-ed25519 {NEW_KEY}; refusing to connect (a replaced device or a man "
    "in the middle). If the change is expected, verify the new key and replace the line in "
    "known_hosts.txt; --trust-on-first-use never accepts a changed key"
)
READ_ONLY_KINDS = (
    "handles ios, nftables firewall and linux server devices only (linux servers: configured "
    "by playbooks/servers.yml, read by audit, backup and drift; linux sensors: no session yet)"
)
"""plan and apply converge linux servers (their playbook), backup and drift read them (issue
15): only sensors are left out."""
COMMANDS = {
    "plan": [],
    "apply": [],  # without --yes: the plan apply shows
    "apply --yes": ["--yes"],
    "backup": [],
    "drift": [],
}


def _invoke(args: list[str]) -> tuple[int, str, str]:
    res = runner.invoke(app, args)
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_a_linux_device_is_named_with_the_commands_own_name(
    command: str, example_inventory: Path, tmp_path: Path
) -> None:
    verb = command.split(maxsplit=1)[0]
    reads = verb in ("backup", "drift")
    name, kind = "nyc-sensor1", "sensor"  # servers: plan/apply run their playbook
    args = [verb, "-i", str(example_inventory), "--limit", name, *COMMANDS[command]]
    if reads:
        args += ["--repo", str(tmp_path / "repo")]
    code, out, err = _invoke(args)
    assert code == EXIT_USAGE
    assert out == ""
    flat = " ".join(err.split())
    said = READ_ONLY_KINDS
    assert f"error: {name} is a linux device ({kind}); {verb} {said}" in flat
    assert "no ios device matches" not in err
    assert not (tmp_path / "repo").exists()


@pytest.mark.parametrize("verb", ["plan", "backup", "drift"])
def test_a_limit_of_linux_devices_only_lists_them(verb: str, example_inventory: Path) -> None:
    limit, count = "sensors", 5
    code, _, err = _invoke([verb, "-i", str(example_inventory), "--limit", limit])
    assert code == EXIT_USAGE
    flat = " ".join(err.split())
    assert flat.startswith(f"error: --limit {limit!r} selects {count} linux devices: ")
    assert flat.endswith(f"{verb} {READ_ONLY_KINDS}")


def test_a_mixed_limit_says_what_it_left_out_before_the_next_check(
    example_inventory: Path, tmp_path: Path
) -> None:
    """The note for a mixed limit comes first; the missing --repo then stops drift (exit 2)."""
    missing = tmp_path / "nowhere"
    code, out, err = _invoke(
        ["drift", "-i", str(example_inventory), "--limit", "nyc", "--repo", str(missing)]
    )
    assert code == EXIT_USAGE
    assert out == ""
    flat = " ".join(err.split())
    assert flat.startswith(
        f"note: --limit 'nyc': left out nyc-sensor1 is a linux device (sensor); drift "
        f"{READ_ONLY_KINDS} "
    )
    assert f"error: --repo {missing}: no such directory;" in flat


# point 2: drift's backup repository


def test_drift_refuses_a_repo_that_does_not_exist(example_inventory: Path, tmp_path: Path) -> None:
    code, out, err = _invoke(
        ["drift", "-i", str(example_inventory), "--repo", str(tmp_path / "typo")]
    )
    assert code == EXIT_USAGE
    assert out == ""
    flat = " ".join(err.split())
    assert flat == (
        f"error: --repo {tmp_path / 'typo'}: no such directory; expected a backup repository "
        "made by `netwarden backup` or `netwarden apply`; --intended-only compares with the "
        "intended config only"
    )


def test_drift_refuses_a_directory_that_is_not_a_repository(
    example_inventory: Path, tmp_path: Path
) -> None:
    code, _, err = _invoke(["drift", "-i", str(example_inventory), "--repo", str(tmp_path)])
    assert code == EXIT_USAGE
    assert f"error: --repo {tmp_path}: not a git repository;" in " ".join(err.split())


def _console(columns: int, *, tty: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    environ = {"COLUMNS": str(columns)} if columns else {}
    return ReadableConsole(file=out, force_terminal=tty, _environ=environ), out


def _drift(repo: str | None) -> DriftReport:
    return DriftReport(
        inventory="inventory",
        backup_repo=repo,
        devices=(
            DeviceDrift(device="nyc-acc-sw1", intended_diff=""),
            DeviceDrift(device="nyc-acc-sw2", intended_diff="", backup_diff="", backup_commit="a1"),
            DeviceDrift(device="jed-core-sw1", error="jed-core-sw1: timed out"),
        ),
    )


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_drift_says_per_device_that_there_is_no_backup(columns: int, tty: bool) -> None:
    repo = "/srv/netwarden/backups-of-the-whole-fleet/with/a/rather/long/path"
    console, out = _console(columns, tty=tty)
    report = _drift(repo)
    print_drift(console, report)
    lines = ANSI.sub("", out.getvalue()).splitlines()
    # one line, never cut or broken by the console (the terminal wraps it if it must)
    assert f"nyc-acc-sw1: no backup to compare with (last backup: none in {repo})" in lines
    assert "nyc-acc-sw1: no drift" not in lines
    assert "nyc-acc-sw2: no drift" in lines
    assert lines[-1] == "drift: 0 device(s) drifted, 1 unreadable, 1 without a backup, 1 in sync"
    assert report.without_backup == ["nyc-acc-sw1"]


def test_drift_with_the_intended_config_only_counts_no_missing_backup() -> None:
    console, out = _console(0, tty=False)
    report = _drift(None)
    print_drift(console, report)
    lines = out.getvalue().splitlines()
    assert "nyc-acc-sw1: no drift" in lines
    assert lines[-1] == "drift: 0 device(s) drifted, 1 unreadable, 2 in sync"
    assert report.without_backup == []


# point 5: an error folded in a table cell is printed again below it, whole


def _apply_report() -> ApplyReport:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    return ApplyReport(
        inventory="inventory",
        user="alice",
        started_at=now,
        finished_at=now,
        confirm_timeout_minutes=10,
        results=(
            DeviceApplyResult(
                device="jed-core-sw1", status=ApplyStatus.FAILED, reason=HOST_KEY_CHANGED
            ),
            DeviceApplyResult(device="nyc-acc-sw1", status=ApplyStatus.CHANGED),
        ),
        change_commit="0123456789abcdef",
    )


def _backup_report() -> BackupReport:
    return BackupReport(
        repo="var/backups",
        user="alice",
        message="",
        devices=(
            DeviceBackup(
                device="jed-core-sw1", status=BackupStatus.UNREACHABLE, error=HOST_KEY_CHANGED
            ),
            DeviceBackup(device="nyc-acc-sw1", status=BackupStatus.NEW, path="var/backups/x.cfg"),
        ),
    )


def _plan_report() -> PlanReport:
    return PlanReport(
        inventory="inventory",
        plans=(
            DevicePlan(device="jed-core-sw1", error=HOST_KEY_CHANGED),
            DevicePlan(device="nyc-acc-sw1"),
        ),
    )


def _print_apply(console: Console) -> None:
    print_apply(console, _apply_report())


def _print_backup(console: Console) -> None:
    print_backup(console, _backup_report())


def _print_plan_summary(console: Console) -> None:
    print_plan(console, _plan_report(), summary=True)


PRINTERS: dict[str, tuple[Callable[[Console], None], str]] = {
    "apply": (_print_apply, "jed-core-sw1 (failed): "),
    "backup": (_print_backup, "jed-core-sw1 (unreachable): "),
    "plan-summary": (_print_plan_summary, "jed-core-sw1 (cannot plan): "),
}


@pytest.mark.parametrize("table", PRINTERS)
@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_a_devices_error_is_printed_whole_below_the_table(
    table: str, columns: int, tty: bool
) -> None:
    printer, prefix = PRINTERS[table]
    console, out = _console(columns, tty=tty)
    printer(console)
    lines = ANSI.sub("", out.getvalue()).splitlines()
    # one line holds the whole error: both fingerprints can be copied
    assert prefix + HOST_KEY_CHANGED in lines
    assert "nyc-acc-sw1 (" not in "\n".join(lines)  # a device without an error has no line
    assert "…" not in out.getvalue()


def test_apply_says_which_commit_recorded_the_change() -> None:
    console, out = _console(0, tty=False)
    print_apply(console, _apply_report())
    assert "recorded the change: commit 0123456789ab" in out.getvalue().splitlines()
