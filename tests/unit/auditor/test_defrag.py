"""IPv4 reassembly of tiny-fragment datagrams (nmap -f): scapy-fragmented probes, in
order and reversed, overlapping, incomplete, bounded; and datagrams that need none."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from collectors.auditor.decode import decode_frames
from collectors.auditor.defrag import Defragmenter
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine

SCANNER, TARGET = "10.11.40.77", "10.10.20.10"
A_MAC, B_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


def _frags(pkt: Packet, t: float, size: int = 8, *, reverse: bool = False) -> list[Packet]:
    """``pkt`` (an IP datagram) in fragments of ``size`` data bytes, 1 ms apart, framed."""
    parts = fragment(pkt, fragsize=size)
    if reverse:
        parts = parts[::-1]
    return [at(Ether(src=A_MAC, dst=B_MAC) / f, t + k * 0.001) for k, f in enumerate(parts)]


def _fragmented_scan(ports: range, *, reverse: bool = False) -> list[Packet]:
    """nmap -f: each SYN's 20-byte TCP header in three 8-byte fragments; RST+ACK answers."""
    pkts: list[Packet] = []
    for k, port in enumerate(ports):
        t = T0 + k * 0.01
        syn = IP(src=SCANNER, dst=TARGET, id=1000 + k) / TCP(sport=61000, dport=port, flags="S")
        pkts += _frags(syn, t, reverse=reverse)
        pkts.append(
            at(
                Ether(src=B_MAC, dst=A_MAC)
                / IP(src=TARGET, dst=SCANNER)
                / TCP(sport=port, dport=61000, flags="RA"),
                t + 0.005,
            )
        )
    return pkts


def _batch(pkts: list[Packet]) -> object:
    return decode_frames([bytes(p) for p in pkts], [float(p.time) for p in pkts], 1)


def test_a_fragmented_syn_scan_is_seen(tmp_path: Path) -> None:
    events = run_engine(tmp_path, _fragmented_scan(range(1, 13)))
    found = of(events, "port_scan")
    assert [(e.src, e.dst, e.count) for e in found] == [(SCANNER, TARGET, 12)]


def test_fragments_in_reverse_order_are_reassembled(tmp_path: Path) -> None:
    events = run_engine(tmp_path, _fragmented_scan(range(1, 13), reverse=True))
    assert [e.count for e in of(events, "port_scan")] == [12]


def test_the_datagram_is_the_original_and_counted() -> None:
    original = (
        IP(src=SCANNER, dst=TARGET, id=7, flags="DF")
        / TCP(sport=61000, dport=445, flags="S", seq=12345)
        / Raw(b"hello, fragments")
    )
    defrag = Defragmenter()
    whole = defrag.feed(_batch(_frags(original, T0)))
    assert whole is not None
    assert len(whole) == 1
    row = whole.packets[0]
    assert (int(row["error"]), int(row["sport"]), int(row["dport"]), int(row["tcp_flags"])) == (
        0, 61000, 445, 0x02,
    )  # fmt: skip
    assert whole.payload(0) == b"hello, fragments"
    ip = IP(whole.raw(0)[14:])
    assert (ip.id, ip.flags.value, ip.frag, ip.len) == (7, 2, 0, len(original))  # DF kept
    assert float(row["ts"]) == float(_frags(original, T0)[-1].time)  # when it was complete
    assert defrag.counts == {"reassembled": 1}
    assert defrag.pending == {}
    assert defrag.held == 0


def test_overlapping_fragments_keep_the_bytes_that_came_first() -> None:
    datagram = IP(src=SCANNER, dst=TARGET, id=9) / TCP(sport=61000, dport=80, flags="PA")
    datagram /= Raw(b"A" * 16)
    parts = fragment(datagram, fragsize=8)  # 20 header + 16 data bytes: 8, 8, 8, 8, 4
    liar = IP(bytes(parts[3]))  # the fourth again, other bytes, after the original
    liar[Raw].load = b"B" * 8
    pkts = [at(Ether(src=A_MAC, dst=B_MAC) / f, T0 + k * 0.001) for k, f in enumerate(parts[:4])]
    pkts.append(at(Ether(src=A_MAC, dst=B_MAC) / liar, T0 + 0.0035))
    pkts.append(at(Ether(src=A_MAC, dst=B_MAC) / parts[4], T0 + 0.004))
    defrag = Defragmenter()
    whole = defrag.feed(_batch(pkts))
    assert whole is not None
    assert whole.payload(0) == b"A" * 16
    assert int(whole.packets[0]["dport"]) == 80
    assert defrag.counts == {"reassembled": 1, "overlapping": 1}


def test_an_incomplete_datagram_waits_then_expires() -> None:
    syn = IP(src=SCANNER, dst=TARGET, id=11) / TCP(sport=61000, dport=22, flags="S")
    parts = _frags(syn, T0)
    defrag = Defragmenter(timeout=30.0)
    assert defrag.feed(_batch([parts[0], parts[2]])) is None  # the middle one lost
    assert len(defrag.pending) == 1
    late = at(Ether(src=A_MAC, dst=B_MAC) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(), T0 + 31)
    assert defrag.feed(_batch([late])) is None
    assert defrag.pending == {}
    assert defrag.counts == {"expired": 1}


