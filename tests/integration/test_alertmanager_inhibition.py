"""Inhibition and routing of dashboards/alertmanager/alertmanager.yml in a real Alertmanager.

``amtool config routes test`` proves the routing tree but not inhibition, which only a
running Alertmanager applies. The test starts Debian's ``prometheus-alertmanager`` on
loopback with the repository's configuration (clustering off, storage in a temp dir),
posts alerts as Prometheus would, and reads back from its API which receiver each went
to and which are suppressed, by what. No notification leaves the host: the receivers'
webhooks point at placeholder loopback URLs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.exporter_stack import free_port, poll

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        ALERTMANAGER is None,
        reason="prometheus-alertmanager not installed (Debian package prometheus-alertmanager)",
    ),
]


@dataclass
class Alertmanager:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
            text = answer.read()
        return json.loads(text) if text else None

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"alertmanager exited: {self.log.read_text(encoding='utf-8')}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=5) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def post(self, *alerts: dict[str, str]) -> None:
        """Firing alerts (labels only; the annotations the rules add play no part here)."""
        now = datetime.now(UTC)
        self._call(
            "POST",
            "/api/v2/alerts",
            [
                {
                    "labels": labels,
                    "annotations": {"summary": labels["alertname"]},
                    "startsAt": now.isoformat(),
                    "endsAt": (now + timedelta(hours=1)).isoformat(),
                }
                for labels in alerts
            ],
        )

    def alerts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self._call("GET", "/api/v2/alerts")
        return found


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    assert ALERTMANAGER is not None
    tmp = tmp_path_factory.mktemp("alertmanager")
    log = tmp / "alertmanager.log"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={CONFIG}",
                f"--storage.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no gossip: a single instance
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    am = Alertmanager(proc, f"http://127.0.0.1:{port}", log)
    try:
        assert poll(am.ready), f"alertmanager not ready: {log.read_text(encoding='utf-8')}"
        yield am
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _key(labels: dict[str, str]) -> tuple[str, ...]:
    return tuple(
        labels.get(k, "")
        for k in ("alertname", "site", "instance", "device", "detector", "severity")
    )


def _state(am: Alertmanager, posted: list[dict[str, str]]) -> dict[tuple[str, ...], Any]:
    """What the API says of each posted alert: (receivers, state, inhibiting alertnames)."""
    alerts = am.alerts()
    by_fingerprint = {a["fingerprint"]: a["labels"]["alertname"] for a in alerts}
    wanted = {_key(p) for p in posted}
    out = {}
    for alert in alerts:
        key = _key(alert["labels"])
        if key in wanted:
            out[key] = (
                sorted(r["name"] for r in alert["receivers"]),
                alert["status"]["state"],
                sorted(by_fingerprint.get(f, f) for f in alert["status"]["inhibitedBy"]),
            )
    return out


def _settled(
    am: Alertmanager, posted: list[dict[str, str]], suppressed: int
) -> dict[tuple[str, ...], Any]:
    """The posted alerts' states once all are listed and ``suppressed`` of them suppressed.

    The inhibitor learns of source alerts asynchronously (its own subscription to the
    alert store): right after the POST, the API may still show a target as active.
    """

    def settled() -> dict[tuple[str, ...], Any] | None:
        state = _state(am, posted)
        done = len(state) == len(posted)
        done = done and sum(s[1] == "suppressed" for s in state.values()) >= suppressed
        return state if done else None

    state = poll(settled)
    assert state, f"alerts not settled: {_state(am, posted)}"
    return dict(state)


def test_a_sites_wan_down_inhibits_its_device_and_exporter_alerts(
    alertmanager: Alertmanager,
) -> None:
    posted = [
        {"alertname": "NetwardenWanLinkDown", "severity": "critical", "site": "kbl", "instance": "kbl-fw1", "interface": "wan0"},
        {"alertname": "NetwardenSiteUnreachable", "severity": "critical", "site": "kbl"},
        {"alertname": "NetwardenDeviceDown", "severity": "critical", "site": "kbl", "instance": "kbl-sw1"},
        {"alertname": "NetwardenAuditorDown", "severity": "critical", "site": "kbl", "instance": "10.41.20.5:9101"},
        {"alertname": "NetwardenNodeExporterDown", "severity": "warning", "site": "kbl", "instance": "10.41.20.10:9100"},
        # another site's device: not kbl's WAN's business
        {"alertname": "NetwardenDeviceDown", "severity": "critical", "site": "gva", "instance": "gva-sw1"},
        # security alerts of the site stay (a WAN outage explains no login)
        {"alertname": "NetwardenLoginAfterFailures", "severity": "critical", "site": "kbl", "device": "kbl-sw1"},
    ]  # fmt: skip
    alertmanager.post(*posted)
    state = _settled(alertmanager, posted, suppressed=4)
    wan, unreachable, device, auditor, node, other, login = (state[_key(p)] for p in posted)
    assert wan == (["field-pager"], "active", [])
    assert unreachable == (["field-pager"], "suppressed", ["NetwardenWanLinkDown"])
    assert device[:2] == (["field-pager"], "suppressed")
    assert device[2]
    assert set(device[2]) <= {"NetwardenWanLinkDown", "NetwardenSiteUnreachable"}
    assert auditor[:2] == (["field-pager"], "suppressed")
    assert node[:2] == (["field-ticket"], "suppressed")
    assert other == (["field-pager"], "active", [])
    assert login == (["security-pager"], "active", [])


def test_critical_inhibits_warning_of_the_same_alert_and_device(alertmanager: Alertmanager) -> None:
    posted = [
        {"alertname": "NetwardenAuditorIncident", "severity": "critical", "site": "bru", "detector": "port_scan", "auditor_severity": "high"},
        {"alertname": "NetwardenAuditorIncident", "severity": "warning", "site": "bru", "detector": "port_scan", "auditor_severity": "medium"},
        {"alertname": "NetwardenAuditorIncident", "severity": "info", "site": "bru", "detector": "port_scan", "auditor_severity": "low"},
        # another detector, another site: not the same alert
        {"alertname": "NetwardenAuditorIncident", "severity": "warning", "site": "bru", "detector": "ssh_bruteforce", "auditor_severity": "medium"},
        {"alertname": "NetwardenAuditorIncident", "severity": "warning", "site": "nyc", "detector": "port_scan", "auditor_severity": "medium"},
    ]  # fmt: skip
    alertmanager.post(*posted)
    state = _settled(alertmanager, posted, suppressed=2)
    critical, warning, info, other_detector, other_site = (state[_key(p)] for p in posted)
    assert critical == (["security-pager"], "active", [])
    assert warning == (["security-ticket"], "suppressed", ["NetwardenAuditorIncident"])
    assert info == (["info-digest"], "suppressed", ["NetwardenAuditorIncident"])
    assert other_detector == (["security-ticket"], "active", [])
    assert other_site == (["security-ticket"], "active", [])
