"""Events to HQ in the namespace lab: a field sensor's events reach HQ's log server, none lost
while the WAN is cut (issue 18).

``netwarden lab up --sites 1 --no-sim --sensors`` (HQ ``jed`` and the field office
``fo001``, as the attack matrix) runs each sensor's auditor with ``--syslog
tls://<jed-log1>:6514 --syslog-ca <lab CA> --spool <sensor dir>/spool``
(``netwarden/lab/ns/sensors.py``); jed-log1's rsyslog writes what each sender sends
to ``/var/log/remote/<sender address>.log`` in its root. The attacks are nmap scans
of the field server from the field's clients (real packets, bounded in ports, retries
and time), aimed at lab addresses only; each scan has its own scanner, so each is its
own ``port_scan`` incident (the auditor keys incidents by source).

The WAN cut is an nftables table in the WAN namespace that drops everything forwarded
to or from the field firewall's WAN link: packets vanish as on a cut access line (no
reset, no ICMP), the routes stay, and deleting the table restores the link exactly.

What is compared: every line the field sensor wrote to its events file (each
emission of an incident, parsed) must arrive at jed-log1 in RFC 5424 (APP-NAME
``netwarden-auditor``, MSGID the detector), the first copies in the events file's
order (at-least-once: a resend may repeat a tail). Root only; skips without root,
nftables or nmap. One lab for the module, removed at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest

from netwarden.inventory import Inventory, load_inventory
from netwarden.lab.ns.sensors import EVENTS_FILE, METRICS_PORT, SENSORS_DIR, SPOOL_DIR
from netwarden.lab.ns.servers import NODES_DIR
from netwarden.lab.ns.services.rsyslog import REMOTE_DIR
from netwarden.lab.ns.state import work_dir
from tests.lab.nslab import in_ns, sensor_lab

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    *(
        pytest.mark.skipif(shutil.which(t) is None, reason=f"needs {t} (apt-get install it)")
        for t in ("nft", "nmap")
    ),
]

FIELD = "fo001"
SENSOR = f"{FIELD}-sensor1"
LOG_HOST = "jed-log1"
CUT_TABLE = "nwtest_wan_cut"
ARRIVE_WAIT = 60.0  # seconds for an event to reach the events file, or HQ once reachable
SPOOL_WAIT = 60.0  # seconds for the sender to give the cut connection up (TCP_USER_TIMEOUT)
REPLAY_WAIT = 120.0  # seconds for the replay after the WAN is back (reconnect backoff <= 30 s)

METRICS = r"""
import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())
"""
_TAG = re.compile(r"\snetwarden-auditor(?:\[[^\]]*\])?:?\s")


@dataclass(frozen=True)
class Lab:
    path: Path
    inventory: Inventory
    nodes: dict[str, tuple[str, list[str]]]  # node -> (netns, addresses)

    def ns(self, node: str) -> str:
        return self.nodes[node][0]

    def address(self, node: str) -> str:
        return self.nodes[node][1][0]

    def server_address(self) -> str:
        """The field server's service address (servers zone), the scans' target."""
        return str(self.inventory.devices[f"{FIELD}-srv1"].service_address())

    @property
    def sensor_dir(self) -> Path:
        return work_dir(self.path) / SENSORS_DIR / SENSOR

    def sensor_lines(self) -> list[dict[str, Any]]:
        """Every emission in the field sensor's events file, in order (the last line may be
        half-written: skipped)."""
        out = []
        with contextlib.suppress(FileNotFoundError):
            for line in (self.sensor_dir / EVENTS_FILE).read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(json.JSONDecodeError):
                    out.append(json.loads(line))
        return out

    def hq_lines(self) -> list[dict[str, Any]]:
        """The field sensor's events in jed-log1's received files, in order of arrival."""
        return [event for _, event in self.hq_received()]

    def hq_received(self) -> list[tuple[str, dict[str, Any]]]:
        """(rsyslog's HOSTNAME, event) of the field sensor's events at jed-log1, in order.

        rsyslog's file format: ``TIMESTAMP HOSTNAME TAG MSG``; the TAG of an RFC 5424
        message is its APP-NAME, the MSG the event's JSON.
        """
        remote = work_dir(self.path) / NODES_DIR / LOG_HOST / "upper" / REMOTE_DIR.lstrip("/")
        out = []
        for path in sorted(remote.glob("*.log")):
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                tag = _TAG.search(line)
                if tag is None:
                    continue
                with contextlib.suppress(json.JSONDecodeError, ValueError):
                    event = json.loads(line[line.index("{", tag.end() - 1) :])
                    if isinstance(event, dict) and event.get("sensor") == SENSOR:
                        out.append((line[: tag.start()].split()[-1], event))
        return out

    def metrics(self) -> dict[str, float]:
        """The field sensor's forward metrics (name without labels -> value)."""
        url = f"http://{self.address(SENSOR)}:{METRICS_PORT}/metrics"
        done = in_ns(self.ns(SENSOR), sys.executable, "-c", METRICS, url)
        assert done.returncode == 0, done.stderr
        found: dict[str, float] = {}
        for line in done.stdout.splitlines():
            if line.startswith(("netwarden_auditor_events_", "netwarden_auditor_spool_",
                                "netwarden_auditor_hq_")):  # fmt: skip
                name = line.split("{", 1)[0].split(" ", 1)[0]
                found[name] = found.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
        return found


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True)


