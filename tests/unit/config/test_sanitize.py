"""Sanitising configs for backups: every secret value becomes ``<removed>``, nothing else changes.

Cases are data files: ``tests/data/config/sanitize/<case>.in.cfg`` and the
expected ``<case>.out.cfg``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netwarden.ios.sanitize import REMOVED, sanitize_config, sanitize_line

DATA = Path(__file__).resolve().parents[2] / "data" / "config" / "sanitize"
CASES = sorted(DATA.glob("*.in.cfg"))


@pytest.mark.parametrize("case", CASES, ids=[c.name.removesuffix(".in.cfg") for c in CASES])
def test_sanitized_config_matches_the_expected_file(case: Path) -> None:
    expected = case.with_name(case.name.replace(".in.cfg", ".out.cfg")).read_text(encoding="utf-8")
    assert sanitize_config(case.read_text(encoding="utf-8")) == expected


def test_there_are_cases() -> None:
    assert CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name.removesuffix(".in.cfg") for c in CASES])
def test_no_secret_value_survives(case: Path) -> None:
    out = sanitize_config(case.read_text(encoding="utf-8"))
    for secret in (
        r"\$9\$",
        r"\b[0-9A-F]{12,}\b",
        r"s3cr3t",
        r"cleartext!",
        r"plaintext",
        r"trapcomm",
    ):
        assert not re.search(secret, out), secret


def test_sanitising_is_idempotent() -> None:
    for case in CASES:
        once = sanitize_config(case.read_text(encoding="utf-8"))
        assert sanitize_config(once) == once


@pytest.mark.parametrize(
    "line",
    [
        "ntp server 10.10.20.12 key 10",
        "service password-encryption",
        "key chain OSPF",
        " key 1",
        "aaa authentication enable default group tacacs+ enable",
        "snmp-server group NW-RO v3 priv access NW-SNMP-MANAGERS",
        "banner motd ^C",
    ],
)
def test_lines_without_secrets_are_kept(line: str) -> None:
    assert sanitize_line(line) == line
    assert REMOVED not in sanitize_line(line)
