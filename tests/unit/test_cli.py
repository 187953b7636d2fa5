"""The CLI: exit codes, JSON output, messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from netwarden.cli.app import EXIT_OK, EXIT_USAGE, app

runner = CliRunner()


def test_check_clean(example_inventory: Path) -> None:
    result = runner.invoke(app, ["inventory", "check", "-i", str(example_inventory)])
    assert result.exit_code == EXIT_OK, result.output
    assert "ok" in result.output
    assert "5 sites" in result.output


def test_check_reports_all_problems_and_exits_2(example_inventory: Path, tmp_path: Path) -> None:
    inv = tmp_path / "inv"
    shutil.copytree(example_inventory, inv)
    hv = inv / "host_vars" / "nyc-acc-sw1.yml"
    hv.write_text(hv.read_text().replace("platform: ios", "platform: junos"))
    site = inv / "group_vars" / "site_gva.yml"
    site.write_text(site.read_text().replace("vlan: 40", "vlan: 30"))
    result = runner.invoke(app, ["inventory", "check", "-i", str(inv), "--json"])
    assert result.exit_code == EXIT_USAGE
    report = json.loads(result.stdout)
    assert report["ok"] is False
    keys = {(Path(p["file"]).name, p["key"]) for p in report["problems"]}
    assert ("nyc-acc-sw1.yml", "nyc-acc-sw1.platform") in keys
    assert ("site_gva.yml", "site.zones.guests.vlan") in keys


def test_show_json(example_inventory: Path) -> None:
    result = runner.invoke(app, ["inventory", "show", "-i", str(example_inventory), "--json"])
    assert result.exit_code == EXIT_OK
    data = json.loads(result.stdout)
    assert {s["name"] for s in data["sites"]} == {"jed", "nyc", "gva", "bru", "kbl"}
    sw = next(d for d in data["devices"] if d["name"] == "jed-core-sw1")
    assert sw["platform"] == "ios"
    assert sw["function"] == "switch"
    assert "vault" not in result.stdout.lower()


def test_show_table(example_inventory: Path) -> None:
    result = runner.invoke(app, ["inventory", "show", "-i", str(example_inventory)])
    assert result.exit_code == EXIT_OK
    assert "jed-core-sw1" in result.output
    assert "Kabul" in result.output


def test_generate_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["inventory", "generate", "--sites", "500", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == EXIT_USAGE
    assert "between 1 and 200" in result.output


def test_missing_inventory_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inventory", "show", "-i", str(tmp_path / "nope")])
    assert result.exit_code == EXIT_USAGE
    assert "does not exist" in result.output
