"""``netwarden audit`` (the sub-app the lead mounts as ``audit``): exit codes and written reports."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from netwarden.cli.audit import audit_cmd

from .conftest import DATA

runner = CliRunner()


def test_offline_audit_writes_reports_and_exits_1_on_failures(
    tmp_path: Path, example_inventory: Path
) -> None:
    configs = tmp_path / "c"
    configs.mkdir()
    (configs / "kbl-acc-sw1.cfg").write_text(
        (DATA / "ios" / "ios-ntp-two-servers" / "fail.cfg").read_text()
    )
    out = tmp_path / "out"
    res = runner.invoke(
        audit_cmd,
        [
            "--configs",
            str(configs),
            "--platform",
            "ios",
            "-i",
            str(example_inventory),
            "--format",
            "html,json,csv,sarif",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 1, res.output
    for name in ("report.html", "report.json", "report.csv", "report.sarif"):
        assert (out / name).is_file()
    assert len(list((out / "history").glob("*.json"))) == 1


def test_all_waived_or_passing_exits_0(tmp_path: Path) -> None:
    configs = tmp_path / "c"
    configs.mkdir()
    (configs / "base.cfg").write_text((DATA / "ios" / "_baseline.cfg").read_text())
    res = runner.invoke(
        audit_cmd, ["--configs", str(configs), "--no-inventory", "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 0, res.output


def test_bad_input_exits_2(tmp_path: Path) -> None:
    res = runner.invoke(
        audit_cmd,
        ["--configs", str(tmp_path / "missing"), "--no-inventory", "--out", str(tmp_path / "o")],
    )
    assert res.exit_code == 2
    res = runner.invoke(
        audit_cmd,
        [
            "--configs",
            str(DATA / "ios" / "ios-ssh-timeout"),
            "--no-inventory",
            "--format",
            "pdf",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert res.exit_code == 2
    assert "pdf" in res.output


def test_live_audit_needs_the_inventory(tmp_path: Path) -> None:
    res = runner.invoke(audit_cmd, ["--no-inventory", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "the live audit (no --configs) needs the inventory" in res.output
