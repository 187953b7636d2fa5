"""Inputs: files, a watched directory of rotating captures, a sniffer (offline, no root)."""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import wrpcap

from collectors.auditor import capture
from collectors.auditor.batch import Batch
from collectors.auditor.capture import NOT_A_CAPTURE, FileSource, LiveSource, WatchDirSource
from collectors.auditor.decode import CaptureFormatError, DecodeStats, iter_batches

WAIT = 10.0  # upper bound of every wait (a slow shared machine), never a wall-time assertion


def _pkts(tag: int, count: int) -> list[Packet]:
    return [
        Ether() / IP(src=f"10.0.{tag}.1", dst="10.9.9.9") / TCP(sport=1000 + i, dport=22)
        for i in range(count)
    ]


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


class _Consumer:
    """Iterate a source in a thread, keeping what it yields."""

    def __init__(self, source: Iterable[Batch]) -> None:
        self.batches: list[Batch] = []
        self.thread = threading.Thread(target=lambda: self.batches.extend(source), daemon=True)
        self.thread.start()

    def sources(self) -> list[str]:
        return [Path(b.source).name for b in self.batches]

    def packets(self, name: str) -> list[int]:
        """Source indexes of the packets handed out from file ``name``."""
        return [
            b.first_index + i
            for b in self.batches
            if Path(b.source).name == name
            for i in range(len(b))
        ]


def test_file_source_reads_files_in_order_and_stops(tmp_path: Path) -> None:
    paths = []
    for tag in range(3):
        paths.append(tmp_path / f"f{tag}.pcap")
        wrpcap(str(paths[-1]), _pkts(tag, 10))
    source = FileSource(paths, batch_size=4)
    assert [len(b) for b in source] == [4, 4, 2] * 3
    assert source.stats.packets == 30
    source = FileSource(paths, batch_size=4)
    seen = []
    for batch in source:
        seen.append(batch)
        source.stop()
    assert len(seen) == 1


def _files(tmp_path: Path) -> list[Path]:
    """Three captures, the second cut in the middle of a record (a truncated file)."""
    paths = []
    for tag in range(3):
        paths.append(tmp_path / f"f{tag}.pcap")
        wrpcap(str(paths[-1]), _pkts(tag, 10))
    cut = paths[1].read_bytes()
    paths[1].write_bytes(cut[: len(cut) - 20])
    return paths


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "auditor-decode"]


def test_file_source_decoding_ahead_hands_out_the_same(tmp_path: Path) -> None:
    """Decoding ahead in a thread (decision 108) changes nothing the consumer sees: the
    same batches in the same order, the same stats, files and truncation counted."""
    paths = _files(tmp_path)
    runs = []
    for prefetch in (False, True):
        source = FileSource(paths, batch_size=4, prefetch=prefetch)
        batches = [(Path(b.source).name, b.first_index, b.packets.tobytes()) for b in source]
        runs.append((batches, source.stats, source.processed, source.current))
    assert runs[0] == runs[1]
    assert runs[1][1].packets == 30  # the cut record kept, as far as it goes
    assert runs[1][1].errors == {"TRUNCATED_L4": 1}
    assert runs[1][1].file_errors == {"truncated_file": 1}
    assert runs[1][2] == paths
    _wait_for(lambda: not _decode_threads())


