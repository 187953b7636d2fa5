"""The guard of the root conftest.py: building a test capture asks the network nothing."""

from __future__ import annotations

from scapy.layers import inet, inet6, l2
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether


def test_default_destination_macs_are_broadcast_without_a_neighbour_lookup() -> None:
    # 192.0.2.1 (TEST-NET-1) is routed through the host's default gateway: without the
    # guard, bytes() asks the gateway's MAC (ARP on the host's interface if not cached);
    # an ARP reply's default destination is looked up from its pdst the same way
    for l3 in (
        IP(dst="192.0.2.1") / TCP(),
        IPv6(dst="2001:db8::1") / TCP(),
        ARP(op=2, pdst="192.0.2.1"),
        ARP(op=1, pdst="192.0.2.1"),
    ):
        assert Ether(bytes(Ether() / l3)).dst == "ff:ff:ff:ff:ff:ff", l3.summary()
    for lookup in (l2.getmacbyip, inet.getmacbyip, inet6.getmacbyip6):
        assert lookup.__name__ == "_no_neighbour_lookup"


def test_given_macs_are_kept() -> None:
    frame = Ether(dst="02:00:00:00:00:09") / IP(dst="192.0.2.1")
    assert Ether(bytes(frame)).dst == "02:00:00:00:00:09"
