"""Write a large mixed pcap fast: scapy builds a few hundred packets once, numpy replicates them.

The mix (by packet): TCP 62% (web, TLS, SSH, SMB, RDP; SYN/ACK/data of many sizes),
UDP 18% (DNS queries and answers, NTP, syslog, SNMP), ICMP 3%, ARP 3%, 802.1Q- or
QinQ-tagged variants 10%, IPv6 (TCP, UDP, ICMPv6, with extension headers) 10%;
average frame ~350 bytes. Each replica gets its own addresses, ports and timestamp
(checksums are left stale: decoders do not verify them).

Run: ``.venv/bin/python bench/gen_mixed_pcap.py OUT.pcap [--packets 1000000]``
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet, Raw

_CHUNK = 50_000


@dataclass
class _Templates:
    blob: npt.NDArray[np.uint8]
    start: npt.NDArray[np.int64]
    length: npt.NDArray[np.int64]
    weight: npt.NDArray[np.float64]
    # offsets inside the frame of fields to vary (-1: absent)
    src4: npt.NDArray[np.int64]
    dst4: npt.NDArray[np.int64]
    sport: npt.NDArray[np.int64]


def _templates(seed: int) -> _Templates:
    rng = np.random.default_rng(seed)
    out: list[tuple[Packet, float]] = []
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    sizes = [0, 0, 0, 40, 120, 300, 517, 900, 1200, 1460]
    for dport, share in ((443, 0.3), (80, 0.12), (22, 0.08), (445, 0.07), (3389, 0.05)):
        for flags in ("S", "SA", "A", "PA", "FA", "R"):
            for size in sizes if flags in ("A", "PA") else [0]:
                tcp = TCP(sport=50000, dport=dport, flags=flags)
                out.append(
                    (eth / IP(src="10.0.0.1", dst="10.0.0.2") / tcp / Raw(b"\x17" * size), share)
                )
    for qname in ("www.example.org", "mail.corp.example", "x" * 40 + ".cdn.example.net"):
        q = DNS(rd=1, qd=DNSQR(qname=qname))
        a = DNS(qr=1, qd=DNSQR(qname=qname), an=DNSRR(rrname=qname, rdata="192.0.2.7"))
        for dns in (q, a):
            out.append(
                (
                    eth / IP(src="10.0.0.1", dst="10.0.0.53") / UDP(sport=50000, dport=53) / dns,
                    0.1 / 3,
                )
            )
    for dport, size in ((123, 48), (514, 120), (161, 60), (5060, 400)):
        out.append(
            (
                eth
                / IP(src="10.0.0.1", dst="10.0.0.2")
                / UDP(sport=50000, dport=dport)
                / Raw(b"u" * size),
                0.02,
            )
        )
    for itype in (8, 0, 3, 11):
        out.append(
            (eth / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP(type=itype) / Raw(b"p" * 56), 0.0075)
        )
    for op in (1, 2):
        arp = ARP(op=op, hwsrc="02:00:00:00:00:01", psrc="10.0.0.1", pdst="10.0.0.2")
        out.append((Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / arp, 0.015))
    for vlan in (10, 20, 30, 110):
        for size in (0, 200, 1400):
            inner = (
                IP(src="10.0.0.1", dst="10.0.0.2")
                / TCP(sport=50000, dport=443, flags="PA")
                / Raw(b"v" * size)
            )
            out.append((eth / Dot1Q(vlan=vlan) / inner, 0.07 / 12))
            out.append((eth / Dot1AD(vlan=3000) / Dot1Q(vlan=vlan) / inner, 0.03 / 12))
    for size in (0, 100, 1200):
        v6 = IPv6(src="2001:db8::1", dst="2001:db8::2")
        out.append(
            (eth / v6 / TCP(sport=50000, dport=443, flags="PA") / Raw(b"6" * size), 0.05 / 3)
        )
        out.append((eth / v6 / UDP(sport=50000, dport=53) / Raw(b"d" * (size // 4 + 20)), 0.02 / 3))
        out.append(
            (
                eth / v6 / IPv6ExtHdrHopByHop() / UDP(sport=50000, dport=547) / Raw(b"h" * 40),
                0.01 / 3,
            )
        )
        out.append((eth / v6 / ICMPv6EchoRequest(data=b"e" * (size // 10)), 0.02 / 3))
    frames = [bytes(p) for p, _ in out]
    weights = np.array([w for _, w in out]) * rng.uniform(0.8, 1.2, len(out))
    src4, dst4, sport = [], [], []
    for pkt, _ in out:
        raw_len = len(bytes(pkt))
        ip = pkt.getlayer(IP)
        ip_at = raw_len - len(bytes(ip)) if ip is not None else -1
        src4.append(ip_at + 12 if ip_at >= 0 else -1)
        dst4.append(ip_at + 16 if ip_at >= 0 else -1)
        l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
        l4_at = raw_len - len(bytes(l4)) if l4 is not None else -1
        sport.append(l4_at)
    lengths = np.array([len(f) for f in frames], np.int64)
    starts = np.zeros(len(frames), np.int64)
    np.cumsum(lengths[:-1], out=starts[1:])
    return _Templates(
        np.frombuffer(b"".join(frames), np.uint8),
        starts,
        lengths,
        weights / weights.sum(),
        np.array(src4),
        np.array(dst4),
        np.array(sport),
    )


def _patch(
    out: npt.NDArray[np.uint8],
    at: npt.NDArray[np.int64],
    values: npt.NDArray[np.uint32],
    width: int,
) -> None:
    """Write big-endian ``values`` of ``width`` bytes at offsets ``at`` (those >= 0)."""
    keep = at >= 0
    at, values = at[keep], values[keep]
    raw = values.astype(">u4").view(np.uint8).reshape(-1, 4)[:, 4 - width :]
    out[at[:, None] + np.arange(width)] = raw


def _chunk(tpl: _Templates, rng: np.random.Generator, count: int, t0: float) -> bytes:
    kind = rng.choice(len(tpl.length), size=count, p=tpl.weight)
    flen = tpl.length[kind]
    rec = 16 + flen
    rec_at = np.zeros(count, np.int64)
    np.cumsum(rec[:-1], out=rec_at[1:])
    out = np.empty(int(rec.sum()), np.uint8)
    frame_at = rec_at + 16
    # ragged copy of every frame: output byte j of packet i comes from its template
    shift = np.repeat(tpl.start[kind] - frame_at, flen)
    dest = np.arange(len(shift), dtype=np.int64) + np.repeat(
        frame_at - np.cumsum(flen) + flen, flen
    )
    out[dest] = tpl.blob[dest + shift]
    ts = t0 + np.cumsum(rng.exponential(1e-5, count))
    hdr = np.empty((count, 4), "<u4")
    hdr[:, 0] = ts.astype(np.int64)
    hdr[:, 1] = ((ts % 1) * 1e6).astype(np.int64) % 1_000_000
    hdr[:, 2] = flen
    hdr[:, 3] = flen
    out[rec_at[:, None] + np.arange(16)] = hdr.view(np.uint8).reshape(count, 16)
    hosts = rng.integers(0, 4000, count).astype(np.uint32)
    _patch(
        out,
        np.where(tpl.src4[kind] >= 0, frame_at + tpl.src4[kind], -1),
        0x0A000000 + (hosts // 250 << 8) + hosts % 250 + 1,
        4,
    )
    servers = rng.integers(0, 300, count).astype(np.uint32)
    _patch(
        out,
        np.where(tpl.dst4[kind] >= 0, frame_at + tpl.dst4[kind], -1),
        0x0A640000 + servers + 1,
        4,
    )
    ephemeral = rng.integers(32768, 61000, count).astype(np.uint32)
    _patch(out, np.where(tpl.sport[kind] >= 0, frame_at + tpl.sport[kind], -1), ephemeral, 2)
    return out.tobytes()


def generate(path: Path, packets: int, seed: int = 5) -> int:
    """Write ``packets`` mixed packets to ``path``; returns the file size in bytes."""
    rng = np.random.default_rng(seed)
    tpl = _templates(seed)
    with path.open("wb") as fh:
        fh.write(np.array([0xA1B2C3D4], "<u4").tobytes())
        fh.write(np.array([2, 4], "<u2").tobytes())
        fh.write(np.array([0, 0, 262144, 1], "<u4").tobytes())
        t0 = 1_764_000_000.0
        done = 0
        while done < packets:
            count = min(_CHUNK, packets - done)
            fh.write(_chunk(tpl, rng, count, t0 + done * 1e-5))
            done += count
    return path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--packets", type=int, default=1_000_000)
    args = parser.parse_args()
    t = time.perf_counter()
    size = generate(args.out, args.packets)
    print(
        f"{args.out}: {args.packets} packets, {size / 1e6:.0f} MB in {time.perf_counter() - t:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
