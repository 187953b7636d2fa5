"""Issue 16 on the namespace lab: ``playbooks/monitoring.yml`` (roles/monitoring) deploys
jed-mon1's stack, then a real Prometheus scrapes every server's node_exporter, every
firewall's nftables rule counters (the device exporter over SSH) and the access exporter.

``netwarden lab up --no-sim`` of the example inventory; each firewall gets the ruleset
netwarden renders (``load_rendered``), so the scrapes cross the real flow policy. On
every server the node exporter is started through the lab holder's unit control
(``netwarden-lab-unit restart prometheus-node-exporter``, what the ``linux_server``
role does). Then the real ``ansible-playbook playbooks/monitoring.yml`` runs from
inside jed-mon1's namespace (the management server: the controller's place in the
lab), logs in to jed-mon1 over SSH and deploys, through the holder's unit control:

- Debian's ``prometheus`` with the configuration ``netwarden monitoring config``
  generates (the role's lookup), checked by promtool, on the Debian paths; it replaces
  the lab's own Prometheus of jed-mon1 (a ``prometheus-federate`` server) on :9090;
- ``netwarden-exporter`` (``exporter serve``, probes the firewalls over SSH from
  jed-mon1 with the inventory, vault password and key the role copied);
- ``netwarden-access-exporter`` (``exporter access --relay jed-log1``, syslog on
  jed-mon1's management address). The servers log to HQ's log host jed-log1 (over the
  flow policy's ``syslog`` service, as they already do); jed-log1 relays their auth
  messages to it over the management segment, a drop-in in its rsyslog's receiving
  ruleset (``/etc/rsyslog.d/remote/``), put there by this test (the role does not
  manage the log host).

A second run reports changed=0, and ``--check --diff`` shows no secret (the lab's
vault password, the automation key).

Last, every panel query of every dashboard is evaluated against this Prometheus for each
site of the lab (after a denied flow, a guest's connection to a server that nyc-fw1
drops): the firewall and WAN panels the simulated fleet cannot fill
(``tests/integration/test_dashboards_and_alerts.py``'s ``NO_DATA_HERE``) have data here, and the
panels without data here are those :data:`NO_DATA_IN_LAB` names, so that the two tests
together cover every panel (``tests/unit/dashboards/test_panel_coverage.py``).

Every wait is a bounded poll; nothing asserts on time. Root only; one lab for the
module, removed even when a test fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.models import Protocol
from netwarden.lab.ns.firewalls import load_rendered
from netwarden.lab.ns.probeplan import FORBIDDEN_PORTS
from netwarden.lab.ns.status import exec_argv
from tests.integration.dashboard_stack import NO_DATA_HERE, panel_queries
from tests.lab.nslab import CLI, ICMP_ECHO, REPO, cli, force_cleanup, lab_prefix

pytestmark = [
    pytest.mark.lab,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
    pytest.mark.skipif(shutil.which("nsenter") is None, reason="needs nsenter (util-linux)"),
    pytest.mark.skipif(not Path("/usr/sbin/sshd").exists(), reason="needs openssh-server"),
    pytest.mark.skipif(not Path("/usr/bin/prometheus").exists(), reason="needs prometheus"),
    pytest.mark.skipif(
        not Path("/usr/bin/prometheus-node-exporter").exists(),
        reason="needs prometheus-node-exporter",
    ),
]

MON = "jed-mon1"
PROMETHEUS = "127.0.0.1:9090"  # the role's, on the Debian port
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
SCRAPE = 3
"""Seconds between two scrapes of the role's Prometheus here."""
RATE_INTERVAL = f"{5 * SCRAPE}s"
"""What Grafana makes of ``$__rate_interval`` here: four scrape intervals and one more."""
EXTRA_VARS = {
    "monitoring_scrape_interval": SCRAPE,
    "monitoring_scrape_timeout": 2.5,
    "monitoring_access_relays": ["jed-log1"],
}
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=\d+\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.M,
)
DEADLINE = 90.0  # seconds a poll waits at most (a bound on hangs, never asserted on)

