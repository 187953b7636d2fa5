"""Apply records the running configs it left: one commit, the user as author, the reason (issue 11 point 3).

:func:`~netwarden.config.backup.record_after_apply` against a real git repository;
the device side (which running config apply read last) is tested on the simulator
in tests/integration/test_plan_apply.py and test_apply_records_change.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.config.backup import git, last_backup, record_after_apply, stored_form
from netwarden.config.models import ApplyStatus, DeviceApplyResult

BEFORE = (
    "hostname sw1\nenable secret 9 $9$abcdefghijklmn$opqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU\n"
)
AFTER = BEFORE + "ntp server 10.0.0.1\ntacacs server hq\n key 7 0822455D0A16\n"
OTHER = BEFORE + "ntp server 10.9.9.9\n"


def _result(device: str, status: ApplyStatus) -> DeviceApplyResult:
    return DeviceApplyResult(device=device, status=status)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A backup repository holding sw1, sw2 and sw3 as BEFORE (what apply backs up first)."""
    path = tmp_path / "backups"
    path.mkdir()
    for name in ("sw1", "sw2", "sw3"):
        (path / f"{name}.cfg").write_text(stored_form(BEFORE.replace("sw1", name)))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "backup: 3 new")
    return path


def _log(repo: Path) -> str:
    return git(repo, "log", "-1", "--format=%an <%ae>|%cn|%B").stdout


def test_a_changed_device_is_recorded_by_the_user_with_the_reason(repo: Path) -> None:
    commit = record_after_apply(
        repo,
        [
            (_result("sw1", ApplyStatus.CHANGED), AFTER),
            (_result("sw2", ApplyStatus.UNCHANGED), None),
            (_result("sw3", ApplyStatus.SKIPPED), None),
        ],
        user="alice",
        message="CHG-42 ntp and tacacs",
    )
    assert commit is not None
    assert commit == git(repo, "rev-parse", "HEAD").stdout.strip()
    author, committer, body = _log(repo).split("|", 2)
    assert author == "alice <alice@localhost>"
    assert committer == "netwarden"
    assert body.splitlines()[:5] == [
        "apply: CHG-42 ntp and tacacs",
        "",
        "who: alice",
        "why: CHG-42 ntp and tacacs",
        "result: 1 unchanged, 1 changed, 1 skipped",
    ]
    assert "changed: sw1" in body.splitlines()
    assert "unchanged: sw2" in body.splitlines()
    assert "skipped: sw3" in body.splitlines()
    files = git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split()
    assert files == ["sw1.cfg"]
    stored = last_backup(repo, "sw1")
    assert stored is not None
    assert "ntp server 10.0.0.1" in stored
    assert "$9$" not in stored  # sanitised as every backup (sanitize_config)
    assert "0822455D0A16" not in stored
    assert "<removed>" in stored


def test_a_rolled_back_device_as_backed_up_adds_nothing(repo: Path) -> None:
    commits = git(repo, "rev-list", "--count", "HEAD").stdout
    commit = record_after_apply(
        repo,
        [(_result("sw1", ApplyStatus.ROLLED_BACK), BEFORE)],
        user="alice",
        message="x",
    )
    assert commit is None
    assert git(repo, "rev-list", "--count", "HEAD").stdout == commits


def test_a_failed_device_left_different_is_recorded_saying_so(repo: Path) -> None:
    commit = record_after_apply(
        repo,
        [
            (_result("sw1", ApplyStatus.FAILED), OTHER),
            (_result("sw2", ApplyStatus.ROLLED_BACK), BEFORE.replace("sw1", "sw2")),
            (_result("sw3", ApplyStatus.FAILED), None),
        ],
        user="bob",
        message="",
    )
    assert commit is not None
    body = _log(repo).split("|", 2)[2].splitlines()
    assert body[0] == "apply: 1 rolled_back, 2 failed"
    assert "why: (no reason given)" in body
    assert "failed: sw1 (running config differs from the last backup: recorded)" in body
    assert "failed: sw3 (running config not read: not recorded)" in body
    assert "rolled_back: sw2 (running config as in the last backup: nothing to record)" in body
    assert git(repo, "show", "--name-only", "--format=", "HEAD").stdout.split() == ["sw1.cfg"]


def test_what_is_recorded_is_what_a_backup_stores(repo: Path) -> None:
    """The stored form is the backup's own: a backup right after the apply finds nothing new."""
    record_after_apply(repo, [(_result("sw1", ApplyStatus.CHANGED), AFTER)], user="a")
    assert last_backup(repo, "sw1") == stored_form(AFTER)


def test_the_repository_is_created_when_absent(tmp_path: Path) -> None:
    repo = tmp_path / "new"
    commit = record_after_apply(repo, [(_result("sw1", ApplyStatus.CHANGED), AFTER)], user="a")
    assert commit is not None
    assert last_backup(repo, "sw1") is not None
