"""Compressed captures (gzip, bzip2, xz, zstd, lz4) are read as they are, as tshark reads
them; a stream cut short or damaged ends the file where it breaks and is counted."""

from __future__ import annotations

import bz2
import errno
import gzip
import io
import json
import lzma
import os
import pty
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import lz4.frame
import numpy as np
import pytest
import zstandard
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import wrpcap, wrpcapng

from collectors.auditor.decode import (
    BAD_COMPRESSED_DATA,
    TRUNCATED_FILE,
    TRUNCATED_STREAM,
    CaptureFormatError,
    DecodeStats,
    _Decompressed,
    iter_batches,
)
from tests.unit.auditor.auditor_helpers import T0, at

REPO = Path(__file__).resolve().parents[3]
COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gz": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "zst": zstandard.ZstdCompressor().compress,
    "lz4": lz4.frame.compress,
}
PREFIX: dict[str, Callable[[bytes], bytes]] = {
    "gz": lambda data: zlib.decompressobj(31).decompress(data),
    "xz": lambda data: lzma.LZMADecompressor().decompress(data),
    "zst": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
    "lz4": lambda data: lz4.frame.LZ4FrameDecompressor().decompress(data),
}
"""What a decompressor gives from the start of a cut stream (bzip2: only whole blocks)."""


def _packets(count: int = 3000) -> list[object]:
    return [
        at(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src=f"10.0.{k % 7}.{1 + k % 200}", dst="10.9.0.1")
            / (TCP(sport=1024 + k, dport=443, flags="S") if k % 3 else UDP(sport=53, dport=5353))
            / Raw(bytes([k % 256]) * (k % 90)),
            T0 + k * 0.001,
        )
        for k in range(count)
    ]


def _read(path: Path) -> tuple[np.ndarray, DecodeStats]:
    stats = DecodeStats()
    batches = list(iter_batches(path, batch_size=1000, stats=stats))
    rows = np.concatenate([b.packets for b in batches]) if batches else np.empty(0)
    return rows, stats


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cap") / "trace.pcap"
    wrpcap(str(path), _packets())
    assert path.stat().st_size > 200_000  # several of the decompressor's 64 KiB pieces
    return path


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_compressed_capture_reads_as_the_plain_one(
    plain: Path, tmp_path: Path, suffix: str
) -> None:
    want, _ = _read(plain)
    packed = tmp_path / f"trace.pcap.{suffix}"
    packed.write_bytes(COMPRESSORS[suffix](plain.read_bytes()))
    got, stats = _read(packed)
    assert len(got) == len(want) == 3000
    assert got.tobytes() == want.tobytes()
    assert stats.file_errors == {}


