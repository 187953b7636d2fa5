"""The rules' alerts, end to end: the lab's events make them fire in a real Prometheus, and a
real Alertmanager routes them, inhibits them and notifies a webhook (issue 17).

The stack: the example inventory's simulated fleet; the device exporter probing sites
``nyc`` and ``kbl``; the access exporter, to which ``nyc-acc-sw1`` sends its syslog
(``logging host``, as an engineer configures it); the traffic auditor reading the demo
attack trace; Debian's Prometheus with the configuration ``netwarden monitoring config
--alertmanager`` writes; Debian's Alertmanager with ``dashboards/alertmanager/`` whose
webhook URLs (only they) point at a receiver this test runs on loopback.

Two mechanical changes keep the run short, neither touching an expression:

- every ``for:`` of the copied rules becomes :data:`FOR` (the repository's durations are
  minutes; ``promtool test rules`` proves them);
- the login rules count a label set the access exporter creates at its first event only
  if Prometheus scraped the exporter 5 (20) minutes earlier (decision 76: otherwise a
  Prometheus meeting a running exporter would alert on its whole history). A fresh
  Prometheus has no such past, so the test gives it one before it starts: the exporter's
  syslog counter (zero, as the exporter exports it from start) for the 25 minutes before,
  written into its TSDB with ``promtool tsdb create-blocks-from openmetrics``.

Then: a port scan in the trace, six failed SSH logins and one good one on ``nyc-acc-sw1``,
and ``kbl``'s only simulated device hangs (its WAN cut: every probe of the site fails).
Every wait is a bounded poll; nothing asserts on time.
"""

from __future__ import annotations

import http.server
import json
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.auditor_proc import free_port as auditor_port
from tests.integration.auditor_proc import stage_captures, start_auditor, wait_for_packets
from tests.integration.dashboard_stack import (
    ALERTMANAGER,
    Access,
    Alertmanager,
    start_access,
    start_alertmanager,
    stop,
)
from tests.integration.exporter_stack import (
    PROMETHEUS,
    PROMTOOL,
    SCRAPE_INTERVAL,
    Prometheus,
    netwarden,
    poll,
    start_exporter,
    start_prometheus,
)
from tests.integration.labfleet import Lab, start_lab

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not Path(PROMETHEUS).is_file() or PROMTOOL is None or ALERTMANAGER is None,
        reason="prometheus, promtool or alertmanager not installed (Debian packages "
        "prometheus, prometheus-alertmanager)",
    ),
]

REPO = Path(__file__).resolve().parents[2]
AM_DIR = REPO / "dashboards" / "alertmanager"
SITE = "nyc"
"""The site whose switch sees the logins and whose sensor reads the attack trace."""
SWITCH = "nyc-acc-sw1"
CUT = "kbl"
"""The site whose WAN is cut: its one simulated device hangs, the others never answer."""
CUT_SWITCH = "kbl-acc-sw1"
FOR = "6s"
"""Every ``for:`` of the copied rules: two evaluation intervals."""
HISTORY_MINUTES = 25
"""Minutes of access-exporter history given to Prometheus (the rules look 20 back, plus
Prometheus's 5-minute lookback)."""
POLL = 150.0
"""Seconds to wait at most for an alert (scrapes, ``for:``, Alertmanager's group_wait)."""
FAILED_LOGINS = 6


# ---------------------------------------------------------------- the webhook receiver
@dataclass
class Webhook:
    """What Alertmanager's webhook notifications delivered, by receiver (the URL path)."""

    url: str
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self, receiver: str) -> list[dict[str, Any]]:
        with self.lock:
            return [a for name, body in self.received if name == receiver for a in body["alerts"]]


