"""backup_history: last backup and last change (time, user) of a device from a real git repository."""

from __future__ import annotations

import os
from pathlib import Path

from netwarden.config.backup import backup_history, ensure_repo, git


def _commit(repo: Path, message: str, when: int, files: dict[str, str] | None = None) -> None:
    for name, text in (files or {}).items():
        (repo / name).write_text(text, encoding="utf-8")
        git(repo, "add", "--", name)
    stamp = f"@{when} +0000"
    os.environ["GIT_COMMITTER_DATE"] = stamp
    try:
        git(repo, "commit", "-q", "--allow-empty", "--date", stamp, "-m", message)
    finally:
        del os.environ["GIT_COMMITTER_DATE"]


def test_no_repository_means_nothing_known(tmp_path: Path) -> None:
    history = backup_history(tmp_path / "none", "sw1")
    assert (history.last_read, history.last_change, history.last_change_user) == (None, None, "")


def test_last_read_last_change_and_who(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    ensure_repo(repo)
    _commit(repo, "apply: ntp\n\nwho: alice\nwhy: ntp\n\nchanged: sw1\n", 1000, {"sw1.cfg": "a\n"})
    _commit(repo, "backup: 1 unchanged\n\nwho: bob\n\nunchanged: sw1\n", 2000)
    _commit(repo, "backup: 1 unreachable\n\nwho: bob\n\nunreachable: sw1 (timeout)\n", 3000)
    _commit(repo, "backup: 1 new\n\nwho: carol\n\nnew: sw10\n", 4000, {"sw10.cfg": "b\n"})
    history = backup_history(repo, "sw1")
    assert history.last_read == 2000.0  # unreachable is not a backup; sw10 is another device
    assert history.last_change == 1000.0
    assert history.last_change_user == "alice"
    assert backup_history(repo, "sw10").last_read == 4000.0
    assert backup_history(repo, "sw2").last_change is None
