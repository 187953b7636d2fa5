"""What the fast decoder must produce for a packet, read from scapy's own dissection.

Shared by the decoder tests (hand-built packets, evaluation captures, fuzzed packets).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address
from typing import Any

from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, _IPv6ExtHdr
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Dot3, Ether
from scapy.packet import Packet

from collectors.auditor.batch import Batch


def mac_int(value: str) -> int:
    return int(value.replace(":", ""), 16)


def _expected_l2(pkt: Packet) -> dict[str, Any]:
    exp: dict[str, Any] = {"vlan": -1, "error": 0, "ip_version": 0, "proto": 0}
    eth = pkt[Ether] if Ether in pkt else pkt[Dot3]
    exp["src_mac"], exp["dst_mac"] = mac_int(eth.src), mac_int(eth.dst)
    exp["ethertype"] = eth.type if Ether in pkt else eth.len
    tags = [layer for layer in pkt.layers() if layer in (Dot1Q, Dot1AD)]
    if tags:
        inner = pkt.getlayer(tags[-1], nb=tags.count(tags[-1]))
        exp["vlan"] = inner.vlan
        exp["ethertype"] = inner.type
    if ARP in pkt:
        arp = pkt[ARP]
        exp |= {
            "arp_op": arp.op,
            "arp_sha": mac_int(arp.hwsrc),
            "arp_spa": int(IPv4Address(arp.psrc)),
            "arp_tha": mac_int(arp.hwdst),
            "arp_tpa": int(IPv4Address(arp.pdst)),
        }
    return exp


def _expected_ip(pkt: Packet, exp: dict[str, Any]) -> tuple[Packet | None, int, int]:
    """IP fields into ``exp``; returns (the L4 layer if any, offset after IP headers, IP end)."""
    if IP in pkt:
        ip = pkt[IP]
        exp |= {
            "ip_version": 4,
            "src4": int(IPv4Address(ip.src)),
            "dst4": int(IPv4Address(ip.dst)),
            "ttl": ip.ttl,
            "proto": ip.proto,
        }
        ip_at = len(pkt) - len(ip)
        return (ip.payload if ip.frag == 0 else None), ip_at + ip.ihl * 4, ip_at + ip.len
    ip6 = pkt[IPv6]
    exp |= {"ip_version": 6, "ttl": ip6.hlim, "src6": v6_bytes(ip6.src), "dst6": v6_bytes(ip6.dst)}
    layer, first, nh = ip6.payload, True, ip6.nh
    while isinstance(layer, _IPv6ExtHdr):  # hop-by-hop, routing (every type), fragment, options
        first &= not (isinstance(layer, IPv6ExtHdrFragment) and layer.offset)
        nh, layer = layer.nh, layer.payload
    exp["proto"] = nh
    return (layer if first else None), len(pkt) - len(layer), len(pkt) - len(ip6) + 40 + ip6.plen


def expected(pkt: Packet) -> dict[str, Any]:
    """The fields the decoder must produce, read from scapy's dissection of the same bytes."""
    exp = _expected_l2(pkt)
    if IP not in pkt and IPv6 not in pkt:
        return exp
    l4, after_ip, ip_end = _expected_ip(pkt, exp)
    l4_at = len(pkt) - len(l4) if l4 is not None else 0
    if isinstance(l4, TCP | UDP):
        exp["sport"], exp["dport"] = l4.sport, l4.dport
    if isinstance(l4, TCP):
        exp["tcp_flags"] = int(l4.flags) & 0xFF
        exp["payload_off"] = l4_at + l4.dataofs * 4
    elif isinstance(l4, UDP):
        exp["payload_off"] = l4_at + 8
    elif l4 is not None and exp["proto"] in (1, 58):
        raw = bytes(l4)
        exp["icmp_type"], exp["icmp_code"] = raw[0], raw[1]
        exp["payload_off"] = l4_at + 8
    else:
        exp["payload_off"] = after_ip
    exp["payload_len"] = ip_end - exp["payload_off"]
    return exp


def v6_bytes(addr: str) -> bytes:
    return IPv6Address(addr).packed


def check_against_scapy(batch: Batch, i: int, pkt: Packet, name: str) -> None:
    rec = batch.packets[i]
    for key, want in expected(pkt).items():
        got = rec[key].tobytes() if key in ("src6", "dst6") else rec[key].item()
        assert got == want, f"{name}: {key} is {got!r}, scapy says {want!r}"
    assert batch.raw(i) == bytes(pkt)
