"""dns_tunnel a batch at a time: the compiled question reader (``nw_dns_questions``) gives
the Python reader's answers on odd and crafted queries, and the grouped count
(``_grouped``) leaves the same windows, in the same order, and the same incidents as the
one-by-one count."""

from __future__ import annotations

import random
import struct
from typing import Any

import numpy as np
import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from collectors.auditor import native
from collectors.auditor.config import AuditorConfig
from collectors.auditor.detectors import dns_tunnel
from collectors.auditor.detectors._util import payload_prefix, payload_slices, view
from collectors.auditor.detectors.dns_tunnel import DnsTunnel, entropy
from collectors.auditor.engine import Engine
from collectors.auditor.events import ListSink
from tests.unit.auditor.auditor_helpers import T0, at, scapy_batch

pytestmark = pytest.mark.skipif(
    native.library() is None, reason="no C compiler: the compiled kernels are not built"
)

_ALPHABETS = (
    b"0123456789abcdef",
    b"0123456789ABCDEF",
    b"abcdefghijklmnopqrstuvwxyz234567",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
    b"abcdefghijklmnopqrstuvwxyz",
    b"abcdefghijklmnopqrstuvwxyz0123456789-_",
    bytes(range(256)),
    b"aB9-_.Zz+/=xX",
)
_DOMAINS = (
    [b"example", b"com"],
    [b"Example", b"CO", b"uk"],
    [b"bbc", b"co", b"uk"],
    [b"in-addr", b"arpa"],
    [b"x", b"ip6", b"arpa"],
    [b"a", b"com", b"br"],
    [b"a.b", b"com"],  # a dot inside a domain label (it once made the score raise)
    [b"Tun", b"Org"],
)


def _header(flags: int = 0x0100, qdcount: int = 1) -> bytes:
    return struct.pack("!HHHHHH", 0x1234, flags, qdcount, 0, 0, 0)


def _name(labels: list[bytes]) -> bytes:
    return b"".join(bytes([len(x)]) + x for x in labels) + b"\x00"


def _payloads(rng: random.Random, count: int) -> list[bytes]:
    fixed = [
        _header() + _name([b"www", b"example", b"com"]) + b"\x00\x01\x00\x01",
        _header() + _name([b"example", b"com"]) + b"\x00\x01\x00\x01",  # no subdomain
        _header() + _name([b"com"]) + b"\x00\x01\x00\x01",  # one label
        _header() + _name([b"x", b"co", b"uk"]) + b"\x00\x01\x00\x01",  # x.co.uk: no subdomain
        _header() + _name([b"www", b"example", b"com"]) + b"\x00\x10",  # qclass cut
        _header() + _name([b"www", b"example", b"com"]) + b"\x00",  # qtype cut
        _header() + b"\x03www\x07exam",  # label cut
        _header() + b"\x03www\xc0\x0c\x00\x01\x00\x01",  # compressed
        _header() + _name([b"a"] * 126 + [b"b", b"c"]) + b"\x00\x01\x00\x01",  # 128 labels
        _header() + _name([b"a"] * 125 + [b"b", b"c"]) + b"\x00\x01\x00\x01",  # 127 labels
        _header() + _name([b"\x00\xff" * 31, b"tun", b"org"]) + b"\x00\x10\x00\x01",
        _header() + _name([b"abcd" * 6, b"tun", b"org"]) + b"\x00\x10\x00\x01",  # entropy 2.0
        _header() + _name([b"A.B", b"..", b"tun", b"org"]) + b"\x00\x05\x00\x01",
    ]
    out = list(fixed)
    for _ in range(count):
        alphabet = rng.choice(_ALPHABETS)
        subs = [
            bytes(rng.choice(alphabet) for _ in range(rng.choice([1, 3, 8, 24, 30, 31, 52, 63])))
            for _ in range(rng.choice([0, 1, 1, 2, 3, 5]))
        ]
        qtype = rng.choice([1, 28, 5, 10, 15, 16, 12, 255])
        question = _name(subs + list(rng.choice(_DOMAINS))) + struct.pack("!HH", qtype, 1)
        if rng.random() < 0.05:
            question = question[: rng.randrange(len(question) + 1)]
        out.append(_header() + question)
    return out


def _batch(
    payloads: list[bytes], times: list[float] | None = None, clients: list[str] | None = None
) -> Any:
    return scapy_batch(
        [
            at(
                Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                / IP(src=clients[k] if clients else "10.0.0.1", dst="10.0.0.53")
                / UDP(sport=40000, dport=53)
                / Raw(p),
                times[k] if times else T0 + k * 0.01,
            )
            for k, p in enumerate(payloads)
        ]
    )


