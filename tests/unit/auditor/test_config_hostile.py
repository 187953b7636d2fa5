"""Hostile auditor.yml: alias bombs, recursive aliases, duplicate keys (issue 10.5 and 10.9).

``load_auditor_config`` scans the file before Ansible's loader reads it, and its
walk over the loaded data is bounded. The bombs would need gigabytes if
expanded; the tests assert the error (file and line), never the time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.auditor.config import AuditorConfigError, _plain, load_auditor_config


def _inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory" / "group_vars" / "all" / "auditor.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return tmp_path / "inventory"


def _bomb(indent: str) -> str:
    lines = [f"{indent}l1: &l1 [{', '.join(['lol'] * 10)}]"]
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(2, 10)]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_file_and_line(tmp_path: Path) -> None:
    inv = _inventory(tmp_path, "auditor:\n  detectors:\n" + _bomb("    "))
    with pytest.raises(AuditorConfigError) as info:
        load_auditor_config(inv)
    message = str(info.value)
    assert "group_vars/all/auditor.yml:7: auditor.detectors.l5[7]:" in message
    assert "refused as an alias bomb" in message


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    inv = _inventory(tmp_path, "auditor: &a\n  detectors:\n    port_scan: *a\n")
    with pytest.raises(
        AuditorConfigError,
        match=r"auditor\.yml:3: auditor\.detectors\.port_scan: alias \*a refers to a value that contains it",
    ):
        load_auditor_config(inv)


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    text = (
        "auditor:\n  detectors:\n    port_scan: {threshold: 10}\n    port_scan: {enabled: false}\n"
    )
    inv = _inventory(tmp_path, text)
    with pytest.raises(
        AuditorConfigError,
        match=r"auditor\.yml:4: auditor\.detectors\.port_scan: duplicate key 'port_scan' \(also on line 3\)",
    ):
        load_auditor_config(inv)


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    text = (
        "auditor:\n"
        "  detectors:\n"
        "    port_scan: &scan {threshold: 20}\n"
        "  sites:\n"
        "    nyc: {port_scan: *scan}\n"
        "    gva: {port_scan: *scan}\n"
    )
    config = load_auditor_config(_inventory(tmp_path, text))
    assert config.sites["gva"]["port_scan"] == {"threshold": 20}


def test_plain_walk_is_bounded() -> None:
    node: list[object] = ["lol"] * 10
    for _ in range(8):
        node = [node] * 10
    with pytest.raises(AuditorConfigError, match=r"^x\.yml: more than 500000 values"):
        _plain({"auditor": node}, "x.yml")
