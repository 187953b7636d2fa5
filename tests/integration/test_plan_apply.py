"""Plan, apply, backup and drift against the simulated fleet of the example inventory.

The issue's acceptance path: the first plan shows a diff for every device and
changes nothing; apply (canary first) converges every device and records the
configs it left in the backup repository (drift right after finds nothing); the
second plan is empty and a second apply reports unchanged; a manual change made
through Netmiko shows up in drift as exactly that change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netwarden.cli.app import app
from netwarden.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE
from netwarden.config.apply import ApplyOptions, apply_fleet
from netwarden.config.backup import git, last_backup, run_backup, stored_form
from netwarden.config.drift import drift_fleet
from netwarden.config.models import ApplyReport, ApplyStatus, BackupStatus, PlanReport
from netwarden.config.plan import plan_fleet
from tests.integration.labfleet import (
    CONFIRM_MINUTES,
    Lab,
    running,
    running_lines,
    start_lab,
    state_of,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MANUAL = "nyc-acc-sw1"


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backups") / "repo"


@pytest.fixture(scope="module")
def first_plan(lab: Lab) -> tuple[PlanReport, dict[str, list[str]], dict[str, list[str]]]:
    before = {name: running_lines(dev) for name, dev in lab.fleet.devices.items()}
    report = plan_fleet(str(lab.path), lab.devices, lab.configs, lab.options(), concurrency=4)
    after = {name: running_lines(dev) for name, dev in lab.fleet.devices.items()}
    return report, before, after


@pytest.fixture(scope="module")
def applied(lab: Lab, first_plan: object, repo: Path) -> ApplyReport:
    del first_plan  # plan first: the plan tests see the devices untouched
    return apply_fleet(
        str(lab.path),
        lab.devices,
        lab.configs,
        lab.options(),
        ApplyOptions(confirm_timeout_minutes=CONFIRM_MINUTES, canary=1, concurrency=4),
        user="tester",
        message="converge the example fleet",
        backup_repo=repo,
    )


def test_first_plan_shows_a_diff_for_every_device(first_plan: tuple[PlanReport, ...]) -> None:
    report = first_plan[0]
    assert len(report.plans) == 10
    for plan in report.plans:
        assert plan.error is None, plan.error
        assert plan.changed
        assert "+aaa new-model" in plan.device_diff.splitlines(), plan.device
        assert "aaa new-model" in plan.commands, plan.device
        assert "no ip scp server enable" in plan.commands or plan.commands  # exact commands


def test_plan_changes_nothing_on_the_devices(lab: Lab, first_plan: tuple[object, ...]) -> None:
    _report, before, after = first_plan
    assert before == after
    for dev in lab.fleet:
        assert dev.pending is None, dev.spec.name  # no revert timer left behind
        assert dev.archive_count == 0, dev.spec.name  # nothing committed, nothing archived


def test_apply_converges_every_device_canary_first(lab: Lab, applied: ApplyReport) -> None:
    statuses = {r.device: r.status for r in applied.results}
    assert statuses == dict.fromkeys(statuses, ApplyStatus.CHANGED), [
        (r.device, r.reason) for r in applied.results if r.status is not ApplyStatus.CHANGED
    ]
    assert len(statuses) == 10
    assert applied.canary == (lab.devices[0].name,)
    assert {r.wave for r in applied.results if r.device in applied.canary} == {1}
    assert {r.wave for r in applied.results if r.device not in applied.canary} == {2}
    for result in applied.results:
        assert {c.name for c in result.checks} >= {
            "new_ssh_session",
            "hostname",
            "mgmt_interface_up",
            "config_matches_intended",
        }
        assert all(c.passed for c in result.checks)
    for dev in lab.fleet:
        name = dev.spec.name
        assert state_of(lab, name) == "intended", name
        assert dev.pending is None, name  # confirmed: no revert timer
        assert dev.startup is not None
        assert dev.startup == dev.running.render_body(), name  # saved


def test_backup_ran_before_apply(applied: ApplyReport, repo: Path, lab: Lab) -> None:
    assert applied.backup_commit is not None
    message = git(repo, "log", "-1", "--format=%an%n%B", applied.backup_commit).stdout
    assert message.startswith("netwarden\nbackup: 10 new")
    assert "who: tester" in message
    assert "why: before apply: converge the example fleet" in message
    stored = git(repo, "show", f"{applied.backup_commit}:{MANUAL}.cfg").stdout
    assert "hostname nyc-acc-sw1" in stored
    assert "$9$" not in stored  # the initial user secret is sanitised
    assert "aaa new-model" not in stored  # taken before the change


def test_apply_records_the_configs_it_left(applied: ApplyReport, repo: Path, lab: Lab) -> None:
    """Issue 11 point 3: one commit after the change, by the user, with the reason."""
    assert applied.record_error is None
    assert applied.change_commit is not None
    assert applied.change_commit == git(repo, "rev-parse", "HEAD").stdout.strip()
    assert git(repo, "rev-parse", f"{applied.change_commit}~1").stdout.strip() == (
        applied.backup_commit
    )
    log = git(repo, "log", "-1", "--format=%an|%B", applied.change_commit).stdout
    author, body = log.split("|", 1)
    assert author == "tester"
    lines = body.splitlines()
    assert lines[0] == "apply: converge the example fleet"
    assert "who: tester" in lines
    assert "result: 10 changed" in lines
    assert sorted(ln for ln in lines if ln.startswith("changed: ")) == sorted(
        f"changed: {d.name}" for d in lab.devices
    )
    files = git(repo, "show", "--name-only", "--format=", applied.change_commit).stdout.split()
    assert sorted(files) == sorted(f"{d.name}.cfg" for d in lab.devices)
    for dev in lab.fleet:
        stored = last_backup(repo, dev.spec.name)
        assert stored == stored_form(running(dev)), dev.spec.name
        assert "aaa new-model" in stored
        assert "$9$" not in stored
        assert "<removed>" in stored  # sanitised as every backup


def test_drift_right_after_apply_finds_nothing(lab: Lab, applied: ApplyReport, repo: Path) -> None:
    del applied
    report = drift_fleet(str(lab.path), lab.devices, lab.configs, lab.options(), repo)
    assert report.failed == []
    assert report.without_backup == []
    assert [(d.device, d.intended_diff, d.backup_diff) for d in report.devices if d.drifted] == []
    assert all(d.backup_diff == "" for d in report.devices)


def test_second_plan_is_empty(lab: Lab, applied: ApplyReport) -> None:
    del applied
    report = plan_fleet(str(lab.path), lab.devices, lab.configs, lab.options(), concurrency=4)
    assert [(p.device, p.error) for p in report.plans if p.error] == []
    assert [
        (p.device, p.commands[:3], p.device_diff[:200]) for p in report.plans if p.changed
    ] == []


def test_snmp_users_are_applied_yet_never_in_running_and_no_drift(
    lab: Lab, applied: ApplyReport
) -> None:
    """IOS keeps SNMPv3 users out of the running config (the simulator too): the intended
    ``snmp-server user`` lines are on the device (``show snmp user``) and plan sees no diff."""
    del applied
    for dev in lab.fleet:
        name = dev.spec.name
        intended = [
            ln for ln in lab.configs[name].splitlines() if ln.startswith("snmp-server user")
        ]
        assert intended, name  # the baseline renders them
        assert "snmp-server user" not in running(dev), name
        with dev.lock:
            stored = sorted(dev.running.snmp_users.values())
        assert stored == sorted(intended), name
        assert state_of(lab, name) == "intended", name


def test_second_apply_reports_unchanged(lab: Lab, applied: ApplyReport) -> None:
    del applied
    report = apply_fleet(
        str(lab.path),
        lab.devices,
        lab.configs,
        lab.options(),
        ApplyOptions(confirm_timeout_minutes=CONFIRM_MINUTES, concurrency=4),
        user="tester",
    )
    assert {r.status for r in report.results} == {ApplyStatus.UNCHANGED}, [
        (r.device, r.reason) for r in report.results
    ]
    assert all(dev.pending is None for dev in lab.fleet)


def test_manual_change_shows_in_drift_as_exactly_that_change(
    lab: Lab, applied: ApplyReport, repo: Path
) -> None:
    del applied
    backup = run_backup(lab.devices, lab.options(), repo, user="tester", message="after apply")
    assert {d.status for d in backup.devices} == {BackupStatus.UNCHANGED}  # apply recorded it
    assert backup.commit is None
    lab.manual_change(MANUAL, ["ntp server 10.9.9.9"])
    assert "ntp server 10.9.9.9" in running(lab.sim(MANUAL))

    report = drift_fleet(str(lab.path), lab.devices, lab.configs, lab.options(), repo)
    assert report.failed == []
    assert report.drifted == [MANUAL]
    drift = next(d for d in report.devices if d.device == MANUAL)

    def changes(diff: str | None) -> list[str]:
        assert diff is not None
        return [
            ln for ln in diff.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))
        ]

    assert changes(drift.intended_diff) == ["+ntp server 10.9.9.9"]
    assert changes(drift.backup_diff) == ["+ntp server 10.9.9.9"]


def test_cli_plan_json_apply_without_yes_and_drift_exit_codes(
    lab: Lab, applied: ApplyReport
) -> None:
    del applied
    runner = CliRunner()
    common = ["-i", str(lab.path), "--known-hosts", str(lab.known_hosts), "--timeout", "30"]
    result = runner.invoke(app, ["plan", *common, "--limit", "gva-acc-sw1", "--json"])
    assert result.exit_code == EXIT_OK, result.output
    data = json.loads(result.stdout)
    assert [p["device"] for p in data["plans"]] == ["gva-acc-sw1"]
    assert data["plans"][0]["commands"] == []

    result = runner.invoke(app, ["apply", *common, "--limit", "gva-acc-sw1"])
    assert result.exit_code == EXIT_USAGE
    assert "--yes" in result.stderr

    result = runner.invoke(app, ["drift", *common, "--limit", MANUAL, "--repo", "/nonexistent"])
    assert result.exit_code == EXIT_USAGE  # a typo, not "in sync" (issue 11 point 2)
    assert result.stdout == ""
    assert "error: --repo /nonexistent: no such directory" in result.stderr

    result = runner.invoke(app, ["drift", *common, "--limit", MANUAL, "--intended-only"])
    assert result.exit_code == EXIT_FINDINGS
    assert "+ntp server 10.9.9.9" in result.stdout
