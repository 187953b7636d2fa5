"""``make demo``, alerting: the access exporter fed by a simulated switch's syslog, password
guessing on that switch, Alertmanager with the repository's routing, and the alerts that fire.

The alert rules are the repository's, unchanged: the auditor's incident alert and the two
login alerts have no ``for:``, so they fire at the first evaluation that sees the events.
One thing is given to the demo's fresh Prometheus: the login rules count a label set the
access exporter creates at its first event only if Prometheus scraped the exporter 5 (20)
minutes earlier (decision 76: else a Prometheus meeting a running exporter would alert on
its whole history). A Prometheus started a minute ago has no such past, so the demo writes
the access exporter's syslog counters, zero as the exporter exports them from its start,
for the 25 minutes before into Prometheus's storage (``promtool tsdb create-blocks-from
openmetrics``, :func:`backfill_access_history`, which the monitoring stack of
``tests/integration/monitoring_stack.py`` uses too); the step says so.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from netwarden.cli.demobase import (
    INTERRUPT,
    REPO,
    Step,
    _manual_change,
    _netwarden,
    console,
    wait_for_text,
)
from netwarden.cli.demostate import BACKGROUND

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
AM_DIR = REPO / "dashboards" / "alertmanager"
SWITCH = "nyc-acc-sw1"
"""The simulated switch whose syslog goes to the access exporter, and whose password is guessed."""
FAILED_LOGINS = 6
HISTORY_MINUTES = 25
"""Minutes of access-exporter history given to Prometheus (the rules look 20 back, plus
Prometheus's 5-minute lookback)."""
WANTED = (
    "NetwardenAuditorIncident",
    "NetwardenLoginFailuresRepeated",
    "NetwardenLoginAfterFailures",
)
"""The alerts the demo's attacks raise, waited for (bounded) before they are shown."""


def _wait_listening(log: Path, pattern: str, proc: subprocess.Popen[bytes], seconds: float) -> str:
    """The first group of ``pattern`` in ``log`` once the process wrote it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"process {proc.pid} did not start; see {log}")


def start_access(
    workdir: Path, syslog_port: int, metrics_port: int
) -> tuple[subprocess.Popen[bytes], str]:
    """``netwarden exporter access`` on loopback for the lab inventory; it and its URL."""
    log = workdir / "access-exporter.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            _netwarden("-vv", "exporter", "access", "-i", str(workdir / "lab"),
                       "--listen-syslog", f"127.0.0.1:{syslog_port}",
                       "--listen", f"127.0.0.1:{metrics_port}",
                       "--events-log", str(workdir / "access-events.jsonl")),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    BACKGROUND.started("access exporter", proc)
    pattern = r"access exporter listening on (http://127\.0\.0\.1:\d+)"
    return proc, _wait_listening(log, pattern, proc, 60.0)


def send_syslog_to(lab: Path, syslog_port: int) -> None:
    """``logging host`` on the switch, as an engineer configures it (over SSH, Netmiko)."""
    _manual_change(
        lab,
        SWITCH,
        ["logging origin-id hostname", f"logging host 127.0.0.1 transport udp port {syslog_port}"],
    )


def start_webhook(workdir: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    """The demo's webhook receiver (:mod:`netwarden.cli.demohook`) on loopback."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "netwarden.cli.demohook", str(port),
         str(workdir / "notifications.jsonl")],
        stdout=subprocess.DEVNULL, stderr=(workdir / "webhook.log").open("wb"),
    )  # fmt: skip
    BACKGROUND.started("webhook receiver", proc)
    return proc, f"http://127.0.0.1:{port}"


def alertmanager_config(out: Path, webhook: str) -> Path:
    """The repository's configuration and templates in ``out``, each receiver's webhook URL
    pointed at the demo's receiver (``webhook``/<receiver>); routes and inhibitions untouched."""
    import yaml  # noqa: PLC0415

    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(AM_DIR / "templates", out / "templates", dirs_exist_ok=True)
    config = yaml.safe_load((AM_DIR / "alertmanager.yml").read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = f"{webhook}/{receiver['name']}"
    path = out / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def start_alertmanager(
    workdir: Path, config: Path, port: int
) -> tuple[subprocess.Popen[bytes], str]:
    """Debian's Alertmanager on loopback: no clustering, storage in the workdir; it and
    its URL once ready."""
    log = workdir / "alertmanager.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={config}",
             f"--storage.path={workdir / 'alertmanager-data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
             "--log.level=warn"],
            cwd=config.parent, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    BACKGROUND.started("alertmanager", proc)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=5) as answer:  # noqa: S310
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"alertmanager did not start; see {log}")


