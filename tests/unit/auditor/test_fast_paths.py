"""The detectors' vectorised helpers and bulk paths agree with the obvious slow versions."""

from __future__ import annotations

import gc
import random
import uuid
from dataclasses import asdict
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from collectors.auditor import native
from collectors.auditor.demo import build_attack_pcap
from collectors.auditor.detectors import _util
from collectors.auditor.detectors._attempts import AttemptTracker, Failures, attempt_key
from collectors.auditor.detectors._sessions import ServicePackets, SessionTracker
from collectors.auditor.detectors._util import (
    group_rows,
    ip_str,
    port_mask,
    sorted_in,
    view,
)
from collectors.auditor.detectors.address_scan import (
    GROUP_AT,
    AddressScan,
    AddressScanSettings,
    PyScanners,
)
from collectors.auditor.detectors.base import DetectorContext
from collectors.auditor.engine import GC_YOUNG_THRESHOLD, Engine
from collectors.auditor.events import (
    _ID_NAMESPACE,
    IncidentTracker,
    ListSink,
    Severity,
    incident_id,
)
from tests.unit.auditor.auditor_helpers import pcap_batches, scapy_batch

RNG = np.random.default_rng(55)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 500, 5000])
def test_group_rows_is_unique_by_rows(n: int) -> None:
    k0 = RNG.integers(0, 6, n).astype(np.uint64) << np.uint64(40)
    k1 = RNG.integers(0, 5, n).astype(np.uint64) * np.uint64(2**62 // 3)
    first, inverse, groups = group_rows(k0, k1)
    if n == 0:
        assert groups == 0
        return
    _, want_first, want_inverse = np.unique(
        np.stack([k0, k1], 1), axis=0, return_index=True, return_inverse=True
    )
    assert groups == len(want_first)
    assert first.tolist() == want_first.tolist()
    assert inverse.tolist() == want_inverse.reshape(-1).tolist()


def test_sorted_in_is_isin() -> None:
    table = np.unique(RNG.integers(0, 1000, 300).astype(np.uint64))
    values = RNG.integers(0, 1100, 2000).astype(np.uint64)
    assert sorted_in(values, table).tolist() == np.isin(values, table).tolist()
    assert not sorted_in(values, table[:0]).any()


@pytest.mark.parametrize("wanted", [(22,), (21, 23), tuple(range(1, 40, 3))])
def test_port_mask(wanted: tuple[int, ...]) -> None:
    ports = RNG.integers(0, 45, 1000).astype(np.uint16)
    assert port_mask(ports, wanted).tolist() == np.isin(ports, wanted).tolist()


def test_ip_str_and_incident_id_match_the_stdlib() -> None:
    for value in [0, 1, 0xFFFFFFFF, *RNG.integers(0, 2**32, 200).tolist()]:
        assert ip_str(value) == str(IPv4Address(value))
    for name in ["", "s|port_scan|10.0.0.1|1.5", "é|x" * 40]:
        assert incident_id(name) == str(uuid.uuid5(_ID_NAMESPACE, name))


def test_batch_view_is_shared_per_batch_and_released() -> None:
    pkts = [
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.1", dst="10.0.0.2")
        / TCP(sport=1000, dport=22, flags="S"),
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        / IP(src="10.0.0.2", dst="10.0.0.1")
        / TCP(sport=22, dport=1000, flags="SA"),
    ]
    batch = scapy_batch(pkts)
    v = view(batch)
    assert view(batch) is v
    assert v.src4.tolist() == batch.packets["src4"].tolist()
    assert v.syn.tolist() == [True, False]
    assert v.arp.tolist() == [False, False]
    batch.drop_columns()
    assert view(batch) is not v


def test_shared_service_packets_select_like_a_tracker_of_its_own() -> None:
    ports = [21, 22, 23, 3389, 80, 50000]
    rnd = random.Random(3)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts = []
    for _ in range(300):
        sp, dp = rnd.choice(ports), rnd.choice(ports)
        pkts.append(
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=sp, dport=dp)
        )
    batch = scapy_batch(pkts)
    shared = ServicePackets()
    trackers = [SessionTracker(p, _ignore, shared=shared) for p in [(21,), (22,), (23,), (3389,)]]
    for tracker in trackers:
        alone = SessionTracker(tracker.ports, _ignore)
        got, want = tracker.observe(batch), alone.observe(batch)
        assert got.idx.tolist() == want.idx.tolist()
        assert got.c2s.tolist() == want.c2s.tolist()


