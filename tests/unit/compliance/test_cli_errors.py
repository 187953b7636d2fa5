"""``netwarden audit``: its error exits go through ``_fail`` (``error:``, exit 2), and
``--limit`` picks the same devices the intended render does."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from netwarden.cli.audit import audit_cmd
from netwarden.cli.common import EXIT_USAGE
from netwarden.inventory import load_inventory
from netwarden.render import render_all

runner = CliRunner()


def test_missing_configs_folder_is_an_error_line_not_markup(
    tmp_path: Path, example_inventory: Path
) -> None:
    missing = tmp_path / "sw[ab]"
    res = runner.invoke(
        audit_cmd,
        ["--configs", str(missing), "-i", str(example_inventory), "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == EXIT_USAGE
    assert f"error: {missing}: not a directory of configs" in res.output
    assert "[bold red]" not in res.output
    assert "[/]" not in res.output


def test_broken_inventory_is_an_error_line_not_markup(tmp_path: Path) -> None:
    configs = tmp_path / "c"
    configs.mkdir()
    res = runner.invoke(
        audit_cmd,
        [
            "--configs",
            str(configs),
            "-i",
            str(tmp_path / "no-inventory[1]"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == EXIT_USAGE
    assert res.output.startswith("error: ")
    assert "no-inventory[1]" in res.output
    assert "[bold red]" not in res.output


def test_bad_parameter_keeps_its_words(tmp_path: Path) -> None:
    res = runner.invoke(audit_cmd, ["--no-inventory", "--out", str(tmp_path / "o")])
    assert res.exit_code == EXIT_USAGE
    assert res.output == (
        "error: the live audit (no --configs) needs the inventory: pass -i INVENTORY\n"
    )


def test_intended_audit_with_a_group_limit_audits_what_it_rendered(
    tmp_path: Path, example_inventory: Path
) -> None:
    """``--limit hq`` rendered the HQ switches but audited nothing (two grammars)."""
    inv = load_inventory(example_inventory)
    configs = tmp_path / "c"
    configs.mkdir()
    for name, text in render_all(inv, "jed-core-sw1,nyc-acc-sw1").items():
        (configs / f"{name}.cfg").write_text(text)
    out = tmp_path / "o"
    for limit in ("hq", "field_offices", "switch"):
        res = runner.invoke(
            audit_cmd,
            [
                "--configs",
                str(configs),
                "--intended",
                "-i",
                str(example_inventory),
                "--limit",
                limit,
                "--format",
                "json",
                "--out",
                str(out),
            ],
        )
        assert res.exit_code in {0, 1}, res.output
        report = json.loads((out / "report.json").read_text())
        audited = {d["name"]: d for d in report["devices"]}
        expected = {
            "hq": {"jed-core-sw1"},
            "field_offices": {"nyc-acc-sw1"},
            "switch": {"jed-core-sw1", "nyc-acc-sw1"},
        }[limit]
        assert set(audited) == expected, limit
        for device in audited.values():
            assert f"intended:{device['name']}" in device["files"]
