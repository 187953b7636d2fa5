"""Every panel query of every dashboard, evaluated by a real Prometheus (Debian's) that
scrapes the simulated fleet through the device exporter, the access exporter, the traffic
auditor and node_exporter, with the alert and recording rules loaded: which panels return
data, and why the others do not.

The stack: the example inventory's simulated switches of site ``nyc`` (after a backup and
an audit, so the config and compliance modules have something to read); the configuration
``netwarden monitoring config --limit nyc`` writes, its node and sensor targets pointed at
the node_exporter and auditor started here on loopback. Once Prometheus scrapes them, login
failures, a login and a config change go to the access exporter as device syslog, and the
auditor reads the demo attack trace, so counters move while Prometheus watches (a rate
needs two samples) and the auditor incident alert fires.

A few panels cannot have data in a lab run of a few minutes: :data:`NO_DATA_HERE` says
which and why; every other panel must return data. Bounded polls; no assertion on time.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netwarden.dashboards import catalog, grafana, lint
from tests.integration.auditor_proc import free_port as auditor_port
from tests.integration.auditor_proc import stage_captures, start_auditor, wait_for_packets
from tests.integration.dashboard_stack import (
    NODE_EXPORTER,
    Access,
    start_access,
    start_node_exporter,
    stop,
)
from tests.integration.exporter_stack import (
    PROMETHEUS,
    SCRAPE_INTERVAL,
    Prometheus,
    netwarden,
    poll,
    start_exporter,
    start_prometheus,
)
from tests.integration.labfleet import start_lab

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).is_file() or not Path(NODE_EXPORTER).is_file(),
    reason="prometheus or node_exporter not installed (Debian packages prometheus, "
    "prometheus-node-exporter)",
)

SITE = "nyc"
RATE_INTERVAL = f"{4 * SCRAPE_INTERVAL + SCRAPE_INTERVAL:g}s"
"""What Grafana makes of ``$__rate_interval`` here: four scrape intervals and one more."""
POLL = 120.0
"""Seconds to wait for the slowest panel (two scrapes of moved counters, rule evaluation)."""

NO_DATA_HERE: dict[str, str] = {
    "WAN links by site": "nyc's WAN links are its firewall's (mode: wan), and the simulator "
    "runs no firewall: no netwarden_interface_info{mode='wan'}, no WAN recording rule",
    "WAN link state": "as above: no WAN interface of a simulated device",
    "WAN links": "as above (Site detail)",
    "Denied flows per firewall rule": "nftables rule counters come from Linux firewalls, "
    "which the simulator does not run (the namespace lab has them)",
    "Firewall rule matches": "as above (Site detail)",
    "Login failures per source zone (5 min)": "the recording rule counts a new series only "
    "against the syslog counter 5 minutes earlier: no data in the first 5 minutes",
}
"""Panels that return no data in this lab, and why (the report of the lab test)."""


@dataclass
class Stack:
    prometheus: Prometheus
    access: Access


def _write_targets(config: Path, name: str, hostport: str, role: str) -> None:
    """Point a file-SD target list at a loopback process (never at the inventory's hosts)."""
    labels = {
        "__meta_netwarden_site": SITE,
        "__meta_netwarden_role": role,
        "__meta_netwarden_zone": "mgmt",
    }
    (config / "targets" / f"{name}.json").write_text(
        json.dumps([{"targets": [hostport], "labels": labels}]), encoding="utf-8"
    )


def _syslog(port: int, lines: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for line in lines:
            udp.sendto(line, ("127.0.0.1", port))


def _access_events(seq: int) -> list[bytes]:
    fail = (
        b"<188>%d: nyc-acc-sw1: %%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: bob] "
        b"[Source: 10.11.30.9] [localport: 22] [Reason: Login Authentication Failed] at x"
    )
    ok = (
        b"<189>%d: nyc-acc-sw1: %%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: bob] "
        b"[Source: 10.11.30.9] [localport: 22] at x"
    )
    change = b"<189>%d: nyc-acc-sw1: %%SYS-5-CONFIG_I: Configured from console by bob on vty0"
    return [fail % (seq + i) for i in range(6)] + [ok % (seq + 6), change % (seq + 7)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("dashdata")
    with start_lab(Path("inventory"), tmp / "lab") as lab:
        repo, reports = tmp / "backups", tmp / "reports"
        done = netwarden("backup", "-i", str(lab.path), "--limit", SITE, "--repo", str(repo))
        assert done.returncode == 0, done.stdout + done.stderr
        audit = netwarden(
            "audit", "-i", str(lab.path), "--limit", SITE, "-f", "json", "-o", str(reports)
        )
        assert (reports / "report.json").is_file(), audit.stdout + audit.stderr
        procs: list[subprocess.Popen[Any]] = []
        exporter = start_exporter(lab, tmp, "--backup-repo", str(repo), "--reports", str(reports))
        prometheus: Prometheus | None = None
        try:
            access = start_access(lab.path, tmp)
            procs.append(access.proc)
            node, node_hostport = start_node_exporter()
            procs.append(node)
            watch = tmp / "watch"
            watch.mkdir()
            metrics = auditor_port()
            auditor = start_auditor(watch, tmp / "auditor-events.jsonl", metrics)
            procs.append(auditor)
            config = tmp / "prometheus"
            made = netwarden(
                "monitoring", "config", "-i", str(lab.path), "--limit", SITE,
                "--out", str(config), "--exporter", exporter.url.removeprefix("http://"),
                "--access-exporter", access.url.removeprefix("http://"),
                "--scrape-interval", f"{SCRAPE_INTERVAL:g}",
                "--scrape-timeout", f"{SCRAPE_INTERVAL:g}",
                "--config-interval", "10",
            )  # fmt: skip
            assert made.returncode == 0, made.stdout + made.stderr
            _write_targets(config, "nodes", node_hostport, "server")
            _write_targets(config, "sensors", f"127.0.0.1:{metrics}", "sensor")
            prometheus = start_prometheus(config / "prometheus.yml", tmp / "tsdb", tmp / "p.log")
            prom = prometheus
            scraped = 'count(up{job=~"netwarden_access|netwarden_auditor|node"} == 1) == 3'
            assert poll(lambda: prom.query(scraped), timeout=POLL), "targets not scraped"
            # counters move while Prometheus watches: two batches, a scrape apart
            _syslog(access.syslog_port, _access_events(1))
            packets = stage_captures(watch, tmp)
            wait_for_packets(auditor, metrics, packets)
            seen = 'sum(netwarden_access_events_total{event="login"}) >= 7'
            assert poll(lambda: prom.query(seen), timeout=POLL), "logins not scraped"
            _syslog(access.syslog_port, _access_events(20))
            yield Stack(prometheus, access)
        finally:
            if prometheus is not None:
                prometheus.stop()
            for proc in procs:
                stop(proc)
            exporter.stop()


def _panels() -> list[tuple[str, str, str, str]]:
    """(dashboard uid, panel title, refId, query with Grafana's variables filled in)."""
    out = []
    for dash in catalog.dashboards():
        site = SITE if not dash.site_all else ".*"
        data = grafana.to_dict(grafana.build(dash))
        for item in lint.panel_expressions(data):
            expr = (
                item.expr.replace("$__rate_interval", RATE_INTERVAL)
                .replace("$site", site)
                .replace("${site}", site)
            )
            title = item.where.split(": ", 1)[1].rsplit(" ", 1)[0].strip("'\"")
            out.append((dash.uid, title, item.where.rsplit(" ", 1)[1], expr))
    return out


def test_every_panel_returns_data(stack: Stack) -> None:
    panels = _panels()
    empty: dict[tuple[str, str, str], str] = {}

    def pending() -> bool:
        empty.clear()
        for uid, title, ref, expr in panels:
            if not stack.prometheus.query(expr):
                empty[(uid, title, ref)] = expr
        # done when only the panels that cannot have data here are empty
        return all(title in NO_DATA_HERE for _, title, _ in empty)

    poll(pending, timeout=POLL, every=SCRAPE_INTERVAL)
    report = "\n".join(
        f"  {uid}: {title} {ref}: {NO_DATA_HERE.get(title, 'UNEXPLAINED')}\n    {expr}"
        for (uid, title, ref), expr in sorted(empty.items())
    )
    print(f"\npanel queries without data:\n{report}")  # noqa: T201 (the lab report, -s)
    unexplained = {k: v for k, v in empty.items() if k[1] not in NO_DATA_HERE}
    assert unexplained == {}, report
    # and the list stays true: each panel it names is empty for the reason it gives
    assert {title for _, title, _ in empty} == set(NO_DATA_HERE), report


def test_the_auditor_incident_alert_fires(stack: Stack) -> None:
    """The alert timeline has something to show: the attack trace's incidents alert."""
    firing = 'ALERTS{alertname="NetwardenAuditorIncident", alertstate="firing"}'
    assert poll(lambda: stack.prometheus.query(firing), timeout=POLL)
