"""The monitoring lab the dashboard and alert tests share (one stack, started once): the
example inventory's simulated switches of sites ``nyc``, ``kbl`` and ``gva``; the device
exporter; the access exporter, to which ``nyc-acc-sw1`` sends its syslog (``logging
host``, as an engineer configures it); node_exporter; the traffic auditor reading the demo
attack trace and forwarding its events to HQ's log server (a real rsyslogd, TCP);
Debian's Prometheus with the configuration ``netwarden monitoring config --alertmanager``
writes and the repository's rules; Debian's Alertmanager with ``dashboards/alertmanager/``,
whose webhook URLs (only they) point at a receiver run here on loopback. Starting it once rather than per test module saves a fleet, four exporters
and two Prometheus-and-Alertmanager start-ups per run (pytest-xdist ``--dist loadfile``
keeps the module using it in one worker).

Two mechanical changes keep the run short, neither touching an expression:

- every ``for:`` of the copied rules becomes :data:`FOR` (the repository's durations are
  minutes; ``promtool test rules`` proves them);
- the login rules count a label set the access exporter creates at its first event only
  if Prometheus scraped the exporter 5 (20) minutes earlier (decision 76: otherwise a
  Prometheus meeting a running exporter would alert on its whole history). A fresh
  Prometheus has no such past, so it is given one before it starts: the exporter's syslog
  counter (zero, as the exporter exports it from start) for the 25 minutes before, written
  into its TSDB with ``promtool tsdb create-blocks-from openmetrics``
  (:func:`netwarden.cli.demoalerts.backfill_access_history`, the demo's). The
  login-failure alerts and the "Login failures per source zone" panel both read those
  rules.

The lab's inventory is the example's with one change (:func:`wan_inventory`): ``gva``'s
first switch terminates the carrier circuit on a port marked ``mode: wan`` (the simulator
runs no firewall, where the example puts every WAN link).

Once Prometheus scrapes everything: login failures, a login and a config change go to the
access exporter as device syslog (two batches, so counters move while Prometheus watches),
the auditor reads the attack trace (a port scan), six SSH logins with a wrong password
and one good one are made on ``nyc-acc-sw1``; then ``kbl``'s only simulated switch hangs
(its WAN cut: every probe of the site fails), and ``gva``'s WAN port is shut down while
its other switch hangs (one switch still answers: only the WAN alert explains the site).
Every wait is a bounded poll; nothing asserts on time.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import re
import secrets
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netwarden.cli.demoalerts import alertmanager_config, backfill_access_history
from tests.integration.auditor_proc import free_port as auditor_port
from tests.integration.auditor_proc import stage_captures, start_auditor, wait_for_packets
from tests.integration.dashboard_stack import (
    Access,
    Alertmanager,
    start_access,
    start_alertmanager,
    start_node_exporter,
    stop,
)
from tests.integration.exporter_stack import (
    PROMTOOL,
    Prometheus,
    monitoring_config,
    netwarden,
    poll,
    start_exporter,
    start_prometheus,
    write_targets,
)
from tests.integration.labfleet import Lab, start_lab
from tests.integration.rsyslog_hq import Rsyslog

REPO = Path(__file__).resolve().parents[2]
SITE = "nyc"
"""The site whose switch sees the logins, whose sensor reads the attack trace, and whose
dashboards the panel test reads."""
SWITCH = "nyc-acc-sw1"
CUT = "kbl"
"""The site cut off without a WAN alert: its one simulated device hangs."""
CUT_SWITCH = "kbl-acc-sw1"
WAN_SITE = "gva"
"""The site whose WAN link goes down while one of its two switches still answers."""
WAN_SWITCH = "gva-acc-sw1"
WAN_PORT = "GigabitEthernet1/1/2"
"""The port of :data:`WAN_SWITCH` the lab's inventory marks ``mode: wan``."""
WAN_HUNG = "gva-acc-sw2"
SITES = (SITE, CUT, WAN_SITE)
FOR = "6s"
"""Every ``for:`` of the copied rules: two evaluation intervals."""
POLL = 150.0
"""Seconds to wait at most for a panel or an alert (scrapes, ``for:``, group_wait)."""
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
def wan_inventory(out: Path) -> Path:
    """The example inventory copied to ``out``, with :data:`WAN_PORT` on :data:`WAN_SWITCH`
    marked ``mode: wan``: a field office whose L3 switch terminates the carrier circuit.
    The WAN rules read the inventory's mode whatever the device kind, so the simulator
    (which runs no firewall) gets a WAN link it can take down. The ios_baseline templates
    do not render a ``wan`` port, so that switch has no intended config in this lab."""
    shutil.copytree(REPO / "inventory", out)
    host = out / "host_vars" / f"{WAN_SWITCH}.yml"
    data = yaml.safe_load(host.read_text(encoding="utf-8"))
    data["interfaces"].append(
        {"name": WAN_PORT, "mode": "wan", "description": "carrier circuit (EU MPLS)"}
    )
    host.write_text("---\n" + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return out


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


# ---------------------------------------------------------------- device syslog
def send_syslog(port: int, lines: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for line in lines:
            udp.sendto(line, ("127.0.0.1", port))


def access_events(seq: int) -> list[bytes]:
    """Six failed logins from nyc's staff zone, one that works, and a config change, as
    ``nyc-acc-sw1`` logs them (sequence numbers from ``seq``)."""
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


# ---------------------------------------------------------------- the stack
@dataclass
class Stack:
    lab: Lab
    prometheus: Prometheus
    alertmanager: Alertmanager
    webhook: Webhook
    access: Access


def _wait(prom: Prometheus, expr: str, what: str, log: Path) -> None:
    seen = 'up{job=~"netwarden_access|netwarden_auditor|node"} or netwarden_up'
    assert poll(lambda: prom.query(expr), timeout=POLL), (
        f"{what}: {expr}; scraped: {prom.query(seen)}; prometheus exit status "
        f"{prom.proc.poll()}, log: {log.read_text(encoding='utf-8')[-3000:]}"
    )


@contextlib.contextmanager
def monitoring_stack(tmp: Path) -> Iterator[Stack]:
    """The whole stack in ``tmp``, its events made and its faults set (module docstring)."""
    with start_lab(wan_inventory(tmp / "inventory"), tmp / "lab") as lab:
        repo, reports = tmp / "backups", tmp / "reports"
        done = netwarden("backup", "-i", str(lab.path), "--limit", SITE, "--repo", str(repo))
        assert done.returncode == 0, done.stdout + done.stderr
        audit = netwarden(
            "audit", "-i", str(lab.path), "--limit", SITE, "-f", "json", "-o", str(reports)
        )
        assert (reports / "report.json").is_file(), audit.stdout + audit.stderr
        procs: list[subprocess.Popen[Any]] = []
        server, webhook = start_webhook()
        exporter = start_exporter(lab, tmp, "--backup-repo", str(repo), "--reports", str(reports))
        prometheus: Prometheus | None = None
        alertmanager: Alertmanager | None = None
        hq: Rsyslog | None = None
        try:
            access = start_access(lab.path, tmp)
            procs.append(access.proc)
            errors = lab.sim(SWITCH).merge(
                "logging origin-id hostname\n"
                f"logging host 127.0.0.1 transport udp port {access.syslog_port}\n"
            )
            assert errors == []
            node, node_hostport = start_node_exporter()
            procs.append(node)
            watch = tmp / "watch"
            watch.mkdir()
            # HQ's log server (a real rsyslogd): the sensor forwards its events over TCP,
            # so the pipeline's "events to HQ" and spool panels have data
            hq = Rsyslog(tmp / "hq")
            hq.directory.mkdir()
            hq.start()
            metrics = auditor_port()
            auditor = start_auditor(
                watch, tmp / "auditor-events.jsonl", metrics,
                "--syslog", f"tcp://127.0.0.1:{hq.port}", "--sensor", f"{SITE}-sensor1",
            )  # fmt: skip
            procs.append(auditor)
            alertmanager = start_alertmanager(
                alertmanager_config(tmp / "am", webhook.url), tmp / "am"
            )
            access_hostport = access.url.removeprefix("http://")
            config = monitoring_config(
                lab.path, tmp / "prometheus", ",".join(SITES), exporter.url.removeprefix("http://"),
                "--access-exporter", access_hostport,
                "--alertmanager", alertmanager.url.removeprefix("http://"),
                "--config-interval", "10",
            )  # fmt: skip
            write_targets(config, "nodes", [(node_hostport, SITE, "server")])
            write_targets(config, "sensors", [(f"127.0.0.1:{metrics}", SITE, "sensor")])
            shorten_for(config / "rules")
            assert PROMTOOL is not None
            made = backfill_access_history(PROMTOOL, tmp / "tsdb", access_hostport, tmp)
            assert made.returncode == 0, made.stdout + made.stderr
            log = tmp / "p.log"
            prometheus = start_prometheus(config / "prometheus.yml", tmp / "tsdb", log)
            prom = prometheus
            switches = "|".join((SWITCH, CUT_SWITCH, WAN_SWITCH, WAN_HUNG))
            ready = (
                'count(up{job=~"netwarden_access|netwarden_auditor|node"} == 1) == 3 and on () '
                f'count(netwarden_up{{job="netwarden_health", instance=~"{switches}"}} == 1) == 4'
            )
            _wait(prom, ready, "targets not scraped", log)
            # gva's WAN link is up before it goes down (the recording rule sees it)
            wan = (
                "instance_interface:netwarden_interface_oper_status:wan"
                f'{{site="{WAN_SITE}", instance="{WAN_SWITCH}", interface="{WAN_PORT}"}} == 1'
            )
            _wait(prom, wan, "gva's WAN port not up", log)
            # counters move while Prometheus watches: two syslog batches, a scrape apart
            send_syslog(access.syslog_port, access_events(1))
            packets = stage_captures(watch, tmp)
            wait_for_packets(auditor, metrics, packets)
            _wait(prom, 'sum(netwarden_access_events_total{event="login"}) >= 7', "logins", log)
            send_syslog(access.syslog_port, access_events(20))
            # the attack on nyc-acc-sw1: failed SSH logins and one that works
            wrong = secrets.token_urlsafe(12)
            user = lab.credentials.username
            for _ in range(FAILED_LOGINS):
                assert not lab.ssh_login(SWITCH, user, wrong)
            assert lab.ssh_login(SWITCH, user, lab.credentials.password)
            # kbl's WAN is cut: its switch stops answering (sessions kept open hang too)
            lab.fleet.set_fault(CUT_SWITCH, hang=True)
            # gva's WAN port goes down and its other switch stops answering (the WAN
            # switch still answers: the site is not unreachable, its WAN link is down)
            lab.manual_change(WAN_SWITCH, [f"interface {WAN_PORT}", "shutdown"])
            lab.fleet.set_fault(WAN_HUNG, hang=True)
            yield Stack(lab, prometheus, alertmanager, webhook, access)
        finally:
            lab.fleet.clear_faults(CUT_SWITCH)
            lab.fleet.clear_faults(WAN_HUNG)
            if prometheus is not None:
                prometheus.stop()
            if alertmanager is not None:
                alertmanager.stop()
            for proc in procs:
                stop(proc)
            if hq is not None:
                hq.stop()
            exporter.stop()
            server.shutdown()
            server.server_close()
