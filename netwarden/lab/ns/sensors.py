"""The sensors' traffic auditors: ``netwarden auditor --interface <span>`` in each sensor.

``lab up --sensors`` starts, in every sensor's network namespace, the auditor on the
sensor's capture interface (the SPAN port every frame of the site's fabric is
mirrored to), as the sensor would run it in production::

    netwarden auditor --interface span0 -i <lab> --site <site> --sensor <sensor>
        --events <lab>/.lab/sensors/<sensor>/events.jsonl
        --metrics-listen <sensor's first address>:9101 --status-every 0
        --syslog tls://<log host>:6514 --syslog-ca <lab>/.lab/pki/ca.crt
        --spool <lab>/.lab/sensors/<sensor>/spool

**Events to HQ.** The sensor sends every event to the organisation's log host (the
first of ``policy.syslog.servers``, HQ's ``jed-log1`` in the example inventory) as
RFC 5424 over TLS on tcp/6514, the port the service catalogue gives ``syslog`` and
the flow policy opens from every site's management zone to HQ's servers
(``devices-to-hq-services``). The log host's rsyslog already serves it
(:mod:`.services.rsyslog`: the gtls driver, the lab CA's certificate naming each
of its addresses) and writes what the sensor sends to
``/var/log/remote/<sensor address>.log`` in its root
(``<lab>/.lab/nodes/<log host>/upper/var/log/remote/``); the auditor checks that
certificate against the lab CA (the sensor namespace sees the host's files) and
spools on disk while the log host is unreachable (a cut WAN), replaying in order
when it is back. A sensor with no log host, or a lab without the CA, sends nothing.

The lab inventory gives it the sites, zones and flow policy (so every event carries
the site, and ``policy_violation`` places both ends in their zones), the vault
password (``<lab>/.vault-password``) and the auditor settings of the source
inventory. Its output goes to ``<lab>/.lab/sensors/<sensor>/auditor.log``. The
process is recorded (``pid``, role ``auditor``) before ``up`` waits for it: ``lab
status`` lists it (running or dead, events written) and ``lab down`` stops it
with the rest of the lab (SIGTERM: open incidents are flushed to the events file).

It runs netwarden from the checkout this module is imported from (``PYTHONPATH``),
with the interpreter of ``lab up``: the sensor namespace sees the host's files.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from netwarden.errors import LabServiceError
from netwarden.lab.ns.nsproc import alive, log_tail, ns_connect, pid_ident
from netwarden.lab.ns.record import Recorder
from netwarden.lab.ns.services.labtls import lab_ca_files
from netwarden.lab.ns.services.rsyslog import SYSLOG_TLS_PORT
from netwarden.lab.ns.topology import LabPlan, NodeKind

logger = logging.getLogger(__name__)

SENSORS_DIR = "sensors"
EVENTS_FILE = "events.jsonl"
LOG_FILE = "auditor.log"
SPOOL_DIR = "spool"
METRICS_PORT = 9101  # the auditor's port in the monitoring configuration
AUDITOR_ROLE = "auditor"
CHECKOUT = Path(__file__).resolve().parents[3]  # netwarden and collectors are imported from here


@dataclass(frozen=True)
class SensorAuditor:
    """One sensor's auditor: where it listens and writes."""

    sensor: str
    site: str
    netns: str
    interface: str
    address: IPv4Address
    events: Path
    log: Path
    log_host: IPv4Address | None = None
    """Where the events go as syslog over TLS (None: nowhere but the events file)."""
    ca: Path | None = None
    """The lab CA the log host's certificate is checked against."""

    @property
    def spool(self) -> Path:
        """The disk spool of events not delivered to the log host yet."""
        return self.events.parent / SPOOL_DIR


@dataclass(frozen=True)
class StartedAuditor:
    auditor: SensorAuditor
    pid: int
    pid_ident: str
    process: subprocess.Popen[bytes] | None = None