def backfill_access_history(
    promtool: str, tsdb: Path, instance: str, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """The access exporter's syslog counters, zero (as it exports them from start), every
    15 s over the last :data:`HISTORY_MINUTES` minutes, as blocks of ``tsdb``: what a
    Prometheus that had been scraping the exporter would hold (see the module's docstring).
    promtool's run is returned, not checked: the demo raises on a failure, the monitoring
    stack's test (which writes its history with this too) asserts with promtool's output."""
    now = int(time.time())
    lines = ["# TYPE netwarden_access_syslog_messages counter"]
    for ts in range(now - HISTORY_MINUTES * 60, now - 15, 15):
        for transport in ("udp", "tcp"):
            for result in ("access", "other", "unparsed"):
                labels = (
                    f'instance="{instance}",job="netwarden_access",'
                    f'result="{result}",transport="{transport}"'
                )
                lines.append(f"netwarden_access_syslog_messages_total{{{labels}}} 0 {ts}")
    lines.append("# EOF")
    source = workdir / "access-history.om"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(tsdb)],
        capture_output=True,
        text=True,
        check=False,
    )


def guess_passwords(lab: Path) -> None:
    """Six SSH logins to the switch with a wrong password, then one with the right one
    (paramiko, the host key checked against the lab's known_hosts.txt)."""
    import paramiko  # noqa: PLC0415
    import yaml  # noqa: PLC0415

    from netwarden.lab.sim.labdir import CREDENTIALS_FILE, KNOWN_HOSTS_FILE  # noqa: PLC0415

    creds = yaml.safe_load((lab / CREDENTIALS_FILE).read_text())
    host = yaml.safe_load((lab / "host_vars" / f"{SWITCH}.yml").read_text())
    address, port = str(host["ansible_host"]), int(host["ansible_port"])
    known = paramiko.HostKeys(str(lab / KNOWN_HOSTS_FILE)).lookup(f"[{address}]:{port}")
    if known is None:
        raise RuntimeError(f"{SWITCH} is not in the lab's known_hosts.txt")
    user, wrong = str(creds["ansible_user"]), secrets.token_urlsafe(12)
    for password in [wrong] * FAILED_LOGINS + [str(creds["ansible_password"])]:
        with paramiko.Transport((address, port)) as transport:
            transport.start_client(timeout=10)
            key = transport.get_remote_server_key()
            if known.get(key.get_name()) != key:
                raise RuntimeError(f"{SWITCH}'s host key is not the one in known_hosts.txt")
            try:
                transport.auth_password(user, password, fallback=False)
                ok = transport.is_authenticated()
            except paramiko.AuthenticationException:
                ok = False
        console.print(f"  ssh {user}@{SWITCH}: {'[green]logged in' if ok else '[red]refused'}[/]")


