"""Attack and benign traffic in the example inventory's New York plan, for ``make demo``.

:func:`build_attack_pcap` writes one pcap and returns its ground truth: how many
incidents each detector must open when the auditor runs it with the example
inventory and ``--site nyc``::

    netwarden auditor --pcap attack.pcap -i inventory --site nyc

Addresses (nyc: VLAN = third octet; 10 mgmt, 20 servers, 30 staff, 40 guests):
nyc-srv1 is 10.11.20.10 (servers), the firewall holds every ``.1`` gateway.
"""

from __future__ import annotations

import random
from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw
from scapy.utils import wrpcap

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z

FW_MAC = "02:00:00:11:00:01"
SRV = "10.11.20.10"
SRV_MAC = "02:00:00:11:20:10"


def _mac(i: int) -> str:
    return f"02:00:00:11:{(i >> 8) & 0xFF:02x}:{i & 0xFF:02x}"


class _Trace:
    def __init__(self, seed: int) -> None:
        self.packets: list[Packet] = []
        self.rng = random.Random(seed)  # noqa: S311  (reproducible traffic, not cryptography)

    def add(self, pkt: Packet, ts: float) -> None:
        pkt.time = ts
        self.packets.append(pkt)

    def tcp_session(
        self,
        ts: float,
        client: tuple[str, str],
        server: tuple[str, str],
        dport: int,
        exchanges: list[tuple[bytes, bytes]],
        *,
        rst: bool = False,
    ) -> float:
        """A full TCP session (handshake, request/response pairs, FIN); returns its end time."""
        (cip, cmac), (sip, smac) = client, server
        sport = self.rng.randint(32768, 60999)
        c = Ether(src=cmac, dst=smac) / IP(src=cip, dst=sip)
        s = Ether(src=smac, dst=cmac) / IP(src=sip, dst=cip)
        seq, ack = 1000, 5000
        self.add(c / TCP(sport=sport, dport=dport, flags="S", seq=seq), ts)
        self.add(s / TCP(sport=dport, dport=sport, flags="SA", seq=ack, ack=seq + 1), ts + 0.001)
        seq, ack = seq + 1, ack + 1
        t = ts + 0.002
        self.add(c / TCP(sport=sport, dport=dport, flags="A", seq=seq, ack=ack), t)
        for request, response in exchanges:
            t += 0.01
            if request:
                self.add(
                    c / TCP(sport=sport, dport=dport, flags="PA", seq=seq, ack=ack) / Raw(request),
                    t,
                )
                seq += len(request)
            if response:
                t += 0.01
                self.add(
                    s / TCP(sport=dport, dport=sport, flags="PA", seq=ack, ack=seq) / Raw(response),
                    t,
                )
                ack += len(response)
        t += 0.01
        flags = "R" if rst else "FA"
        self.add(c / TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack), t)
        return t


def _xmas_scan(tr: _Trace) -> None:
    """An nmap-style Xmas scan (FIN+PSH+URG, no SYN) from a staff host: 30 ports of
    nyc-srv1, the closed ones answering RST+ACK. No connection attempt: only the flags tell."""
    xmas = ("10.11.30.57", _mac(0x3057))
    for k, port in enumerate(range(100, 130)):
        t = T0 + 400 + k * 0.05
        tr.add(
            Ether(src=xmas[1], dst=SRV_MAC)
            / IP(src=xmas[0], dst=SRV)
            / TCP(sport=61000, dport=port, flags="FPU"),
            t,
        )
        if port % 5:
            tr.add(
                Ether(src=SRV_MAC, dst=xmas[1])
                / IP(src=SRV, dst=xmas[0])
                / TCP(sport=port, dport=61000, flags="RA"),
                t + 0.001,
            )


