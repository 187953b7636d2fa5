"""``nw_decode`` (native.c) against the numpy decoder it replaces: the same bytes, always.

The numpy code of headers.py is the specification. The corpus, over 100,000
packets, is built to reach every branch of both: the layer combinations of the
decoder and fuzz tests plus hand-made edge cases (QinQ, 802.3 lengths, IPv6
extension chains up to and past 8, fragments, TCP segmentation offload lengths
of 0, payloads over 65535 bytes), each under every supported link type; every
truncation of those frames; scapy ``fuzz()`` one layer at a time; bytes
overwritten at random; and noise. Random bytes lie between packets, so the reads
past a packet's captured length that the numpy windows make see data, not zeros.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    PadN,
)
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether
from scapy.packet import Packet, Raw

from collectors.auditor import headers, native
from collectors.auditor.batch import PACKET_DTYPE, DecodeError
from collectors.auditor.decode import iter_batches
from collectors.auditor.headers import PAD, SUPPORTED_LINKTYPES, decode_headers
from tests.unit.auditor.test_decode import LAYERS
from tests.unit.auditor.test_decode_fuzz import STACKS, _fuzzed, _mutate

pytestmark = pytest.mark.skipif(native.library() is None, reason="no C compiler: no nw_decode")

SEED = 20261128
Records = npt.NDArray[np.void]
U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
Corpus = tuple[list[int], list[bytes]]  # link types and frames
Laid = tuple[U8, I64, I64, list[int]]  # buffer, starts, lengths, link types
UNSUPPORTED = (2, 105, 127, 0xFFFF, -1, 1 << 40)

A4, B4 = "10.1.2.3", "192.0.2.200"
A6, B6 = "2001:db8::1", "fe80::abcd:1"


def _eth(*layers: Packet, tags: tuple[Packet, ...] = ()) -> bytes:
    pkt: Packet = Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b")
    for layer in (*tags, *layers):
        pkt = pkt / layer
    return bytes(pkt)


def _ipv6_chain(kinds: list[int], last: int, tail: bytes) -> bytes:
    """IPv6, 8-byte extension headers of ``kinds``, then protocol ``last`` carrying ``tail``.

    A length field of 0 means 8 bytes for every kind (AH counts 4-byte units minus 2).
    """
    chain = b"".join(bytes([nxt, 0]) + bytes(6) for nxt in [*kinds[1:], last])
    return _eth(IPv6(src=A6, dst=B6, nh=kinds[0]) / Raw(chain + tail))


def _edge_frames() -> list[bytes]:
    """Ethernet frames for the corners of the specification, beyond the decoder tests' layers."""
    tcp = bytes(TCP(sport=1234, dport=80))
    frames = [
        _eth(IP(src=A4, dst=B4, len=0) / TCP(dport=443) / Raw(b"x" * 100)),  # TSO
        _eth(IPv6(src=A6, dst=B6, plen=0) / UDP(dport=53) / Raw(b"y" * 30)),
        _eth(IP(src=A4, dst=B4, ihl=4) / TCP()),
        _eth(IP(src=A4, dst=B4, len=12) / TCP()),
        _eth(IP(src=A4, dst=B4, version=6) / UDP()),
        _eth(IPv6(src=A6, dst=B6, version=4) / UDP()),
        _eth(IP(src=A4, dst=B4, len=2000) / UDP() / Raw(b"short")),  # length beyond capture
        _eth(IP(src=A4, dst=B4, flags="MF", frag=0) / TCP(dport=22)),
        _eth(IP(src=A4, dst=B4, frag=100, proto=6) / Raw(b"z" * 40)),
        _eth(IP(src=A4, dst=B4) / TCP(dataofs=4)),
        _eth(IP(src=A4, dst=B4) / TCP(dataofs=15) / Raw(b"o" * 60)),
        _eth(IP(src=A4, dst=B4, proto=17) / Raw(b"\x00\x35")),
        _eth(IP(src=A4, dst=B4, proto=1) / Raw(b"\x08")),
        _eth(IP(src=A4, dst=B4) / ICMP(type=11, code=1) / Raw(b"i" * 28)),
        _eth(IPv6(src=A6, dst=B6) / ICMPv6EchoRequest(data=b"e" * 10)),
        _eth(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(offset=9, nh=6) / Raw(tcp)),
        _eth(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(offset=1, nh=6) / Raw(tcp)),
        _eth(IPv6(src=A6, dst=B6) / IPv6ExtHdrFragment(offset=0, m=1, res2=3, nh=6) / Raw(tcp)),
        _eth(IP(src=A4, dst=B4, frag=1, proto=6) / Raw(tcp)),
        _eth(IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / TCP()),
        _eth(IPv6(src=A6, dst=B6) / IPv6ExtHdrHopByHop(options=[PadN(optdata=bytes(30))]) / UDP()),
        _eth(ARP(hwtype=6, ptype=0x86DD, hwlen=6, plen=4)),
        _eth(ARP(op=2, psrc=A4, pdst=B4)),
        Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x0806).build()
        + b"\x00\x01\x08\x00\x06\x04",  # ARP cut short
        _eth(IP(src=A4, dst=B4) / UDP(), tags=(Dot1AD(vlan=100), Dot1Q(vlan=200))),
        _eth(IP(src=A4, dst=B4) / UDP(), tags=(Dot1Q(vlan=1, type=0x9100), Dot1Q(vlan=2))),
        _eth(IP(src=A4, dst=B4), tags=(Dot1AD(vlan=5), Dot1Q(vlan=6), Dot1Q(vlan=7))),
        _eth(IPv6(src=A6, dst=B6) / TCP(), tags=(Dot1Q(vlan=4095, prio=7),)),
        Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x05DC).build() + b"\x42" * 40,
        Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b", type=0x0000).build() + b"\x45" * 40,
        # payloads past the dtype's 65535
        _eth(IP(src=A4, dst=B4, len=0) / TCP() / Raw(b"b" * 70_000)),
        _eth(Raw(b"n" * 70_000)),
    ]
    for kinds in ([0, 43, 60], [51, 135], [139, 140, 60], [0] * 8, [60] * 9, [44, 44]):
        frames.append(_ipv6_chain(kinds, 6, tcp))
    frames.append(_ipv6_chain([60, 51], 17, bytes(UDP(dport=53))))
    return frames


