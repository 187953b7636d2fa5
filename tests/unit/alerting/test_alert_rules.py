"""The alert and recording rules and the Alertmanager routing in ``dashboards/``, checked by
the tools that load them: ``promtool check rules`` and ``promtool test rules`` (every alert
with a case where it fires and one where it stays quiet), ``amtool check-config`` and
``amtool config routes test``. Plus what the tools do not check: the naming of recording
rules, every alert's labels and annotations, and a runbook section behind every link.

Only the binaries run (Debian's ``prometheus`` and ``prometheus-alertmanager``); each test
skips with the reason when its binary is missing. Inhibition needs a running
Alertmanager: tests/integration/test_alertmanager_inhibition.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "dashboards" / "rules"
RULE_FILES = sorted(RULES.glob("*.rules.yml"))
RULE_TESTS = sorted((RULES / "tests").glob("*.test.yml"))
ALERTMANAGER = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"
RUNBOOKS = REPO / "docs" / "runbooks.md"
SEVERITIES = {"critical", "warning", "info"}


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed (Debian package {package})")
    return found


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, check=False, timeout=120, cwd=cwd
    )


def _rules(kind: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            out += [rule for rule in group["rules"] if kind in rule]
    return out


def test_the_rule_files_and_their_tests_are_there() -> None:
    assert [p.name for p in RULE_FILES] == [
        f"{name}.rules.yml" for name in ("access", "auditor", "config", "devices", "pipeline")
    ]
    assert RULE_TESTS, "no promtool test files in dashboards/rules/tests"


def test_promtool_check_rules() -> None:
    promtool = _tool("promtool", "prometheus")
    done = _run(promtool, "check", "rules", *map(str, RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_test_rules() -> None:
    promtool = _tool("promtool", "prometheus")
    done = _run(promtool, "test", "rules", *(p.name for p in RULE_TESTS), cwd=RULES / "tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_promtool_test_rules_fails_on_a_broken_rule(tmp_path: Path) -> None:
    """The unit tests bite: a threshold raised past the test's burst makes them fail."""
    promtool = _tool("promtool", "prometheus")
    copy = shutil.copytree(RULES, tmp_path / "rules")
    alerts = copy / "access.rules.yml"
    text = alerts.read_text(encoding="utf-8")
    broken = text.replace(
        "site_device_source_zone:netwarden_access_login_failures:increase5m >= 5",
        "site_device_source_zone:netwarden_access_login_failures:increase5m >= 50",
    )
    assert broken != text
    alerts.write_text(broken, encoding="utf-8")
    done = _run(promtool, "test", "rules", "access.test.yml", cwd=copy / "tests")
    assert done.returncode != 0
    assert "NetwardenLoginFailuresRepeated" in done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_quiet_case() -> None:
    fired: set[str] = set()
    quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = {rule["alert"] for rule in _rules("alert")}
    assert alerts - fired == set(), "alerts without a case where they fire"
    assert alerts - quiet == set(), "alerts without a case where they stay quiet"
    assert (fired | quiet) - alerts == set(), "tests of alerts that do not exist"


def test_recording_rules_are_named_level_metric_operations() -> None:
    pattern = re.compile(r"^[a-z][a-z_]*:[a-z][a-z0-9_]*:[a-z][a-z0-9_]*$")
    names = [rule["record"] for rule in _rules("record")]
    assert [n for n in names if not pattern.match(n)] == []
    assert len(names) == len(set(names))


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of the markdown's headings (lowercase, punctuation dropped)."""
    out = set()
    for line in markdown.splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            out.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return out


def test_every_alert_has_severity_summary_description_and_a_runbook() -> None:
    anchors = _anchors(RUNBOOKS.read_text(encoding="utf-8"))
    for rule in _rules("alert"):
        name = rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
        url = rule["annotations"]["runbook_url"]
        assert url == f"docs/runbooks.md#{name.lower()}", name
        assert name.lower() in anchors, f"docs/runbooks.md has no section {name}"


def test_amtool_check_config() -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    done = _run(amtool, "check-config", str(ALERTMANAGER))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


ROUTES = [
    # device alerts by site and severity
    ({"alertname": "NetwardenDeviceDown", "severity": "critical", "site": "nyc"}, "field-pager"),
    ({"alertname": "NetwardenInterfaceErrors", "severity": "warning", "site": "kbl"}, "field-ticket"),
    ({"alertname": "NetwardenDeviceDown", "severity": "critical", "site": "jed"}, "hq-pager"),
    ({"alertname": "NetwardenConfigDrift", "severity": "warning", "site": "jed"}, "hq-ticket"),
    ({"alertname": "NetwardenWanLinkDown", "severity": "critical", "site": "gva"}, "field-pager"),
    # the central exporters (site "hq")
    ({"alertname": "NetwardenExporterDown", "severity": "critical", "site": "hq"}, "hq-pager"),
    ({"alertname": "NetwardenNoDeviceTargets", "severity": "warning", "site": "hq"}, "hq-ticket"),
    # security: access and auditor alerts, whatever the site
    ({"alertname": "NetwardenLoginAfterFailures", "severity": "critical", "site": "bru"}, "security-pager"),
    ({"alertname": "NetwardenLoginFailuresRepeated", "severity": "warning", "site": "jed"}, "security-ticket"),
    ({"alertname": "NetwardenAuditorIncident", "severity": "critical", "site": "nyc", "detector": "port_scan"}, "security-pager"),
    ({"alertname": "NetwardenAuditorIncident", "severity": "warning", "site": "nyc", "detector": "ssh_bruteforce"}, "security-ticket"),
    ({"alertname": "NetwardenConfigChangeOutsideWindow", "severity": "warning", "site": "gva"}, "security-ticket"),
    # info: the digest, even from security's alerts
    ({"alertname": "NetwardenAuditorIncident", "severity": "info", "site": "nyc", "detector": "unknown_device"}, "info-digest"),
    ({"alertname": "NetwardenCollectorFailing", "severity": "info", "site": "kbl"}, "info-digest"),
    # a site no route knows (the access exporter's "unknown"): HQ's tickets
    ({"alertname": "NetwardenDeviceDown", "severity": "critical", "site": "unknown"}, "hq-ticket"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "receiver"),
    ROUTES,
    ids=[f"{case['alertname']}-{case['site']}-{case['severity']}" for case, _ in ROUTES],
)
def test_amtool_routes(labels: dict[str, str], receiver: str) -> None:
    amtool = _tool("amtool", "prometheus-alertmanager")
    done = _run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER}",
        f"--verify.receivers={receiver}",
        *(f"{k}={v}" for k, v in labels.items()),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == receiver


def test_amtool_routes_test_fails_on_a_wrong_receiver() -> None:
    """The routing cases bite: amtool exits non-zero when the receiver differs."""
    amtool = _tool("amtool", "prometheus-alertmanager")
    done = _run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER}",
        "--verify.receivers=hq-pager",
        "alertname=NetwardenDeviceDown",
        "severity=critical",
        "site=nyc",
    )
    assert done.returncode != 0