def _ack_scan(tr: _Trace) -> None:
    """An nmap-style ACK scan (bare ACKs) from a staff host: 30 ports of nyc-srv1, each
    rejected with a RST (no connection of the server's own), as a host without a firewall
    answers. Flags every connection uses: only the rejections tell."""
    acker = ("10.11.30.59", _mac(0x3059))
    for k, port in enumerate(range(200, 230)):
        t = T0 + 430 + k * 0.05
        tr.add(
            Ether(src=acker[1], dst=SRV_MAC)
            / IP(src=acker[0], dst=SRV)
            / TCP(sport=52000, dport=port, flags="A", window=1024),
            t,
        )
        tr.add(
            Ether(src=SRV_MAC, dst=acker[1])
            / IP(src=SRV, dst=acker[0])
            / TCP(sport=port, dport=52000, flags="R"),
            t + 0.001,
        )


def _fragmented_scan(tr: _Trace) -> None:
    """nmap -f from a staff host: SYNs to 20 ports of nyc-srv1, each TCP header in three
    8-byte IP fragments (no packet shows ports and flags together), answered RST+ACK."""
    frag = ("10.11.30.61", _mac(0x3061))
    for k, port in enumerate(range(300, 320)):
        t = T0 + 470 + k * 0.05
        syn = IP(src=frag[0], dst=SRV, id=0x3000 + k) / TCP(sport=61500, dport=port, flags="S")
        for j, piece in enumerate(fragment(syn, fragsize=8)):  # type: ignore[no-untyped-call]
            tr.add(Ether(src=frag[1], dst=SRV_MAC) / piece, t + j * 0.0001)
        tr.add(
            Ether(src=SRV_MAC, dst=frag[1])
            / IP(src=SRV, dst=frag[0])
            / TCP(sport=port, dport=61500, flags="RA"),
            t + 0.001,
        )


def _dhcp_starvation(tr: _Trace) -> None:
    """DHCPig's way, on the staff segment: 120 DHCPDISCOVERs in 1.2 s, each from a random
    hardware address that is also its client address (about half have the group bit set,
    which no network card has)."""
    for k in range(120):
        mac = bytes([tr.rng.randrange(256) for _ in range(6)])
        tr.add(
            Ether(src=mac.hex(":"), dst="ff:ff:ff:ff:ff:ff")
            / IP(src="0.0.0.0", dst="255.255.255.255")  # noqa: S104  (a client with no address)
            / UDP(sport=68, dport=67)
            / BOOTP(chaddr=mac + bytes(10), xid=0x5000 + k)
            / DHCP(options=[("message-type", "discover"), "end"]),
            T0 + 710 + k * 0.01,
        )


def _ping_sweep(tr: _Trace) -> None:
    """fping's way: a staff host pings 40 unused staff addresses, 10 ms apart; none answers."""
    pinger = ("10.11.30.58", _mac(0x3058))
    for k in range(40):
        tr.add(
            Ether(src=pinger[1], dst="02:00:00:11:30:ff")
            / IP(src=pinger[0], dst=f"10.11.30.{150 + k}")
            / ICMP(type=8, id=0x3058, seq=k),
            T0 + 450 + k * 0.01,
        )


