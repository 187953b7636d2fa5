"""The compiled record walk finds exactly the offsets the one-by-one Python walk finds."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from collectors.auditor import native
from collectors.auditor.walk import ChainFormat, walk_chain, walk_scalar

PCAP = ChainFormat("<", len_at=8, add=16, header=16, max_len=262144)
PCAPNG = ChainFormat("<", len_at=4, add=0, header=8, max_len=1 << 24, min_len=12, align=4)
TS = 1_764_000_000


def _pcap_records(rng: np.random.Generator, count: int, payload: str) -> bytes:
    out = bytearray()
    for i in range(count):
        size = int(
            rng.choice(
                [0, 1, 40, 54, 60, 66, 200, 576, 1514, 9000],
                p=[0.01, 0.01, 0.1, 0.3, 0.1, 0.2, 0.1, 0.08, 0.09, 0.01],
            )
        )
        if payload == "random":
            body = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
        elif payload == "zeros":
            body = bytes(size)
        else:  # records that contain valid-looking record headers (a pcap carried in a pcap)
            inner = np.array(
                [TS + i, 5, max(size - 16, 0) // 3, max(size - 16, 0) // 3], "<u4"
            ).tobytes()
            body = (inner * (size // 16 + 1))[:size]
        out += np.array([TS + i // 100, i % 1_000_000, size, size + 4], "<u4").tobytes() + body
    return bytes(out)


def _pcapng_blocks(rng: np.random.Generator, count: int) -> bytes:
    out = bytearray()
    for _ in range(count):
        size = int(rng.choice([0, 3, 54, 60, 128, 1514]))
        body = rng.integers(0, 256, size, dtype=np.uint8).tobytes() + bytes(-size % 4)
        btype = int(rng.choice([6, 6, 6, 3, 5, 4]))
        blen = 12 + 20 + len(body)
        out += (
            np.array([btype, blen, 0, 0, 0, size, size], "<u4").tobytes()
            + body
            + np.array([blen], "<u4").tobytes()
        )
    return bytes(out)


@pytest.fixture(params=["native", "python"])
def kernels(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The compiled walk, then its pure Python fallback (for tests with their own expectations:
    the fallback *is* walk_scalar, so comparing it with walk_scalar would prove nothing)."""
    if request.param == "native":
        assert native.library() is not None, "the C kernels must build where make test runs"
    else:
        monkeypatch.setattr(native, "library", lambda: None)
    param: str = request.param
    return param


@pytest.fixture
def native_walk() -> None:
    """The compiled walk must be what runs (these tests compare it with walk_scalar)."""
    assert native.library() is not None, "the C kernels must build where make test runs"


def _padded(data: bytes) -> npt.NDArray[np.uint8]:
    return np.frombuffer(data + bytes(256), np.uint8)


@pytest.mark.parametrize("payload", ["random", "zeros", "nested"])
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.usefixtures("native_walk")
def test_pcap_walk_matches_scalar(payload: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = _pcap_records(rng, 20_000, payload)
    for cut in (len(data), len(data) - 7, len(data) // 3):
        buf = _padded(data[:cut])
        fast = walk_chain(buf, 0, cut, PCAP)
        slow = walk_scalar(buf, 0, cut, PCAP)
        assert np.array_equal(fast.offsets, slow.offsets)
        assert (fast.stop, fast.bad) == (slow.stop, slow.bad)


@pytest.mark.usefixtures("kernels")
def test_pcap_walk_stops_at_a_damaged_header() -> None:
    rng = np.random.default_rng(9)
    data = bytearray(_pcap_records(rng, 20_000, "random"))
    slow = walk_scalar(data, 0, len(data), PCAP)
    damaged = int(slow.offsets[15_000])
    data[damaged + 8 : damaged + 12] = np.array([1 << 30], "<u4").tobytes()
    buf = _padded(bytes(data))
    fast = walk_chain(buf, 0, len(data), PCAP)
    assert fast.bad
    assert fast.stop == damaged
    assert np.array_equal(fast.offsets, slow.offsets[:15_000])


@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_walk_reads_the_length_in_the_file_byte_order(byteorder: str) -> None:
    records = b"".join(
        np.array([TS, 0, size, size], byteorder + "u4").tobytes() + bytes(size)
        for size in (3, 70000, 0)
    )
    fmt = ChainFormat(byteorder, len_at=8, add=16, header=16, max_len=262144)
    fast = walk_chain(_padded(records), 0, len(records), fmt)
    assert fast.offsets.tolist() == [0, 19, 19 + 16 + 70000]
    assert (fast.stop, fast.bad) == (len(records), False)


def test_walk_refuses_a_range_outside_the_buffer() -> None:
    with pytest.raises(ValueError, match="bad range"):
        walk_chain(np.zeros(64, np.uint8), 0, 65, PCAP)
    with pytest.raises(ValueError, match="inside the header"):
        ChainFormat("<", len_at=8, add=16, header=8, max_len=10)
    with pytest.raises(ValueError, match="inside the header"):
        ChainFormat("<", len_at=-4, add=16, header=16, max_len=10)
    for bad in ({"align": 0}, {"add": 0}, {"add": -1, "min_len": 4}):
        with pytest.raises(ValueError, match="positive size"):
            ChainFormat("<", len_at=8, header=16, max_len=10, **{"add": 16, **bad})


@pytest.mark.usefixtures("native_walk")
@pytest.mark.parametrize("seed", [5, 6])
def test_pcapng_walk_matches_scalar(seed: int) -> None:
    data = _pcapng_blocks(np.random.default_rng(seed), 20_000)
    for cut in (len(data), len(data) - 5):
        buf = _padded(data[:cut])
        fast = walk_chain(buf, 0, cut, PCAPNG)
        slow = walk_scalar(buf, 0, cut, PCAPNG)
        assert np.array_equal(fast.offsets, slow.offsets)
        assert (fast.stop, fast.bad) == (slow.stop, slow.bad)


@pytest.mark.usefixtures("kernels")
@pytest.mark.parametrize("head", [0, 1, 12, 16])
def test_walk_copies_each_records_head(head: int) -> None:
    """``head`` bytes of each record returned, in order (a cut record's are not)."""
    rng = np.random.default_rng(5)
    data = _pcap_records(rng, 500, "random")
    cut = len(data) - 7
    buf = _padded(data)
    res = walk_chain(buf, 0, cut, PCAP, head=head)
    want = [bytes(data[o : o + head]) for o in res.offsets.tolist()]
    if head == 0:
        assert res.heads is None
    else:
        assert res.heads is not None
        assert [row.tobytes() for row in res.heads] == want
    assert len(res.offsets) == 499  # the last record is cut
    with pytest.raises(ValueError, match="head"):
        walk_chain(buf, 0, cut, PCAP, head=17)