def first_copies(events: list[dict[str, Any]]) -> list[str]:
    """Each distinct emission once, at its first appearance (a resend repeats a tail)."""
    seen: dict[str, None] = {}
    for event in events:
        seen.setdefault(canonical(event), None)
    return list(seen)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp(f"tohq{os.getpid()}")
    path = base / "lab"
    with sensor_lab(path, base / "cli.log") as state:
        nodes = {
            name: (node.netns, [a.split("/")[0] for a in node.addresses])
            for name, node in state.header.nodes.items()
        }
        yield Lab(path, load_inventory(path), nodes)


def scan(lab: Lab, attacker: str, target: str) -> None:
    """A bounded nmap SYN scan of 40 ports of ``target`` from the client ``attacker``."""
    done = in_ns(lab.ns(attacker), "timeout", "60", "nmap", "-n", "-Pn", "-sS", "-p", "1-40",
                 "--max-retries", "1", "--max-rate", "500", target, timeout=70)  # fmt: skip
    assert done.returncode == 0, done.stderr


def wait_for(what: str, check: Any, timeout: float, interval: float = 0.5) -> Any:
    """``check()`` until truthy (returned), at most ``timeout`` s; else fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(interval)


def scan_event(lab: Lab, attacker: str) -> dict[str, Any] | None:
    """The field sensor's port_scan incident of ``attacker`` (its first line), if any."""
    for event in lab.sensor_lines():
        if event["detector"] == "port_scan" and event["src"] == lab.address(attacker):
            return event
    return None