def _detector(**settings: Any) -> DnsTunnel:
    engine = Engine(AuditorConfig(detectors={"dns_tunnel": settings}), [], only=["dns_tunnel"])
    (det,) = engine.detectors
    assert isinstance(det, DnsTunnel)
    return det


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"entropy_bits": 2.0, "entropy_min_length": 8, "long_label": 30},
        {"encoded_min_score": 1, "encoded_entropy_bits": 2.0, "encoded_min_length": 24},
        {"encoded_min_score": 2},
        {"encoded_min_score": 3, "ignore_domains": ["example.com"]},
    ],
)
def test_the_compiled_reader_agrees_with_python(
    settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    payloads = _payloads(random.Random(11), 1500)  # noqa: S311  (test data, not a secret)
    batch = _batch(payloads)
    rows = np.arange(len(payloads))
    assert payload_slices(batch, rows) == payloads
    det = _detector(**settings)
    want = det.questions(batch, rows, compiled=False)
    monkeypatch.setattr(dns_tunnel, "parse_query", None)  # compiled: no Python parse
    got = det.questions(batch, rows, compiled=True)
    assert got == want
    judged = [q for q in want if q is not None]
    # the cases are all there: judged or not, suspicious, encoded, each record type
    assert len(judged) > 500
    assert len(want) - len(judged) > 100
    assert sum(q[4] for q in judged) > 50
    assert sum(q[5] for q in judged) > 10
    assert b"a.b.com" in {q[1] for q in judged}
    assert entropy(b"abcd" * 6) == 2.0


def _traffic(rng: random.Random) -> list[tuple[list[bytes], list[float], list[str]]]:
    """Batches of queries: names repeated within and across batches, a window that ends
    inside a batch, time going back, an ignored domain, more names than a window keeps
    (three clients, one of them past 128.0.0.0), and a quiet client whose window never
    fills, asking a few names again and again."""
    pool = [bytes(rng.choice(b"0123456789abcdef") for _ in range(32)) for _ in range(60)]
    domains = (
        [b"tun", b"org"],
        [b"example", b"com"],
        [b"in-addr", b"arpa"],
        [b"bbc", b"co", b"uk"],
    )
    batches = []
    t = T0
    for b in range(6):
        payloads, times, clients = [], [], []
        for k in range(700):
            t += rng.choice([0.001, 0.01]) if b != 3 else rng.choice([0.01, 0.5])
            sub = [rng.choice(pool)] if rng.random() < 0.5 else [rng.randbytes(4).hex().encode()]
            qtype = rng.choice([1, 16, 16, 10, 5])
            name = _name(sub + list(rng.choice(domains)))
            payloads.append(_header() + name + struct.pack("!HH", qtype, 1))
            times.append(t - 5.0 if rng.random() < 0.02 else t)  # a few out of order
            clients.append(("10.0.0.1", "10.0.0.2", "192.168.7.3")[k % 3])
        for k in range(3):
            name = _name([pool[rng.randrange(4)], b"quiet", b"net"])
            payloads.append(_header() + name + struct.pack("!HH", 16, 1))
            times.append(t + k * 0.001)
            clients.append("10.0.0.4")
        batches.append((payloads, times, clients))
    return batches


def _windows(det: DnsTunnel) -> list[tuple[Any, ...]]:
    return [
        (
            k,
            w.start,
            w.last,
            w.queries,
            w.null,
            w.txt,
            w.suspicious,
            w.encoded,
            w.sub_len,
            w.max_label,
            sorted(w.unique),
        )
        for k, w in det.windows.items()
    ]


def _run(grouped: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[str]]:
    monkeypatch.setattr(dns_tunnel, "GROUPED_MIN", 1 if grouped else 10**9)
    calls: list[str] = []
    real_grouped, real_count = DnsTunnel._grouped, DnsTunnel._count

    def grouped_counted(self: DnsTunnel, *args: Any, **kwargs: Any) -> None:
        calls.append("grouped")
        real_grouped(self, *args, **kwargs)

    def count_counted(self: DnsTunnel, *args: Any) -> None:
        calls.append("count")
        real_count(self, *args)

    monkeypatch.setattr(DnsTunnel, "_grouped", grouped_counted)
    monkeypatch.setattr(DnsTunnel, "_count", count_counted)
    sink = ListSink()
    settings = {"window_seconds": 20.0, "unique_threshold": 5, "suspicious_threshold": 4}
    engine = Engine(
        AuditorConfig(detectors={"dns_tunnel": settings}),
        [sink],
        sensor="t",
        only=["dns_tunnel"],
    )
    (det,) = engine.detectors
    assert isinstance(det, DnsTunnel)
    snapshots = []
    for payloads, times, clients in _traffic(random.Random(5)):  # noqa: S311  (test data)
        engine.process(_batch(payloads, times, clients))
        snapshots.append(_windows(det))
    engine.finish()
    # one by one: _count per batch; grouped: _grouped per batch, and _count for the groups
    # whose window began again inside the batch
    assert ("grouped" in calls) == grouped
    assert "count" in calls
    events = [e.model_dump_json(exclude={"id"}) for e in sink.events]
    return snapshots, events


def test_the_grouped_count_leaves_the_windows_of_the_one_by_one_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one, one_events = _run(False, monkeypatch)
    monkeypatch.undo()
    grouped, grouped_events = _run(True, monkeypatch)
    assert grouped == one  # the same windows, counts, names and order after every batch
    assert grouped_events == one_events
    assert len(one_events) >= 3
    # the cases happened: a window began again inside a batch, and windows filled up
    starts: dict[Any, set[float]] = {}
    for snap in one:
        for w in snap:
            starts.setdefault(w[0], set()).add(w[1])
    assert any(len(s) > 1 for s in starts.values())
    assert any(len(w[-1]) == 4 * 5 for snap in one for w in snap)


def test_a_query_header_is_checked_before_the_questions_are_read() -> None:
    payloads = [
        _header(flags=0x8180) + _name([b"a", b"tun", b"org"]) + b"\x00\x10\x00\x01",  # a response
        _header(qdcount=0) + _name([b"b", b"tun", b"org"]) + b"\x00\x10\x00\x01",
        _header() + _name([b"c", b"tun", b"org"]) + b"\x00\x10\x00\x01",
    ]
    batch = _batch(payloads)
    rows = np.arange(3)
    head = payload_prefix(batch, rows, 6)
    assert head[:, 2].tolist() == [0x81, 0x01, 0x01]
    assert view(batch).payload_len.tolist() == [len(p) for p in payloads]
    det = _detector()
    got = det.questions(batch, rows, compiled=True)
    assert got[0] is None
    assert got[1] is None
    assert got[2] == (16, b"tun.org", b"c", 3, 0, 0)
