"""Robustness: 100,000+ fuzzed, mutated, truncated and random packets, and damaged files.

scapy's ``fuzz()`` builds a few thousand packets with random field values, one
layer at a time; numpy then mutates their bytes (random bytes overwritten, random
cuts) to reach the packet count cheaply. Whatever comes in, no exception escapes
the decoder, every problem is counted, and the decoded offsets stay inside the
captured bytes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from scapy.layers.dns import DNS
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6EchoRequest,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Packet, fuzz
from scapy.utils import PcapNgWriter

from collectors.auditor.batch import PACKET_DTYPE, DecodeError
from collectors.auditor.decode import (
    BAD_RECORD_HEADER,
    TRUNCATED_FILE,
    DecodeStats,
    decode_frames,
    iter_batches,
)
from tests.unit.auditor.decode_expect import check_against_scapy

TOTAL = 120_000
SEED = 20261127

# Each stack is fuzzed one layer at a time (the others keep sane values).
STACKS: list[list[Callable[[], Packet]]] = [
    [Ether, IP, TCP],
    [Ether, IP, UDP, DNS],
    [Ether, IP, ICMP],
    [Ether, ARP],
    [Ether, Dot1Q, IP, TCP],
    [Ether, Dot1Q, Dot1Q, IP, UDP],
    [Ether, IPv6, TCP],
    [Ether, IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, UDP],
    [Ether, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, TCP],
    [Ether, IPv6, ICMPv6EchoRequest],
]
_BUILD_ERRORS = (struct.error, ValueError, TypeError, OverflowError, IndexError, AttributeError)


def _fuzzed(rng: np.random.Generator, per_layer: int) -> list[bytes]:
    random.seed(int(rng.integers(1 << 31)))  # fuzz() draws from the random module
    frames = []
    for stack in STACKS:
        for target in range(len(stack)):
            for _ in range(per_layer):
                pkt = None
                for i, layer in enumerate(stack):
                    part = fuzz(layer()) if i == target else layer()
                    pkt = part if pkt is None else pkt / part
                try:  # fuzz() can draw values scapy itself cannot build: skip those
                    frames.append(bytes(pkt))
                except _BUILD_ERRORS:
                    continue
    rng.shuffle(frames)  # type: ignore[arg-type]
    return frames


def _mutate(rng: np.random.Generator, frames: list[bytes], total: int) -> list[bytes]:
    """``total`` frames: originals, cut at random, bytes overwritten, and pure noise."""
    width = 160
    base = np.zeros((len(frames), width), np.uint8)
    lens = np.array([min(len(f), width) for f in frames])
    for i, f in enumerate(frames):
        base[i, : lens[i]] = np.frombuffer(f[:width], np.uint8)
    pick = rng.integers(0, len(frames), total)
    out = base[pick]
    length = lens[pick]
    kind = rng.integers(0, 4, total)  # 0 keep, 1 cut, 2 overwrite bytes, 3 noise
    cut = kind == 1
    length[cut] = rng.integers(0, length[cut] + 1)
    flip = np.flatnonzero(kind == 2)
    for _ in range(4):
        out[flip, rng.integers(0, width, len(flip))] = rng.integers(
            0, 256, len(flip), dtype=np.uint8
        )
    noise = np.flatnonzero(kind == 3)
    out[noise] = rng.integers(0, 256, (len(noise), width), dtype=np.uint8)
    length[noise] = rng.integers(0, width + 1, len(noise))
    return [out[i, : length[i]].tobytes() for i in range(total)]


@pytest.fixture(scope="module")
def fuzzed() -> list[bytes]:
    return _fuzzed(np.random.default_rng(SEED), per_layer=75)


@pytest.fixture(scope="module")
def frames(fuzzed: list[bytes]) -> list[bytes]:
    return _mutate(np.random.default_rng(SEED + 10), fuzzed, TOTAL)


def test_fuzzed_packets_decoded_cleanly_agree_with_scapy(fuzzed: list[bytes]) -> None:
    """Differential: every fuzzed packet the decoder calls clean, field by field against scapy."""
    batch = decode_frames(fuzzed, np.zeros(len(fuzzed)), 1)
    clean = np.flatnonzero(batch.packets["error"] == 0)
    assert len(clean) > len(fuzzed) // 2
    for i in clean:
        check_against_scapy(batch, int(i), Ether(fuzzed[i]), f"fuzzed #{i}")


def _invariants(packets: npt.NDArray[np.void]) -> None:
    assert packets.dtype == PACKET_DTYPE
    cap = packets["caplen"].astype(np.int64)
    off = packets["payload_off"].astype(np.int64)
    assert np.all(off <= np.maximum(cap, 0))
    assert np.all(off + packets["payload_len"] <= cap)
    ok = packets["error"] == 0
    assert np.all(packets["ip_version"][ok & (packets["ethertype"] == 0x0800)] == 4)
    assert np.all(packets["ip_version"][ok & (packets["ethertype"] == 0x86DD)] == 6)
    assert np.all(packets["src4"][packets["ip_version"] != 4] == 0)
    assert np.all(packets["sport"][~np.isin(packets["proto"], (6, 17))] == 0)
    assert set(np.unique(packets["error"])) <= {int(e) for e in DecodeError}


def test_fuzzed_frames_never_raise(frames: list[bytes]) -> None:
    assert len(frames) >= 100_000
    stats = DecodeStats()
    for linktype in (1, 113, 101, 0, 276):
        for lo in range(0, len(frames), 20_000):
            chunk = frames[lo : lo + 20_000]
            batch = decode_frames(chunk, np.zeros(len(chunk)), linktype)
            stats.add(batch.packets)
            _invariants(batch.packets)
            if linktype == 1:
                raws = [batch.raw(i) for i in range(0, len(chunk), 997)]
                assert raws == chunk[::997]
    assert stats.packets == 5 * len(frames)
    for kind in ("TRUNCATED_L2", "TRUNCATED_L3", "TRUNCATED_L4", "BAD_IP_HEADER", "BAD_ARP"):
        assert stats.errors[kind] > 0, kind
    assert stats.errors["OK"] == 0
    assert 0 < stats.decode_errors < stats.packets


def _write_pcap(path: Path, frames: list[bytes], rng: np.random.Generator) -> None:
    parts = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for i, f in enumerate(frames):
        parts.append(
            struct.pack(
                "<IIII", 1_764_000_000 + i // 1000, int(rng.integers(0, 10**6)), len(f), len(f)
            )
        )
        parts.append(f)
    path.write_bytes(b"".join(parts))


def test_pcap_files_of_fuzzed_frames(tmp_path: Path, frames: list[bytes]) -> None:
    rng = np.random.default_rng(SEED + 1)
    path = tmp_path / "fuzz.pcap"
    _write_pcap(path, frames, rng)
    stats = DecodeStats()
    got = 0
    for batch in iter_batches(path, batch_size=8192, stats=stats):
        _invariants(batch.packets)
        got += len(batch)
    assert got == len(frames)
    assert not stats.file_errors
    data = path.read_bytes()
    cuts = rng.integers(25, len(data), 40)
    truncated = 0
    for cut in cuts:
        part = tmp_path / "cut.pcap"
        part.write_bytes(data[:cut])
        st = DecodeStats()
        for batch in iter_batches(part, batch_size=8192, stats=st):
            _invariants(batch.packets)
        assert st.packets <= len(frames)
        truncated += st.file_errors[TRUNCATED_FILE]
    assert truncated > 0


def test_damaged_pcap_headers_and_random_files(tmp_path: Path, frames: list[bytes]) -> None:
    rng = np.random.default_rng(SEED + 2)
    path = tmp_path / "base.pcap"
    _write_pcap(path, frames[:5000], rng)
    data = np.frombuffer(path.read_bytes(), np.uint8)
    damaged_runs = 0
    for trial in range(30):
        bad = data.copy()
        at = rng.integers(24, len(bad), 20)
        bad[at] = rng.integers(0, 256, len(at), dtype=np.uint8)
        target = tmp_path / f"bad{trial}.pcap"
        target.write_bytes(bad.tobytes())
        st = DecodeStats()
        for batch in iter_batches(target, batch_size=4096, stats=st):
            _invariants(batch.packets)
        damaged_runs += st.file_errors[BAD_RECORD_HEADER] + st.file_errors[TRUNCATED_FILE]
    assert damaged_runs > 0
    for trial in range(10):  # a valid global header, then noise
        target = tmp_path / f"noise{trial}.pcap"
        noise = rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes()
        target.write_bytes(data[:24].tobytes() + noise)
        st = DecodeStats()
        for batch in iter_batches(target, stats=st):
            _invariants(batch.packets)
        assert sum(st.file_errors.values()) >= 1


def test_damaged_pcapng(tmp_path: Path, frames: list[bytes]) -> None:
    rng = np.random.default_rng(SEED + 3)
    path = tmp_path / "base.pcapng"
    with PcapNgWriter(str(path)) as writer:
        for f in frames[:3000]:
            writer.write(Ether(f) if len(f) >= 14 else Ether() / f)
    data = np.frombuffer(path.read_bytes(), np.uint8)
    st = DecodeStats()
    assert sum(len(b) for b in iter_batches(path, stats=st)) == 3000
    problems = 0
    for trial in range(30):
        bad = data.copy()
        at = rng.integers(4, len(bad), 10)  # keep the magic: the file stays a pcapng
        bad[at] = rng.integers(0, 256, len(at), dtype=np.uint8)
        cut = int(rng.integers(len(bad) // 2, len(bad) + 1))
        target = tmp_path / f"bad{trial}.pcapng"
        target.write_bytes(bad[:cut].tobytes())
        st = DecodeStats()
        for batch in iter_batches(target, batch_size=1000, stats=st):
            _invariants(batch.packets)
        problems += sum(st.file_errors.values())
    assert problems > 0