def _scapy_frames() -> list[bytes]:
    """The decoder tests' layer combinations, the fuzz test's stacks (sane values), the edge cases."""
    frames = [bytes(build()) for build in LAYERS.values()]
    for stack in STACKS:
        pkt = stack[0]()
        for layer in stack[1:]:
            pkt = pkt / layer()
        frames.append(bytes(pkt))
    return frames + _edge_frames()


def _under(linktype: int, eth: bytes) -> bytes:
    """The frame ``eth`` as link type ``linktype`` would carry it."""
    proto, l3 = eth[12:14], eth[14:]
    wrap: dict[int, Callable[[], bytes]] = {
        1: lambda: eth,
        113: lambda: struct.pack(">HHH", 0, 1, 6) + eth[6:12] + b"\0\0" + proto + l3,
        276: lambda: proto + b"\0\0" + struct.pack(">IHBB", 1, 1, 0, 6) + eth[6:12] + b"\0\0" + l3,
        0: lambda: struct.pack("<I", 2) + l3,
        108: lambda: struct.pack(">I", 2) + l3,
    }
    return wrap.get(linktype, lambda: l3)()


def _every_linktype(frames: list[bytes]) -> Corpus:
    pairs = [(lt, _under(lt, f)) for f in frames for lt in sorted(SUPPORTED_LINKTYPES)]
    return [lt for lt, _ in pairs], [f for _, f in pairs]


def _truncations(corpus: Corpus) -> Corpus:
    """Every prefix (up to 200 bytes) of every frame."""
    lts, frames = [], []
    for lt, f in zip(*corpus, strict=True):
        for cut in range(min(len(f), 200)):
            lts.append(lt)
            frames.append(f[:cut])
    return lts, frames


def _build_corpus() -> Corpus:
    """Whole frames, their truncations, fuzzed, mutated (random link types) and noise."""
    rng = np.random.default_rng(SEED)
    built = _scapy_frames()
    whole = _every_linktype(built)
    cut = _truncations(whole)
    fuzzed = _fuzzed(rng, per_layer=40)
    fuzzed_all = _every_linktype(fuzzed)
    mutated = _mutate(rng, fuzzed + built, 50_000)
    mutated_lts = list(rng.choice(sorted(SUPPORTED_LINKTYPES), len(mutated)))
    noise_lens = rng.integers(0, 120, 10_000)
    noise = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in noise_lens]
    noise_lts = list(rng.choice(sorted(SUPPORTED_LINKTYPES), len(noise)))
    lts = whole[0] + cut[0] + fuzzed_all[0] + mutated_lts + noise_lts
    frames = whole[1] + cut[1] + fuzzed_all[1] + mutated + noise
    return [int(lt) for lt in lts], frames