def test_whole_first_fragments_need_no_reassembly() -> None:
    """A big UDP datagram fragmented at 1480 bytes: the first fragment holds the header
    (the detectors read it already); its later fragments wait, then go uncounted."""
    big = IP(src="10.0.0.1", dst="10.0.0.2", id=5) / UDP(sport=53, dport=40000) / Raw(b"x" * 4000)
    defrag = Defragmenter()
    assert defrag.feed(_batch(_frags(big, T0, size=1480))) is None
    assert len(defrag.pending) == 1  # the later fragments, headless
    defrag.feed(
        _batch(
            [at(Ether(src=A_MAC, dst=B_MAC) / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(), T0 + 60)]
        )
    )
    assert defrag.pending == {}
    assert defrag.counts == {}


def test_pending_fragments_are_bounded() -> None:
    pkts: list[Packet] = []
    for k in range(50):  # first fragments only: never complete
        syn = IP(src=SCANNER, dst=TARGET, id=k) / TCP(sport=61000, dport=k + 1, flags="S")
        pkts.append(_frags(syn, T0 + k)[0])
    defrag = Defragmenter(max_datagrams=20)
    defrag.feed(_batch(pkts))
    assert len(defrag.pending) == 20
    assert [key[3] for key in defrag.pending] == list(range(30, 50))  # the newest kept
    assert defrag.counts == {"expired": 30}
    small = Defragmenter(max_bytes=100)  # 8 bytes each: 12 fit
    small.feed(_batch(pkts))
    assert len(small.pending) == 12
    assert small.held == 96


def test_the_tiny_fragments_themselves_are_reported(tmp_path: Path) -> None:
    events = run_engine(tmp_path, _fragmented_scan(range(1, 13)))
    found = of(events, "tiny_fragment")
    assert len(found) == 1
    ev = found[0]
    assert (ev.src, ev.dst, ev.count) == (SCANNER, TARGET, 12)
    assert ev.evidence["kinds"] == {"tcp": 12}
    assert "RFC 1858" in ev.summary


def test_ordinary_fragments_and_cut_captures_are_not_tiny_fragments(tmp_path: Path) -> None:
    """Big datagrams fragmented at the MTU (the first fragment holds the header), and
    packets cut short by the capture's snap length (no fragment at all): quiet."""
    pkts: list[Packet] = []
    for k in range(10):
        big = IP(src="10.0.0.1", dst=f"10.0.0.{10 + k}", id=k) / UDP(sport=53, dport=40000 + k)
        pkts += _frags(big / Raw(b"x" * 4000), T0 + k, size=1480)
    for k in range(10):  # TCP headers cut at 8 bytes by the capture, not fragmented
        syn = Ether(src=A_MAC, dst=B_MAC) / IP(src="10.0.0.2", dst=TARGET) / TCP(dport=k + 1)
        pkts.append(at(Ether(bytes(syn)[:42]), T0 + 20 + k))
    events = run_engine(tmp_path, pkts)
    assert of(events, "tiny_fragment") == []
    assert of(events, "port_scan") == []


def test_reassembly_is_counted_in_the_metrics(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from collectors.auditor.engine import Engine
    from collectors.auditor.metrics import AuditorCollector
    from collectors.auditor.stats import AuditorStats

    stats = AuditorStats()
    engine = Engine(sinks=[], site="nyc", stats=stats)
    engine.run([_batch(_fragmented_scan(range(1, 13)))])
    assert stats.reassembly == {"reassembled": 12}
    assert stats.packets == 12 * 4  # the captured frames only, not the datagrams again
    registry = CollectorRegistry()
    registry.register(AuditorCollector(stats, site="nyc", sensor="s1"))
    text = generate_latest(registry).decode()
    assert 'netwarden_auditor_reassembly_total{outcome="reassembled",site="nyc"} 12.0' in text
    assert 'netwarden_auditor_reassembly_total{outcome="expired",site="nyc"} 0.0' in text


def test_a_datagram_in_too_many_fragments_is_dropped() -> None:
    """300 fragments of 8 bytes (over MAX_PIECES, 256): dropped and counted, not kept
    (each new fragment is checked against the kept ones)."""
    syn = IP(src=SCANNER, dst=TARGET, id=77) / TCP(sport=61000, dport=80, flags="PA")
    big = syn / Raw(b"z" * (300 * 8 - 20))
    defrag = Defragmenter()
    assert defrag.feed(_batch(_frags(big, T0))) is None
    assert defrag.counts == {"too_fragmented": 1}
    assert defrag.held < 300 * 8  # what came after the drop waits, headless, to expire


def test_random_fragments_never_break_the_accounting() -> None:
    """Fuzz: fragments of five datagrams with random offsets, lengths and MF bits, some
    duplicated or overlapping, in random batches: no exception, every datagram handed
    back decodes, and the bytes held are the bytes of the fragments kept."""
    import random

    rng = random.Random(18)  # noqa: S311  (reproducible test traffic)
    defrag = Defragmenter(max_datagrams=4, max_bytes=600)
    for round_ in range(40):
        pkts = []
        for k in range(rng.randint(1, 30)):
            flags = "MF" if rng.random() < 0.7 else 0
            frag = IP(src=SCANNER, dst=TARGET, id=rng.randrange(5), proto=6, flags=flags)
            frag.frag = rng.choice([0, 0, 1, 2, 3, rng.randrange(40)])
            data = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 16, 24])))
            pkts.append(at(Ether(src=A_MAC, dst=B_MAC) / frag / Raw(data), T0 + round_ + k * 1e-3))
        whole = defrag.feed(_batch(pkts))
        if whole is not None:
            assert len(whole) >= 1
        kept = sum(len(b) for dg in defrag.pending.values() for b in dg.pieces.values())
        assert defrag.held == kept
        assert len(defrag.pending) <= 4
        assert kept <= 600