def build_attack_pcap(path: Path) -> dict[str, int]:
    """Write attack + benign traffic to ``path``; return incidents expected per detector."""
    tr = _Trace(seed=5)
    srv = (SRV, SRV_MAC)

    # Benign: staff use the site file server (smb) and browse; DNS for CDN names.
    for i in range(20):
        staff = (f"10.11.30.{20 + i}", _mac(0x3000 + i))
        tr.tcp_session(T0 + 1 + i * 7, staff, srv, 445, [(b"\x00" * 200, b"\x00" * 4000)] * 5)
        tr.tcp_session(
            T0 + 2 + i * 7, staff, ("151.101.1.69", FW_MAC), 443, [(b"\x16" * 300, b"\x17" * 9000)]
        )
        q = DNS(rd=1, qd=DNSQR(qname=f"d{tr.rng.getrandbits(48):012x}.cloudfront.net", qtype="A"))
        tr.add(
            Ether(src=staff[1], dst=SRV_MAC)
            / IP(src=staff[0], dst=SRV)
            / UDP(sport=40000 + i, dport=53)
            / q,
            T0 + 3 + i * 7,
        )

    # 1. port scan from a guest laptop to nyc-srv1 (rejected by RST), randomised order.
    guest, guest_mac = "10.11.40.66", _mac(0x4066)
    ports = list(range(20, 60))
    tr.rng.shuffle(ports)
    for k, port in enumerate(ports):
        t = T0 + 200 + k * 0.5
        tr.add(
            Ether(src=guest_mac, dst=FW_MAC)
            / IP(src=guest, dst=SRV)
            / TCP(sport=45000, dport=port, flags="S"),
            t,
        )
        tr.add(
            Ether(src=SRV_MAC, dst=guest_mac)
            / IP(src=SRV, dst=guest)
            / TCP(sport=port, dport=45000, flags="RA"),
            t + 0.001,
        )

    # 2. SSH password guessing from a staff host: 12 short sessions.
    guesser = ("10.11.30.50", _mac(0x3050))
    for k in range(12):
        tr.tcp_session(T0 + 300 + k * 5, guesser, srv, 22, [(b"\x00" * 600, b"\x00" * 700)] * 3)

    # 3. clear-text FTP login (also a flow the policy forbids: staff -> servers ftp).
    ftp_client = ("10.11.30.51", _mac(0x3051))
    tr.tcp_session(
        T0 + 400,
        ftp_client,
        srv,
        21,
        [
            (b"", b"220 nyc-srv1 FTP\r\n"),
            (b"USER backup\r\n", b"331 Password required\r\n"),
            (b"PASS Winter2026!\r\n", b"230 Logged in\r\n"),
            (b"QUIT\r\n", b"221 Bye\r\n"),
        ],
    )

    # 4. DNS tunnel: NULL queries with encoded labels through the site resolver.
    tunneller = ("10.11.30.52", _mac(0x3052))
    for k in range(15):
        label = "".join(tr.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(56))
        q = DNS(rd=1, qd=DNSQR(qname=f"{label}.t1.exfil-example.net", qtype="NULL"))
        tr.add(
            Ether(src=tunneller[1], dst=SRV_MAC)
            / IP(src=tunneller[0], dst=SRV)
            / UDP(sport=41000 + k, dport=53)
            / q,
            T0 + 500 + k,
        )

    # 5. ARP spoofing of the staff gateway 10.11.30.1 after the real binding is known.
    gw, victim = "10.11.30.1", ("10.11.30.20", _mac(0x3000))
    tr.add(
        Ether(src=victim[1], dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=victim[1], psrc=victim[0], pdst=gw),
        T0 + 600,
    )
    tr.add(
        Ether(src=FW_MAC, dst=victim[1])
        / ARP(op=2, hwsrc=FW_MAC, psrc=gw, hwdst=victim[1], pdst=victim[0]),
        T0 + 600.001,
    )
    evil = _mac(0x6666)
    for k in range(5):
        tr.add(
            Ether(src=evil, dst=victim[1])
            / ARP(op=2, hwsrc=evil, psrc=gw, hwdst=victim[1], pdst=victim[0]),
            T0 + 610 + k * 2,
        )

    # 6. a rogue DHCP server on the staff VLAN.
    rogue, rogue_mac = "10.11.30.99", _mac(0x3099)
    offer = BOOTP(
        op=2, yiaddr="10.11.30.150", chaddr=bytes.fromhex("020000113000") + bytes(10)
    ) / DHCP(options=[("message-type", "offer"), ("server_id", rogue), ("router", rogue), "end"])
    tr.add(
        Ether(src=rogue_mac, dst="ff:ff:ff:ff:ff:ff")
        / IP(src=rogue, dst="255.255.255.255")
        / UDP(sport=67, dport=68)
        / offer,
        T0 + 700,
    )

    # 7. an unknown device in the management VLAN.
    stranger, stranger_mac = "10.11.10.77", _mac(0x1077)
    tr.add(
        Ether(src=stranger_mac, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=stranger_mac, psrc=stranger, pdst="10.11.10.1"),
        T0 + 800,
    )
    tr.add(
        Ether(src=stranger_mac, dst=FW_MAC) / IP(src=stranger, dst="10.11.10.1") / ICMP(type=8),
        T0 + 800.1,
    )

    # 8. beaconing: a staff host calls out every 60 s (+-1 s) with the same small request.
    beacon = ("10.11.30.53", _mac(0x3053))
    for k in range(30):
        t = T0 + 1000 + k * 60 + tr.rng.uniform(-1, 1)
        tr.tcp_session(t, beacon, ("198.51.100.23", FW_MAC), 443, [(b"\x17" * 180, b"\x17" * 90)])

    # 9. a silent UDP sweep: a staff host looks for MS-SQL browsers (udp/1434, SQL Slammer's
    # port) on 100 unused staff addresses, one a second.
    sweeper = ("10.11.30.54", _mac(0x3054))
    for k in range(100):
        tr.add(
            Ether(src=sweeper[1], dst="02:00:00:11:30:ff")
            / IP(src=sweeper[0], dst=f"10.11.30.{100 + k}")
            / UDP(sport=51434, dport=1434)
            / Raw(b"\x02"),
            T0 + 850 + k,
        )

    # 10. an ARP sweep of the staff subnet in 2.5 s; only two hosts answer.
    arper = ("10.11.30.55", _mac(0x3055))
    for k in range(1, 255):
        tr.add(
            Ether(src=arper[1], dst="ff:ff:ff:ff:ff:ff")
            / ARP(op=1, hwsrc=arper[1], psrc=arper[0], pdst=f"10.11.30.{k}"),
            T0 + 960 + k * 0.01,
        )
    for k in (20, 21):
        tr.add(
            Ether(src=_mac(0x3000 + k - 20), dst=arper[1])
            / ARP(
                op=2,
                hwsrc=_mac(0x3000 + k - 20),
                psrc=f"10.11.30.{k}",
                hwdst=arper[1],
                pdst=arper[0],
            ),
            T0 + 960 + k * 0.01 + 0.001,
        )

    # 11. a short DNS tunnel (dnscat2's pattern): 12 queries, one a second, a 30-plus hex
    # label each, TXT, MX and CNAME in turn.
    dnscat = ("10.11.30.56", _mac(0x3056))
    for k in range(12):
        label = "".join(tr.rng.choice("0123456789abcdef") for _ in range(34 + k % 5))
        q = DNS(
            rd=1, qd=DNSQR(qname=f"{label}.c2-example.org", qtype=("TXT", "MX", "CNAME")[k % 3])
        )
        tr.add(
            Ether(src=dnscat[1], dst=SRV_MAC)
            / IP(src=dnscat[0], dst=SRV)
            / UDP(sport=42000 + k, dport=53)
            / q,
            T0 + 970 + k * 1.02,
        )

    # 12.-16. nmap's Xmas scan, a ping sweep, nmap's ACK scan, a scan in tiny fragments,
    # DHCP starvation
    for attack in (_xmas_scan, _ping_sweep, _ack_scan, _fragmented_scan, _dhcp_starvation):
        attack(tr)

    tr.packets.sort(key=lambda p: float(p.time))
    wrpcap(str(path), tr.packets)
    return {
        "port_scan": 2,  # the guest's, and the staff host's fragmented one (reassembled)
        "ssh_bruteforce": 1,
        "cleartext_credentials": 1,
        "dns_tunnel": 2,  # the NULL-query tunnel and the short dnscat2-style one
        "arp_spoof": 1,
        "udp_sweep": 1,
        "arp_sweep": 1,
        "stealth_scan": 1,
        "ack_scan": 1,
        "tiny_fragment": 1,
        "dhcp_starvation": 1,
        "ping_sweep": 1,
        "rogue_dhcp": 1,
        "unknown_device": 1,
        "beaconing": 1,
        # guest -> servers (the scan), staff -> servers ssh (the guesser), staff -> servers ftp,
        # staff -> servers on the fragmented scan's ports
        "policy_violation": 4,
    }