def _ignore(_session: object) -> None:
    return None


def _failures(n: int, spread: float, seed: int, victims: int = 30, scanners: int = 40) -> Failures:
    rnd = random.Random(seed)  # noqa: S311  (reproducible traffic, not cryptography)
    out = Failures()
    for i in range(n):
        scanner = 0x0A000000 + rnd.randrange(scanners)
        victim = 0x0A640000 + rnd.randrange(victims)
        ts = 1000.0 + i * spread / n + rnd.uniform(-3, 3)  # unsorted, like a real trace
        how = rnd.choice(["unanswered", "rejected"])
        out.add(attempt_key(scanner, victim, rnd.choice([22, 80, 443])), 6, ts, how)
    return out


@pytest.mark.parametrize(
    ("spread", "max_victims"),
    [(10.0, 65_536), (2000.0, 65_536), (10.0, 100)],
    ids=["within-window", "prunes", "victim-cap"],
)
def test_address_scan_bulk_update_equals_one_by_one(spread: float, max_victims: int) -> None:
    settings = AddressScanSettings(max_victims=max_victims)
    failures = _failures(max(GROUP_AT, 8000), spread, seed=int(spread) + max_victims, victims=300)
    bulk, single = PyScanners(settings), PyScanners(settings)
    bulk.failed(failures)
    single._one_by_one(failures)
    assert bulk.active == single.active
    assert set(bulk.scanners) == set(single.scanners)
    for scanner, st in single.scanners.items():
        other = bulk.scanners[scanner]
        assert other.victims == st.victims
        assert other.ports == st.ports
        assert other.first == st.first
        for s in (st, other):
            if s.stale:
                s.last, s.stale = max(s.victims.values()), False
        assert other.last == st.last == max(st.victims.values())
        assert other.floor <= min(other.victims.values())
        assert asdict(other).keys() == asdict(st).keys()


def test_tracker_keeps_unemitted_updates() -> None:
    tracker = IncidentTracker(site="nyc", sensor="s1", sinks=[])
    tracker.report(detector="d", key=("a",), ts=10.0, severity=Severity.LOW, summary="one", count=4)
    tracker.report(
        detector="d",
        key=("a",),
        ts=11.0,
        severity=Severity.LOW,
        summary="two",
        count=5,
        evidence={"n": 5},
    )  # not emitted: neither doubled nor more severe
    (event,) = tracker.incidents()
    assert (event.summary, event.count, event.evidence) == ("two", 5, {"n": 5})
    assert event.last_seen.timestamp() == 11.0
    assert tracker.open_count() == 1