def _layout(frames: list[bytes], rng: np.random.Generator) -> tuple[U8, I64, I64]:
    """One buffer holding ``frames`` with 0-24 random bytes after each, then ``PAD`` zeros."""
    gaps = rng.integers(0, 25, len(frames))
    lens = np.array([len(f) for f in frames], np.int64)
    starts = np.zeros(len(frames), np.int64)
    np.cumsum((lens + gaps)[:-1], out=starts[1:])
    parts = []
    for f, g in zip(frames, gaps, strict=True):
        parts += [f, rng.integers(0, 256, g, dtype=np.uint8).tobytes()]
    buf = np.frombuffer(b"".join(parts) + bytes(PAD), np.uint8)
    return buf, starts, lens


@pytest.fixture(scope="module")
def corpus() -> Laid:
    lts, frames = _build_corpus()
    buf, starts, lens = _layout(frames, np.random.default_rng(SEED + 1))
    return buf, starts, lens, lts


def _assert_same(compiled: Records | None, reference: Records) -> None:
    assert compiled is not None, "nw_decode declined a batch inside its contract"
    assert compiled.dtype == reference.dtype == PACKET_DTYPE
    for name in PACKET_DTYPE.names or ():
        bad = np.flatnonzero(compiled[name] != reference[name])
        assert not len(bad), (
            f"{name} differs in {len(bad)} packets, first #{bad[0]}: "
            f"C {compiled[bad[0]]!r}, numpy {reference[bad[0]]!r}"
        )
    assert np.array_equal(compiled, reference)
    assert compiled.tobytes() == reference.tobytes()


def _both(buf: U8, starts: I64, lens: I64, linktypes: int | npt.NDArray[np.integer]) -> Records:
    """Decode with both paths, check they agree, return the records."""
    reference = headers._decode_numpy(buf, starts, lens, linktypes)
    _assert_same(headers._decode_compiled(buf, starts, lens, linktypes), reference)
    return reference


def test_corpus_size_and_reach(corpus: Laid) -> None:
    """The corpus is large and reaches every error and the fields' corners (else it proves little)."""
    buf, starts, lens, lts = corpus
    assert len(starts) >= 100_000
    rec = _both(buf, starts, lens, np.array(lts))
    assert set(np.unique(rec["error"])) == {int(e) for e in DecodeError} - {
        DecodeError.UNSUPPORTED_LINKTYPE
    }
    ok = rec["error"] == 0
    assert {4, 6} <= set(rec["ip_version"][ok])
    assert {1, 6, 17, 58} <= set(rec["proto"][ok])
    assert (rec["vlan"][ok] >= 0).sum() > 100
    assert (rec["arp_op"][ok] > 0).sum() > 10
    assert (rec["payload_len"] == 0xFFFF).any()
    assert (ok & (rec["ethertype"] < 0x0600) & (rec["ethertype"] > 0)).any()  # 802.3
    assert (ok & (rec["ip_version"] == 6) & (rec["payload_off"] > 100)).any()  # long chains


@pytest.mark.parametrize(
    "linktype",
    [*sorted(SUPPORTED_LINKTYPES), *UNSUPPORTED, np.uint16(113), np.int64(229)],
    ids=str,
)
def test_one_linktype_for_all(corpus: Laid, linktype: int) -> None:
    buf, starts, lens, _ = corpus
    _both(buf, starts, lens, linktype)


def test_per_packet_linktypes(corpus: Laid) -> None:
    """Each frame's own link type, some replaced by another or an unsupported one."""
    buf, starts, lens, lts = corpus
    rng = np.random.default_rng(SEED + 2)
    mixed = np.array(lts, np.int64)
    other = rng.random(len(mixed)) < 0.1
    mixed[other] = rng.choice([*SUPPORTED_LINKTYPES, 2, 127, -1, 1 << 40], other.sum())
    rec = _both(buf, starts, lens, mixed)
    assert (rec["error"] == DecodeError.UNSUPPORTED_LINKTYPE).sum() > 1000
    _both(buf, starts, lens, (mixed & 0xFFFF).astype(np.uint32))
    _both(buf, starts, lens, np.array(lts, np.int16))