def stage_capture(workdir: Path) -> None:
    """The attack trace into the watched capture directory, gzipped as a rotating sensor
    leaves its closed files (``tcpdump -G ... -z gzip``), a newer file beside it: the
    trace counts as rotated and the auditor reads it at once."""
    import gzip  # noqa: PLC0415
    import os  # noqa: PLC0415

    captures = workdir / "captures"
    first = captures / "nyc-1.pcap.gz"
    first.write_bytes(gzip.compress((workdir / "nyc-attacks.pcap").read_bytes()))
    newer = captures / "nyc-2.pcap"
    newer.touch()
    stat = first.stat()
    os.utime(newer, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def am_alerts(url: str) -> list[dict[str, Any]]:
    """Alertmanager's active alerts (``/api/v2/alerts``); [] when it does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/api/v2/alerts?active=true", timeout=5) as a:  # noqa: S310
            found: list[dict[str, Any]] = json.load(a)
            return found
    except (OSError, ValueError):
        return []


def wait_for_alerts(url: str, seconds: float, site: str = "nyc") -> None:
    """Until every alert of :data:`WANTED` is in Alertmanager for ``site`` (the switch and
    the capture are New York's; as root the live attacks at HQ raise the auditor's alert
    for ``jed`` before), or ``seconds`` have passed (the steps then show what arrived)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        INTERRUPT.check()
        labels = [a.get("labels", {}) for a in am_alerts(url)]
        names = {lab.get("alertname") for lab in labels if lab.get("site") == site}
        if names.issuperset(WANTED):
            return
        time.sleep(0.5)


def _attack_logins(lab: Path, events: Path) -> None:
    guess_passwords(lab)
    wait_for_text(events, '"outcome": "success"', 20.0)


def _attack_capture(workdir: Path, events: Path) -> None:
    stage_capture(workdir)
    wait_for_text(events, "port_scan", 60.0)


_ACCESS_EVENTS = """
import collections, json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
for r in [r for r in rows if r["outcome"] == "failure"][-8:]:
    print(f"  {r['time']} {r['device']:<12} {r['event']:<13} {r['outcome']:<8} "
          f"user={r['user']} source={r['source']} zone={r['source_zone']}")
counts = collections.Counter((r["event"], r["outcome"], r["user_class"]) for r in rows)
for (event, outcome, user_class), n in sorted(counts.items()):
    print(f"  {n:>4} {event}/{outcome} ({user_class})")
sys.exit(0 if rows else 1)
"""

_PROM_ALERTS = """
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/api/v1/alerts", timeout=10) as a:
    alerts = json.load(a)["data"]["alerts"]
for a in sorted(alerts, key=lambda a: (a["labels"]["alertname"], a["state"])):
    l = a["labels"]
    where = " ".join(f"{k}={l[k]}" for k in ("site", "device", "detector", "instance") if k in l)
    print(f"  {a['state']:<8} {l['alertname']:<32} {l.get('severity', ''):<9} {where}")
print(f"{len(alerts)} alert(s)")
"""


NOTIFY_WAIT = 60.0
"""Seconds the demo waits for the ticket queue's first notification (its group waits 30 s)."""


def alert_steps(workdir: Path, prometheus: str, alertmanager: str) -> list[Step]:
    """The attacks, then the alerts they raise in Prometheus and in Alertmanager."""
    lab = workdir / "lab"
    events = workdir / "access-events.jsonl"
    watch_events = workdir / "auditor-watch-events.jsonl"
    amtool = shutil.which("amtool")
    steps = [
        Step(
            f"Password guessing on {SWITCH}: {FAILED_LOGINS} failed SSH logins, then one that works",
            [sys.executable, "-c", _ACCESS_EVENTS, str(events)],
            f"{SWITCH} sends its syslog to the access exporter (`logging host 127.0.0.1 "
            "transport udp port ...`, set over SSH like an engineer would); each login "
            "attempt is a syslog line, parsed into an access event (device, user, source "
            "zone, outcome) and counted in netwarden_access_events_total. The failures, "
            "then the counts (the config change that set `logging host` is one too).",
            before=lambda: _attack_logins(lab, events),
        ),
        Step(
            "The New York sensor's auditor reads a rotated capture: the attack trace",
            ["grep", "-c", '"detector"', str(watch_events)],
            "The auditor watching captures/ (as a sensor reads tcpdump's rotated files, "
            "here gzipped as `tcpdump -z gzip` leaves them) processes the trace once a "
            "newer file appears; the count of events it wrote. "
            "Its metrics were scraped from zero before, so increase() sees every incident.",
            before=lambda: _attack_capture(workdir, watch_events),
        ),
        Step(
            "Prometheus: the alerts its rules raised (pending or firing)",
            [sys.executable, "-c", _PROM_ALERTS, prometheus],
            "The repository's rules, unchanged: the auditor's incident alert and the login "
            "alerts have no `for:`, they fire at the first evaluation (every 5 s here) that "
            "sees the events. The login rules count a new label set only if Prometheus "
            "scraped the access exporter 5 (20) minutes before (decision 76); this "
            "Prometheus is a minute old, so the demo wrote the exporter's zero counters for "
            "the 25 minutes before into its storage (promtool tsdb create-blocks-from). "
            "Alerts with a `for:` of minutes stay pending: NetwardenDeviceDown for the "
            "firewalls and servers the simulated fleet does not run (2 minutes). The "
            "config change that set `logging host` is reported too, unless the demo runs "
            "inside the change window (Tuesday and Thursday evenings).",
            before=lambda: wait_for_alerts(alertmanager, 90.0),
        ),
    ]
    if amtool is not None:
        steps.append(
            Step(
                "Alertmanager: the alerts it received, as an operator lists them",
                [amtool, "alert", "query", f"--alertmanager.url={alertmanager}"],
                "dashboards/alertmanager/alertmanager.yml routes them: the auditor's high "
                "incidents and the login after failures page the security team (critical); "
                "medium ones (the port scan) and the repeated failures make a ticket. Its "
                "webhooks point at the demo's receiver on loopback (notifications.jsonl, "
                "counted in the summary); nothing leaves the host.",
            )
        )
    notifications = workdir / "notifications.jsonl"
    steps.append(
        Step(
            "The pager and the ticket queue: what Alertmanager delivered",
            [sys.executable, "-m", "netwarden.cli.demohook", "--show", str(notifications)],
            "One notification per group (alert name, site, detector) and receiver, as the "
            "security team's pager and ticket gateways receive them (here the demo's "
            "receiver on loopback). The pager's group waits 10 s before its first "
            "notification, the tickets' 30 s (so that an attack's alerts arrive together): "
            "the demo waits for the ticket.",
            before=lambda: wait_for_text(
                notifications, '"receiver": "security-ticket"', NOTIFY_WAIT
            ),
        )
    )
    return steps
