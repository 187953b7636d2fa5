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
from netwarden.lab.ns.firewalls import load_rendered
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
EXTRA_VARS = {
    "monitoring_scrape_interval": 3,
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
url = f"http://{sys.argv[1]}/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
with urllib.request.urlopen(url, timeout=10) as answer:
    print(json.dumps(json.load(answer)["data"]["result"]))
"""


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
        """Prometheus's instant query ``promql``, asked from inside jed-mon1's namespace."""
        done = subprocess.run(
            [*CLI, "lab", "exec", "--lab", str(self.lab), MON, "--",
             sys.executable, "-c", QUERY, PROMETHEUS, promql],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            return []
        result: list[dict[str, Any]] = json.loads(done.stdout)
        return result

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
    inv = load_inventory(stack.lab)
    target = next(
        str(i.address.ip)
        for i in inv.devices["nyc-srv1"].interfaces
        if i.zone == "servers" and i.address is not None
    )
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
