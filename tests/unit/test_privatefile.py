"""Result files and rendered configs: 0600 files in 0700 directories, written atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from netwarden.privatefile import write_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_and_directory_are_private(tmp_path: Path) -> None:
    target = tmp_path / "var" / "apply" / "apply-x.json"
    old = os.umask(0o022)
    try:
        write_private(target, "{}\n")
    finally:
        os.umask(old)
    assert target.read_text() == "{}\n"
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    assert _mode(target.parent.parent) == 0o700


def test_an_existing_world_readable_file_is_replaced_private(tmp_path: Path) -> None:
    target = tmp_path / "apply-result.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "new")
    assert target.read_text() == "new"
    assert _mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["apply-result.json"]  # no temporary left
