"""The Alertmanager notification template (dashboards/alertmanager/templates/netwarden.tmpl),
rendered by Alertmanager's own template engine (``amtool template render``) with a
notification of real alerts: it says what happened, where, since when and which dashboard
to open (the rule's ``dashboard_url`` behind the Grafana address).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
AM_DIR = REPO / "dashboards" / "alertmanager"
TEMPLATES = AM_DIR / "templates"


def _amtool() -> str:
    found = shutil.which("amtool")
    if found is None:
        pytest.skip("amtool not installed (Debian package prometheus-alertmanager)")
    return found


def _alert(status: str, labels: dict[str, str], dashboard: str) -> dict[str, object]:
    return {
        "status": status,
        "labels": labels,
        "annotations": {
            "summary": f"{labels['alertname']} summary",
            "description": f"{labels['alertname']} description",
            "runbook_url": f"docs/runbooks.md#{labels['alertname'].lower()}",
            "dashboard_url": dashboard,
        },
        "startsAt": "2026-12-01T20:00:00Z",
        "endsAt": "2026-12-01T20:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph",
        "fingerprint": labels["alertname"],
    }


def _render(
    tmp_path: Path, text: str, templates: Path = TEMPLATES
) -> subprocess.CompletedProcess[str]:
    firing = _alert(
        "firing",
        {
            "alertname": "NetwardenLoginFailuresRepeated",
            "severity": "warning",
            "site": "nyc",
            "device": "nyc-sw1",
            "source_zone": "users",
        },
        "/d/netwarden-security?var-site=nyc",
    )
    resolved = _alert(
        "resolved",
        {
            "alertname": "NetwardenDeviceDown",
            "severity": "critical",
            "site": "gva",
            "instance": "gva-sw1",
        },
        "/d/netwarden-site?var-site=gva",
    )
    data = {
        "receiver": "security-ticket",
        "status": "firing",
        "alerts": [firing, resolved],
        "groupLabels": {"alertname": "NetwardenLoginFailuresRepeated", "site": "nyc"},
        "commonLabels": {
            "alertname": "NetwardenLoginFailuresRepeated",
            "site": "nyc",
            "severity": "warning",
        },
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return subprocess.run(
        [
            _amtool(),
            "template",
            "render",
            f"--template.glob={templates}/*.tmpl",
            f"--template.data={path}",
            f"--template.text={text}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_title_says_what_and_where(tmp_path: Path) -> None:
    done = _render(tmp_path, '{{ template "netwarden.title" . }}')
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[FIRING:1] NetwardenLoginFailuresRepeated at nyc (warning)"


def test_the_text_says_what_where_since_and_which_dashboard(tmp_path: Path) -> None:
    done = _render(tmp_path, '{{ template "netwarden.text" . }}')
    assert done.returncode == 0, done.stderr
    text = done.stdout
    firing, resolved = text.split("Resolved (1):")
    assert "Firing (1):" in firing
    assert (
        "NetwardenLoginFailuresRepeated [warning]: NetwardenLoginFailuresRepeated summary" in firing
    )
    assert "What:      NetwardenLoginFailuresRepeated description" in firing
    assert "Where:     site nyc, device nyc-sw1, from zone users" in firing
    assert "Since:     2026-12-01 20:00 UTC" in firing
    assert "Dashboard: http://localhost:3000/d/netwarden-security?var-site=nyc" in firing
    assert "Runbook:   docs/runbooks.md#netwardenloginfailuresrepeated" in firing
    assert "Where:     site gva, target gva-sw1" in resolved
    assert "resolved 2026-12-01 20:30 UTC" in resolved
    assert "Dashboard: http://localhost:3000/d/netwarden-site?var-site=gva" in resolved


def test_alertmanager_yml_loads_the_templates(tmp_path: Path) -> None:
    """check-config parses the templates it loads: a broken one fails it."""
    amtool = _amtool()
    done = subprocess.run(
        [amtool, "check-config", str(AM_DIR / "alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 templates" in done.stdout
    copy = shutil.copytree(AM_DIR, tmp_path / "am")
    tmpl = copy / "templates" / "netwarden.tmpl"
    tmpl.write_text(tmpl.read_text(encoding="utf-8").replace("{{- end }}", "", 1), encoding="utf-8")
    broken = subprocess.run(
        [amtool, "check-config", str(copy / "alertmanager.yml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert broken.returncode != 0