_BOMB = """
import sys
from pathlib import Path
from collectors.auditor.decode import DecodeStats, _compression, _open_capture
with Path(sys.argv[1]).open("rb") as raw:
    fh = _open_capture(raw, _compression(raw), Path(sys.argv[1]), DecodeStats())
    first = fh.read(65536)
# VmHWM: this program's peak (ru_maxrss would keep the forking test process's, which
# survives execve)
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(len(first), int(peak) // 1024)
"""


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_decompression_bomb_is_inflated_a_bounded_piece_at_a_time(
    tmp_path: Path, suffix: str
) -> None:
    """256 MB of zeros is a few KB to a few hundred KB compressed: the first read inflates
    a piece of it, not all of it (measured: the process's peak memory)."""
    zeros = bytes(256 << 20)
    bomb = tmp_path / f"bomb.pcap.{suffix}"
    bomb.write_bytes(COMPRESSORS[suffix](zeros))
    del zeros
    done = subprocess.run(
        [sys.executable, "-c", _BOMB, str(bomb)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    first, peak_mb = map(int, done.stdout.split())
    assert first == 65536
    assert peak_mb < 200, f"{suffix}: {peak_mb} MB to read 64 KiB"


def test_zstd_frames_joined_and_a_stream_ended_between_frames(plain: Path, tmp_path: Path) -> None:
    data = plain.read_bytes()
    frames = tmp_path / "frames.pcap.zst"  # zstd -d reads frames one after the other
    zstd = zstandard.ZstdCompressor()
    frames.write_bytes(zstd.compress(data[:77_777]) + zstd.compress(data[77_777:]))
    got, stats = _read(frames)
    assert got.tobytes() == _read(plain)[0].tobytes()
    assert stats.file_errors == {}
    first = tmp_path / "first.pcap.zst"  # ends where a frame ends: not a cut stream
    first.write_bytes(zstd.compress(data[:77_777]))
    assert TRUNCATED_STREAM not in _read(first)[1].file_errors


def test_pcapng_and_gzip_members_joined(plain: Path, tmp_path: Path) -> None:
    ng = tmp_path / "trace.pcapng"
    wrpcapng(str(ng), _packets(50))
    ng_gz = tmp_path / "trace.pcapng.gz"
    ng_gz.write_bytes(gzip.compress(ng.read_bytes()))
    assert _read(ng_gz)[0].tobytes() == _read(ng)[0].tobytes()
    # two gzip members one after the other (cat a.gz b.gz): one stream, as gzip reads it
    data = plain.read_bytes()
    joined = tmp_path / "joined.pcap.gz"
    joined.write_bytes(gzip.compress(data[:100_001]) + gzip.compress(data[100_001:]))
    assert _read(joined)[0].tobytes() == _read(plain)[0].tobytes()


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_cut_stream_keeps_what_came_before(plain: Path, tmp_path: Path, suffix: str) -> None:
    packed = COMPRESSORS[suffix](plain.read_bytes())
    cut = tmp_path / f"cut.pcap.{suffix}"
    cut.write_bytes(packed[: len(packed) * 2 // 3])
    got, stats = _read(cut)
    want, _ = _read(plain)
    # (zstandard ends a file cut inside a frame without a word: only the record cut in
    # two tells, docs/decisions.md 125)
    assert stats.file_errors[TRUNCATED_STREAM] == (0 if suffix == "zst" else 1)
    if suffix == "zst":
        assert stats.file_errors[TRUNCATED_FILE] == 1
    # what was decompressed before the cut is decoded (bzip2 gives a block only whole: its
    # one block here is lost); at most a piece of 64 KiB is lost with the break
    if suffix != "bz2":
        assert 1000 < len(got) < len(want)
        whole = len(got) - stats.file_errors[TRUNCATED_FILE]  # the last record may be cut
        assert got[:whole].tobytes() == want[:whole].tobytes()
        # against every whole record a decompressor can give from the cut stream
        prefix = PREFIX[suffix](packed[: len(packed) * 2 // 3])
        _assert_lost_at_most_a_piece(got[:whole], want[: _records_in(prefix)])


def _records_in(pcap: bytes) -> int:
    """Whole records in the start of a pcap file (little-endian, as scapy writes)."""
    pos, count = 24, 0
    while pos + 16 <= len(pcap):
        pos += 16 + int.from_bytes(pcap[pos + 8 : pos + 12], "little")
        if pos > len(pcap):
            break
        count += 1
    return count


def _assert_lost_at_most_a_piece(got: np.ndarray, want: np.ndarray) -> None:
    """The records of ``want`` missing from ``got`` hold at most one 64 KiB piece of the
    stream (and the BufferedReader's 8 KiB, and a record cut in two)."""
    assert len(got) <= len(want)
    lost = int(want["caplen"][len(got) :].sum()) + 16 * (len(want) - len(got))
    assert lost <= (64 + 8) * 1024 + 200


def test_a_damaged_gzip_trailer_is_counted_after_the_packets(plain: Path, tmp_path: Path) -> None:
    packed = bytearray(gzip.compress(plain.read_bytes()))
    packed[-6] ^= 0xFF  # the CRC-32 of the trailer
    bad = tmp_path / "bad.pcap.gz"
    bad.write_bytes(bytes(packed))
    got, stats = _read(bad)
    assert stats.file_errors[BAD_COMPRESSED_DATA] == 1
    want, _ = _read(plain)
    assert len(got) > 2000
    _assert_lost_at_most_a_piece(got, want)


@pytest.mark.parametrize("suffix", sorted(COMPRESSORS))
def test_a_compressed_file_that_is_not_a_capture_is_named(tmp_path: Path, suffix: str) -> None:
    text = tmp_path / f"notes.txt.{suffix}"
    text.write_bytes(COMPRESSORS[suffix](b"hello, this is not a capture"))
    kind = {"gz": "gzip", "bz2": "bzip2", "zst": "zstd"}.get(suffix, suffix)
    with pytest.raises(
        CaptureFormatError, match=rf"{kind}-compressed, and then starts with 68656c6c"
    ):
        _read(text)


def test_an_io_error_of_the_file_itself_is_raised() -> None:
    class Failing(io.BufferedIOBase):
        def __init__(self, exc: Exception) -> None:
            self.exc = exc

        def readinto(self, buffer: object) -> int:  # noqa: ARG002  (the stream's signature)
            raise self.exc

    stats = DecodeStats()
    disk = _Decompressed(Failing(OSError(errno.EIO, "I/O error")), (), "x", stats)
    with pytest.raises(OSError, match="I/O error"):
        disk.readinto(bytearray(10))
    damaged = _Decompressed(Failing(OSError("Invalid data stream")), (), "x", stats)
    assert damaged.readinto(bytearray(10)) == 0
    assert damaged.readinto(bytearray(10)) == 0  # stays ended, counted once
    other = _Decompressed(Failing(RuntimeError("a bug")), (lzma.LZMAError,), "x", stats)
    with pytest.raises(RuntimeError):
        other.readinto(bytearray(10))
    assert stats.file_errors == {BAD_COMPRESSED_DATA: 1}


def _auditor(args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "netwarden.cli", "auditor", *args],
        cwd=REPO, input=stdin, capture_output=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_command_reads_standard_input_plain_or_compressed(plain: Path) -> None:
    """``--pcap -`` (``tcpdump -w - | netwarden auditor --pcap -``, as tshark and zeek
    read ``-r -``): the same summary as the file, and a compressed stream is told too."""
    want = json.loads(_auditor(["--pcap", str(plain), "--json"]).stdout)
    for data in (plain.read_bytes(), gzip.compress(plain.read_bytes())):
        done = _auditor(["--pcap", "-", "--json"], stdin=data)
        assert done.returncode == 0, done.stderr
        got = json.loads(done.stdout)
        assert got["packets"] == want["packets"] == 3000
        assert got["events_by_detector"] == want["events_by_detector"]
    twice = _auditor(["--pcap", "-", "--pcap", "-"])
    assert twice.returncode == 2
    assert b"standard input can be read once" in twice.stderr
    folder = _auditor(["--pcap", str(plain.parent)])
    assert folder.returncode == 2
    assert b"a directory" in folder.stderr
    controller, terminal = pty.openpty()  # a user who forgot the pipe: a clear error
    try:
        typed = subprocess.run(
            [sys.executable, "-m", "netwarden.cli", "auditor", "--pcap", "-"],
            cwd=REPO, stdin=terminal, capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(controller)
        os.close(terminal)
    assert typed.returncode == 2
    assert b"standard input is a terminal" in typed.stderr


def test_gzip_is_read_with_the_standard_library_where_isal_is_missing(
    plain: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    packed = gzip.compress(plain.read_bytes())
    whole, cut = tmp_path / "whole.pcap.gz", tmp_path / "cut.pcap.gz"
    whole.write_bytes(packed)
    cut.write_bytes(packed[: len(packed) // 2])
    with_isal = _read(whole)[0].tobytes(), _read(cut)[1].file_errors
    monkeypatch.setitem(sys.modules, "isal", None)  # import isal raises ImportError
    assert (_read(whole)[0].tobytes(), _read(cut)[1].file_errors) == with_isal
    assert with_isal[1] == {TRUNCATED_STREAM: 1, TRUNCATED_FILE: 1}
