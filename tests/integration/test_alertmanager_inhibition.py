"""Inhibition and routing of dashboards/alertmanager/alertmanager.yml in a real Alertmanager.

``amtool config routes test`` proves the routing tree but not inhibition, which only a
running Alertmanager applies. The test starts Debian's ``prometheus-alertmanager`` on
loopback with the repository's configuration (clustering off, storage in a temp dir),
posts alerts as Prometheus would, and reads back from its API which receiver each went
to and which are suppressed, by what. No notification leaves the host: the receivers'
webhooks point at placeholder loopback URLs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.dashboard_stack import ALERTMANAGER, Alertmanager, start_alertmanager
from tests.integration.exporter_stack import poll

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        ALERTMANAGER is None,
        reason="prometheus-alertmanager not installed (Debian package prometheus-alertmanager)",
    ),
]


def _post(am: Alertmanager, *alerts: dict[str, str]) -> None:
    """Firing alerts (labels only; the annotations the rules add play no part here)."""
    now = datetime.now(UTC)
    am.call(
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


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alertmanager]:
    am = start_alertmanager(CONFIG, tmp_path_factory.mktemp("alertmanager"))
    try:
        yield am
    finally:
        am.stop()


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
    _post(alertmanager, *posted)
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
    _post(alertmanager, *posted)
    state = _settled(alertmanager, posted, suppressed=2)
    critical, warning, info, other_detector, other_site = (state[_key(p)] for p in posted)
    assert critical == (["security-pager"], "active", [])
    assert warning == (["security-ticket"], "suppressed", ["NetwardenAuditorIncident"])
    assert info == (["info-digest"], "suppressed", ["NetwardenAuditorIncident"])
    assert other_detector == (["security-ticket"], "active", [])
    assert other_site == (["security-ticket"], "active", [])
