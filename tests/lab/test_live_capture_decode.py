"""The live input end to end: frames sent across a veth pair, sniffed and decoded.

Root only (skips otherwise). The test creates two network namespaces of its own
(``nw-test-<random>-a``/``-b``) joined by a veth pair, with 10.250.N.1/30 and
10.250.N.2/30 on the two ends, and removes both namespaces (and so the pair) in a
finalizer. Nothing is configured in the root namespace. A bounded list of frames
is sent with scapy ``sendp`` from namespace b; :class:`LiveSource` sniffs in
namespace a (a subprocess under ``ip netns exec``) with a kernel BPF filter, and
every decoded field is checked against what was sent.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
WAIT = 30.0  # bound of every subprocess

CAPTURE = r"""
import json, sys, threading, time
from collectors.auditor.capture import LiveSource

iface, bpf, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
source = LiveSource(iface, bpf, batch_size=64, flush_seconds=0.1)
source.start()
time.sleep(0.5)  # the socket is open and filtered
print("READY", flush=True)
threading.Timer(seconds, source.stop).start()
out = []
for batch in source:
    for i, rec in enumerate(batch.packets):
        row = {name: rec[name].item() for name in rec.dtype.names if name not in ("src6", "dst6")}
        row["src6"] = rec["src6"].tobytes().hex()
        row["payload"] = batch.payload(i).hex()
        out.append(row)
print(json.dumps({"packets": out, "linktype": source.linktype, "dropped": source.dropped}))
"""

SEND = r"""
import sys
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw
from scapy.sendrecv import sendp

iface, src_mac, dst_mac, src, dst = sys.argv[1:6]
eth = Ether(src=src_mac, dst=dst_mac)
frames = [
    eth / IP(src=src, dst=dst, ttl=33) / TCP(sport=40001, dport=22, flags="S"),
    eth / IP(src=src, dst=dst) / UDP(sport=40002, dport=53) / Raw(b"query"),
    eth / IP(src=src, dst=dst) / UDP(sport=40003, dport=9999) / Raw(b"filtered out"),
    eth / IP(src=src, dst=dst) / ICMP(type=8) / Raw(b"ping!"),
    Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=src_mac, psrc=src, pdst=dst),
    eth / IPv6(src="fd00:250::2", dst="fd00:250::1") / ICMPv6EchoRequest(data=b"six"),
    eth / Dot1Q(vlan=77) / IP(src=src, dst=dst) / TCP(sport=40004, dport=3389, flags="S"),
]
sendp(frames, iface=iface, verbose=False, inter=0.02)
"""


@dataclass(frozen=True)
class Pair:
    ns_a: str
    ns_b: str
    if_a: str
    if_b: str
    addr_a: str
    addr_b: str


def _ip(*args: str) -> str:
    return subprocess.run(
        ["ip", *args], check=True, capture_output=True, text=True, timeout=WAIT
    ).stdout


@pytest.fixture
def pair() -> Iterator[Pair]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces)")
    tag = secrets.token_hex(3)
    net = int(tag, 16) % 250 + 1
    p = Pair(
        f"nw-test-{tag}-a",
        f"nw-test-{tag}-b",
        f"nwt{tag}a",
        f"nwt{tag}b",
        f"10.250.{net}.1",
        f"10.250.{net}.2",
    )
    try:
        _ip("netns", "add", p.ns_a)
        _ip("netns", "add", p.ns_b)
        _ip(
            "link",
            "add",
            p.if_a,
            "netns",
            p.ns_a,
            "type",
            "veth",
            "peer",
            "name",
            p.if_b,
            "netns",
            p.ns_b,
        )
        for ns, iface, addr in ((p.ns_a, p.if_a, p.addr_a), (p.ns_b, p.if_b, p.addr_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/30", "dev", iface)
            _ip("-n", ns, "link", "set", iface, "up")
        yield p
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot create namespaces and a veth pair here: {exc.stderr.strip()}")
    finally:
        for ns in (p.ns_a, p.ns_b):
            subprocess.run(
                ["ip", "netns", "del", ns], check=False, capture_output=True, timeout=WAIT
            )


def _mac(ns: str, iface: str) -> str:
    info = json.loads(_ip("-n", ns, "-j", "link", "show", iface))
    return str(info[0]["address"])


def _in_ns(ns: str, code: str, *args: str) -> list[str]:
    return ["ip", "netns", "exec", ns, sys.executable, "-c", code, *args]


def test_live_frames_are_decoded(pair: Pair) -> None:
    mac_a, mac_b = _mac(pair.ns_a, pair.if_a), _mac(pair.ns_b, pair.if_b)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    capture = subprocess.Popen(
        _in_ns(pair.ns_a, CAPTURE, pair.if_a, "not udp port 9999", "4"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert capture.stdout is not None
        assert capture.stdout.readline().strip() == "READY"
        subprocess.run(
            _in_ns(pair.ns_b, SEND, pair.if_b, mac_b, mac_a, pair.addr_b, pair.addr_a),
            check=True,
            capture_output=True,
            timeout=WAIT,
            env=env,
        )
        out, err = capture.communicate(timeout=WAIT)
    finally:
        if capture.poll() is None:
            capture.kill()
            capture.wait(WAIT)
    assert capture.returncode == 0, err
    result = json.loads(out)
    assert result["linktype"] == 1
    assert result["dropped"] == 0
    ours = [p for p in result["packets"] if p["src_mac"] == int(mac_b.replace(":", ""), 16)]
    by_port = {p["dport"]: p for p in ours if p["proto"] in (6, 17)}
    src4 = int.from_bytes(bytes(int(x) for x in pair.addr_b.split(".")), "big")
    dst4 = int.from_bytes(bytes(int(x) for x in pair.addr_a.split(".")), "big")
    ssh = by_port[22]
    assert (ssh["src4"], ssh["dst4"], ssh["ttl"], ssh["sport"], ssh["tcp_flags"]) == (
        src4,
        dst4,
        33,
        40001,
        2,
    )
    assert ssh["error"] == 0
    assert ssh["vlan"] == -1
    dns = by_port[53]
    assert bytes.fromhex(dns["payload"]) == b"query"
    assert 9999 not in by_port  # dropped by the kernel filter
    rdp = by_port[3389]
    assert (rdp["vlan"], rdp["ethertype"], rdp["sport"]) == (77, 0x0800, 40004)
    (icmp,) = [p for p in ours if p["proto"] == 1]
    assert (icmp["icmp_type"], bytes.fromhex(icmp["payload"])) == (8, b"ping!")
    # our request (the kernel of namespace b may also answer requests of namespace a)
    (arp,) = [p for p in ours if p["ethertype"] == 0x0806 and p["arp_op"] == 1]
    assert (arp["arp_op"], arp["arp_spa"], arp["arp_tpa"]) == (1, src4, dst4)
    six = [p for p in ours if p["proto"] == 58 and p["icmp_type"] == 128]
    assert len(six) == 1
    assert six[0]["src6"] == "fd000250" + "0" * 22 + "02"
    assert all(p["error"] == 0 for p in ours)