def test_tracker_builds_lazy_text_only_when_written() -> None:
    calls: list[str] = []

    def text(label: str) -> tuple[object, object]:
        def summary() -> str:
            calls.append(label)
            return label

        return summary, lambda: {"label": label}

    tracker = IncidentTracker(site="nyc", sensor="s1", sinks=[])
    summary, evidence = text("first")
    tracker.report(
        detector="d",
        key=("a",),
        ts=1.0,
        severity=Severity.LOW,
        summary=summary,
        evidence=evidence,
        count=4,
    )  # new: built at once
    assert calls == ["first"]
    for label in ("second", "third"):  # updates that are not emitted
        summary, evidence = text(label)
        tracker.report(
            detector="d",
            key=("a",),
            ts=2.0,
            severity=Severity.LOW,
            summary=summary,
            evidence=evidence,
            count=5,
        )
    assert calls == ["first"]
    (event,) = tracker.incidents()  # read: only the latest text is built
    assert calls == ["first", "third"]
    assert (event.summary, event.evidence) == ("third", {"label": "third"})


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("max_pending", [3, 8, 200_000])
def test_tracker_bulk_syns_equal_one_by_one(max_pending: int, compiled: bool) -> None:
    """A batch of SYNs joins the pending attempts by dict operations (or the compiled
    table), repeats too (each key with its first time, in order); an overflow keeps the loop."""
    if compiled and native.library() is None:
        pytest.skip("no C compiler")
    rnd = random.Random(max_pending)  # noqa: S311  (reproducible traffic, not cryptography)
    tracker = AttemptTracker(max_pending=max_pending, native=compiled)
    got: list[tuple[int, int, float, str]] = []
    tracker.subscribe(lambda f: got.extend(f.rows()))
    want_pending: dict[int, float] = {}
    want: list[tuple[int, int, float, str]] = []
    t = 1000.0
    for size, hosts in [(4, 50), (5, 2), (3, 50), (6, 1), (2, 50)]:  # few hosts: repeats
        pkts = []
        for _ in range(size):
            t += 0.001
            dst, dport = f"10.0.1.{rnd.randrange(hosts)}", 20 + rnd.randrange(2)
            pkt = (
                Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                / IP(src="10.0.0.9", dst=dst)
                / TCP(sport=4000, dport=dport, flags="S")
            )
            pkt.time = t
            pkts.append(pkt)
            key = attempt_key(int(IPv4Address("10.0.0.9")), int(IPv4Address(dst)), dport)
            if key not in want_pending:
                if len(want_pending) >= max_pending:
                    old = next(iter(want_pending))
                    want.append((old, 6, want_pending.pop(old), "unanswered"))
                want_pending[key] = t
        tracker.observe(scapy_batch(pkts))
        assert list(tracker.pending.items()) == list(want_pending.items())
        assert got == want


def test_tracker_due_is_its_emission_rule() -> None:
    tracker = IncidentTracker("s", "x", [], reemit_seconds=300.0, idle_seconds=3600.0)

    def due(ts: float, count: int, severity: Severity = Severity.MEDIUM) -> bool:
        return tracker.due(detector="d", key=("k",), ts=ts, severity=severity, count=count)

    assert due(0.0, 8)  # nothing open: the report opens the incident
    tracker.report(detector="d", key=("k",), ts=0.0, severity=Severity.MEDIUM, summary="", count=8)
    assert not due(10.0, 15)  # grows, but not to twice what was written
    assert due(10.0, 16)
    assert due(10.0, 9, Severity.HIGH)  # the severity rises
    assert due(300.0, 9)  # reemit_seconds since the last emission
    tracker.report(
        detector="d", key=("k",), ts=200.0, severity=Severity.MEDIUM, summary="", count=9
    )
    # skipping never lets an incident go idle: due once half of idle_seconds has passed
    assert due(200.0 + 1800.0, 9)
    assert not due(250.0, 10)


def _scan_in_steps(
    ctx_due: bool, *, max_scanners: int = 50_000, scanners: int = 40
) -> tuple[list[Any], list[Any]]:
    """The same failures, in many small updates with an expire after each, through the
    detector as it is (reports skipped unless due) or reporting every change.

    Returns the events written while the failures came in, in order, and the (id,
    count, severity) of those written at the end of input, sorted: the skipped reports
    are made there in another order, and with the scanner's latest state where the
    reference only reported count changes.
    """
    sink = ListSink()
    det = AddressScan(
        AddressScanSettings(max_scanners=max_scanners),
        DetectorContext(reporter=IncidentTracker("", "t", [sink], reemit_seconds=60.0)),
    )
    if not ctx_due:
        det._due = lambda *_: True  # type: ignore[method-assign]
    failures = _failures(20_000, spread=2000.0, seed=8, victims=300, scanners=scanners)
    rows = list(failures.rows())
    for lo in range(0, len(rows), 250):
        part = Failures()
        for key, proto, ts, how in rows[lo : lo + 250]:
            part.add(key, proto, ts, how)
        det._failed(part)
        det.expire(max(part.ts))
    during = len(sink.events)
    det.expire(float("inf"))
    det.ctx.reporter.flush()  # type: ignore[attr-defined]
    rows = [(e.id, e.count, e.ts, e.summary, e.evidence, e.severity) for e in sink.events]
    return rows[:during], sorted((r[0], r[1], r[5]) for r in rows[during:])


