"""Processes the dashboard and alerting tests start on 127.0.0.1: the access exporter,
node_exporter, Alertmanager, and reading a ``/metrics`` page; and every panel query of the
dashboards with Grafana's variables filled in (the simulated fleet's and the namespace
lab's panel tests both evaluate them). Every wait is a bounded poll; nothing asserts on
time."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwarden.dashboards import catalog, grafana, lint
from tests.integration.exporter_stack import free_port, poll

NODE_EXPORTER = shutil.which("prometheus-node-exporter") or "/usr/bin/prometheus-node-exporter"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def get(url: str) -> str | None:
    """The body at ``url``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 (loopback)
            text: str = answer.read().decode()
            return text
    except (OSError, urllib.error.URLError):
        return None


def stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


COVERED = "covered by tests/lab/test_monitoring_lab.py"
NO_DATA_HERE: dict[str, str] = {
    "WAN links": f"Site detail of nyc, whose WAN link is its firewall's (mode: wan), which "
    f"the simulator does not run ({COVERED}; gva's switch WAN port feeds the Fleet panels)",
    "Denied flows per firewall rule": "nftables rule counters come from Linux firewalls, "
    f"which the simulator does not run ({COVERED})",
    "Firewall rule matches": f"as above (Site detail; {COVERED})",
}
"""Panels that return no data against the simulated fleet's stack
(tests/integration/test_dashboards_and_alerts.py), and why; tests/lab/test_monitoring_lab.py
asserts they have data on the namespace lab."""


def panel_queries(site: str, rate_interval: str) -> list[tuple[str, str, str, str]]:
    """(dashboard uid, panel title, refId, query with Grafana's variables filled in) of
    every panel query, read from the provisioning JSON Grafana gets: ``$site`` is ``site``
    on Site detail (one site at a time) and ``.*`` ("All") on the others."""
    out = []
    for dash in catalog.dashboards():
        chosen = site if not dash.site_all else ".*"
        data = grafana.to_dict(grafana.build(dash))
        for item in lint.panel_expressions(data):
            expr = (
                item.expr.replace("$__rate_interval", rate_interval)
                .replace("$site", chosen)
                .replace("${site}", chosen)
            )
            title = item.where.split(": ", 1)[1].rsplit(" ", 1)[0].strip("'\"")
            out.append((dash.uid, title, item.where.rsplit(" ", 1)[1], expr))
    return out


@dataclass
class Access:
    proc: subprocess.Popen[str]
    url: str
    syslog_port: int


def start_access(inventory: Path, tmp: Path) -> Access:
    """``netwarden exporter access`` (UDP/TCP syslog and /metrics on free ports)."""
    syslog_port = free_port()
    log = tmp / "access.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "netwarden.cli", "-vv", "exporter", "access",
                "-i", str(inventory),
                "--listen-syslog", f"127.0.0.1:{syslog_port}",
                "--listen", f"127.0.0.1:{free_port()}",
                "--events-log", str(tmp / "access-events.jsonl"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
    pattern = re.compile(r"access exporter listening on (http://127\.0\.0\.1:\d+)")

    def listening() -> str | None:
        if proc.poll() is not None:
            raise AssertionError(f"the access exporter exited: {log.read_text(encoding='utf-8')}")
        found = pattern.search(log.read_text(encoding="utf-8"))
        return found.group(1) if found else None

    url = poll(listening)
    if not url:
        stop(proc)
        raise AssertionError(f"the access exporter did not start: {log.read_text()}")
    return Access(proc, url, syslog_port)


def start_node_exporter() -> tuple[subprocess.Popen[bytes], str]:
    """Debian's node_exporter on a free loopback port; (process, host:port)."""
    hostport = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [NODE_EXPORTER, f"--web.listen-address={hostport}", "--log.level=warn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not poll(lambda: get(f"http://{hostport}/metrics")):
        stop(proc)
        raise AssertionError("node_exporter did not answer")
    return proc, hostport


@dataclass
class Alertmanager:
    """A running Alertmanager and its v2 API."""

    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def call(self, method: str, path: str, body: Any = None) -> Any:
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

    def alerts(self) -> list[dict[str, Any]]:
        """``/api/v2/alerts``: every alert, active, suppressed or not yet processed."""
        found: list[dict[str, Any]] = self.call("GET", "/api/v2/alerts")
        return found

    def groups(self) -> list[dict[str, Any]]:
        """``/api/v2/alerts/groups``: the alerts as the routing tree grouped them."""
        found: list[dict[str, Any]] = self.call("GET", "/api/v2/alerts/groups")
        return found

    def stop(self) -> None:
        stop(self.proc)


def start_alertmanager(config: Path, tmp: Path) -> Alertmanager:
    """Debian's Alertmanager with ``config`` on a free loopback port (no clustering,
    storage in ``tmp``), once it says it is ready."""
    assert ALERTMANAGER is not None
    log = tmp / "alertmanager.log"
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={config}",
                f"--storage.path={tmp / 'alertmanager-data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no gossip: a single instance
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    am = Alertmanager(proc, f"http://127.0.0.1:{port}", log)
    if not poll(am.ready):
        am.stop()
        raise AssertionError(f"alertmanager not ready: {log.read_text(encoding='utf-8')}")
    return am
