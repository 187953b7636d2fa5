"""``netwarden monitoring config`` loads the rules: ``rule_files`` and a copy of
``dashboards/rules/`` beside ``prometheus.yml``; an ``alerting`` block only with
``--alertmanager``. ``promtool check config`` (which also checks the rule files it loads)
stays clean on both.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from collectors.exporter.promconfig import RULES_SOURCE
from netwarden.cli.app import app


def _generate(inventory: Path, out: Path, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(
        app, ["monitoring", "config", "-i", str(inventory), "--out", str(out), *args]
    )
    assert result.exit_code == 0, result.output
    config: dict[str, object] = yaml.safe_load((out / "prometheus.yml").read_text("utf-8"))
    return config


def _promtool_check_config(config: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus)")
    checked = subprocess.run(
        [promtool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # every rule file was found and checked, not an empty glob
    for src in RULES_SOURCE.glob("*.rules.yml"):
        assert src.name in checked.stdout + checked.stderr


def test_rules_are_copied_and_loaded_without_alerting(
    example_inventory: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    config = _generate(example_inventory, out)
    assert config["rule_files"] == ["rules/*.rules.yml"]
    assert "alerting" not in config
    sources = sorted(p.name for p in RULES_SOURCE.glob("*.rules.yml"))
    assert sources
    assert sorted(p.name for p in (out / "rules").iterdir()) == sources
    _promtool_check_config(out / "prometheus.yml")


def test_alertmanager_option_adds_the_alerting_block(
    example_inventory: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    config = _generate(example_inventory, out, "--alertmanager", "127.0.0.1:9093")
    assert config["alerting"] == {
        "alertmanagers": [{"static_configs": [{"targets": ["127.0.0.1:9093"]}]}]
    }
    _promtool_check_config(out / "prometheus.yml")


def test_alertmanager_option_must_be_host_port(example_inventory: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "monitoring", "config", "-i", str(example_inventory),
            "--out", str(tmp_path / "m"), "--alertmanager", "nowhere",
        ],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "nowhere" in result.output
    assert not (tmp_path / "m").exists()