def test_file_source_decoding_ahead_stops_where_the_consumer_stopped(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    source = FileSource(paths, batch_size=4, prefetch=True)
    taken = []
    for batch in source:
        taken.append(batch)
        if len(taken) == 2:
            time.sleep(0.2)  # the thread has decoded ahead by now
            source.stop()
    assert len(taken) == 2
    assert source.stats.packets == 8  # what was handed out, not what was decoded ahead
    assert source.processed == []
    assert source.current == paths[0]
    _wait_for(lambda: not _decode_threads())  # the thread ended too


@pytest.mark.parametrize("how", ["read to the end", "stopped", "raised"])
def test_file_source_decoding_ahead_shortens_the_switch_interval_only_while_it_runs(
    tmp_path: Path, how: str
) -> None:
    """The GIL switch interval is short while the thread decodes (decision 111) and the
    caller's again once iteration ends, whichever way it ends."""
    paths = _files(tmp_path)
    if how == "raised":
        paths[1].write_bytes(b"not a capture at all, just text\n" * 4)
    before = sys.getswitchinterval()
    source = FileSource(paths, batch_size=4, prefetch=True)
    seen = []
    with contextlib.suppress(CaptureFormatError):
        for _ in source:
            seen.append(sys.getswitchinterval())
            if how == "stopped":
                source.stop()
    assert seen
    assert set(seen) == {min(before, capture.PREFETCH_SWITCH_INTERVAL)}
    assert before > capture.PREFETCH_SWITCH_INTERVAL  # (the default, 5 ms: a real change)
    assert sys.getswitchinterval() == before
    _wait_for(lambda: not _decode_threads())


def test_file_source_decoding_ahead_raises_where_the_bad_file_comes(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    paths[2].write_bytes(b"not a capture at all, just text\n" * 4)
    for prefetch in (False, True):
        source = FileSource(paths, batch_size=4, prefetch=prefetch)
        names = []
        with pytest.raises(CaptureFormatError):
            names.extend(Path(b.source).name for b in source)
        assert names == ["f0.pcap"] * 3 + ["f1.pcap"] * 3, prefetch
        assert source.processed == paths[:2]
    _wait_for(lambda: not _decode_threads())


def test_watch_dir_processes_each_closed_file_once(tmp_path: Path) -> None:
    watch = tmp_path / "caps"
    watch.mkdir()
    source = WatchDirSource(
        watch, settle_seconds=3600, poll_seconds=0.02, batch_size=8, inotify=False
    )  # the polling rules: "being written" files here are closed ones
    wrpcap(str(watch / "cap-001.pcap"), _pkts(1, 20))
    wrpcap(str(watch / "cap-002.pcap"), _pkts(2, 5))  # being written: newest
    consumer = _Consumer(source)
    _wait_for(lambda: source.processed == [watch / "cap-001.pcap"])
    time.sleep(0.2)  # several polls: the newest file stays open, the first is not repeated
    assert source.processed == [watch / "cap-001.pcap"]
    wrpcap(str(watch / "cap-003.pcap"), _pkts(3, 1))  # rotation closes cap-002
    _wait_for(lambda: len(source.processed) == 2)
    (watch / "cap-001.pcap").unlink()  # old files go away (tcpdump -W): nothing breaks
    (watch / "notes.txt").write_text("not matched by the pattern")
    time.sleep(0.2)
    source.stop()
    consumer.thread.join(WAIT)
    assert not consumer.thread.is_alive()
    assert source.processed == [watch / "cap-001.pcap", watch / "cap-002.pcap"]
    assert consumer.packets("cap-001.pcap") == list(range(20))
    assert consumer.packets("cap-002.pcap") == list(range(5))
    assert "cap-003.pcap" not in consumer.sources()


def test_watch_dir_settles_a_quiet_file(tmp_path: Path) -> None:
    wrpcap(str(tmp_path / "only.pcap"), _pkts(1, 3))
    source = WatchDirSource(tmp_path, settle_seconds=0.1, poll_seconds=0.02)
    consumer = _Consumer(source)
    _wait_for(lambda: len(source.processed) == 1)
    with (tmp_path / "only.pcap").open("ab") as fh:  # the writer resumes: new packets only
        wrpcap(str(tmp_path / "more.tmp"), _pkts(2, 2))
        fh.write((tmp_path / "more.tmp").read_bytes()[24:])
    (tmp_path / "more.tmp").unlink()
    _wait_for(lambda: len(source.processed) == 2)
    source.stop()
    consumer.thread.join(WAIT)
    assert consumer.packets("only.pcap") == [0, 1, 2, 3, 4]


def test_watch_dir_state_survives_a_restart_mid_file(tmp_path: Path) -> None:
    watch = tmp_path / "caps"
    watch.mkdir()
    state = tmp_path / "state.json"
    wrpcap(str(watch / "a.pcap"), _pkts(1, 30))
    wrpcap(str(watch / "b.pcap"), _pkts(2, 30))
    wrpcap(str(watch / "c.pcap"), _pkts(3, 1))
    (watch / "junk.pcap").write_text("this is not a capture")
    first = WatchDirSource(
        watch, settle_seconds=3600, poll_seconds=0.02, batch_size=7, state_file=state
    )
    handed: list[tuple[str, int]] = []
    for batch in first:
        handed += [(Path(batch.source).name, batch.first_index + i) for i in range(len(batch))]
        if len(handed) >= 40:  # stop in the middle of b.pcap
            first.stop()
    from_b = sum(1 for name, _ in handed if name == "b.pcap")
    assert 0 < from_b < 30
    assert json.loads(state.read_text())["files"]["b.pcap"]["packets"] == from_b
    second = WatchDirSource(
        watch, settle_seconds=0.05, poll_seconds=0.02, batch_size=7, state_file=state
    )
    consumer = _Consumer(second)
    _wait_for(lambda: len(second.processed) == 3)  # b, junk and c (now quiet)
    second.stop()
    consumer.thread.join(WAIT)
    handed += [
        (Path(b.source).name, b.first_index + i) for b in consumer.batches for i in range(len(b))
    ]
    expected = (
        [("a.pcap", i) for i in range(30)] + [("b.pcap", i) for i in range(30)] + [("c.pcap", 0)]
    )
    assert sorted(handed) == sorted(expected)  # every packet once: none repeated, none skipped
    assert second.stats.file_errors[NOT_A_CAPTURE] + first.stats.file_errors[NOT_A_CAPTURE] == 1


def test_watch_dir_stop_while_idle(tmp_path: Path) -> None:
    source = WatchDirSource(tmp_path, poll_seconds=5.0)
    consumer = _Consumer(source)
    time.sleep(0.05)
    source.stop()
    consumer.thread.join(WAIT)
    assert not consumer.thread.is_alive()
    assert consumer.batches == []


def test_live_source_decodes_what_the_sniffer_hands_over(tmp_path: Path) -> None:
    """The sniffer path without root: AsyncSniffer reading a file instead of an interface."""
    pkts = [*_pkts(4, 50), Ether() / IP(dst="10.1.1.1") / UDP(dport=53)]
    path = tmp_path / "live.pcap"
    wrpcap(str(path), pkts)
    source = LiveSource(
        None, batch_size=16, flush_seconds=0.05, sniffer_options={"offline": str(path)}
    )
    batches = list(source)
    assert sum(len(b) for b in batches) == 51
    # each batch starts where the previous ones end (a batch is at most 16 packets; a slow
    # sniffer thread can make the 50 ms flush hand over a shorter one first)
    sizes = [len(b) for b in batches]
    assert max(sizes) <= 16
    assert [b.first_index for b in batches] == [sum(sizes[:i]) for i in range(len(batches))]
    dports = [int(p) for b in batches for p in b.packets["dport"]]
    assert dports == [22] * 50 + [53]
    assert source.stats.packets == 51
    assert source.dropped == 0


def test_live_source_bounded_queue_counts_drops(tmp_path: Path) -> None:
    path = tmp_path / "burst.pcap"
    wrpcap(str(path), _pkts(5, 40))
    source = LiveSource(None, queue_frames=10, sniffer_options={"offline": str(path)})
    source.start()
    _wait_for(lambda: source.dropped > 0 and not source._sniffer_alive())
    got = sum(len(b) for b in source)
    assert got + source.dropped == 40
    assert source.stats.file_errors["dropped_frames"] == source.dropped


@pytest.mark.parametrize("when", ["before", "during"])
def test_live_source_stop(tmp_path: Path, when: str) -> None:
    path = tmp_path / "some.pcap"
    wrpcap(str(path), _pkts(6, 5))
    source = LiveSource(None, flush_seconds=0.05, sniffer_options={"offline": str(path)})
    if when == "before":
        source.stop()
        assert list(source) == []
        return
    consumer = _Consumer(source)
    source.stop()
    consumer.thread.join(WAIT)
    assert not consumer.thread.is_alive()


_ETH = bytes(Ether() / IP(src="10.0.7.1", dst="10.9.9.9") / TCP(sport=1000, dport=22))
_RAW = bytes(IP(src="10.0.7.2", dst="10.9.9.9") / TCP(sport=1000, dport=23))  # link type 101


def _stamps(batches: list[Batch]) -> list[list[float]]:
    return [[float(t) for t in b.packets["ts"]] for b in batches]


def test_live_source_keeps_capture_order_across_link_types() -> None:
    """A frame of another link type ends the batch and starts the next one, in order."""
    source = LiveSource(None, flush_seconds=0.05)  # never started: no interface needed
    for frame, ts, linktype in [(_ETH, 1.0, 1), (_RAW, 2.0, 101), (_ETH, 3.0, 1)]:
        source._enqueue(frame, ts, linktype)
    source.stop()  # no sniffer: iteration hands out what is queued, then ends
    batches = list(source)
    assert _stamps(batches) == [[1.0], [2.0], [3.0]]
    assert [int(p) for b in batches for p in b.packets["dport"]] == [22, 23, 22]
    assert [b.first_index for b in batches] == [0, 1, 2]
    assert source.stats.packets == 3


class _RefilledQueue(queue.Queue[tuple[bytes, float, int]]):
    """A full queue that a sniffer refills (link type 101) as soon as a slot is free."""

    def __init__(self, maxsize: int, refills: int) -> None:
        super().__init__(maxsize)
        self.refills = refills
        self.stamp = 10.0

    def get(self, block: bool = True, timeout: float | None = None) -> tuple[bytes, float, int]:
        item = super().get(block, timeout)
        if self.refills:
            self.refills -= 1
            self.put_nowait((_RAW, self.stamp, 101))
            self.stamp += 1.0
        return item


def test_live_source_reader_never_blocks_on_a_full_queue() -> None:
    """The frame that ends a batch is not put back into the queue (it may be full)."""
    source = LiveSource(None, queue_frames=2, flush_seconds=0.05)
    refilled = _RefilledQueue(2, refills=3)
    source._queue = refilled
    refilled.put_nowait((_ETH, 1.0, 1))
    refilled.put_nowait((_RAW, 2.0, 101))
    source.stop()
    consumer = _Consumer(source)
    consumer.thread.join(WAIT)
    assert not consumer.thread.is_alive(), "the reader blocked"
    assert _stamps(consumer.batches) == [[1.0], [2.0, 10.0, 11.0, 12.0]]
    assert [int(p) for b in consumer.batches for p in b.packets["dport"]] == [22, 23, 23, 23, 23]
    assert refilled.empty()


def test_watch_dir_rides_out_descriptor_exhaustion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EMFILE (descriptors held elsewhere in the process) while listing the directory or
    opening a file: logged, retried at the next poll; no file skipped, no packet repeated."""
    watch = tmp_path / "caps"
    watch.mkdir()
    wrpcap(str(watch / "cap-001.pcap"), _pkts(1, 20))
    wrpcap(str(watch / "cap-002.pcap"), _pkts(2, 5))
    failures = {"glob": 1, "open": 1}
    real_glob = Path.glob

    def exhausted(what: str) -> None:
        if failures[what]:
            failures[what] -= 1
            raise OSError(errno.EMFILE, "Too many open files")

    def glob(self: Path, pattern: str) -> Iterable[Path]:
        exhausted("glob")
        return real_glob(self, pattern)

    def failing_iter_batches(
        path: Path, batch_size: int, stats: DecodeStats | None = None
    ) -> Iterator[Batch]:
        exhausted("open")
        return iter_batches(path, batch_size, stats)

    monkeypatch.setattr(Path, "glob", glob)
    monkeypatch.setattr(capture, "iter_batches", failing_iter_batches)
    source = WatchDirSource(
        watch, settle_seconds=3600, poll_seconds=0.02, batch_size=8, inotify=False
    )  # the polling rules: "being written" files here are closed ones
    consumer = _Consumer(source)
    _wait_for(lambda: source.processed == [watch / "cap-001.pcap"])
    source.stop()
    consumer.thread.join(WAIT)
    assert failures == {"glob": 0, "open": 0}
    assert consumer.packets("cap-001.pcap") == list(range(20))
    assert not source.stats.file_errors


def test_watch_dir_reads_compressed_rotations(tmp_path: Path) -> None:
    """Rotations compressed once closed (``tcpdump -G 60 -z gzip``: ``cap-001.pcap.gz``)
    are read like the plain ones, each once."""
    watch = tmp_path / "caps"
    watch.mkdir()
    for name, tag, count in (("cap-001.pcap", 1, 12), ("cap-002.pcap", 2, 7)):
        wrpcap(str(tmp_path / name), _pkts(tag, count))
        (watch / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
    wrpcap(str(watch / "cap-003.pcap"), _pkts(3, 1))  # being written: newest
    source = WatchDirSource(watch, settle_seconds=3600, poll_seconds=0.02, inotify=False)
    consumer = _Consumer(source)
    _wait_for(lambda: len(source.processed) == 2)
    time.sleep(0.2)
    source.stop()
    consumer.thread.join(WAIT)
    assert source.processed == [watch / "cap-001.pcap.gz", watch / "cap-002.pcap.gz"]
    assert consumer.packets("cap-001.pcap.gz") == list(range(12))
    assert consumer.packets("cap-002.pcap.gz") == list(range(7))
    assert source.stats.file_errors == {}
