"""The compiled scan state gives what the Python one gives, operation by operation.

``NativePending`` (``native.c``) replaces ``PyPending`` (an OrderedDict) when the kernels
load; every SYN, answer, ICMP error and expiry must leave the same attempts in the same
order and report the same failures. ``NativeScanners`` replaces ``PyScanners``
(address_scan's scanners): the same evictions, changes, reports and drops. Random traces over a small key space (repeats,
answers to pending and unknown keys, time going backwards, overflows of ``max_pending``)
are long enough to grow and rebuild the compiled ring and table many times.
"""

from __future__ import annotations

import math
import random
from ipaddress import IPv4Address
from typing import Any

import numpy as np
import pytest
from scapy.layers.inet import ICMP, IP, TCP, IPerror, TCPerror, UDPerror
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from collectors.auditor import native
from collectors.auditor.detectors._attempts import (
    AttemptTracker,
    Failures,
    NativePending,
    PyPending,
    attempt_key,
)
from collectors.auditor.detectors._util import view
from collectors.auditor.detectors.address_scan import (
    GROUP_AT,
    AddressScanSettings,
    NativeScanners,
    PyScanners,
)
from tests.unit.auditor.auditor_helpers import scapy_batch

pytestmark = pytest.mark.skipif(native.library() is None, reason="no C compiler")

Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _columns(rnd: random.Random, n: int, hosts: int, t: float) -> Columns:
    scanner = np.array([0x0A000000 | rnd.randrange(3) for _ in range(n)], np.uint32)
    victim = np.array([0x0A010000 | rnd.randrange(hosts) for _ in range(n)], np.uint32)
    port = np.array([rnd.choice((22, 80, 443, 65535)) for _ in range(n)], np.uint16)
    ts = np.array([t + rnd.uniform(-2.0, 2.0) for _ in range(n)], np.float64)  # unsorted
    return scanner, victim, port, ts


def _rows(f: Failures) -> list[tuple[int, int, float, str]]:
    return list(f.rows())


@pytest.mark.parametrize(
    ("seed", "max_pending", "hosts"), [(1, 5, 8), (2, 64, 40), (3, 10**6, 300)]
)
def test_native_pending_is_the_python_one(seed: int, max_pending: int, hosts: int) -> None:
    rnd = random.Random(seed)  # noqa: S311  (reproducible traffic, not cryptography)
    py, c = PyPending(), NativePending(native.library())
    t = 1000.0
    for _ in range(400):
        t += rnd.uniform(0.0, 1.5)
        op = rnd.random()
        cols = _columns(rnd, rnd.randrange(0, 120), hosts, t)
        if op < 0.45:
            got, want = Failures(), Failures()
            py.syns(*cols, max_pending=max_pending, failures=want)
            c.syns(*cols, max_pending=max_pending, failures=got)
            assert _rows(got) == _rows(want)
        elif op < 0.6:
            py.answered(*cols[:3])
            c.answered(*cols[:3])
        elif op < 0.75:
            got, want = Failures(), Failures()
            py.rejected(*cols, failures=want)
            c.rejected(*cols, failures=got)
            assert _rows(got) == _rows(want)
        elif op < 0.85:
            keys = [attempt_key(int(s), int(v), int(p)) for s, v, p in zip(*cols[:3], strict=True)]
            assert c.take(keys) == py.take(keys)
        else:
            now = math.inf if rnd.random() < 0.05 else t - rnd.uniform(0.0, 8.0)
            assert c.expire(now, 5.0) == py.expire(now, 5.0)
        assert len(c) == len(py)
        assert c.items() == py.items()


def test_native_pending_keeps_the_first_time_and_order_of_each_key() -> None:
    c = NativePending(native.library())
    one = np.array([1], np.uint32)
    for t, victim in [(5.0, 2), (6.0, 3), (7.0, 2)]:  # the third is a repeat of the first
        c.syns(
            one,
            np.array([victim], np.uint32),
            np.array([80], np.uint16),
            np.array([t]),
            max_pending=10,
            failures=Failures(),
        )
    assert c.items() == [(attempt_key(1, 2, 80), 5.0), (attempt_key(1, 3, 80), 6.0)]
    assert c.expire(10.0, 5.0) == ([attempt_key(1, 2, 80)], [5.0])  # 5 + 5 <= 10; 6 + 5 > 10
    assert c.expire(math.inf, 5.0) == ([attempt_key(1, 3, 80)], [6.0])
    assert len(c) == 0


def _pkt(p: Packet, t: float) -> Packet:
    p.time = t
    return p


def _trace(rnd: random.Random) -> list[Packet]:
    """SYNs, SYN-ACKs, RSTs and ICMP errors quoting TCP and UDP, at random."""
    eth = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    pkts, t = [], 100.0
    for _ in range(300):
        t += rnd.uniform(0.0, 0.3)
        scanner, victim = f"10.0.0.{rnd.randrange(1, 4)}", f"10.0.1.{rnd.randrange(1, 30)}"
        sport, dport = 40000, rnd.choice((22, 23, 80))
        kind = rnd.random()
        if kind < 0.5:
            p = eth / IP(src=scanner, dst=victim) / TCP(sport=sport, dport=dport, flags="S")
        elif kind < 0.65:
            p = eth / IP(src=victim, dst=scanner) / TCP(sport=dport, dport=sport, flags="SA")
        elif kind < 0.8:
            p = eth / IP(src=victim, dst=scanner) / TCP(sport=dport, dport=sport, flags="RA")
        elif kind < 0.9:
            quoted = IPerror(src=scanner, dst=victim) / TCPerror(sport=sport, dport=dport)
            p = eth / IP(src=victim, dst=scanner) / ICMP(type=3, code=1) / quoted
        else:
            quoted = IPerror(src=scanner, dst=victim, proto=17) / UDPerror(sport=53, dport=dport)
            p = eth / IP(src=victim, dst=scanner) / ICMP(type=3, code=3) / quoted
        pkts.append(_pkt(p, t))
    return pkts


