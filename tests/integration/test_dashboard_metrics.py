"""Every metric a dashboard panel or an alert/recording rule reads is one that is really
exported: read from live ``/metrics`` pages, not from a hand list (issue 17's linter).

The sources, all on 127.0.0.1:
- the device exporter (``netwarden exporter serve``) probing the simulated fleet: the
  health and config modules of a simulated switch, the compliance module of its site
  (after a backup and an audit, so those modules have something to read), and the
  exporter's own ``/metrics``;
- the access exporter (``netwarden exporter access``) after one syslog line of a login;
- the traffic auditor (``netwarden auditor --watch``) after it read the demo attack trace,
  with ``--syslog tcp://`` to a loopback port nobody listens on (its events-to-HQ metrics
  exist only with a TCP/TLS ``--syslog``: here they show events spooled, HQ unreachable);
- Debian's node_exporter (``/usr/bin/prometheus-node-exporter``);
- the recording rules' names (dashboards/rules) and Prometheus's own ``up`` and ``ALERTS``.

One family cannot come from the simulated fleet: the firewall rule counters
(``netwarden_firewall_rule_*``) are read from Linux firewalls' nftables, which the IOS
simulator does not run. They come from the device exporter's own exposition code fed a
health reading with counters (:func:`collectors.exporter.modules.health_families`); the
namespace lab's monitoring test (tests/lab/test_monitoring_lab.py) scrapes them from real
firewalls. The ``# TYPE`` lines also name the counters, which the linter then holds to
rate/irate/increase whatever their suffix.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from collectors.exporter.modules import health_families
from netwarden.dashboards import catalog, grafana, lint
from netwarden.devices.health import DeviceHealth
from tests.integration.auditor_proc import stage_captures, start_auditor, wait_for_packets
from tests.integration.dashboard_stack import (
    NODE_EXPORTER,
    get,
    start_access,
    start_node_exporter,
    stop,
)
from tests.integration.exporter_stack import free_port, netwarden, poll, start_exporter
from tests.integration.labfleet import start_lab

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "dashboards" / "rules").glob("*.rules.yml"))
SITE = "nyc"
SWITCH = "nyc-acc-sw1"
PROMETHEUS_OWN = {"up", "ALERTS", "ALERTS_FOR_STATE"}
_SAMPLE = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")

pytestmark = pytest.mark.skipif(
    not Path(NODE_EXPORTER).is_file(),
    reason="node_exporter not installed (Debian package prometheus-node-exporter)",
)


@dataclass
class Exported:
    """Metric names by source, and the counters their TYPE lines declare."""

    names: dict[str, set[str]] = field(default_factory=dict)
    counters: set[str] = field(default_factory=set)

    def add(self, source: str, text: str) -> None:
        names = self.names.setdefault(source, set())
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(maxsplit=3)
                names.add(name)
                if kind.strip() == "counter":
                    total = name if name.endswith("_total") else f"{name}_total"
                    names.add(total)
                    self.counters |= {name, total}
            elif line and not line.startswith("#"):
                found = _SAMPLE.match(line)
                if found:
                    names.add(found.group(0))

    def all(self) -> set[str]:
        return set().union(*self.names.values())


def _device_exporter(exported: Exported, tmp: Path) -> None:
    with start_lab(Path("inventory"), tmp / "lab") as lab:
        repo, reports = tmp / "backups", tmp / "reports"
        done = netwarden("backup", "-i", str(lab.path), "--limit", SITE, "--repo", str(repo))
        assert done.returncode == 0, done.stdout + done.stderr
        audit = netwarden(
            "audit", "-i", str(lab.path), "--limit", SITE, "-f", "json", "-o", str(reports)
        )
        assert (reports / "report.json").is_file(), audit.stdout + audit.stderr
        exporter = start_exporter(lab, tmp, "--backup-repo", str(repo), "--reports", str(reports))
        try:
            for target, module in ((SWITCH, "health"), (SWITCH, "config"), (SITE, "compliance")):
                status, body = exporter.probe(target, module, timeout=30)
                assert status == 200, body
                assert "netwarden_up 1" in body, body
                exported.add(f"device exporter {module}", body)
            status, body = exporter.get("/metrics")
            assert status == 200, body
            exported.add("device exporter /metrics", body)
        finally:
            exporter.stop()
        # the access exporter reads the same lab inventory (device and site of a sender)
        _access_exporter(exported, lab.path, tmp)


def _access_exporter(exported: Exported, inventory: Path, tmp: Path) -> None:
    access = start_access(inventory, tmp)
    try:
        line = (
            b"<189>1: nyc-acc-sw1: %SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: bob] "
            b"[Source: 10.11.30.9] [localport: 22] at x"
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(line, ("127.0.0.1", access.syslog_port))
        text = poll(lambda: (t := get(f"{access.url}/metrics")) and 'event="login"' in t and t)
        assert text, "the access exporter's /metrics did not count the login"
        exported.add("access exporter", text)
    finally:
        stop(access.proc)


def _auditor(exported: Exported, tmp: Path) -> None:
    watch = tmp / "watch"
    watch.mkdir()
    packets = stage_captures(watch, tmp)
    port, hq = free_port(), free_port()  # nothing listens on hq: the events are spooled
    proc = start_auditor(watch, tmp / "events.jsonl", port, "--syslog", f"tcp://127.0.0.1:{hq}")
    try:
        wait_for_packets(proc, port, packets)
        text = get(f"http://127.0.0.1:{port}/metrics")
        assert text, "the auditor's /metrics did not answer"
        assert "netwarden_auditor_hq_connected" in text, "no events-to-HQ metrics"
        exported.add("auditor", text)
    finally:
        stop(proc)
        proc.communicate(timeout=15)


def _node_exporter(exported: Exported) -> None:
    proc, hostport = start_node_exporter()
    try:
        text = get(f"http://{hostport}/metrics")
        assert text, "node_exporter did not answer"
        exported.add("node_exporter", text)
    finally:
        stop(proc)


def _firewall_counters(exported: Exported) -> None:
    """The device exporter's exposition of a firewall reading's nftables counters."""
    reading = DeviceHealth(rule_counters={"allow-users-web": (10, 1500)})

    class Reading(Collector):
        def collect(self) -> Iterator[object]:  # type: ignore[override]
            yield from health_families(reading, site=SITE, role="firewall")

    registry = CollectorRegistry()
    registry.register(Reading())
    exported.add("device exporter health (firewall reading)", generate_latest(registry).decode())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    tmp = tmp_path_factory.mktemp("metrics")
    found = Exported()
    _device_exporter(found, tmp / "device")
    _auditor(found, tmp_path_factory.mktemp("auditor"))
    _node_exporter(found)
    _firewall_counters(found)
    recorded = {
        rule["record"]
        for path in RULES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "record" in rule
    }
    found.names["recording rules"] = recorded
    found.names["prometheus"] = set(PROMETHEUS_OWN)
    return found


def _panel_metrics() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for dash in catalog.dashboards():
        for item in lint.panel_expressions(grafana.to_dict(grafana.build(dash))):
            for name in lint.metric_names(item.expr):
                used.setdefault(name, set()).add(item.where)
    return used


def _rule_metrics() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for path in RULES:
        groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for item in lint.rule_expressions(groups, path.name):
            for name in lint.metric_names(item.expr, in_panel=False):
                used.setdefault(name, set()).add(item.where)
    return used


def test_every_source_answered(exported: Exported) -> None:
    """Each source contributed what it is known for (else the check below proves little)."""
    expected = {
        "device exporter health": "netwarden_interface_receive_errors_total",
        "device exporter config": "netwarden_config_drift",
        "device exporter compliance": "netwarden_compliance_score_ratio",
        "device exporter /metrics": "netwarden_exporter_probes_total",
        "access exporter": "netwarden_access_events_total",
        "auditor": "netwarden_auditor_events_total",
        "node_exporter": "node_cpu_seconds_total",
        "device exporter health (firewall reading)": "netwarden_firewall_rule_packets_total",
    }
    for source, name in expected.items():
        assert name in exported.names.get(source, set()), (source, name)


def test_every_metric_a_panel_reads_is_exported(exported: Exported) -> None:
    known = exported.all()
    missing = {name: where for name, where in _panel_metrics().items() if name not in known}
    assert missing == {}


def test_every_metric_a_rule_reads_is_exported(exported: Exported) -> None:
    known = exported.all()
    missing = {name: where for name, where in _rule_metrics().items() if name not in known}
    assert missing == {}


def test_no_counter_is_read_raw_by_type(exported: Exported) -> None:
    """The linter again, now with every counter the TYPE lines declare (not only *_total)."""
    for dash in catalog.dashboards():
        assert lint.lint_dashboard(grafana.to_dict(grafana.build(dash)), exported.counters) == []
    for path in RULES:
        groups = yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for item in lint.rule_expressions(groups, path.name):
            assert lint.lint_expression(item, exported.counters) == [], item.where


def test_the_check_finds_a_metric_nobody_exports(exported: Exported) -> None:
    """A panel that reads a plausible but unexported name is caught."""
    known = exported.all()
    names = lint.metric_names(
        'sum by (site) (rate(netwarden_interface_errors_total{site=~"$site"}[$__rate_interval]))'
    )
    assert names == {"netwarden_interface_errors_total"}
    assert not names <= known
