"""The compiled pending-attempt table gives what the Python one gives, operation by operation.

``NativePending`` (``native.c``) replaces ``PyPending`` (an OrderedDict) when the kernels
load; every SYN, answer, ICMP error and expiry must leave the same attempts in the same
order and report the same failures. Random traces over a small key space (repeats,
answers to pending and unknown keys, time going backwards, overflows of ``max_pending``)
are long enough to grow and rebuild the compiled ring and table many times.
"""

from __future__ import annotations

import math
import random
from ipaddress import IPv4Address

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
