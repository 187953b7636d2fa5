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

The same stack (one module-scoped fixture) serves the offline snapshot: ``netwarden
dashboards snapshot`` of this Prometheus writes every dashboard's page, every panel with
data here shows it, and headless Chromium (when installed) loads each page without a
console message and with something drawn in every chart. ``NETWARDEN_SCREENSHOTS=DIR``
keeps the PNGs (``docs/screenshots/`` holds the committed ones).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from netwarden.dashboards import catalog, chromium
from tests.integration.auditor_proc import free_port as auditor_port
from tests.integration.auditor_proc import stage_captures, start_auditor, wait_for_packets
from tests.integration.dashboard_stack import (
    NODE_EXPORTER,
    Access,
    panel_queries,
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
    return panel_queries(SITE, RATE_INTERVAL)


def _empty_panels(stack: Stack) -> dict[tuple[str, str, str], str]:
    """The panel queries without data, once only :data:`NO_DATA_HERE` panels are empty
    (or when :data:`POLL` runs out): {(uid, title, refId): query}."""
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
    return empty


def test_every_panel_returns_data(stack: Stack) -> None:
    empty = _empty_panels(stack)
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


# ---------------------------------------------------------------- offline snapshots

SCREENSHOTS_ENV = "NETWARDEN_SCREENSHOTS"
"""Set to a folder (``docs/screenshots``) to keep the snapshot PNGs this test makes."""


class _Page(HTMLParser):
    """Each panel's ``data-state`` and each chart's drawn marks, as a browser parsed them."""

    def __init__(self) -> None:
        super().__init__()
        self.states: dict[str, str] = {}
        self.charts: list[int] = []
        self._in_chart = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("class") == "panel":
            self.states[str(found.get("data-title"))] = str(found.get("data-state"))
        elif tag == "svg" and found.get("class") == "chart":
            self._in_chart = True
            self.charts.append(0)
        elif self._in_chart and (
            (tag == "polyline" and len((found.get("points") or "").split()) >= 2)
            or (tag == "rect" and found.get("class") in ("bar", "band"))
        ):
            self.charts[-1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._in_chart = False


def _parse(text: str) -> _Page:
    parsed = _Page()
    parsed.feed(text)
    return parsed


def _missing(out: Path) -> list[str]:
    """The panels of the snapshot in ``out`` without data that should have it."""
    missing = []
    for dash in catalog.dashboards():
        parsed = _parse((out / f"{dash.uid}.html").read_text(encoding="utf-8"))
        missing += [
            f"{dash.uid}: {title}: {state}"
            for title, state in parsed.states.items()
            if state != "data" and title not in NO_DATA_HERE
        ]
    return missing


@pytest.fixture(scope="module")
def pages(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``netwarden dashboards snapshot`` of the lab's Prometheus (PNGs when Chromium is
    installed), once the panels have their data. Like the panel test, it polls: on a
    loaded machine a scrape can time out, and a rate needs two samples in its window,
    so a snapshot is taken again (bounded) while a panel that has data here shows none."""
    _empty_panels(stack)
    png = ["--png"] if chromium.find() else []
    taken: list[Path] = []

    def take() -> bool:
        out = tmp_path_factory.mktemp("snapshot")
        done = netwarden(
            "dashboards", "snapshot", "--prometheus", stack.prometheus.url, "--out", str(out),
            "--range", "2m", *png,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        taken.append(out)
        return not _missing(out)

    poll(take, timeout=POLL, every=SCRAPE_INTERVAL)
    out = taken[-1]
    keep = os.environ.get(SCREENSHOTS_ENV)
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        for made in out.glob("*.png"):
            shutil.copy(made, Path(keep) / made.name)
    return out


def test_snapshot_pages_show_every_panel_with_data(pages: Path) -> None:
    """Every dashboard has its page; every panel the lab has data for shows it."""
    uids = [dash.uid for dash in catalog.dashboards()]
    assert sorted(p.name for p in pages.glob("*.html")) == sorted(
        ["index.html", *(f"{uid}.html" for uid in uids)]
    )
    for dash in catalog.dashboards():
        parsed = _parse((pages / f"{dash.uid}.html").read_text(encoding="utf-8"))
        assert set(parsed.states) == {p.title for p in dash.panels()}, dash.uid
        assert all(parsed.charts), f"{dash.uid}: a chart with nothing drawn"
    missing = _missing(pages)
    assert missing == [], "\n".join(missing)


def test_snapshot_pages_in_chromium(pages: Path) -> None:
    """Headless Chromium loads each page: no console message (a Content-Security-Policy
    violation would be one), every chart has something drawn, and the PNG was made."""
    binary = chromium.find()
    if binary is None:
        pytest.skip("chromium not installed (Debian package chromium)")
    for dash in catalog.dashboards():
        path = pages / f"{dash.uid}.html"
        done = chromium.dump_dom(binary, path)
        assert done.returncode == 0, done.stderr
        console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
        assert console == [], console
        parsed = _parse(done.stdout)
        assert parsed.states, f"{dash.uid}: Chromium's DOM has no panels"
        assert parsed.charts, f"{dash.uid}: no chart"
        assert all(parsed.charts), f"{dash.uid}: a chart with nothing drawn {parsed.charts}"
        png = path.with_suffix(".png")
        assert png.is_file(), dash.uid
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", dash.uid
