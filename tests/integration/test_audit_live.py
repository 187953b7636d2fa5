"""``netwarden audit`` live, against the simulated fleet of the example inventory.

The simulator boots each switch with a config that is not the baseline, so the
first audit fails; the intended config applied to one switch makes it pass every
applicable rule while its neighbour still fails; a switch that refuses logins is
reported as ``error`` (with the reason) while the others are audited; an unsaved
change made through Netmiko breaks "running equals startup". Every audit is
limited to a few switches to keep the run short.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from netwarden.cli.app import app
from netwarden.cli.common import EXIT_FINDINGS
from netwarden.compliance.engine import Engine
from netwarden.config.apply import ApplyOptions, apply_device
from netwarden.config.models import ApplyStatus
from tests.integration.labfleet import CONFIRM_MINUTES, Lab, start_lab

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APPLIED = "gva-acc-sw1"  # gets the intended config
NEIGHBOUR = "gva-acc-sw2"  # keeps its boot config
REFUSING = "kbl-acc-sw1"  # refuses logins for one test
UNSAVED = "bru-acc-sw1"  # gets a change that is not saved
OK_STATUSES = {"pass", "not_applicable", "waived"}


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


def audit(lab: Lab, out: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    """Run ``netwarden audit`` live on the lab inventory; the CLI result and report.json."""
    result = CliRunner().invoke(
        app,
        [
            "audit",
            "-i",
            str(lab.path),
            "--timeout",
            "30",
            "--out",
            str(out),
            "-f",
            "json,html",
            *args,
        ],
    )
    report = out / "report.json"
    assert report.is_file(), result.output
    return result, json.loads(report.read_text(encoding="utf-8"))


def statuses(report: dict[str, Any], device: str) -> dict[str, str]:
    return {r["rule"]: r["status"] for r in report["results"] if r["device"] == device}


def assert_no_secret(lab: Lab, *texts: str) -> None:
    creds = lab.credentials
    for text in texts:
        assert creds.password not in text
        assert creds.enable_secret not in text


def test_boot_configs_are_not_the_baseline(lab: Lab, tmp_path: Path) -> None:
    result, report = audit(lab, tmp_path, "--limit", f"{APPLIED},{NEIGHBOUR}", "--intended")
    assert result.exit_code == EXIT_FINDINGS, result.output
    assert report["meta"]["source"].startswith("live: 2 device(s)")
    assert [d["name"] for d in report["devices"]] == [APPLIED, NEIGHBOUR]
    for device in report["devices"]:
        assert device["error"] == ""
        assert set(device["files"]) == {
            f"live/{device['name']}/running-config",
            f"live/{device['name']}/startup-config",
            f"intended:{device['name']}",
        }
    for name in (APPLIED, NEIGHBOUR):
        got = statuses(report, name)
        assert got["ios-aaa-new-model"] == "fail"
        assert got["ios-intended-drift"] == "fail"
        assert got["ios-running-equals-startup"] == "pass"  # the simulator boots saved
        assert "error" not in got.values()
    evidence = [
        e
        for r in report["results"]
        if r["status"] == "fail" and r["device"] == APPLIED
        for e in r["evidence"]
    ]
    assert evidence
    assert all(e["file"].startswith((f"live/{APPLIED}/", f"intended:{APPLIED}")) for e in evidence)
    assert_no_secret(lab, result.output, (tmp_path / "report.html").read_text(encoding="utf-8"))


def test_the_applied_switch_passes_every_rule_its_neighbour_still_fails(
    lab: Lab, tmp_path: Path
) -> None:
    applied = apply_device(
        lab.device(APPLIED),
        lab.configs[APPLIED],
        lab.options(),
        ApplyOptions(confirm_timeout_minutes=CONFIRM_MINUTES),
    )
    assert applied.status is ApplyStatus.CHANGED, applied.reason

    result, report = audit(lab, tmp_path, "--limit", f"{APPLIED},{NEIGHBOUR}", "--intended")
    assert result.exit_code == EXIT_FINDINGS, result.output
    got = statuses(report, APPLIED)
    assert {rule: s for rule, s in got.items() if s not in OK_STATUSES} == {}
    assert got["ios-intended-drift"] == "pass"
    assert got["ios-running-equals-startup"] == "pass"  # apply saved it
    assert "fail" in statuses(report, NEIGHBOUR).values()

    result, report = audit(lab, tmp_path, "--limit", APPLIED, "--intended")
    assert result.exit_code == 0, result.output


def test_a_switch_that_refuses_logins_is_an_error_the_others_are_audited(
    lab: Lab, tmp_path: Path
) -> None:
    lab.fleet.set_fault(REFUSING, refuse_login=True)
    try:
        result, report = audit(lab, tmp_path, "--limit", f"{REFUSING},{NEIGHBOUR}")
    finally:
        lab.fleet.clear_faults(REFUSING)
    assert result.exit_code == EXIT_FINDINGS, result.output
    device = next(d for d in report["devices"] if d["name"] == REFUSING)
    assert "login refused" in device["error"]
    assert device["files"] == {}
    refused = [r for r in report["results"] if r["device"] == REFUSING]
    assert refused
    assert {r["status"] for r in refused} == {"error"}
    assert all("login refused" in r["message"] for r in refused)
    assert "fail" in statuses(report, NEIGHBOUR).values()
    assert "pass" in statuses(report, NEIGHBOUR).values()
    assert f"not audited: {REFUSING}: login refused" in result.stderr
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Devices that could not be read" in html
    assert_no_secret(lab, result.output, html)


def test_an_unsaved_change_breaks_running_equals_startup(lab: Lab, tmp_path: Path) -> None:
    _result, before = audit(lab, tmp_path / "before", "--limit", UNSAVED)
    assert statuses(before, UNSAVED)["ios-running-equals-startup"] == "pass"

    lab.manual_change(UNSAVED, ["logging host 192.0.2.99"])  # and no save_config()

    result, after = audit(lab, tmp_path / "after", "--limit", UNSAVED)
    assert result.exit_code == EXIT_FINDINGS, result.output
    finding = next(
        r
        for r in after["results"]
        if r["device"] == UNSAVED and r["rule"] == "ios-running-equals-startup"
    )
    assert finding["status"] == "fail"
    assert "1 line(s) only in running, 0 only in startup" in finding["message"]
    [evidence] = finding["evidence"]
    assert evidence["text"] == "logging host 192.0.2.99"
    assert evidence["file"] == f"live/{UNSAVED}/running-config"
    assert evidence["line"] > 0


def test_host_keys_are_checked_like_every_other_command(lab: Lab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("", encoding="utf-8")
    result, report = audit(lab, tmp_path / "a", "--limit", NEIGHBOUR, "--known-hosts", str(empty))
    assert result.exit_code == EXIT_FINDINGS
    [device] = report["devices"]
    assert "unknown host key" in device["error"]
    assert {r["status"] for r in report["results"]} == {"error"}

    result, report = audit(
        lab,
        tmp_path / "b",
        "--limit",
        NEIGHBOUR,
        "--known-hosts",
        str(empty),
        "--trust-on-first-use",
    )
    [device] = report["devices"]
    assert device["error"] == ""
    assert "pass" in statuses(report, NEIGHBOUR).values()
    sim = lab.sim(NEIGHBOUR)
    assert f"[{sim.spec.address}]:{sim.bound_port} " in empty.read_text(encoding="utf-8")


def test_devices_the_live_audit_cannot_read_are_named_not_audited(lab: Lab, tmp_path: Path) -> None:
    result, report = audit(lab, tmp_path, "--limit", "gva")  # the site: switches and servers
    assert "skipped" in report["meta"]["source"]
    for name in ("gva-fw1", "gva-srv1", "gva-sensor1"):  # the simulator runs switches only
        assert name in report["meta"]["source"]
    reasons = {d["name"]: d["reason"] for d in report["scope"]["not_audited"]}
    for name in ("gva-fw1", "gva-srv1", "gva-sensor1"):
        assert reasons[name].startswith("absent from this lab"), reasons
    assert "note: live:" in result.stderr
    names = {d["name"] for d in report["devices"]}
    assert names == {"gva-acc-sw1", "gva-acc-sw2"}

    engine = Engine(inventory=lab.inventory)  # `--limit switches` selects what the lab simulates
    assert [n for n in sorted(lab.inventory.devices) if engine.selected(n, "switches")] == sorted(
        lab.fleet.devices
    )
