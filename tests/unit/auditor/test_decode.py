"""The fast decoder against scapy's own dissection, layer combination by layer combination."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    ICMPv6ND_NS,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, LLC, STP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Dot3, Ether
from scapy.packet import Packet, Raw
from scapy.utils import PcapNgWriter, PcapWriter, rdpcap, wrpcap

from collectors.auditor import decode
from collectors.auditor.batch import DecodeError
from collectors.auditor.decode import (
    BAD_RECORD_HEADER,
    TRUNCATED_FILE,
    CaptureFormatError,
    DecodeStats,
    decode_frames,
    iter_batches,
)
from tests.unit.auditor.decode_expect import check_against_scapy, mac_int

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"
V4_A, V4_B = "10.1.2.3", "192.0.2.200"
V6_A, V6_B = "2001:db8::1", "fe80::abcd:1"


def _eth() -> Packet:
    return Ether(src=MAC_A, dst=MAC_B)


LAYERS: dict[str, Callable[[], Packet]] = {
    "tcp_syn": lambda: _eth() / IP(src=V4_A, dst=V4_B, ttl=61) / TCP(sport=40000, dport=22),
    "tcp_opts_data": lambda: (
        _eth()
        / IP(src=V4_A, dst=V4_B)
        / TCP(sport=1, dport=80, flags="PA", options=[("MSS", 1460), ("NOP", None), ("WScale", 7)])
        / Raw(b"GET / HTTP/1.1\r\n\r\n")
    ),
    "tcp_fin_ack_ece": lambda: _eth() / IP(src=V4_A, dst=V4_B) / TCP(flags="FAE"),
    "ip_options": lambda: (
        _eth()
        / IP(src=V4_A, dst=V4_B, options=[IPOption_RR(routers=["1.2.3.4"])])
        / UDP(sport=5, dport=6)
        / Raw(b"x" * 7)
    ),
    "udp_dns": lambda: (
        _eth()
        / IP(src=V4_A, dst=V4_B)
        / UDP(sport=5353, dport=53)
        / DNS(rd=1, qd=DNSQR(qname="example.org"))
    ),
    "icmp_echo": lambda: _eth() / IP(src=V4_A, dst=V4_B) / ICMP(type=8) / Raw(b"ping"),
    "icmp_unreach": lambda: (
        _eth() / IP(src=V4_A, dst=V4_B) / ICMP(type=3, code=3) / IP(src=V4_B, dst=V4_A) / UDP()
    ),
    "padded_short_frame": lambda: Ether(bytes(_eth() / IP(src=V4_A, dst=V4_B) / TCP()) + b"\0" * 6),
    "frag_first": lambda: (
        _eth() / IP(src=V4_A, dst=V4_B, flags="MF", id=7) / UDP(sport=9, dport=10) / Raw(b"a" * 16)
    ),
    "frag_later": lambda: _eth() / IP(src=V4_A, dst=V4_B, frag=3, id=7, proto=17) / Raw(b"b" * 16),
    "gre_no_l4": lambda: _eth() / IP(src=V4_A, dst=V4_B, proto=47) / Raw(b"\0" * 8),
    "vlan_tcp": lambda: _eth() / Dot1Q(vlan=110) / IP(src=V4_A, dst=V4_B) / TCP(dport=443),
    "qinq_udp": lambda: (
        Ether(src=MAC_A, dst=MAC_B)
        / Dot1AD(vlan=3000)
        / Dot1Q(vlan=20)
        / IP(src=V4_A, dst=V4_B)
        / UDP(dport=161)
    ),
    "vlan_arp": lambda: _eth() / Dot1Q(vlan=4094) / ARP(op=2, hwsrc=MAC_A, psrc=V4_A, pdst=V4_B),
    "arp_request": lambda: (
        Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=MAC_A, psrc=V4_A, pdst=V4_B)
    ),
    "arp_gratuitous": lambda: (
        Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=2, hwsrc=MAC_A, psrc=V4_A, hwdst=MAC_B, pdst=V4_A)
    ),
    "ipv6_tcp": lambda: _eth() / IPv6(src=V6_A, dst=V6_B, hlim=9) / TCP(sport=3, dport=4),
    "ipv6_udp": lambda: _eth() / IPv6(src=V6_A, dst=V6_B) / UDP(sport=546, dport=547) / Raw(b"dh"),
    "ipv6_icmp_echo": lambda: _eth() / IPv6(src=V6_A, dst=V6_B) / ICMPv6EchoRequest(data=b"hi"),
    "ipv6_nd": lambda: _eth() / IPv6(src=V6_A, dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt=V6_B),
    "ipv6_ext_chain": lambda: (
        _eth()
        / IPv6(src=V6_A, dst=V6_B)
        / IPv6ExtHdrHopByHop()
        / IPv6ExtHdrDestOpt()
        / IPv6ExtHdrRouting(addresses=["2001:db8::99"])
        / TCP(dport=8080)
    ),
    "ipv6_frag_first": lambda: (
        _eth()
        / IPv6(src=V6_A, dst=V6_B)
        / IPv6ExtHdrFragment(m=1, offset=0, id=5)
        / UDP(dport=53)
        / Raw(b"q" * 8)
    ),
    "ipv6_frag_later": lambda: (
        _eth()
        / IPv6(src=V6_A, dst=V6_B)
        / IPv6ExtHdrFragment(m=0, offset=2, id=5, nh=17)
        / Raw(b"r" * 8)
    ),
    "llc_stp": lambda: Dot3(src=MAC_A, dst="01:80:c2:00:00:00") / LLC() / STP(),
    "unknown_ethertype": lambda: Ether(src=MAC_A, dst=MAC_B, type=0x88CC) / Raw(b"\x02\x07" * 10),
}


@pytest.fixture(scope="module")
def packets() -> list[tuple[str, Packet]]:
    out = []
    for i, (name, build) in enumerate(LAYERS.items()):
        pkt = Ether(bytes(build())) if name != "llc_stp" else build()
        pkt = pkt.__class__(bytes(pkt))
        pkt.time = 1_700_000_000 + i + 0.25
        out.append((name, pkt))
    return out


@pytest.mark.parametrize(
    ("endianness", "nano"),
    [("<", False), (">", False), ("<", True), (">", True)],
    ids=["le-us", "be-us", "le-ns", "be-ns"],
)
def test_pcap_fields_match_scapy(
    tmp_path: Path, packets: list[tuple[str, Packet]], endianness: str, nano: bool
) -> None:
    path = tmp_path / "all.pcap"
    with PcapWriter(str(path), linktype=1, endianness=endianness, nano=nano) as writer:
        for _, pkt in packets:
            writer.write(pkt)
    stats = DecodeStats()
    batches = list(iter_batches(path, batch_size=7, stats=stats))
    assert [len(b) for b in batches] == [7, 7, 7, len(packets) - 21]
    assert [b.first_index for b in batches] == [0, 7, 14, 21]
    merged = [(b, i) for b in batches for i in range(len(b))]
    for (name, pkt), (batch, i) in zip(packets, merged, strict=True):
        check_against_scapy(batch, i, pkt, name)
        assert batch.packets["ts"][i] == pytest.approx(float(pkt.time), abs=1e-6)
        assert batch.packets["wirelen"][i] == len(pkt)
    assert stats.packets == len(packets)
    assert stats.decode_errors == 0
    assert not stats.file_errors


def test_pcapng_written_by_scapy(tmp_path: Path, packets: list[tuple[str, Packet]]) -> None:
    path = tmp_path / "all.pcapng"
    with PcapNgWriter(str(path)) as writer:
        for _, pkt in packets:
            writer.write(pkt)
    batches = list(iter_batches(path))
    assert len(batches) == 1
    for i, (name, pkt) in enumerate(packets):
        check_against_scapy(batches[0], i, pkt, name)
        assert batches[0].packets["ts"][i] == pytest.approx(float(pkt.time), abs=1e-6)


@pytest.mark.parametrize(
    ("linktype", "wrap"),
    [
        (
            113,
            lambda p: (
                CookedLinux(
                    pkttype=0,
                    lladdrtype=1,
                    lladdrlen=6,
                    src=bytes.fromhex("02000000000a") + b"\0\0",
                    proto=p.type,
                )
                / p.payload
            ),
        ),
        (
            276,
            lambda p: (
                CookedLinuxV2(
                    proto=p.type,
                    lladdrtype=1,
                    lladdrlen=6,
                    src=bytes.fromhex("02000000000a") + b"\0\0",
                )
                / p.payload
            ),
        ),
        (101, lambda p: p.payload),
    ],
    ids=["sll", "sll2", "raw"],
)
def test_other_linktypes(tmp_path: Path, linktype: int, wrap: Callable[[Packet], Packet]) -> None:
    pkts = [LAYERS[n]() for n in ("tcp_syn", "udp_dns", "ipv6_ext_chain", "icmp_echo")]
    frames = [bytes(wrap(Ether(bytes(p)))) for p in pkts]
    path = tmp_path / "lt.pcap"
    wrpcap(str(path), [Raw(f) for f in frames], linktype=linktype)
    (batch,) = iter_batches(path)
    assert list(batch.packets["error"]) == [0, 0, 0, 0]
    assert list(batch.packets["ip_version"]) == [4, 4, 6, 4]
    assert list(batch.packets["dport"]) == [22, 53, 8080, 0]
    assert list(batch.packets["ethertype"]) == [0x800, 0x800, 0x86DD, 0x800]
    if linktype != 101:
        assert set(batch.packets["src_mac"]) == {mac_int(MAC_A)}
    for i, pkt in enumerate(pkts):
        assert batch.payload(i) == bytes(pkt)[len(bytes(pkt)) - batch.packets["payload_len"][i] :]


def test_unsupported_linktype_is_counted(tmp_path: Path) -> None:
    path = tmp_path / "wifi.pcap"
    wrpcap(str(path), [Raw(b"\x00" * 40)] * 3, linktype=127)
    stats = DecodeStats()
    (batch,) = iter_batches(path, stats=stats)
    assert list(batch.packets["error"]) == [DecodeError.UNSUPPORTED_LINKTYPE] * 3
    assert stats.errors == {"UNSUPPORTED_LINKTYPE": 3}


def _block(bo: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return (
        struct.pack(bo + "II", btype, len(body) + 12) + body + struct.pack(bo + "I", len(body) + 12)
    )


def _shb(bo: str) -> bytes:
    return _block(bo, 0x0A0D0D0A, struct.pack(bo + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def _idb(bo: str, linktype: int, tsresol: int | None = None, tsoffset: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += struct.pack(bo + "HHB3x", 9, 1, tsresol)
    if tsoffset is not None:
        opts += struct.pack(bo + "HHq", 14, 8, tsoffset)
    opts += struct.pack(bo + "HH", 0, 0) if opts else b""
    return _block(bo, 1, struct.pack(bo + "HHI", linktype, 0, 65535) + opts)


def _epb(bo: str, iface: int, units: int, frame: bytes, wirelen: int | None = None) -> bytes:
    head = struct.pack(
        bo + "IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(frame), wirelen or len(frame)
    )
    return _block(bo, 6, head + frame)


def test_pcapng_interfaces_resolutions_sections(tmp_path: Path) -> None:
    eth = bytes(LAYERS["tcp_syn"]())
    raw = bytes(LAYERS["ipv6_udp"]())[14:]
    sll = (
        bytes(CookedLinux(lladdrlen=6, src=b"\x02\0\0\0\0\x0a\0\0", proto=0x800))
        + bytes(LAYERS["icmp_echo"]())[14:]
    )
    blob = (
        _shb("<")
        + _idb("<", 1)
        + _idb("<", 101, tsresol=9)
        + _block("<", 4, b"\x00" * 8)  # name resolution block: skipped
        + _epb("<", 0, 1_700_000_000_500_000, eth)
        + _epb("<", 1, 1_700_000_001_250_000_000, raw)
        + _block("<", 3, struct.pack("<I", len(eth)) + eth)  # simple packet block
        + _epb("<", 7, 0, eth)  # no such interface
        + _shb(">")
        + _idb(">", 113, tsresol=0x80 | 10, tsoffset=100)
        + _epb(">", 0, 2048, sll, wirelen=1500)
        + _block(">", 5, b"\x00" * 4)  # interface statistics block: skipped
    )
    path = tmp_path / "multi.pcapng"
    path.write_bytes(blob)
    stats = DecodeStats()
    packets = np.concatenate([b.packets for b in iter_batches(path, stats=stats)])
    assert len(packets) == 5
    assert list(packets["dport"]) == [22, 547, 22, 0, 0]
    assert list(packets["ip_version"]) == [4, 6, 4, 0, 4]
    assert list(packets["error"]) == [0, 0, 0, DecodeError.UNSUPPORTED_LINKTYPE, 0]
    assert list(packets["icmp_type"]) == [0, 0, 0, 0, 8]
    assert packets["ts"][0] == pytest.approx(1_700_000_000.5)
    assert packets["ts"][1] == pytest.approx(1_700_000_001.25)
    assert packets["ts"][2] == 0.0
    assert packets["ts"][4] == pytest.approx(100 + 2.0)
    assert packets["wirelen"][4] == 1500
    assert packets["src_mac"][4] == mac_int(MAC_A)
    assert not stats.file_errors


@pytest.mark.parametrize("kind", ["pcap", "pcapng"])
def test_truncated_file_ends_cleanly(
    tmp_path: Path, packets: list[tuple[str, Packet]], kind: str
) -> None:
    full = tmp_path / f"full.{kind}"
    pkts = [p for _, p in packets]
    if kind == "pcap":
        wrpcap(str(full), pkts)
    else:
        with PcapNgWriter(str(full)) as writer:
            for p in pkts:
                writer.write(p)
    data = full.read_bytes()
    expected = len(rdpcap(str(full)))
    for cut in (len(data) - 1, len(data) - 30, len(data) // 2, 30, 25, 10, 3):
        path = tmp_path / f"cut{cut}.{kind}"
        path.write_bytes(data[:cut])
        stats = DecodeStats()
        got = sum(len(b) for b in iter_batches(path, stats=stats))
        assert got <= expected
        assert stats.file_errors[TRUNCATED_FILE] == 1, (cut, stats)
    empty = tmp_path / f"empty.{kind}"
    empty.write_bytes(b"")
    assert list(iter_batches(empty)) == []


def test_damaged_record_header_stops_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.pcap"
    wrpcap(str(path), [LAYERS["tcp_syn"]()] * 5)
    data = bytearray(path.read_bytes())
    rec = 16 + 54
    data[24 + 2 * rec + 8 : 24 + 2 * rec + 12] = struct.pack("<I", 0x7FFFFFFF)
    path.write_bytes(bytes(data))
    stats = DecodeStats()
    assert sum(len(b) for b in iter_batches(path, stats=stats)) == 2
    assert stats.file_errors == {BAD_RECORD_HEADER: 1}


def test_not_a_capture_raises(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a pcap\n")
    with pytest.raises(CaptureFormatError, match="not a pcap or pcapng"):
        list(iter_batches(path))


@pytest.mark.parametrize(
    "name", ["tcp_opts_data", "ipv6_ext_chain", "vlan_arp", "qinq_udp", "icmp_echo"]
)
def test_truncated_packets_set_errors(name: str) -> None:
    frame = bytes(LAYERS[name]())
    cuts = list(range(len(frame)))
    batch = decode_frames([frame[:c] for c in cuts] + [frame], [0.0] * (len(cuts) + 1), 1)
    errors = batch.packets["error"]
    assert errors[-1] == 0
    assert all(errors[:-1] != 0) or name in ("tcp_opts_data", "icmp_echo", "qinq_udp")
    # once the headers are complete, cutting the payload is not an error
    first_ok = int(np.argmax(errors == 0))
    assert all(errors[first_ok:] == 0)
    assert all(np.diff(errors[:first_ok].astype(int)) >= 0)  # L2 < L3 < L4 as the cut grows
    assert set(errors[:first_ok]) <= {1, 2, 3, 5}


def test_truncated_tcp_keeps_what_it_could_read() -> None:
    frame = bytes(LAYERS["tcp_syn"]())
    batch = decode_frames([frame[:38], frame[:48]], [0.0, 0.0], 1)
    assert list(batch.packets["error"]) == [DecodeError.TRUNCATED_L4] * 2
    assert list(batch.packets["dport"]) == [22, 22]
    assert list(batch.packets["tcp_flags"]) == [0, 2]


def test_bad_ip_and_arp_headers() -> None:
    ip_bad_version = bytearray(bytes(LAYERS["tcp_syn"]()))
    ip_bad_version[14] = 0x55
    ip_bad_ihl = bytearray(bytes(LAYERS["tcp_syn"]()))
    ip_bad_ihl[14] = 0x43
    arp_bad = bytearray(bytes(LAYERS["arp_request"]()))
    arp_bad[14 + 4] = 8  # hardware address length 8
    frames = [bytes(ip_bad_version), bytes(ip_bad_ihl), bytes(arp_bad)]
    batch = decode_frames(frames, [1.0, 2.0, 3.0], 1)
    assert list(batch.packets["error"]) == [4, 4, 5]
    assert not batch.packets["src4"].any()


def test_decode_frames_empty_and_offsets() -> None:
    assert len(decode_frames([], [], 1)) == 0
    frames = [bytes(LAYERS[n]()) for n in ("tcp_syn", "arp_request", "ipv6_udp")]
    batch = decode_frames(frames, [1.0, 2.0, 3.0], 1, source="eth9", first_index=40)
    assert [batch.raw(i) for i in range(3)] == frames
    assert batch.source == "eth9"
    assert batch.first_index == 40
    assert batch.payload(2) == b"dh"


@pytest.mark.shared_data
def test_shared_pcaps_match_scapy(shared_data: Path) -> None:
    """Every evaluation capture: the decoder agrees with scapy on each packet it calls clean."""
    for path in sorted((shared_data / "pcaps").glob("*.pcap*")):
        scapy_pkts = rdpcap(str(path))
        stats = DecodeStats()
        batches = list(iter_batches(path, batch_size=1000, stats=stats))
        assert stats.packets == len(scapy_pkts), path.name
        for batch in batches:
            for i in range(len(batch)):
                pkt = scapy_pkts[batch.first_index + i]
                if batch.packets["error"][i] or not isinstance(pkt, Ether):
                    continue
                check_against_scapy(batch, i, pkt, f"{path.name}#{batch.first_index + i}")


@pytest.mark.parametrize(
    ("endianness", "nano"), [(">", True), ("<", False)], ids=["be-ns", "le-us"]
)
def test_many_records_through_the_record_walk(tmp_path: Path, endianness: str, nano: bool) -> None:
    """Thousands of records of mixed sizes, both byte orders and timestamp resolutions."""
    rng = np.random.default_rng(7)
    path = tmp_path / "many.pcap"
    sizes = rng.choice([0, 10, 100, 1000, 1400], 3000)
    with PcapWriter(str(path), linktype=1, endianness=endianness, nano=nano) as writer:
        for i, size in enumerate(sizes):
            pkt = _eth() / IP(src=V4_A, dst=V4_B) / UDP(sport=i, dport=53) / Raw(b"x" * int(size))
            pkt.time = 1_700_000_000 + i / 1000
            writer.write(pkt)
    packets = np.concatenate([b.packets for b in iter_batches(path, batch_size=1000)])
    assert list(packets["sport"]) == list(range(3000))
    assert list(packets["payload_len"]) == list(sizes)
    assert np.allclose(packets["ts"], 1_700_000_000 + np.arange(3000) / 1000)


@pytest.mark.parametrize("damage", ["none", "truncated", "bad-header"])
@pytest.mark.parametrize("step", [40, 97, 1500, 7000])
def test_reading_in_steps_finds_the_same_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: int, damage: str
) -> None:
    """A pcap chunk is read and walked READ_STEP bytes at a time: records that straddle
    steps (or chunks), a damaged header and a cut end come out as from one walk."""
    rng = np.random.default_rng(11)
    path = tmp_path / "steps.pcap"
    sizes = rng.choice([0, 10, 100, 1000, 1400], 600)
    with PcapWriter(str(path), linktype=1) as writer:
        for i, size in enumerate(sizes):
            pkt = _eth() / IP(src=V4_A, dst=V4_B) / UDP(sport=i, dport=53) / Raw(b"x" * int(size))
            pkt.time = 1_700_000_000 + i / 1000
            writer.write(pkt)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "bad-header":  # the caplen of the 400th record
        at = 24
        for size in sizes[:399]:
            at += 16 + 42 + int(size)
        data[at + 8 : at + 12] = struct.pack("<I", 0x7FFFFFFF)
    path.write_bytes(bytes(data))

    def read() -> tuple[list[tuple[int, float, int, int]], DecodeStats]:
        stats = DecodeStats()
        rows = [
            (int(p["sport"]), float(p["ts"]), int(p["caplen"]), int(p["payload_len"]))
            for b in iter_batches(path, batch_size=64, stats=stats)
            for p in b.packets
        ]
        return rows, stats

    monkeypatch.setattr(decode, "CHUNK_BYTES", 20_000)  # many chunks, each in many steps
    monkeypatch.setattr(decode, "READ_STEP", 1 << 30)
    whole, whole_stats = read()
    monkeypatch.setattr(decode, "READ_STEP", step)
    stepped, stepped_stats = read()
    assert stepped == whole
    assert stepped_stats == whole_stats
    expected = {"none": 600, "truncated": None, "bad-header": 399}[damage]
    assert expected is None or len(whole) == expected
    assert (
        whole_stats.file_errors
        == {
            "none": {},
            "truncated": {TRUNCATED_FILE: 1},
            "bad-header": {BAD_RECORD_HEADER: 1},
        }[damage]
    )


@pytest.mark.parametrize("nano", [False, True])
def test_pcap_and_pcapng_give_the_same_packet_times(tmp_path: Path, nano: bool) -> None:
    """One instant, one float: a pcapng's time (64-bit units) is made as a pcap's (seconds
    plus fraction), so incident ids, which hash the first packet's time, do not depend on
    the file format; nanoseconds past 2**53 units are kept."""
    rng = np.random.default_rng(3)
    eth = bytes(LAYERS["tcp_syn"]())
    per = 10**9 if nano else 10**6
    secs = rng.integers(1_000_000_000, 2_000_000_000, 300).tolist()
    fracs = rng.integers(0, per, 300).tolist()
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    pcap = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, 65535, 1) + b"".join(
        struct.pack("<IIII", s, f, len(eth), len(eth)) + eth
        for s, f in zip(secs, fracs, strict=True)
    )
    ng = (
        _shb("<")
        + _idb("<", 1, tsresol=9 if nano else None)
        + b"".join(_epb("<", 0, s * per + f, eth) for s, f in zip(secs, fracs, strict=True))
    )
    (tmp_path / "a.pcap").write_bytes(pcap)
    (tmp_path / "a.pcapng").write_bytes(ng)
    ts_pcap = np.concatenate([b.packets["ts"] for b in iter_batches(tmp_path / "a.pcap")])
    ts_ng = np.concatenate([b.packets["ts"] for b in iter_batches(tmp_path / "a.pcapng")])
    assert ts_pcap.tolist() == ts_ng.tolist()  # bit for bit
    want = [s + f / per for s, f in zip(secs, fracs, strict=True)]
    assert np.abs(ts_ng - np.array(want)).max() < 1e-6
