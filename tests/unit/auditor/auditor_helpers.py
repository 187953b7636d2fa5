"""Helpers of the auditor tests: scapy-built traffic, batches, and running the engine.

``scapy_batch`` builds a :class:`Batch` from scapy packets field by field, the
slow obvious way: detector unit tests use it to feed exact, known packets. Tests
that go through pcap files use the real decoder (``iter_batches``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import numpy as np
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from collectors.auditor.batch import PACKET_DTYPE, Batch

try:  # the fast decoder is built by another helper; tests use it once it exists
    from collectors.auditor.decode import iter_batches as _iter_batches
except ImportError:  # pragma: no cover - only while decode.py is being written
    _iter_batches = None


def _mac(text: str) -> int:
    return int(text.replace(":", ""), 16)


def scapy_batch(packets: Sequence[Packet], source: str = "test") -> Batch:
    """Decode ``packets`` with scapy into a Batch (tests only: slow, exact)."""
    rows = np.zeros(len(packets), dtype=PACKET_DTYPE)
    chunks: list[bytes] = []
    offsets = np.zeros(len(packets), dtype=np.uint64)
    pos = 0
    for i, pkt in enumerate(packets):
        raw = bytes(pkt)
        chunks.append(raw)
        offsets[i] = pos
        r = rows[i]
        r["ts"] = float(pkt.time)
        r["caplen"] = r["wirelen"] = len(raw)
        r["vlan"] = -1
        if Ether in pkt:
            r["src_mac"] = _mac(pkt[Ether].src)
            r["dst_mac"] = _mac(pkt[Ether].dst)
            r["ethertype"] = pkt[Ether].type
        if Dot1Q in pkt:
            r["vlan"] = pkt[Dot1Q].vlan
            r["ethertype"] = pkt[Dot1Q].type
        l4: Any = None
        if IP in pkt:
            ip = pkt[IP]
            r["ip_version"] = 4
            r["src4"] = int(IPv4Address(ip.src))
            r["dst4"] = int(IPv4Address(ip.dst))
            r["ttl"] = ip.ttl
            r["proto"] = ip.proto
            l4 = ip.payload
        elif IPv6 in pkt:
            ip6 = pkt[IPv6]
            r["ip_version"] = 6
            r["proto"] = ip6.nh
            l4 = ip6.payload
        if isinstance(l4, TCP | UDP):
            r["sport"], r["dport"] = l4.sport, l4.dport
            if isinstance(l4, TCP):
                r["tcp_flags"] = int(l4.flags) & 0xFF
        elif isinstance(l4, ICMP):
            r["icmp_type"], r["icmp_code"] = l4.type, l4.code
        if l4 is not None:
            body = bytes(l4.payload)
            r["payload_len"] = len(body)
            r["payload_off"] = len(raw) - len(body) - _trailer(pkt)
        if ARP in pkt:
            a = pkt[ARP]
            r["arp_op"] = a.op
            r["arp_sha"] = _mac(a.hwsrc)
            r["arp_tha"] = _mac(a.hwdst)
            r["arp_spa"] = int(IPv4Address(a.psrc))
            r["arp_tpa"] = int(IPv4Address(a.pdst))
        pos += len(raw)
    return Batch(packets=rows, data=b"".join(chunks), offsets=offsets, source=source)


def _trailer(pkt: Packet) -> int:
    from scapy.packet import Padding

    return len(pkt[Padding]) if Padding in pkt else 0


def write_pcap(path: Path, packets: Sequence[Packet]) -> Path:
    wrpcap(str(path), list(packets))
    return path


def pcap_batches(path: Path) -> Iterator[Batch]:
    """Batches of a pcap through the real decoder (scapy fallback until it exists)."""
    if _iter_batches is not None:
        yield from _iter_batches(path)
        return
    from scapy.utils import rdpcap

    yield scapy_batch(list(rdpcap(str(path))), source=str(path))


def have_decoder() -> bool:
    return _iter_batches is not None


def run_engine(
    tmp_path: Path,
    packets: Sequence[Packet],
    *,
    inventory: Any = None,
    site: str | None = None,
    config: Any = None,
    only: Sequence[str] | None = None,
    name: str = "trace.pcap",
) -> list[Any]:
    """Write ``packets`` to a pcap, run the engine on it, return the final incidents."""
    from collectors.auditor.engine import Engine
    from collectors.auditor.events import ListSink

    path = write_pcap(tmp_path / name, sorted(packets, key=lambda p: float(p.time)))
    sink = ListSink()
    engine = Engine(config, [sink], site=site, sensor="test", inventory=inventory, only=only)
    summary = engine.run(pcap_batches(path))
    assert summary.detector_errors == {}, summary.detector_errors
    return list(summary.incidents)


def of(events: Sequence[Any], detector: str) -> list[Any]:
    return [e for e in events if e.detector == detector]


T0 = 1_767_225_600.0


def at(pkt: Packet, ts: float) -> Packet:
    pkt.time = ts
    return pkt


def tcp_session(
    t: float,
    client: str,
    server: str,
    dport: int,
    *,
    requests: int = 3,
    req_bytes: int = 200,
    resp_bytes: int = 300,
    sport: int = 40000,
    responses: Sequence[bytes] | None = None,
    payloads: Sequence[bytes] | None = None,
) -> list[Packet]:
    """Handshake, ``requests`` request/response pairs, FIN: a complete TCP session."""
    c = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src=client, dst=server)
    s = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") / IP(src=server, dst=client)
    out = [
        at(c / TCP(sport=sport, dport=dport, flags="S"), t),
        at(s / TCP(sport=dport, dport=sport, flags="SA"), t + 0.001),
        at(c / TCP(sport=sport, dport=dport, flags="A"), t + 0.002),
    ]
    k = t + 0.003
    reqs = list(payloads) if payloads is not None else [b"q" * req_bytes] * requests
    resps = list(responses) if responses is not None else [b"r" * resp_bytes] * len(reqs)
    for req, resp in zip(reqs, resps, strict=False):
        from scapy.packet import Raw

        if req:
            out.append(at(c / TCP(sport=sport, dport=dport, flags="PA") / Raw(req), k))
        if resp:
            out.append(at(s / TCP(sport=dport, dport=sport, flags="PA") / Raw(resp), k + 0.001))
        k += 0.01
    out.append(at(c / TCP(sport=sport, dport=dport, flags="FA"), k))
    out.append(at(s / TCP(sport=dport, dport=sport, flags="FA"), k + 0.001))
    return out