LOG_HOST = "jed-log1"
RELAY = """# netwarden: auth messages the log host receives, relayed to the access exporter
if prifilt("auth,authpriv.*") then {{
    action(type="omfwd" target="{address}" port="5514" protocol="udp")
}}
"""

WRONG_LOGIN = r"""
import sys, paramiko
client = paramiko.SSHClient()
client.load_host_keys(sys.argv[1])
client.set_missing_host_key_policy(paramiko.RejectPolicy())
try:
    client.connect(sys.argv[2], username="mallory", password="not-the-password",
                   timeout=10, auth_timeout=10, banner_timeout=10,
                   allow_agent=False, look_for_keys=False)
except paramiko.AuthenticationException:
    print("refused")
else:
    sys.exit("logged in with a wrong password")
finally:
    client.close()
"""

QUERY = r"""
import json, sys, urllib.parse, urllib.request
results = []
for promql in json.load(sys.stdin):
    url = f"http://{sys.argv[1]}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            results.append(json.load(answer)["data"]["result"])
    except OSError as exc:
        results.append(str(exc))
print(json.dumps(results))
"""
"""Instant queries (a JSON list on stdin) asked from inside jed-mon1's namespace, in one
process: a list of results, or the error of a query that failed."""

DENIED = r"""
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
except TimeoutError:
    print("dropped")
except OSError as exc:
    sys.exit(f"not dropped: {exc}")
else:
    sys.exit("connected")
"""
"""One TCP connection attempt that the firewall must drop (no answer in 2 s)."""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    recap: dict[str, tuple[int, int, int]]  # host: (changed, unreachable, failed)