def test_small_batches_and_single_packets(corpus: Laid) -> None:
    buf, starts, lens, lts = corpus
    types = np.array(lts)
    for lo in range(0, 5000, 997):
        _both(buf, starts[lo : lo + 1], lens[lo : lo + 1], types[lo : lo + 1])
        _both(buf, starts[lo : lo + 333], lens[lo : lo + 333], types[lo : lo + 333])


def test_decode_headers_uses_the_kernel(corpus: Laid, monkeypatch: pytest.MonkeyPatch) -> None:
    buf, starts, lens, lts = corpus
    reference = headers._decode_numpy(buf, starts, lens, np.array(lts))

    def refuse(*args: object) -> Records:
        raise AssertionError("the numpy decoder ran although nw_decode is available")

    monkeypatch.setattr(headers, "_decode_numpy", refuse)
    _assert_same(decode_headers(buf, starts, lens, np.array(lts)), reference)


def test_without_the_kernel_the_numpy_code_decodes(
    corpus: Laid, monkeypatch: pytest.MonkeyPatch
) -> None:
    buf, starts, lens, lts = corpus
    compiled = decode_headers(buf, starts, lens, np.array(lts))
    calls = []
    numpy_decode = headers._decode_numpy

    def counted(*args: object) -> Records:
        calls.append(1)
        return numpy_decode(*args)

    monkeypatch.setattr(native, "library", lambda: None)
    monkeypatch.setattr(headers, "_decode_numpy", counted)
    _assert_same(compiled, decode_headers(buf, starts, lens, np.array(lts)))
    assert calls == [1]


def test_capture_files_decode_the_same_without_the_kernel(
    tmp_path: Path, corpus: Laid, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through decode.py's own buffers: record headers, not random bytes, follow each packet."""
    buf, starts, lens, lts = corpus
    for linktype in sorted(SUPPORTED_LINKTYPES):
        picked = [i for i, lt in enumerate(lts) if lt == linktype][:20_000]
        path = tmp_path / f"lt{linktype}.pcap"
        records = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
        for i in picked:
            frame = buf[starts[i] : starts[i] + lens[i]].tobytes()
            records += [struct.pack("<IIII", 1_764_000_000, i, len(frame), len(frame)), frame]
        path.write_bytes(b"".join(records))
        compiled = [b.packets for b in iter_batches(path, batch_size=4096)]
        with monkeypatch.context() as patch:
            patch.setattr(native, "library", lambda: None)
            reference = [b.packets for b in iter_batches(path, batch_size=4096)]
        assert len(compiled) == len(reference) > 0
        _assert_same(np.concatenate(compiled), np.concatenate(reference))


def test_packets_outside_the_kernels_contract_go_to_numpy() -> None:
    """Too close to the buffer's end for the kernel's windows, or bad offsets: numpy decides."""
    frame = _eth(IP(src=A4, dst=B4) / TCP(dport=22))  # numpy's windows fit with no padding
    buf = np.frombuffer(frame, np.uint8)
    starts, lens = np.array([0]), np.array([len(frame)])
    assert headers._decode_compiled(buf, starts, lens, 1) is None
    rec = decode_headers(buf, starts, lens, 1)
    assert (int(rec["error"][0]), int(rec["dport"][0])) == (0, 22)
    padded = np.frombuffer(frame + bytes(PAD), np.uint8)
    assert headers._decode_compiled(padded, np.array([-1]), lens, 1) is None
    assert headers._decode_compiled(padded, starts, np.array([-5]), 1) is None
    assert headers._decode_compiled(padded, starts, np.array([len(frame) + PAD]), 1) is None
    assert headers._decode_compiled(padded, starts, lens, np.array([1.0])) is None
    assert headers._decode_compiled(padded, starts, lens, np.array([1, 1])) is None
    _assert_same(headers._decode_compiled(padded, starts, lens, 1), rec)


def test_no_packets() -> None:
    rec = decode_headers(np.zeros(PAD, np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int64), 1)
    assert rec.dtype == PACKET_DTYPE
    assert len(rec) == 0


class _OtherLayout:
    """A stand-in library built for another record layout."""

    @staticmethod
    def nw_decode_layout() -> bytes:
        return b"caplen:8:u4 itemsize:12"


def test_a_kernel_for_another_record_layout_is_refused() -> None:
    with pytest.raises(RuntimeError, match=r"update NW_FIELDS in native\.c"):
        headers._check_layout(_OtherLayout())