def sensor_auditors(plan: LabPlan, work: Path) -> list[SensorAuditor]:
    """One auditor per sensor with a capture interface and an address (for its metrics).

    A sensor with several capture interfaces gets its auditor on the first (one
    ``--interface`` per auditor; the inventory's sensors have one).
    """
    captures: dict[str, list[str]] = {}
    for veth in plan.veths:
        if veth.node.capture:
            captures.setdefault(veth.node.netns, []).append(veth.node.ifname)
    hosts = {h.netns: h for h in plan.hosts}
    ca = lab_ca_files(work)[0]
    out = []
    for node in plan.nodes:
        if node.kind is not NodeKind.SENSOR or node.site is None:
            continue
        spans, host = captures.get(node.netns), hosts.get(node.netns)
        if not spans or host is None or not host.addresses:
            logger.warning("sensor %s: no capture interface or address; no auditor", node.name)
            continue
        if len(spans) > 1:
            logger.warning("sensor %s: auditor on %s only (of %s)", node.name, spans[0], spans)
        directory = work / SENSORS_DIR / node.name
        out.append(
            SensorAuditor(
                sensor=node.name,
                site=node.site,
                netns=node.netns,
                interface=spans[0],
                address=host.addresses[0],
                events=directory / EVENTS_FILE,
                log=directory / LOG_FILE,
                log_host=host.log_host,
                ca=ca,
            )
        )
    return out


def auditor_argv(auditor: SensorAuditor, lab_dir: Path) -> list[str]:
    """The command line of ``auditor`` (module docstring), entered into its namespace."""
    return [
        "ip", "netns", "exec", auditor.netns,
        sys.executable, "-m", "netwarden.cli", "auditor",
        "--interface", auditor.interface,
        "-i", str(lab_dir),
        "--site", auditor.site,
        "--sensor", auditor.sensor,
        "--events", str(auditor.events),
        "--metrics-listen", f"{auditor.address}:{METRICS_PORT}",
        "--status-every", "0",
        *_forward_argv(auditor),
    ]  # fmt: skip


def _forward_argv(auditor: SensorAuditor) -> list[str]:
    """``--syslog tls://...`` to the log host with its spool (module docstring), if it has one.

    The CA is made by ``lab up`` for the log host's certificate before the sensors
    start; without it (no log host in the lab) nothing is forwarded.
    """
    if auditor.log_host is None or auditor.ca is None or not auditor.ca.is_file():
        return []
    return [
        "--syslog", f"tls://{auditor.log_host}:{SYSLOG_TLS_PORT}",
        "--syslog-ca", str(auditor.ca),
        "--spool", str(auditor.spool),
    ]  # fmt: skip


def start_auditor(auditor: SensorAuditor, lab_dir: Path, record: Recorder) -> StartedAuditor:
    """Start ``auditor`` (recorded), without waiting for it (:func:`wait_auditor`)."""
    directory = auditor.events.parent
    record("dir", str(directory), role=AUDITOR_ROLE, host=auditor.sensor)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = [str(CHECKOUT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": str(directory),
        "PYTHONPATH": os.pathsep.join(path),
        "NETWARDEN_LOCK_DIR": str(directory / "locks"),
    }
    with auditor.log.open("ab") as log:
        process = subprocess.Popen(
            auditor_argv(auditor, lab_dir),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=str(directory), env=env, start_new_session=True,
        )  # fmt: skip
    ident = pid_ident(process.pid)
    record(
        "pid", ident, role=AUDITOR_ROLE, host=auditor.sensor, site=auditor.site,
        events=str(auditor.events),
    )  # fmt: skip
    logger.info("sensor %s: auditor pid %d on %s", auditor.sensor, process.pid, auditor.interface)
    return StartedAuditor(auditor, process.pid, ident, process)


def wait_auditor(started: StartedAuditor, timeout: float) -> None:
    """Until the auditor's metrics port answers in its namespace (it then sniffs at once).

    Raises:
        LabServiceError: the auditor exited, or did not listen within ``timeout`` s.
    """
    auditor = started.auditor
    deadline = time.monotonic() + timeout
    while True:
        if not alive(started.pid_ident):
            raise LabServiceError(
                f"{auditor.sensor}: the auditor exited; {auditor.log}:\n{log_tail(auditor.log)}"
            )
        with contextlib.suppress(OSError):
            ns_connect(auditor.netns, str(auditor.address), METRICS_PORT, timeout=1.0).close()
            return
        if time.monotonic() >= deadline:
            raise LabServiceError(
                f"{auditor.sensor}: the auditor's metrics port {auditor.address}:{METRICS_PORT} "
                f"did not answer within {timeout:g} s; {auditor.log}:\n{log_tail(auditor.log)}"
            )
        time.sleep(0.2)


def read_events(path: Path) -> list[dict[str, object]]:
    """The events an auditor wrote (JSON lines; a later line of an ``id`` supersedes earlier
    ones, so the last version of each incident is kept, in first-emission order)."""
    latest: dict[str, dict[str, object]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):  # a line being written
            event = json.loads(line)
            if isinstance(event, dict):
                latest[str(event.get("id"))] = event
    return list(latest.values())