def test_address_scan_skipping_undue_reports_writes_the_same_events() -> None:
    """Asking ``due`` saves work but must not change a single event written."""
    skipped, every = _scan_in_steps(ctx_due=True), _scan_in_steps(ctx_due=False)
    assert len(skipped[0]) > 1000  # the scans were reported, updated and re-emitted
    assert len(skipped[1]) > 20
    assert skipped == every


def test_address_scan_evicted_scanner_reports_what_it_skipped() -> None:
    """An evicted scanner's state is reported as it is when evicted: every incident ends
    with at least the count of the reference (which reported only at expires, so not
    the failures of the evicting batch), and never loses a skipped update."""

    def last_counts(events: tuple[list[Any], list[Any]]) -> dict[str, int]:
        during, end = events
        last = {row[0]: row[1] for row in during}
        last.update({row[0]: row[1] for row in end})
        return last

    skipped = last_counts(_scan_in_steps(ctx_due=True, max_scanners=100, scanners=130))
    every = last_counts(_scan_in_steps(ctx_due=False, max_scanners=100, scanners=130))
    assert len(every) > 100
    assert skipped.keys() == every.keys()
    assert all(skipped[k] >= every[k] for k in every)
    assert sum(skipped.values()) > sum(every.values())  # evictions did happen, mid-batch


def _scan_then_linger(*, skip: bool, idle: float, window: float, linger_until: float) -> list[Any]:
    """One scanner: 8 hosts, 7 more (the 15 is not due: not twice 8), then it keeps
    probing the same 15 hosts every 100 s; returns (id, count) of every incident."""
    tracker = IncidentTracker("", "t", [ListSink()], idle_seconds=idle)
    det = AddressScan(AddressScanSettings(window_seconds=window), DetectorContext(reporter=tracker))
    if not skip:
        det._due = lambda *_: True  # type: ignore[method-assign]

    def step(victims: range, ts: float) -> None:
        part = Failures()
        for v in victims:
            part.add(attempt_key(0x0A000001, 0x0A640000 + v, 22), 6, ts, "rejected")
        det._failed(part)
        det.expire(ts)
        tracker.expire(ts)

    for i in range(8):
        step(range(i, i + 1), float(i))
    for i in range(8, 15):
        step(range(i, i + 1), 100.0 + 10 * (i - 8))
    t = 200.0
    while t < linger_until:
        step(range(15), t)
        t += 100.0
    for now in (t + 500.0, t + 5000.0):
        det.expire(now)
        tracker.expire(now)
    det.expire(float("inf"))
    tracker.flush()
    return [(e.id, e.count) for e in tracker.all_incidents()]


@pytest.mark.parametrize(
    ("idle", "window", "linger_until"),
    [(3600.0, 300.0, 5000.0), (400.0, 300.0, 0.0)],
    ids=["keeps-probing-past-idle", "window-longer-than-half-idle"],
)
def test_skipped_scan_state_is_never_closed_unread(
    idle: float, window: float, linger_until: float
) -> None:
    """The tracker closes an idle incident with what it was told: a skipped update must
    reach it first (ctx.report_by), or the scan is counted twice, the first time short."""
    skipped = _scan_then_linger(skip=True, idle=idle, window=window, linger_until=linger_until)
    every = _scan_then_linger(skip=False, idle=idle, window=window, linger_until=linger_until)
    assert [count for _, count in skipped] == [count for _, count in every] == [15]


