"""``make demo``, monitoring: the device exporter on the simulated fleet, Prometheus's config."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from netwarden.cli.demoalerts import (
    ALERTMANAGER as ALERTMANAGER_BIN,
)
from netwarden.cli.demoalerts import (
    alertmanager_config,
    backfill_access_history,
    send_syslog_to,
    start_access,
    start_alertmanager,
    start_webhook,
)
from netwarden.cli.demobase import INTERRUPT, REPO, TIMELINE, Step, _netwarden, console
from netwarden.cli.demostate import BACKGROUND

RULES = REPO / "dashboards" / "rules"
ALERTMANAGER = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"

_PROBE = """
import sys, urllib.request
url, keep = sys.argv[1], tuple(sys.argv[2:])
with urllib.request.urlopen(url, timeout=30) as answer:
    lines = answer.read().decode().splitlines()
shown = [l for l in lines if not l.startswith("#") and l.startswith(keep)]
print("\\n".join(shown[:14]))
print(f"... {len(lines)} lines in all" if len(shown) > 14 else "")
"""


def _probe(url: str, target: str, module: str, *keep: str) -> list[str]:
    """A Prometheus-style scrape of one target, printing the series that start with ``keep``."""
    return [sys.executable, "-c", _PROBE, f"{url}/probe?target={target}&module={module}", *keep]


def monitoring_steps(workdir: Path, url: str) -> list[Step]:
    """The device exporter on the simulated fleet, and the Prometheus configuration."""
    monitoring = workdir / "monitoring"
    steps = [
        Step(
            "Device exporter, health: what Prometheus scrapes from one switch",
            _probe(
                url,
                "nyc-acc-sw1",
                "health",
                "netwarden_up",
                "netwarden_device_info",
                "netwarden_interface_oper",
            ),
            "Multi-target like snmp_exporter: /probe?target=<inventory name>&module=health. "
            "Facts, uptime and per-interface status read over SSH with NAPALM (host keys "
            "checked); credentials come from the inventory, never from the request.",
        ),
        Step(
            "Device exporter, config: backup age and drift",
            _probe(url, "nyc-acc-sw1", "config", "netwarden_up", "netwarden_config"),
            "Seconds since the last backup, and whether running differs from the intended "
            "config and from the last backup (nyc-acc-sw1 carries the manual ntp change).",
        ),
        Step(
            "Device exporter, compliance: the latest audit as series",
            _probe(url, "nyc", "compliance", "netwarden_up", "netwarden_compliance"),
            "Pass/fail/waived counts and the score per site and framework, read from the "
            "report the audit step wrote.",
        ),
        Step(
            "Prometheus configuration from the inventory: one Prometheus per site, HQ federating",
            _netwarden(
                "monitoring",
                "config",
                "-i",
                "inventory",
                "--out",
                str(monitoring),
                "--layout",
                "federated",
            ),
            "file_sd targets with site/role/zone labels by relabelling, the multi-target "
            f"probe jobs, node_exporter and the auditor; written to {monitoring}.",
        ),
    ]
    promtool = shutil.which("promtool")
    if promtool is not None:
        steps.append(
            Step(
                "promtool checks HQ's generated configuration",
                [promtool, "check", "config", str(monitoring / "hq" / "prometheus.yml")],
                "Prometheus's own checker accepts what netwarden generated.",
            )
        )
        tests = sorted((RULES / "tests").glob("*.test.yml"))
        steps.append(
            Step(
                "Alert rules: promtool's unit tests, each alert firing and staying quiet",
                [promtool, "test", "rules", *(str(t.relative_to(REPO)) for t in tests)],
                "dashboards/rules/: device down, WAN down, interface errors, login failures "
                "and a login after them, config change outside the window, drift, compliance "
                "drop, auditor incidents, exporters down, stale data; recording rules named "
                "level:metric:operations. Runbooks: docs/runbooks.md.",
            )
        )
    amtool = shutil.which("amtool")
    if amtool is not None:
        config = f"--config.file={ALERTMANAGER.relative_to(REPO)}"
        steps.append(
            Step(
                "Alertmanager: who is told (routing per site and severity)",
                [amtool, "config", "routes", config],
                "Security's alerts to the security team, field offices and HQ to their own "
                "receivers; a site's WAN down inhibits its device alerts (not its security "
                "ones). Receivers are webhooks: point them at your paging and ticketing.",
            )
        )
        steps.append(
            Step(
                "Alertmanager: a port scan at a field office pages the security team",
                [
                    amtool,
                    "config",
                    "routes",
                    "test",
                    config,
                    "alertname=NetwardenAuditorIncident",
                    "severity=critical",
                    "site=nyc",
                    "detector=port_scan",
                ],
                "amtool's own routing test of dashboards/alertmanager/alertmanager.yml.",
            )
        )
    return steps


@contextmanager
def device_exporter(workdir: Path) -> Iterator[str]:
    """``netwarden exporter serve`` on the lab inventory in the background; its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (workdir / "exporter.log").open("wb")
    proc = subprocess.Popen(  # the command an engineer runs (a systemd unit in production)
        _netwarden(
            "exporter",
            "serve",
            "-i",
            str(workdir / "lab"),
            "--listen",
            f"127.0.0.1:{port}",
            "--backup-repo",
            str(workdir / "backups"),
            "--reports",
            str(workdir / "compliance"),
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    BACKGROUND.started("device exporter", proc)
    url = f"http://127.0.0.1:{port}"
    failed, began = True, time.monotonic()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"netwarden exporter serve did not start; see {log.name}"
                    ) from None
                time.sleep(0.2)
        console.rule(f"[bold]Device exporter running: netwarden exporter serve on {url}")
        TIMELINE.add_stage("device exporter start", time.monotonic() - began)
        yield url
        failed = False
    finally:
        BACKGROUND.stop(proc, interrupted=failed)
        log.close()


PROMETHEUS = "/usr/bin/prometheus"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _series(url: str, query: str) -> int:
    """How many series ``query`` returns now (0 when Prometheus does not answer yet)."""
    address = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
    try:
        with urllib.request.urlopen(address, timeout=5) as answer:  # noqa: S310 (loopback)
            return len(json.load(answer)["data"]["result"])
    except (OSError, ValueError, KeyError):
        return 0


@dataclass(frozen=True)
class Monitoring:
    """The demo's Prometheus, and its Alertmanager when Debian's is installed."""

    prometheus: str
    alertmanager: str | None
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def wait_ready(self, seconds: float = 90.0) -> None:
        """Until Prometheus holds enough samples for the rate windows (at most ``seconds``:
        three windows of samples at the 5 s interval), the access exporter and the auditor
        scraped; raises when Prometheus exited."""
        deadline = time.monotonic() + seconds
        ready = (
            "count_over_time(netwarden_up[2m]) >= 4 and on () "
            'count(up{job=~"netwarden_access|netwarden_auditor"} == 1) == 2'
        )
        alive = self.process is None or self.process.poll() is None
        while time.monotonic() < deadline and alive:
            INTERRUPT.check()
            if _series(self.prometheus, ready):
                break
            time.sleep(0.5)
            alive = self.process is None or self.process.poll() is None
        if not alive:
            raise RuntimeError(f"prometheus exited; see {self.log}")


@contextmanager
def prometheus(workdir: Path, exporter_url: str) -> Iterator[Monitoring | None]:
    """Debian's Prometheus on loopback, scraping the demo's device exporter, the access
    exporter and an auditor every 5 s with the configuration ``netwarden monitoring config``
    generates (rules included), its alerts sent to Debian's Alertmanager; None when
    Prometheus is not installed (the snapshot and alert steps are then skipped).

    Yielded as soon as it runs: the caller shows other steps while it gathers samples,
    then calls :meth:`Monitoring.wait_ready` before the steps that query it."""
    if not Path(PROMETHEUS).is_file():
        console.print("[yellow]Prometheus not installed: the dashboard snapshot is skipped[/]")
        yield None
        return
    mark, failed = BACKGROUND.mark(), True
    began = time.monotonic()
    try:
        syslog_port = _free_port()
        _, access = start_access(workdir, syslog_port, _free_port())
        send_syslog_to(workdir / "lab", syslog_port)
        alertmanager = None
        if Path(ALERTMANAGER_BIN).is_file():
            _, hook = start_webhook(workdir, _free_port())
            amconfig = alertmanager_config(workdir / "alertmanager", hook)
            _, alertmanager = start_alertmanager(workdir, amconfig, _free_port())
            BACKGROUND.url("alertmanager", alertmanager)
        config = workdir / "prometheus"
        extra = ["--alertmanager", alertmanager.removeprefix("http://")] if alertmanager else []
        subprocess.run(
            _netwarden("monitoring", "config", "-i", str(workdir / "lab"), "--out", str(config),
                       "--exporter", exporter_url.removeprefix("http://"),
                       "--access-exporter", access.removeprefix("http://"), *extra,
                       "--scrape-interval", "5", "--scrape-timeout", "4"),
            check=True, capture_output=True,
        )  # fmt: skip
        promtool = shutil.which("promtool")
        if promtool is not None:
            backfill_access_history(
                promtool, workdir / "prometheus-data", access.removeprefix("http://"), workdir
            ).check_returncode()
        _watching_auditor(workdir, config)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        log = workdir / "prometheus.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config / 'prometheus.yml'}",
                 f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                cwd=config, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        BACKGROUND.started("prometheus", proc)
        BACKGROUND.url("prometheus", url)
        console.rule(f"[bold]Prometheus scraping the simulated fleet every 5 s on {url}")
        TIMELINE.add_stage("monitoring stack start", time.monotonic() - began)
        yield Monitoring(url, alertmanager, proc, log)
        failed = False
    finally:
        BACKGROUND.stop_since(mark, interrupted=failed)


def _watching_auditor(workdir: Path, config: Path) -> subprocess.Popen[bytes]:
    """The New York sensor's auditor watching a capture directory, empty until the demo
    puts its attack trace there (:func:`stage_capture`): Prometheus scrapes its counters at
    zero first, so increase() sees each incident. Its metrics on loopback; the generated
    sensor target list is pointed at it (never at the inventory's sensor)."""
    captures = workdir / "captures"
    captures.mkdir(exist_ok=True)
    port = _free_port()
    labels = {"__meta_netwarden_site": "nyc", "__meta_netwarden_role": "sensor",
              "__meta_netwarden_zone": "mgmt"}  # fmt: skip
    (config / "targets" / "sensors.json").write_text(
        json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": labels}]), encoding="utf-8"
    )
    proc = subprocess.Popen(
        _netwarden("auditor", "--watch", str(captures), "-i", "inventory", "--site", "nyc",
                   "--events", str(workdir / "auditor-watch-events.jsonl"),
                   "--metrics-listen", f"127.0.0.1:{port}"),
        stdout=subprocess.DEVNULL, stderr=(workdir / "auditor-watch.log").open("wb"),
    )  # fmt: skip
    return BACKGROUND.started("auditor (watching captures/)", proc)


def snapshot_steps(workdir: Path, url: str) -> list[Step]:
    """What Prometheus holds now, and the dashboards drawn from it without Grafana."""
    out = workdir / "snapshots"
    return [
        Step(
            "Prometheus: the devices up, per site, from the generated configuration",
            [sys.executable, "-c", _QUERY, url, "sum by (site) (netwarden_up)"],
            "Prometheus found the targets in the file_sd files netwarden wrote and labels them "
            "with site/role/zone by relabelling; the alert rules are loaded beside them.",
        ),
        Step(
            "Dashboard snapshots without Grafana: every panel's query, drawn offline",
            _netwarden(
                "dashboards", "snapshot", "--prometheus", url, "--out", str(out), "--range", "5m"
            ),
            f"One self-contained HTML page per dashboard in {out} (inline SVG, no script, "
            "nothing fetched): the same panels as the Grafana JSON in dashboards/grafana/. "
            "The auditor's panels come from the New York sensor's auditor watching the attack "
            "trace; firewall and WAN panels say No data: the simulated fleet has no firewall.",
        ),
    ]


_QUERY = """
import json, sys, urllib.parse, urllib.request
url, query = sys.argv[1], sys.argv[2]
with urllib.request.urlopen(f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query}), timeout=10) as a:
    result = json.load(a)["data"]["result"]
print(f"{query}:")
for r in sorted(result, key=lambda r: r["metric"].get("site", "")):
    print(f"  site={r['metric'].get('site', '?'):<8} devices up: {float(r['value'][1]):g}")
sys.exit(0 if result else 1)
"""
