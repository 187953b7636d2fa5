"""The fleet commands against the simulated lab: drift without a backup, apply records its change.

Issue 11 points 2, 3 and 5, the way people run them: ``netwarden drift`` says per
device when there is no backup to compare with (at 80 and 100 columns and piped)
and is not "in sync"; ``netwarden apply`` with a mixed ``--limit`` says what it
left out, applies the ios devices and records the configs it left, so ``drift``
right after finds nothing; the Ansible route (``apply_host``, what the
``netwarden_config`` action plugin calls) records each host's change itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netwarden.cli.app import app
from netwarden.cli.common import EXIT_FINDINGS, EXIT_OK
from netwarden.config.ansible_api import apply_host, load_host
from netwarden.config.apply import ApplyOptions
from netwarden.config.backup import git, last_backup, run_backup, stored_form
from netwarden.config.drift import drift_fleet
from netwarden.config.models import ApplyStatus
from tests.integration.labfleet import CONFIRM_MINUTES, Lab, running, start_lab
from tests.unit.terminal import MODE_IDS, MODES, run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NYC = ("nyc-acc-sw1", "nyc-acc-sw2")
ANSIBLE_HOST = "gva-acc-sw1"


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


def _common(lab: Lab) -> list[str]:
    return ["-i", str(lab.path), "--known-hosts", str(lab.known_hosts), "--timeout", "30"]


@pytest.fixture(scope="module")
def partial_repo(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A backup repository holding nyc-acc-sw2 only."""
    repo = tmp_path_factory.mktemp("partial") / "repo"
    run_backup([lab.device("nyc-acc-sw2")], lab.options(), repo, user="tester")
    return repo


@pytest.mark.parametrize(("columns", "tty"), MODES, ids=MODE_IDS)
def test_drift_says_which_device_has_no_backup_and_is_not_in_sync(
    lab: Lab, partial_repo: Path, columns: int, tty: bool
) -> None:
    args = ["drift", *_common(lab), "--limit", ",".join(NYC), "--repo", str(partial_repo)]
    code, out, err = run(args, columns, tty=tty)
    text = out + err
    assert code == EXIT_FINDINGS, text
    assert "Traceback" not in text
    lines = text.splitlines()
    # one line, never broken by the console (a terminal wraps it where it must)
    assert f"nyc-acc-sw1: no backup to compare with (last backup: none in {partial_repo})" in lines
    assert not any(ln.startswith("nyc-acc-sw2: no backup") for ln in lines)
    assert any("nyc-acc-sw2: differs from the intended config" in ln for ln in lines)
    summary = "drift: 2 device(s) drifted, 0 unreadable, 1 without a backup, 0 in sync"
    assert summary in lines


def test_drift_without_the_default_repository_warns_and_is_not_in_sync(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no var/backups here
    res = CliRunner().invoke(app, ["drift", *_common(lab), "--limit", "nyc-acc-sw1"])
    assert res.exit_code == EXIT_FINDINGS, res.output
    flat = " ".join(res.stderr.split())
    assert flat.startswith(
        "warning: no backup repository at var/backups (no such directory): no device has a "
        "backup to compare with;"
    )
    assert (
        "nyc-acc-sw1: no backup to compare with (last backup: none in var/backups)"
        in res.stdout.splitlines()
    )
    assert not (tmp_path / "var").exists()  # drift creates no repository


def test_cli_apply_with_a_mixed_limit_records_its_change_and_drift_finds_none(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the result file goes to ./var/apply
    monkeypatch.setenv("USER", "alice")
    repo = tmp_path / "backups"
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "apply",
            *_common(lab),
            "--limit",
            "nyc",
            "--yes",
            "--confirm-timeout",
            str(CONFIRM_MINUTES),
            "--repo",
            str(repo),
            "-m",
            "CHG-1234 baseline for nyc",
        ],
    )
    assert res.exit_code == EXIT_OK, res.output
    flat = " ".join(res.stderr.split())
    assert (
        "note: --limit 'nyc': left out 3 device(s) this lab does not run: nyc-fw1, nyc-sensor1"
        in flat
    )
    assert "apply: 2 changed" in res.stdout.splitlines()
    head = git(repo, "rev-parse", "HEAD").stdout.strip()
    assert f"recorded the change: commit {head[:12]}" in res.stdout.splitlines()

    author, body = git(repo, "log", "-1", "--format=%an|%B").stdout.split("|", 1)
    assert author == "alice"
    assert body.splitlines()[0] == "apply: CHG-1234 baseline for nyc"
    assert {"who: alice", "changed: nyc-acc-sw1", "changed: nyc-acc-sw2"} <= set(body.splitlines())
    assert git(repo, "rev-list", "--count", "HEAD").stdout.strip() == "2"  # before, after
    for name in NYC:
        stored = last_backup(repo, name)
        assert stored == stored_form(running(lab.sim(name)))
        assert "$9$" not in stored

    res = runner.invoke(app, ["drift", *_common(lab), "--limit", "nyc", "--repo", str(repo)])
    assert res.exit_code == EXIT_OK, res.output
    assert "nyc-acc-sw1: no drift" in res.stdout.splitlines()
    assert "nyc-acc-sw2: no drift" in res.stdout.splitlines()
    assert "drift: 0 device(s) drifted, 0 unreadable, 0 without a backup, 2 in sync" in (
        res.stdout.splitlines()
    )


def test_ansible_route_records_each_hosts_change(lab: Lab, tmp_path: Path) -> None:
    """``apply_host`` (the netwarden_config plugin's work): before and after, per host."""
    repo = tmp_path / "backups"
    host = load_host(lab.path, ANSIBLE_HOST, known_hosts=lab.known_hosts)
    done = apply_host(
        host,
        ApplyOptions(confirm_timeout_minutes=CONFIRM_MINUTES),
        backup_repo=repo,
        user="bob",
        message="playbooks/network.yml",
    )
    assert done.result.status is ApplyStatus.CHANGED, done.result.reason
    assert done.record_error is None
    assert done.backup_commit is not None
    assert done.change_commit == git(repo, "rev-parse", "HEAD").stdout.strip()
    log = git(repo, "log", "--format=%an|%s").stdout.splitlines()
    assert log == ["bob|apply: playbooks/network.yml", "netwarden|backup: 1 new"]
    device = lab.device(ANSIBLE_HOST)
    report = drift_fleet(str(lab.path), [device], lab.configs, lab.options(), repo)
    assert [(d.intended_diff, d.backup_diff, d.error) for d in report.devices] == [("", "", None)]

    again = apply_host(
        host, ApplyOptions(confirm_timeout_minutes=CONFIRM_MINUTES), backup_repo=repo, user="bob"
    )
    assert again.result.status is ApplyStatus.UNCHANGED
    assert again.change_commit is None
    assert len(git(repo, "log", "--format=%H").stdout.splitlines()) == 2  # nothing new