def test_engine_restores_the_garbage_collector_thresholds() -> None:
    before = gc.get_threshold()
    engine = Engine(sinks=[])
    assert gc.get_threshold()[0] >= GC_YOUNG_THRESHOLD
    engine.finish()
    assert gc.get_threshold() == before


def test_engine_freezes_without_collecting_while_the_collector_is_paused() -> None:
    """The CLI pauses the collector for its start-up (``netwarden.cli.app.main``): every
    object of start-up is then in the youngest generation, and the engine's collection
    before ``gc.freeze()`` would traverse them all (~30 ms). Paused: no collection; running
    (a test, a library caller): the young generations are collected as before."""
    started: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(seen)
    try:
        gc.disable()
        try:
            Engine(sinks=[]).finish()
        finally:
            gc.enable()
        paused = list(started)
        started.clear()
        Engine(sinks=[]).finish()
    finally:
        gc.callbacks.remove(seen)
    assert paused == []
    assert 1 in started


def test_flag_tables_only_preselect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session trackers' and the Python attempt table's flag tables are pre-selections:
    with four flags each (every flow and pair collides) the events are the same as with 2^20
    (and as with the compiled attempt table, which has no flags)."""
    trace = tmp_path / "attacks.pcap"
    build_attack_pcap(trace)

    def events() -> list[tuple[str, str, str, int, str]]:
        sink = ListSink()
        Engine(None, [sink], site=None, sensor="test").run(pcap_batches(trace))
        return [(e.id, e.detector, e.severity.value, e.count, e.summary) for e in sink.events]

    full = events()
    assert {"port_scan", "ssh_bruteforce"} <= {e[1] for e in full}  # both tables at work
    monkeypatch.setattr(_util, "HASH_FLAG_BITS", 2)
    assert events() == full  # the session tables collide (pending attempts: compiled table)
    monkeypatch.setattr(native, "library", lambda: None)
    assert events() == full  # and the pure Python attempt table's flags too


@pytest.mark.parametrize("width", [1, 5, 8, 12])
def test_payload_prefix_and_prefix_in_agree_with_slicing(width: int) -> None:
    """Payload prefixes (windows of the capture buffer, the last packets' cut by its end)
    and the 8-byte integer compare of ``prefix_in`` against bytes slicing."""
    rng = random.Random(width)  # noqa: S311  (test data)
    words = (b"user ", b"PASS ", b"GET ", b"", b"x", b"530-", b"12345678", b"123456789")
    payloads = [rng.choice(words) + rng.randbytes(rng.randrange(0, 6)) for _ in range(300)]
    payloads += [b"", b"user", b"user ", b"123456789abc", b"u"]
    batch = scapy_batch(
        [
            Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
            / IP(src="10.0.0.1", dst="10.0.0.2")
            / TCP(sport=1000, dport=21, flags="PA")
            / p
            for p in payloads
        ]
    )
    idx = np.array([i for i in range(len(payloads)) if i % 7 != 3][::-1])
    got = _util.payload_prefix(batch, idx, width)
    want = [payloads[i][:width].ljust(width, b"\0") for i in idx]
    assert [bytes(r) for r in got] == want
    # the last packet's payload lies at the very end of the buffer: its window is cut
    last = np.array([len(payloads) - 1])
    if width > 1:
        assert int(_util.payload_starts(batch, last)[0]) + width > len(batch.data)
    assert bytes(_util.payload_prefix(batch, last, width)[0]) == payloads[-1][:width].ljust(
        width, b"\0"
    )
    fitting = tuple(w for w in words if w and len(w) <= width)
    assert _util.prefix_in(got, (b"",)).all()
    hits = _util.prefix_in(got, fitting)
    assert hits.tolist() == [any(r.startswith(w) for w in fitting) for r in want]
    assert hits.any()
    assert not hits.all()