@contextlib.contextmanager
def wan_cut(lab: Lab) -> Iterator[None]:
    """Drop everything the WAN namespace forwards to or from the field firewall's link."""
    wan_ns, peer = lab.ns("wan"), IPv4Address(lab.inventory.sites[FIELD].wan.peer)
    shown = in_ns(wan_ns, "ip", "-j", "-4", "addr", "show")
    assert shown.returncode == 0, shown.stderr
    links = [
        link["ifname"]
        for link in json.loads(shown.stdout)
        if any(IPv4Address(a["local"]) == peer for a in link.get("addr_info", []))
    ]
    assert len(links) == 1, f"no single WAN link with {peer} in {wan_ns}: {links}"
    link = links[0]
    ruleset = (
        f"table inet {CUT_TABLE} {{\n  chain forward {{\n"
        "    type filter hook forward priority filter - 10; policy accept;\n"
        f'    iifname "{link}" drop\n    oifname "{link}" drop\n  }}\n}}\n'
    )
    done = subprocess.run(["ip", "netns", "exec", wan_ns, "nft", "-f", "-"], input=ruleset,
                          capture_output=True, text=True, timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    try:
        yield
    finally:
        in_ns(wan_ns, "nft", "delete", "table", "inet", CUT_TABLE)


def test_a_field_attack_reaches_hq_in_rfc5424(lab: Lab) -> None:
    attacker = f"{FIELD}-guests-c1"
    scan(lab, attacker, lab.server_address())
    event = wait_for(f"{attacker}'s port_scan in {SENSOR}'s events",
                     lambda: scan_event(lab, attacker), ARRIVE_WAIT)  # fmt: skip
    arrived = wait_for(
        f"{SENSOR}'s port_scan incident {event['id']} at {LOG_HOST}",
        lambda: [(h, e) for h, e in lab.hq_received() if e["id"] == event["id"]],
        ARRIVE_WAIT,
    )
    hostname, first = arrived[0]
    assert canonical(first) == canonical(event)  # the events file's line, as HQ has it
    assert hostname == SENSOR  # RFC 5424 HOSTNAME: the sensor, not the machine's name
    # counted delivered once HQ's TCP acknowledged it and the connection stayed sound 0.2 s
    # (it can be in jed-log1's file a moment before)
    metrics = wait_for(
        f"{SENSOR} counting the event delivered",
        lambda: (m := lab.metrics())["netwarden_auditor_events_delivered_total"] >= 1 and m,
        ARRIVE_WAIT,
    )
    assert metrics["netwarden_auditor_hq_connected"] == 1


def test_b_events_made_while_the_wan_is_cut_are_spooled_then_all_arrive_in_order(
    lab: Lab,
) -> None:
    attackers = [f"{FIELD}-{client}" for client in ("guests-c2", "staff-c1", "voice-c1")]
    with wan_cut(lab):
        before = len(lab.hq_lines())
        for attacker in attackers:
            scan(lab, attacker, lab.server_address())
        for attacker in attackers:
            wait_for(f"{attacker}'s port_scan in {SENSOR}'s events",
                     lambda a=attacker: scan_event(lab, a), ARRIVE_WAIT)  # fmt: skip

        def spooled() -> dict[str, float] | None:
            m = lab.metrics()
            held = m["netwarden_auditor_hq_connected"] == 0
            return m if held and m["netwarden_auditor_spool_bytes"] > 0 else None

        metrics = wait_for(f"{SENSOR} spooling with HQ unreachable", spooled, SPOOL_WAIT, 1.0)
        assert metrics["netwarden_auditor_events_pending"] > 0
        assert any((lab.sensor_dir / SPOOL_DIR).iterdir())
        assert len(lab.hq_lines()) == before, "events reached HQ through a cut WAN"
    wanted = first_copies(lab.sensor_lines())

    def replayed() -> bool:
        m = lab.metrics()
        got = {canonical(e) for e in lab.hq_lines()}
        return m["netwarden_auditor_events_pending"] == 0 and got >= set(wanted)

    wait_for(f"{SENSOR}'s spool replayed to {LOG_HOST}", replayed, REPLAY_WAIT, 1.0)
    hq_order = [c for c in first_copies(lab.hq_lines()) if c in set(wanted)]
    assert hq_order == wanted, "HQ got the events in another order than the sensor wrote them"
    ids = [json.loads(c)["id"] for c in wanted]
    for attacker in attackers:
        event = scan_event(lab, attacker)
        assert event is not None
        assert event["id"] in ids
    metrics = lab.metrics()
    assert metrics["netwarden_auditor_hq_connected"] == 1
    assert metrics.get("netwarden_auditor_events_dropped_total", 0) == 0