def start_webhook() -> tuple[http.server.ThreadingHTTPServer, Webhook]:
    """An HTTP server on a free loopback port keeping every POSTed JSON body."""
    hook = Webhook("")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            with hook.lock:
                hook.received.append((self.path.strip("/"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
            """Quiet: the test reads the bodies, not a log."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hook


# ---------------------------------------------------------------- the copied configuration
def shorten_for(rules: Path) -> None:
    """Rewrite every ``for:`` line of the rule files in ``rules`` to :data:`FOR`; nothing
    else changes (checked line by line), and the files still pass ``promtool check rules``."""
    line = re.compile(r"^(\s+for: )\S+$", re.M)
    files = sorted(rules.glob("*.rules.yml"))
    assert files
    for path in files:
        before = path.read_text(encoding="utf-8")
        after = line.sub(rf"\g<1>{FOR}", before)
        changed = [
            (a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
        ]
        assert all(line.match(a) and b.strip() == f"for: {FOR}" for a, b in changed), changed
        path.write_text(after, encoding="utf-8")
    assert PROMTOOL is not None
    checked = subprocess.run(
        [PROMTOOL, "check", "rules", *map(str, files)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def alertmanager_config(out: Path, webhook: str) -> Path:
    """The repository's Alertmanager configuration and templates in ``out``, each receiver's
    webhook URL pointed at ``webhook``/<receiver>; routes and inhibitions untouched."""
    shutil.copytree(AM_DIR / "templates", out / "templates")
    config = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = f"{webhook}/{receiver['name']}"
    path = out / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def backfill_access_history(tsdb: Path, instance: str, tmp: Path) -> None:
    """The access exporter's syslog counters, zero (as it exports them from start), every
    scrape interval over the last :data:`HISTORY_MINUTES` minutes, as blocks of ``tsdb``:
    what a Prometheus that had been scraping the exporter would hold."""
    now = int(time.time())
    step = 15
    lines = ["# TYPE netwarden_access_syslog_messages counter"]
    for ts in range(now - HISTORY_MINUTES * 60, now - step, step):
        for transport in ("udp", "tcp"):
            for result in ("access", "other", "unparsed"):
                labels = (
                    f'instance="{instance}",job="netwarden_access",'
                    f'result="{result}",transport="{transport}"'
                )
                lines.append(f"netwarden_access_syslog_messages_total{{{labels}}} 0 {ts}")
    lines.append("# EOF")
    source = tmp / "access-history.om"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert PROMTOOL is not None
    made = subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr


def write_targets(config: Path, name: str, targets: list[tuple[str, str, str]]) -> None:
    """A file-SD list of (host:port, site, role), all on loopback (never the inventory's hosts)."""
    entries = [
        {
            "targets": [hostport],
            "labels": {
                "__meta_netwarden_site": site,
                "__meta_netwarden_role": role,
                "__meta_netwarden_zone": "mgmt",
            },
        }
        for hostport, site, role in targets
    ]
    (config / "targets" / f"{name}.json").write_text(json.dumps(entries), encoding="utf-8")


# ---------------------------------------------------------------- the stack
@dataclass
class Stack:
    lab: Lab
    prometheus: Prometheus
    alertmanager: Alertmanager
    webhook: Webhook
    access: Access


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("alerts")
    with start_lab(Path("inventory"), tmp / "lab") as lab:
        procs: list[subprocess.Popen[Any]] = []
        server, webhook = start_webhook()
        exporter = start_exporter(lab, tmp)
        prometheus: Prometheus | None = None
        alertmanager: Alertmanager | None = None
        try:
            access = start_access(lab.path, tmp)
            procs.append(access.proc)
            errors = lab.sim(SWITCH).merge(
                "logging origin-id hostname\n"
                f"logging host 127.0.0.1 transport udp port {access.syslog_port}\n"
            )
            assert errors == []
            watch = tmp / "watch"
            watch.mkdir()
            metrics = auditor_port()
            auditor = start_auditor(watch, tmp / "auditor-events.jsonl", metrics)
            procs.append(auditor)
            alertmanager = start_alertmanager(
                alertmanager_config(tmp / "am", webhook.url), tmp / "am"
            )
            config = tmp / "prometheus"
            access_hostport = access.url.removeprefix("http://")
            made = netwarden(
                "monitoring", "config", "-i", str(lab.path), "--limit", f"{SITE},{CUT}",
                "--out", str(config), "--exporter", exporter.url.removeprefix("http://"),
                "--access-exporter", access_hostport,
                "--alertmanager", alertmanager.url.removeprefix("http://"),
                "--scrape-interval", f"{SCRAPE_INTERVAL:g}",
                "--scrape-timeout", f"{SCRAPE_INTERVAL:g}",
                "--config-interval", "60",
            )  # fmt: skip
            assert made.returncode == 0, made.stdout + made.stderr
            write_targets(config, "nodes", [])  # no node_exporter: not what this test is about
            write_targets(config, "sensors", [(f"127.0.0.1:{metrics}", SITE, "sensor")])
            shorten_for(config / "rules")
            backfill_access_history(tmp / "tsdb", access_hostport, tmp)
            prometheus = start_prometheus(config / "prometheus.yml", tmp / "tsdb", tmp / "p.log")
            prom = prometheus
            ready = (
                'count(up{job=~"netwarden_access|netwarden_auditor"} == 1) == 2 and on () '
                f'count(netwarden_up{{instance=~"{SWITCH}|{CUT_SWITCH}"}} == 1) == 2'
            )
            seen = 'up{job=~"netwarden_access|netwarden_auditor"} or netwarden_up'
            assert poll(lambda: prom.query(ready), timeout=POLL), (
                f"targets not scraped: {prom.query(seen)}; prometheus exit status "
                f"{prom.proc.poll()}, log: {(tmp / 'p.log').read_text(encoding='utf-8')[-3000:]}"
            )
            # the attack: a port scan in the trace, then failed logins and one that works
            packets = stage_captures(watch, tmp)
            wait_for_packets(auditor, metrics, packets)
            wrong = secrets.token_urlsafe(12)
            user = lab.credentials.username
            for _ in range(FAILED_LOGINS):
                assert not lab.ssh_login(SWITCH, user, wrong)
            assert lab.ssh_login(SWITCH, user, lab.credentials.password)
            # kbl's WAN is cut: its switch stops answering (sessions kept open hang too)
            lab.fleet.set_fault(CUT_SWITCH, hang=True)
            yield Stack(lab, prometheus, alertmanager, webhook, access)
        finally:
            lab.fleet.clear_faults(CUT_SWITCH)
            if prometheus is not None:
                prometheus.stop()
            if alertmanager is not None:
                alertmanager.stop()
            for proc in procs:
                stop(proc)
            exporter.stop()
            server.shutdown()
            server.server_close()


# ---------------------------------------------------------------- reading Alertmanager
def _matches(labels: dict[str, str], want: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in want.items())


def _find(am: Alertmanager, want: dict[str, str]) -> list[dict[str, Any]]:
    """The alerts matching ``want`` once Alertmanager has processed them all (an alert just
    received is ``unprocessed`` until the inhibitor and silencer have seen it)."""
    found = [a for a in am.alerts() if _matches(a["labels"], want)]
    return [] if any(a["status"]["state"] == "unprocessed" for a in found) else found


def _until(what: Callable[[], Any], message: Callable[[], str]) -> Any:
    found = poll(what, timeout=POLL, every=1.0)
    assert found, message()
    return found


def _receivers(alert: dict[str, Any]) -> list[str]:
    return sorted(r["name"] for r in alert["receivers"])


PORT_SCAN = {"alertname": "NetwardenAuditorIncident", "detector": "port_scan", "site": SITE}
LOGIN_FAILURES = {
    "alertname": "NetwardenLoginFailuresRepeated",
    "site": SITE,
    "device": SWITCH,
    "source_zone": "unknown",  # 127.0.0.1: in no zone of the policy
}
LOGIN_AFTER_FAILURES = {**LOGIN_FAILURES, "alertname": "NetwardenLoginAfterFailures"}
SECURITY = [
    # the auditor rates the trace's port scan medium: severity warning, a ticket
    pytest.param(PORT_SCAN, "security-ticket", id="port-scan"),
    # warning: a ticket
    pytest.param(LOGIN_FAILURES, "security-ticket", id="login-failures"),
    # critical (a guessed password is possible): the pager
    pytest.param(LOGIN_AFTER_FAILURES, "security-pager", id="login-after-failures"),
]
"""The security alerts the attack raises, and the receiver alertmanager.yml routes each to."""


@pytest.mark.parametrize(("want", "receiver"), SECURITY)
def test_security_alerts_reach_alertmanager_routed_to_the_security_team(
    stack: Stack, want: dict[str, str], receiver: str
) -> None:
    am = stack.alertmanager
    alerts = _until(
        lambda: _find(am, want),
        lambda: f"{want} not in Alertmanager: {[a['labels'] for a in am.alerts()]}",
    )
    (alert,) = alerts
    assert _receivers(alert) == [receiver], alert
    assert alert["status"] == {"state": "active", "inhibitedBy": [], "silencedBy": []}
    assert alert["annotations"]["dashboard_url"] == f"/d/netwarden-security?var-site={SITE}"
    # the routing tree grouped it as alertmanager.yml says: by alertname, site, detector
    (group,) = [g for g in am.groups() if any(_matches(a["labels"], want) for a in g["alerts"])]
    assert group["receiver"]["name"] == receiver
    assert group["labels"] == {k: want[k] for k in ("alertname", "site", "detector") if k in want}
    if want is LOGIN_FAILURES:
        # the count the alert says: the threshold (5) or more, up to the failures made (the
        # alert may fire at a scrape between the fifth and the sixth)
        summary = alert["annotations"]["summary"]
        said = re.fullmatch(rf"(\d+) failed logins on {SWITCH} from unknown in 5 minutes", summary)
        assert said, summary
        assert 5 <= int(said.group(1)) <= FAILED_LOGINS
        # and each failed SSH login counted once, none of the good ones
        recorded = (
            "site_device_source_zone:netwarden_access_login_failures:increase5m"
            f'{{device="{SWITCH}", source_zone="unknown"}}'
        )
        assert _until(
            lambda: stack.prometheus.query(f"{recorded} == {FAILED_LOGINS}"),
            lambda: str(stack.prometheus.query(recorded)),
        )


@pytest.mark.parametrize(("want", "receiver"), SECURITY)
def test_the_security_webhook_is_notified_with_the_dashboard(
    stack: Stack, want: dict[str, str], receiver: str
) -> None:
    """The notification body: what fired, where, and which dashboard to open."""
    hook = stack.webhook
    found = _until(
        lambda: [a for a in hook.alerts(receiver) if _matches(a["labels"], want)],
        lambda: f"{want} not delivered to {receiver}: {hook.received}",
    )
    for alert in found:
        assert alert["status"] == "firing"
        assert alert["labels"]["alertname"] == want["alertname"]
        assert alert["labels"]["site"] == SITE
        assert alert["annotations"]["dashboard_url"] == f"/d/netwarden-security?var-site={SITE}"
        assert alert["annotations"]["runbook_url"].startswith("docs/runbooks.md#")
    # nor did it go anywhere else (the site's on-call receivers, the other security one)
    with hook.lock:
        elsewhere = [
            name
            for name, body in hook.received
            if name != receiver and any(_matches(a["labels"], want) for a in body["alerts"])
        ]
    assert elsewhere == []


def test_a_cut_off_site_inhibits_its_device_alerts_and_no_other_sites(stack: Stack) -> None:
    am = stack.alertmanager
    unreachable = {"alertname": "NetwardenSiteUnreachable", "site": CUT}
    cut_device = {"alertname": "NetwardenDeviceDown", "site": CUT, "instance": CUT_SWITCH}
    # nyc's firewall: the simulator runs none, so it is down while nyc's switches answer
    other_device = {"alertname": "NetwardenDeviceDown", "site": SITE, "instance": f"{SITE}-fw1"}

    def settled() -> dict[str, dict[str, Any]] | None:
        alerts = am.alerts()
        found = {
            name: [a for a in alerts if _matches(a["labels"], want)]
            for name, want in (
                ("unreachable", unreachable),
                ("cut", cut_device),
                ("other", other_device),
            )
        }
        if not all(len(v) == 1 for v in found.values()):
            return None
        if found["cut"][0]["status"]["state"] != "suppressed":
            return None  # the inhibitor learns of the source alert asynchronously
        return {name: v[0] for name, v in found.items()}

    state = _until(
        settled,
        lambda: json.dumps(
            [(a["labels"], a["status"]) for a in am.alerts() if a["labels"].get("site") == CUT],
            indent=1,
        ),
    )
    source, cut, other = state["unreachable"], state["cut"], state["other"]
    assert source["status"]["state"] == "active"
    assert _receivers(source) == ["field-pager"]
    assert cut["status"]["inhibitedBy"] == [source["fingerprint"]]
    assert _receivers(cut) == ["field-pager"]
    assert other["status"]["state"] == "active"
    assert other["status"]["inhibitedBy"] == []
    # every device alert of the cut site is inhibited, not only its switch's
    for alert in _find(am, {"alertname": "NetwardenDeviceDown", "site": CUT}):
        assert alert["status"]["state"] == "suppressed", alert
        assert source["fingerprint"] in alert["status"]["inhibitedBy"], alert
    # the cut site's alert is notified to the field on-call; the other site's device too
    hook = stack.webhook
    _until(
        lambda: [a for a in hook.alerts("field-pager") if _matches(a["labels"], unreachable)],
        lambda: f"{unreachable} not delivered: {hook.received}",
    )
    delivered = [a for a in hook.alerts("field-pager") if _matches(a["labels"], unreachable)]
    assert delivered[0]["annotations"]["dashboard_url"] == f"/d/netwarden-fleet?var-site={CUT}"
    delivered = _until(
        lambda: [a for a in hook.alerts("field-pager") if _matches(a["labels"], other_device)],
        lambda: f"{other_device} not delivered: {hook.received}",
    )
    assert delivered[0]["annotations"]["dashboard_url"] == f"/d/netwarden-site?var-site={SITE}"