@dataclass
class Stack:
    lab: Path
    servers: list[str]
    firewalls: list[str]
    logs: Path
    planned: Run  # --check --diff on the fresh lab
    untouched: list[str]  # what the plan left absent that the role writes (all of it)
    first: Run

    def query(self, promql: str) -> list[dict[str, Any]]:
        """Prometheus's instant query ``promql`` (no result when it fails)."""
        found = self.queries([promql])[0]
        return found if isinstance(found, list) else []

    def queries(self, promql: list[str]) -> list[list[dict[str, Any]] | str]:
        """Each instant query's result, or its error, asked from inside jed-mon1's
        namespace (``ip netns exec``: no CLI started per query) in one process."""
        done = subprocess.run(
            exec_argv(self.lab, MON, [sys.executable, "-c", QUERY, PROMETHEUS]),
            input=json.dumps(promql), capture_output=True, text=True,
            timeout=60 + 10 * len(promql), check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return [done.stderr.strip()[-300:] or "failed"] * len(promql)
        results: list[list[dict[str, Any]] | str] = json.loads(done.stdout)
        return results

    def log_tail(self) -> str:
        daemons = self.lab / ".lab" / "nodes" / MON / "logs"
        return "\n".join(
            f"== {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in [*sorted(self.logs.glob("*.log")), *sorted(daemons.glob("*.log"))]
        )


def play(lab: Path, *args: str, log: Path) -> Run:
    """ansible-playbook playbooks/monitoring.yml from jed-mon1's namespace; output in ``log``."""
    env = {
        **os.environ,
        "ANSIBLE_VAULT_PASSWORD_FILE": str(lab / ".vault-password"),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
    }
    done = subprocess.run(
        ["ip", "netns", "exec", f"{lab_prefix(lab)}-jed-{MON}", str(ANSIBLE_PLAYBOOK),
         "-i", str(lab), "playbooks/monitoring.yml", "-e", json.dumps(EXTRA_VARS), *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    with log.open("a") as out:
        out.write(
            f"\n$ ansible-playbook monitoring.yml {' '.join(args)}\n{done.stdout}{done.stderr}"
        )
    recap = {
        m["host"]: (int(m["changed"]), int(m["unreachable"]), int(m["failed"]))
        for m in RECAP.finditer(done.stdout)
    }
    return Run(done.returncode, done.stdout + done.stderr, recap)


def poll(predicate: Callable[[], Any], timeout: float = DEADLINE, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def _holder_pid(lab: Path, host: str) -> int:
    for line in (lab / ".lab" / "state.jsonl").read_text().splitlines():
        record = json.loads(line)
        extra = record.get("extra") or {}
        if record.get("kind") == "pid" and extra == {"role": "server", "host": host}:
            return int(record["ident"].split(":")[0])
    raise AssertionError(f"{host}: no holder pid in the lab state")


def _unit_restart(lab: Path, host: str, unit: str) -> None:
    """``netwarden-lab-unit restart UNIT`` inside the server (all its namespaces: pid 1 is
    the holder there)."""
    done = subprocess.run(
        ["nsenter", "-t", str(_holder_pid(lab, host)), "-a",
         "/usr/local/sbin/netwarden-lab-unit", "restart", unit],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{host}: {done.stdout}{done.stderr}"


def _in_server(lab: Path, host: str, script: str, stdin: str) -> None:
    done = subprocess.run(
        ["nsenter", "-t", str(_holder_pid(lab, host)), "-a", "sh", "-c", script],
        input=stdin, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{host}: {done.stderr}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp(f"mon{os.getpid()}")
    path, log = base / "lab", base / "cli.log"
    try:
        code = cli("lab", "up", "-i", str(REPO / "inventory"), "--out", str(path), "--no-sim",
                   log=log)  # fmt: skip
        assert code == 0, log.read_text()
        load_rendered(path)
        inv = load_inventory(path)
        servers = sorted(n for n, d in inv.devices.items() if d.function.value == "server")
        firewalls = sorted(
            n for n, d in inv.devices.items()
            if d.function.value == "firewall" and d.model == "nftables"
        )  # fmt: skip
        for server in servers:
            _unit_restart(path, server, "prometheus-node-exporter")
        mgmt = str(inv.devices[MON].mgmt_address)
        _in_server(
            path,
            LOG_HOST,
            "mkdir -p /etc/rsyslog.d/remote && cat > /etc/rsyslog.d/remote/netwarden-access.conf",
            RELAY.format(address=mgmt),
        )
        _unit_restart(path, LOG_HOST, "rsyslog")
        planned = play(path, "--check", "--diff", log=base / "ansible.log")
        upper = path / ".lab" / "nodes" / MON / "upper"
        written = [
            "etc/prometheus/prometheus.yml",
            "etc/netwarden",
            "etc/default/netwarden-exporter",
        ]
        untouched = [w for w in written if not (upper / w).exists()]
        first = play(path, log=base / "ansible.log")
        assert first.returncode == 0, first.stdout[-4000:]
        yield Stack(path, servers, firewalls, base, planned, untouched, first)
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        force_cleanup(lab_prefix(path))


def test_node_exporter_of_every_server_is_up(stack: Stack) -> None:
    def up_servers() -> list[dict[str, Any]]:
        return stack.query('up{job="node",role="server"}')

    def all_up() -> bool:
        found = up_servers()
        return len(found) == len(stack.servers) and all(r["value"][1] == "1" for r in found)

    assert poll(all_up), f"{up_servers()}\n{stack.log_tail()}"


def _servers_address(stack: Stack, host: str) -> str:
    inv = load_inventory(stack.lab)
    return next(
        str(i.address.ip)
        for i in inv.devices[host].interfaces
        if i.zone == "servers" and i.address is not None
    )


def _rule_packets(stack: Stack, firewall: str) -> float:
    found = stack.query(f'sum(netwarden_firewall_rule_packets_total{{instance="{firewall}"}})')
    return float(found[0]["value"][1]) if found else -1.0


def test_rule_counters_of_every_firewall_are_scraped(stack: Stack) -> None:
    def with_counters() -> set[str]:
        found = stack.query("count by (instance) (netwarden_firewall_rule_packets_total)")
        return {r["metric"]["instance"] for r in found if float(r["value"][1]) > 0}

    have = poll(lambda: (s := with_counters()) >= set(stack.firewalls) and s)
    assert have, f"missing: {sorted(set(stack.firewalls) - with_counters())}\n{stack.log_tail()}"
    # traffic through nyc-fw1 (jed-mon1 -> nyc-srv1's servers address: monitoring-servers)
    target = _servers_address(stack, "nyc-srv1")
    before = _rule_packets(stack, "nyc-fw1")
    assert before >= 0
    done = subprocess.run(
        [*CLI, "lab", "exec", "--lab", str(stack.lab), MON, "--",
         sys.executable, "-c", ICMP_ECHO, target, "5"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    grown = poll(lambda: _rule_packets(stack, "nyc-fw1") > before)
    assert grown, f"nyc-fw1's rule packets stayed at {before}\n{stack.log_tail()}"


def _failures(stack: Stack, device: str) -> float:
    found = stack.query(
        f'sum(netwarden_access_events_total{{device="{device}",outcome="failure"}})'
    )
    return float(found[0]["value"][1]) if found else 0.0


def test_a_failed_ssh_login_on_a_server_is_counted(stack: Stack) -> None:
    server = "nyc-srv1"
    inv = load_inventory(stack.lab)
    device = inv.devices[server]
    address = device.connection.host if device.connection else str(device.mgmt_address)
    assert poll(lambda: stack.query('up{job="netwarden_access"} == 1')), stack.log_tail()
    before = _failures(stack, server)
    done = subprocess.run(
        [*CLI, "lab", "exec", "--lab", str(stack.lab), MON, "--", sys.executable, "-c",
         WRONG_LOGIN, str(stack.lab / "known_hosts.txt"), address],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "refused"
    grown = poll(lambda: _failures(stack, server) > before)
    assert grown, f"no failure counted for {server} (was {before})\n{stack.log_tail()}"


def test_the_plan_on_a_fresh_server_shows_changes_and_makes_none(stack: Stack) -> None:
    planned = stack.planned
    assert planned.returncode == 0, planned.stdout[-4000:]
    assert planned.recap[MON][0] > 0, planned.stdout[-3000:]
    assert "+  scrape_interval: 3s" in planned.stdout  # prometheus.yml's diff
    assert "+ARGS=" in planned.stdout  # the exporters' options
    assert stack.untouched == [
        "etc/prometheus/prometheus.yml", "etc/netwarden", "etc/default/netwarden-exporter"
    ]  # fmt: skip
    assert not [s for s in _secrets(stack) if s in planned.stdout]


def test_the_first_run_deployed_the_stack_through_the_holder(stack: Stack) -> None:
    # the first play runs once on the controller for the first server (changed=0)
    others = {h: r for h, r in stack.first.recap.items() if h != MON}
    assert all(r == (0, 0, 0) for r in others.values()), stack.first.stdout[-2000:]
    changed, unreachable, failed = stack.first.recap[MON]
    assert (unreachable, failed) == (0, 0)
    assert changed > 0
    status = json.loads((stack.lab / ".lab" / "nodes" / MON / "status.json").read_text())
    alive = {d["name"] for d in status["daemons"] if d["exit_status"] is None}
    assert {"prometheus", "netwarden-exporter", "netwarden-access-exporter"} <= alive, status


def _secrets(stack: Stack) -> list[str]:
    key = (stack.lab / ".lab" / "ssh" / "id_ed25519").read_text().splitlines()
    body = [line for line in key if line and not line.startswith("-----")]
    return [(stack.lab / ".vault-password").read_text().strip(), *body]


def test_a_second_run_changes_nothing_and_check_diff_shows_no_secret(stack: Stack) -> None:
    again = play(stack.lab, log=stack.logs / "ansible.log")
    assert again.returncode == 0, again.stdout[-3000:]
    assert MON in again.recap
    assert set(again.recap.values()) == {(0, 0, 0)}, again.stdout[-3000:]
    planned = play(stack.lab, "--check", "--diff", log=stack.logs / "ansible.log")
    assert planned.returncode == 0, planned.stdout[-3000:]
    assert MON in planned.recap
    assert set(planned.recap.values()) == {(0, 0, 0)}, planned.stdout[-3000:]
    secrets = _secrets(stack)
    assert all(len(s) >= 16 for s in secrets)
    for run in (stack.first, again, planned):
        assert not [s for s in secrets if s in run.stdout]


def test_check_diff_shows_a_changed_setting_and_changes_nothing(stack: Stack) -> None:
    config = f"{stack.lab}/.lab/nodes/{MON}/upper/etc/prometheus/prometheus.yml"
    before = Path(config).read_text()
    planned = play(stack.lab, "--check", "--diff", "-e", "monitoring_scrape_interval=4",
                   log=stack.logs / "ansible.log")  # fmt: skip
    assert planned.returncode == 0, planned.stdout[-3000:]
    assert "+  scrape_interval: 4s" in planned.stdout
    assert "-  scrape_interval: 3s" in planned.stdout
    assert Path(config).read_text() == before
    assert not [s for s in _secrets(stack) if s in planned.stdout]


# ---------------------------------------------------------------- every panel's data

_NO_AUDITOR = "no auditor runs: the module's lab is up without --sensors"
_NO_REPORT = "nothing audits into jed-mon1's /var/lib/netwarden-exporter/reports here"
NO_DATA_IN_LAB: dict[str, str] = {
    # Site detail: the firewalls' probe (linuxssh) reads facts, links and rule counters
    "CPU usage": "a Linux firewall's probe reads no CPU (the simulated switches' does)",
    "Memory used": "as above: no memory reading of a Linux firewall",
    "Oldest config backup by site": "nothing backs up into jed-mon1's "
    "/var/lib/netwarden-exporter/backups in the lab",
    "Backup age": "as above (Site detail)",
    "Compliance score": _NO_REPORT + " (Site detail)",
    "Compliance score per site and framework": _NO_REPORT,
    "Failing results per site and framework": _NO_REPORT,
    "Score trend": _NO_REPORT,
    "Score drop over a day": _NO_REPORT,
    "Results by status": _NO_REPORT,
    "Waived results": _NO_REPORT,
    "Report age": _NO_REPORT,
    "Config changes by user class": "config changes are IOS syslog messages; --no-sim "
    "runs no IOS device",
    "Auditor incidents by detector": _NO_AUDITOR,
    "Auditor incidents by site and severity": _NO_AUDITOR,
    "Open incidents": _NO_AUDITOR,
    "Auditor packets read": _NO_AUDITOR,
    "Auditor errors": _NO_AUDITOR,
    "Events waiting for HQ": _NO_AUDITOR,
    "Spool size": _NO_AUDITOR,
    "Events to HQ delivered and dropped": _NO_AUDITOR,
}
"""Panels that cannot have data in this lab, and why (the lab test's report). None may
be in ``NO_DATA_HERE`` too: the simulated fleet's test fills every other panel."""

MAY_HAVE_NO_DATA_IN_LAB: dict[str, str] = {
    "Alert timeline": "no alert may have fired yet (the device-down alert waits 2 minutes)",
    "Firing alerts by severity": "as above",
    "Failed logins by site and user class": "data once test_a_failed_ssh_login_... ran "
    "(none when this test runs alone)",
    "Login failures per source zone (5 min)": "the recording rule counts a new series only "
    "after 5 minutes of scraping access syslog: the module may be shorter",
    "Filesystem space available": "a lab server's own filesystems are overlay and tmpfs, "
    "which the panel leaves out; a checkout under /tmp (a fresh clone) is bound into the "
    "servers from the host's disk, and that one the panel shows",
}
"""Panels whose data here depends on the module's order and length (not asserted)."""

GUEST, DENIED_TO, DENIED_PORT = "nyc-guests-c1", "nyc-srv1", 445
"""A flow the policy forbids through nyc-fw1: guests to the site's servers on smb."""


def _drops(stack: Stack, firewall: str) -> float:
    """Packets ``firewall``'s forward chain dropped by default (counter ``drop_forward``)."""
    found = stack.query(
        f'netwarden_firewall_rule_packets_total{{instance="{firewall}",rule="drop_forward"}}'
    )
    return float(found[0]["value"][1]) if found else -1.0


def _lab_panels(stack: Stack) -> dict[tuple[str, str, str], list[str]]:
    """{(uid, title, refId): its query for each site of the lab} (one query where the
    dashboard shows every site at once)."""
    panels: dict[tuple[str, str, str], list[str]] = {}
    for site in sorted(load_inventory(stack.lab).sites):
        for uid, title, ref, expr in panel_queries(site, RATE_INTERVAL):
            exprs = panels.setdefault((uid, title, ref), [])
            if expr not in exprs:
                exprs.append(expr)
    return panels


def _empty_in_lab(stack: Stack) -> dict[tuple[str, str, str], list[str]]:
    """The panel queries without data for any site, once only :data:`NO_DATA_IN_LAB`
    panels are empty (or when the poll runs out): {(uid, title, refId): queries}."""
    asked = [(key, expr) for key, exprs in _lab_panels(stack).items() for expr in exprs]
    empty: dict[tuple[str, str, str], list[str]] = {}

    def pending() -> bool:
        empty.clear()
        results = stack.queries([expr for _, expr in asked])
        with_data = {
            key
            for (key, _), found in zip(asked, results, strict=True)
            if found and isinstance(found, list)
        }
        for (key, expr), found in zip(asked, results, strict=True):
            if key not in with_data:
                why = "" if isinstance(found, list) else f"  (error: {found})"
                empty.setdefault(key, []).append(expr + why)
        allowed = NO_DATA_IN_LAB.keys() | MAY_HAVE_NO_DATA_IN_LAB.keys()
        return all(title in allowed for _, title, _ in empty)

    poll(pending, every=SCRAPE)
    return empty


def test_every_panel_has_data_in_the_lab_or_in_the_simulated_fleet(stack: Stack) -> None:
    """The firewall and WAN panels the simulator cannot fill have data here; every panel
    without data here is named, with the reason, in :data:`NO_DATA_IN_LAB`."""
    assert (Protocol.TCP, DENIED_PORT) in FORBIDDEN_PORTS  # guests to servers (issue 15)
    target = _servers_address(stack, DENIED_TO)
    assert poll(lambda: _drops(stack, "nyc-fw1") >= 0), stack.log_tail()
    before = _drops(stack, "nyc-fw1")
    done = subprocess.run(
        exec_argv(stack.lab, GUEST, [sys.executable, "-c", DENIED, target, str(DENIED_PORT)]),
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "dropped"), done.stdout + done.stderr
    grown = poll(lambda: _drops(stack, "nyc-fw1") > before, every=SCRAPE)
    assert grown, f"nyc-fw1 counted no drop (was {before})\n{stack.log_tail()}"

    empty = _empty_in_lab(stack)
    why = {**MAY_HAVE_NO_DATA_IN_LAB, **NO_DATA_IN_LAB}
    report = "\n".join(
        f"  {uid}: {title} {ref}: {why.get(title, 'UNEXPLAINED')}\n    " + "\n    ".join(exprs)
        for (uid, title, ref), exprs in sorted(empty.items())
    )
    print(f"\npanel queries without data in the lab:\n{report}")  # noqa: T201 (the report, -s)
    titles = {title for _, title, _ in empty}
    # what the simulated fleet cannot fill (its firewall and WAN panels) has data here
    assert titles & (NO_DATA_HERE.keys() - MAY_HAVE_NO_DATA_IN_LAB.keys()) == set(), report
    assert titles - why.keys() == set(), report
    # and the list stays true: each panel it names is empty here
    assert NO_DATA_IN_LAB.keys() <= titles, report