def test_the_tracker_reports_the_same_failures_with_either_table() -> None:
    pkts = _trace(random.Random(7))  # noqa: S311  (reproducible traffic, not cryptography)
    runs = {}
    for compiled in (True, False):
        tracker = AttemptTracker(answer_timeout=2.0, max_pending=12, native=compiled)
        got: list[tuple[int, int, float, str]] = []
        tracker.subscribe(lambda f, got=got: got.extend(f.rows()))
        for lo in range(0, len(pkts), 37):
            batch = scapy_batch(pkts[lo : lo + 37])
            tracker.observe(batch)
            tracker.expire(float(view(batch).ts.max()))
        tracker.expire(math.inf)
        runs[compiled] = got
    assert runs[True] == runs[False]
    hows = {row[3] for row in runs[True]}
    assert hows == {"unanswered", "rejected", "unreachable"}  # every kind was exercised
    assert any(row[1] == 17 for row in runs[True])
    assert int(IPv4Address("10.0.0.1")) in {row[0] >> 48 for row in runs[True]}


def test_a_tracker_asked_for_compiled_code_without_it_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(native, "library", lambda: None)
    with pytest.raises(RuntimeError, match="compiled kernels"):
        AttemptTracker(native=True)
    assert isinstance(AttemptTracker()._store, PyPending)


def _scan_failures(rnd: random.Random, n: int, t: float, scanners: int, victims: int) -> Failures:
    out = Failures()
    for _ in range(n):
        scanner = 0x0A000000 + rnd.randrange(scanners)
        victim = 0x0A640000 + rnd.randrange(victims)
        proto = rnd.choice((6, 6, 17))
        port = rnd.choice((22, 80, 443, 8080, 53, 161, 3389))
        out.add(attempt_key(scanner, victim, port), proto, t + rnd.uniform(-3.0, 3.0), "rejected")
    return out


def _dropped(table: PyScanners | NativeScanners, now: float) -> tuple[list[Any], float]:
    gone, floor = table.drop_idle(now)
    assert gone.scanners == [snap.scanner for snap in gone]
    return list(gone), floor


@pytest.mark.parametrize(
    ("seed", "max_scanners", "max_victims", "step"),
    [(1, 50_000, 65_536, 1.0), (2, 100, 65_536, 5.0), (3, 50_000, 100, 2.0), (4, 120, 100, 40.0)],
    ids=["plain", "evicts", "victim-cap", "prunes-and-drops"],
)
def test_native_scanners_are_the_python_ones(
    seed: int, max_scanners: int, max_victims: int, step: float
) -> None:
    """Every operation of address_scan's table, compared: failures (small updates one by
    one, big ones grouped by scanner), what changed, single reports, idle drops."""
    settings = AddressScanSettings(max_scanners=max_scanners, max_victims=max_victims)
    rnd = random.Random(seed)  # noqa: S311  (reproducible traffic, not cryptography)
    py, c = PyScanners(settings), NativeScanners(native.library(), settings)
    t, seen = 1000.0, 0
    for _ in range(120):
        t += rnd.uniform(0.0, step)
        size = rnd.choice((1, 7, 60, 400, GROUP_AT + 500))
        failures = _scan_failures(rnd, size, t, scanners=150, victims=300)
        assert list(c.failed(failures)) == list(py.failed(failures))
        if rnd.random() < 0.6:
            got, want = c.take_changed(), py.take_changed()
            assert got == want
            seen += len(want[0])
            for row in want[0]:
                assert c.taken(row[4]) == py.taken(row[4])
        if rnd.random() < 0.2:
            assert _dropped(c, t) == _dropped(py, t)
        for scanner in list(py.scanners)[:: max(1, len(py.scanners) // 5)]:
            assert c.snapshot(scanner) == py.snapshot(scanner)
        assert len(c) == len(py)
    assert seen > 50  # reports were compared, not only empty takes
    last = t + 10 * settings.window_seconds
    assert _dropped(c, last) == _dropped(py, last)
    assert len(c) == len(py)


def test_native_scanners_report_what_a_scanner_did() -> None:
    settings = AddressScanSettings(threshold=3)
    c = NativeScanners(native.library(), settings)
    failures = Failures()
    for victim, port, ts in [(5, 80, 10.0), (2, 443, 11.0), (9, 80, 12.0), (2, 80, 9.0)]:
        failures.add(attempt_key(0x0A000001, victim, port), 6, ts, "unanswered")
    assert len(c.failed(failures)) == 0
    (row,), floor = c.take_changed()
    assert row[:4] == (0x0A000001, 3, 3, 12.0)
    assert floor == 9.0
    snap = c.taken(row[4])
    assert snap.low == (2, 5, 9)
    assert (snap.first, snap.distinct) == (9.0, 2)
    assert snap.top == ((6 << 16 | 80, 3), (6 << 16 | 443, 1))
    assert c.take_changed() == ([], math.inf)
