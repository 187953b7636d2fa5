"""Evidence pcaps: the ring's bounds, which packets belong to an incident, the per-incident
and per-run bounds, the file format (scapy and tshark read it back) and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet
from scapy.utils import rdpcap

from collectors.auditor.batch import Batch
from collectors.auditor.decode import decode_frames, iter_batches
from collectors.auditor.engine import Engine, RunSummary
from collectors.auditor.events import IncidentTracker, ListSink, Severity, read_events
from collectors.auditor.evidence import (
    PCAP_SNAPLEN,
    EvidenceRing,
    EvidenceSettings,
    RuleIndex,
    rule_for,
    select,
)
from collectors.auditor.headers import LINKTYPE_RAW
from tests.unit.auditor.auditor_helpers import T0, at, scapy_batch, write_pcap

REPO = Path(__file__).resolve().parents[3]
SCANNER, VICTIM = "10.11.40.66", "10.11.20.10"
SCANNER_MAC, VICTIM_MAC = "02:00:00:00:40:66", "02:00:00:00:00:01"
GW, GW_MAC = "10.11.30.1", "02:00:00:11:00:01"
HOST, HOST_MAC = "10.11.30.20", "02:00:00:11:30:20"
EVIL = "02:00:00:66:66:66"
BCAST = "ff:ff:ff:ff:ff:ff"
NEEDS_TSHARK = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def _scan(ports: int = 30, t0: float = T0) -> list[Packet]:
    """A SYN scan of ``ports`` ports, each refused (RST), one every 0.1 s."""
    out = []
    for k in range(ports):
        syn = Ether(src=SCANNER_MAC, dst=VICTIM_MAC) / IP(src=SCANNER, dst=VICTIM)
        rst = Ether(src=VICTIM_MAC, dst=SCANNER_MAC) / IP(src=VICTIM, dst=SCANNER)
        out.append(at(syn / TCP(sport=45000, dport=k + 1, flags="S"), t0 + k * 0.1))
        out.append(at(rst / TCP(sport=k + 1, dport=45000, flags="RA"), t0 + k * 0.1 + 0.001))
    return out


def _noise(n: int, t0: float = T0) -> list[Packet]:
    """Traffic of other hosts, interleaved with the incidents: never in their evidence."""
    e = Ether(src="02:00:00:00:99:01", dst="02:00:00:00:99:02")
    return [
        at(
            e / IP(src="10.99.0.1", dst="10.99.0.2") / TCP(sport=1, dport=80, flags="A"),
            t0 + k * 0.1,
        )
        for k in range(n)
    ]


def _spoof(t0: float = T0 + 4) -> list[Packet]:
    """HOST asks for the gateway, the gateway answers, then EVIL claims the gateway twice."""
    return [
        at(Ether(src=HOST_MAC, dst=BCAST) / ARP(op=1, hwsrc=HOST_MAC, psrc=HOST, pdst=GW), t0),
        at(
            Ether(src=GW_MAC, dst=HOST_MAC)
            / ARP(op=2, hwsrc=GW_MAC, psrc=GW, hwdst=HOST_MAC, pdst=HOST),
            t0 + 0.001,
        ),
        at(
            Ether(src=EVIL, dst=HOST_MAC)
            / ARP(op=2, hwsrc=EVIL, psrc=GW, hwdst=HOST_MAC, pdst=HOST),
            t0 + 1,
        ),
        at(
            Ether(src=EVIL, dst=HOST_MAC)
            / ARP(op=2, hwsrc=EVIL, psrc=GW, hwdst=HOST_MAC, pdst=HOST),
            t0 + 3,
        ),
    ]


def _trace(tmp_path: Path, packets: Sequence[Packet]) -> Path:
    return write_pcap(tmp_path / "trace.pcap", sorted(packets, key=lambda p: float(p.time)))


def _run(
    path: Path, settings: EvidenceSettings | None, batch_size: int = 8
) -> tuple[RunSummary, ListSink]:
    """Run every detector over ``path`` in small batches (the ring and follow-up both work)."""
    sink = ListSink()
    engine = Engine(sinks=[sink], sensor="test", evidence=settings)
    return engine.run(iter_batches(path, batch_size=batch_size)), sink


def _tshark(path: Path, *fields: str) -> list[list[str]]:
    """``tshark -r`` the file: one row of ``fields`` per packet (it fails on a bad file)."""
    args = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=|"]
    for f in fields:
        args += ["-e", f]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("|") for line in done.stdout.splitlines()]


def test_ring_is_bounded_by_batches_bytes_and_seconds() -> None:
    pkts = [at(p, T0 + k) for k, p in enumerate(_noise(40))]
    batches = [scapy_batch(pkts[i : i + 4]) for i in range(0, 40, 4)]  # 10 batches, 4 s each
    ring = EvidenceRing(batches=3, nbytes=1 << 30, seconds=1e9)
    for b in batches:
        ring.add(b)
    assert [e.batch for e in ring.entries] == batches[-3:]
    by_time = EvidenceRing(batches=100, nbytes=1 << 30, seconds=8)
    for b in batches:
        by_time.add(b)
    assert [e.batch for e in by_time.entries] == batches[-3:]  # 39 - 31 <= 8 < 39 - 27
    one = batches[0].packets.nbytes + batches[0].offsets.nbytes + len(batches[0].data)
    by_bytes = EvidenceRing(batches=100, nbytes=2 * one, seconds=1e9)
    for b in batches:
        by_bytes.add(b)
    assert len(by_bytes.entries) == 2
    assert by_bytes.bytes == sum(
        e.batch.packets.nbytes + e.batch.offsets.nbytes + len(e.batch.data)
        for e in by_bytes.entries
    )
    tiny = EvidenceRing(batches=100, nbytes=1, seconds=0)
    for b in batches:
        tiny.add(b)
    assert [e.batch for e in tiny.entries] == batches[-1:]  # the newest batch always stays


def test_ring_counts_a_shared_buffer_once(tmp_path: Path) -> None:
    path = _trace(tmp_path, _noise(40))
    batches = list(iter_batches(path, batch_size=10))  # one chunk: four batches slice it
    assert len({id(b.data) for b in batches}) == 1
    ring = EvidenceRing(batches=100, nbytes=1 << 30, seconds=1e9)
    for b in batches:
        ring.add(b)
    columns = sum(b.packets.nbytes + b.offsets.nbytes for b in batches)
    assert ring.bytes == columns + len(batches[0].data)
    ring = EvidenceRing(batches=2, nbytes=1 << 30, seconds=1e9)
    for b in batches:
        ring.add(b)
    assert ring.bytes == sum(b.packets.nbytes + b.offsets.nbytes for b in batches[-2:]) + len(
        batches[0].data
    )


def test_rules_match_the_packets_of_each_incident_kind() -> None:
    pkts = sorted(_scan(3) + _noise(3) + _spoof(), key=lambda p: float(p.time))
    batch = scapy_batch(pkts)
    scan = rule_for("port_scan", SCANNER, VICTIM, {})
    arp = rule_for("arp_spoof", EVIL, HOST, {"ip": GW})
    pair = rule_for("ssh_bruteforce", VICTIM, SCANNER, {})
    by_mac = rule_for("unknown_device", EVIL, "", {})
    assert scan is not None
    assert arp is not None
    assert pair is not None
    assert by_mac is not None
    got = select(batch.packets, [scan, arp, pair, by_mac])
    kinds = [[pkts[i].summary() for i in idx] for idx in got]
    assert len(kinds[0]) == 6
    assert all("10.11.40.66" in k for k in kinds[0])
    assert len(kinds[1]) == 4
    assert all("ARP" in k for k in kinds[1])
    assert list(got[2]) == list(got[0])  # the conversation, both ways
    assert len(kinds[3]) == 2  # the frames of that MAC
    # each rule alone selects what it selects among the others
    assert [list(select(batch.packets, [r])[0]) for r in (scan, arp)] == [
        list(got[0]),
        list(got[1]),
    ]
    # the index over many rules finds what each rule's own mask finds
    rules = [scan, arp, pair, by_mac]
    rules += [
        r for d in ("dns_tunnel", "rogue_dhcp", "beaconing") if (r := rule_for(d, HOST, GW, {}))
    ]
    rules += [r for d in ("port_scan", "policy_violation") if (r := rule_for(d, GW_MAC, GW, {}))]
    by_index = [i.tolist() for i in select(batch.packets, rules)]
    assert by_index == [np.flatnonzero(r.mask(batch.packets)).tolist() for r in rules]
    assert all(by_index[:4])
    # rules that start after every packet they match select nothing (it raised once)
    later = np.full(len(rules), float(batch.packets["ts"].max()) + 1.0)
    assert RuleIndex(rules).select(batch.packets, later) == {}
    some = np.where(np.arange(len(rules)) == 0, float(batch.packets["ts"].min()), later)
    assert set(RuleIndex(rules).select(batch.packets, some)) == {0}
    assert rule_for("port_scan", "", "", {}) is None
    assert rule_for("port_scan", "0.0.0.0", "", {}) is None  # noqa: S104  (an address, not a bind)
    dns = rule_for("dns_tunnel", "10.0.0.1", "", {})
    assert dns is not None
    assert dns.ports == frozenset({53})


def test_scan_and_spoof_evidence_hold_their_packets(tmp_path: Path) -> None:
    path = _trace(tmp_path, _scan() + _noise(30) + _spoof())
    summary, sink = _run(path, EvidenceSettings(tmp_path / "ev"))
    latest = {e.detector: e for e in sink.latest()}
    assert set(latest) == {"port_scan", "arp_spoof"}
    for ev in sink.events:  # every version of every event names its file, updates included
        assert ev.evidence["pcap"] == f"{ev.id}.pcap"
    scan = rdpcap(str(tmp_path / "ev" / latest["port_scan"].evidence["pcap"]))
    assert sum(1 for p in scan if p[TCP].flags == "S") == 30
    assert sum(1 for p in scan if p[TCP].flags == "RA") == 30
    assert {p[IP].src for p in scan} == {SCANNER, VICTIM}
    spoof = rdpcap(str(tmp_path / "ev" / latest["arp_spoof"].evidence["pcap"]))
    assert [(p[ARP].op, p[ARP].hwsrc, p[ARP].psrc) for p in spoof] == [
        (1, HOST_MAC, HOST),
        (2, GW_MAC, GW),
        (2, EVIL, GW),
        (2, EVIL, GW),
    ]
    assert summary.evidence["files"] == 2
    assert summary.evidence["packets"] == 64
    assert summary.evidence_dir == str(tmp_path / "ev")
    mode = (tmp_path / "ev" / latest["arp_spoof"].evidence["pcap"]).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_without_evidence_nothing_is_kept_or_referenced(tmp_path: Path) -> None:
    path = _trace(tmp_path, _scan() + _spoof())
    summary, sink = _run(path, None)
    engine = Engine(sensor="test")
    assert engine.evidence is None
    assert sink.events
    assert all("pcap" not in e.evidence for e in sink.events)
    assert summary.evidence == {}
    assert summary.evidence_dir == ""


def test_follow_up_stops_at_the_packet_bound(tmp_path: Path) -> None:
    path = _trace(tmp_path, _scan(40))
    settings = EvidenceSettings(tmp_path / "ev", max_packets=10)
    summary, sink = _run(path, settings)
    (scan,) = sink.latest()
    assert len(rdpcap(str(tmp_path / "ev" / scan.evidence["pcap"]))) == 10
    assert summary.evidence["truncated"] == 1
    assert summary.evidence["dropped_packets"] > 0


def test_follow_up_adds_packets_after_the_opening(tmp_path: Path) -> None:
    # context of 0 s and a ring of one batch: what the file holds past the batch that
    # opened the incident came from following it
    path = _trace(tmp_path, _scan(40))
    settings = EvidenceSettings(tmp_path / "ev", context_seconds=0, ring_batches=1)
    _, sink = _run(path, settings, batch_size=4)
    (scan,) = sink.latest()
    got = rdpcap(str(tmp_path / "ev" / scan.evidence["pcap"]))
    assert len(got) > 4
    assert float(got[-1].time) == pytest.approx(T0 + 3.901)  # the last RST of the scan
    assert [float(p.time) for p in got] == sorted(float(p.time) for p in got)


def test_run_total_prunes_the_oldest_files(tmp_path: Path) -> None:
    # three scanners: each file is ~60 packets of 54 bytes + 16 (about 4.2 kB)
    pkts = []
    for k, net in enumerate(("10.11.40", "10.11.41", "10.11.42")):
        for p in _scan(30, T0 + k * 100):
            p[IP].src = p[IP].src.replace("10.11.40", net)
            p[IP].dst = p[IP].dst.replace("10.11.40", net)
            pkts.append(p)
    path = _trace(tmp_path, pkts)
    settings = EvidenceSettings(tmp_path / "ev", max_bytes=5000, total_bytes=9000)
    summary, sink = _run(path, settings)
    names = [e.evidence["pcap"] for e in sink.latest()]
    assert len(names) == 3
    left = sorted(p.name for p in (tmp_path / "ev").iterdir())
    assert left == sorted(names[1:])  # the oldest incident's file went
    assert summary.evidence["pruned_files"] == 1
    assert sum(p.stat().st_size for p in (tmp_path / "ev").iterdir()) <= 9000


def test_evidence_reference_survives_updates_with_new_evidence() -> None:
    sink = ListSink()
    tracker = IncidentTracker(
        site="s", sensor="x", sinks=[sink], on_open=lambda ev: {"pcap": f"{ev.id}.pcap"}
    )
    for n, sev in ((1, Severity.LOW), (2, Severity.HIGH), (8, Severity.HIGH)):
        tracker.report(
            detector="d",
            key=("k",),
            ts=T0 + n,
            severity=sev,
            summary="s",
            evidence=lambda n=n: {"n": n},
        )
    tracker.flush()
    name = f"{sink.events[0].id}.pcap"
    # opened, raised to high (emitted), then the last update (flushed): the name stays
    assert [e.evidence for e in sink.events] == [
        {"n": 1, "pcap": name},
        {"n": 2, "pcap": name},
        {"n": 8, "pcap": name},
    ]


@NEEDS_TSHARK
def test_tshark_reads_the_files_with_microsecond_times(tmp_path: Path) -> None:
    pkts = _scan(30, T0 + 0.123456)
    path = _trace(tmp_path, pkts)
    _, sink = _run(path, EvidenceSettings(tmp_path / "ev"))
    (scan,) = sink.latest()
    rows = _tshark(
        tmp_path / "ev" / scan.evidence["pcap"], "frame.time_epoch", "ip.src", "tcp.flags.syn"
    )
    assert len(rows) == 60
    want = sorted(f"{float(p.time):.6f}" for p in pkts)
    assert sorted(f"{float(r[0]):.6f}" for r in rows) == want
    assert sum(1 for r in rows if r[1] == SCANNER) == 30
    info = subprocess.run(
        ["capinfos", "-E", "-l", str(tmp_path / "ev" / scan.evidence["pcap"])],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "Ethernet" in info
    assert str(PCAP_SNAPLEN) in info


@NEEDS_TSHARK
def test_the_file_has_the_link_type_of_the_source(tmp_path: Path) -> None:
    # raw IP frames (LINKTYPE_RAW, as from a tunnel interface), through the live decoder
    frames = [bytes(p[IP]) for p in _scan(30)]
    stamps = np.array([float(p.time) for p in _scan(30)])
    batches: list[Batch] = [
        decode_frames(frames[i : i + 8], stamps[i : i + 8], LINKTYPE_RAW, first_index=i)
        for i in range(0, len(frames), 8)
    ]
    sink = ListSink()
    engine = Engine(sinks=[sink], sensor="t", evidence=EvidenceSettings(tmp_path / "ev"))
    engine.run(batches)
    (scan,) = sink.latest()
    file = tmp_path / "ev" / scan.evidence["pcap"]
    assert int.from_bytes(file.read_bytes()[20:24], "little") == LINKTYPE_RAW
    rows = _tshark(file, "ip.src", "ip.dst")
    assert len(rows) == 60
    assert {r[0] for r in rows} == {SCANNER, VICTIM}


def _auditor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``netwarden auditor ARGS`` from the repository, in a process of its own (bounded)."""
    return subprocess.run(
        [sys.executable, "-m", "netwarden.cli", "auditor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
        check=False,
    )


@NEEDS_TSHARK
def test_cli_events_name_evidence_pcaps(tmp_path: Path) -> None:
    path = _trace(tmp_path, _scan() + _noise(30) + _spoof())
    events, evdir = tmp_path / "events.jsonl", tmp_path / "evidence"
    done = _auditor(
        "--pcap", str(path), "--evidence", str(evdir), "--events", str(events), "--json",
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # medium findings
    summary = json.loads(done.stdout)
    assert summary["evidence_dir"] == str(evdir)
    assert summary["evidence"]["files"] == 2
    by_detector = {e.detector: e for e in read_events(events)}
    assert set(by_detector) == {"port_scan", "arp_spoof"}
    scan = _tshark(evdir / by_detector["port_scan"].evidence["pcap"], "ip.src", "tcp.flags.syn")
    assert sum(1 for src, syn in scan if src == SCANNER and syn in {"1", "True"}) == 30
    arp = _tshark(evdir / by_detector["arp_spoof"].evidence["pcap"], "arp.opcode", "arp.src.hw_mac")
    assert [r for r in arp if r[0] == "2" and r[1] == EVIL] == [["2", EVIL], ["2", EVIL]]
    assert len(arp) == 4


def test_cli_rejects_a_bad_evidence_bound(tmp_path: Path) -> None:
    path = _trace(tmp_path, _scan(3))
    done = _auditor(
        "--pcap", str(path), "--evidence", str(tmp_path / "ev"), "--evidence-max-bytes", "lots"
    )
    assert done.returncode == 2
    assert "--evidence-max-bytes" in done.stderr


def test_ipv6_rules_match_by_address() -> None:
    a, b, other = "2001:db8::66", "2001:db8::10", "2001:db8::99"
    pkts = [
        Ether() / IPv6(src=a, dst=b) / TCP(dport=22, flags="S"),
        Ether() / IPv6(src=b, dst=a) / TCP(sport=22, flags="SA"),
        Ether() / IPv6(src=other, dst=b) / TCP(dport=22, flags="S"),
        Ether() / IPv6(src=a, dst=other) / TCP(dport=80, flags="S"),
    ]
    batch = decode_frames([bytes(p) for p in pkts], [T0 + k for k in range(4)], 1)
    touch = rule_for("port_scan", a, b, {})
    pair = rule_for("ssh_bruteforce", a, b, {})
    assert touch is not None
    assert pair is not None
    assert [list(i) for i in select(batch.packets, [touch, pair])] == [[0, 1, 3], [0, 1]]


def test_record_writers_agree_and_respect_the_room() -> None:
    from collectors.auditor.evidence import _few_records, _records

    pkts = [at(p, T0 + 0.9999996 + k * 0.25) for k, p in enumerate(_scan(40))]  # a carry
    batch = scapy_batch(pkts)
    idx = np.arange(len(pkts), dtype=np.intp)
    many: list[bytes | memoryview] = []
    few: list[bytes | memoryview] = []
    assert _records(batch, idx, 1 << 20, many) == _few_records(batch, idx, 1 << 20, few)
    assert b"".join(many) == b"".join(few)
    assert int.from_bytes(bytes(many[0][:4]), "little") == int(T0) + 1  # 0.9999996 s rounds up
    room = 3 * (16 + len(bytes(pkts[0]))) + 10
    many, few = [], []
    assert _records(batch, idx, room, many) == _few_records(batch, idx, room, few) == (3, room - 10)
    assert b"".join(many) == b"".join(few)


def test_live_source_batches_get_evidence_too(tmp_path: Path) -> None:
    # the live input (offline sniffer: no root), small batches: evidence is batch-level
    from collectors.auditor.capture import LiveSource

    path = _trace(tmp_path, _scan() + _noise(30) + _spoof())
    source = LiveSource(
        None, batch_size=16, flush_seconds=0.05, sniffer_options={"offline": str(path)}
    )
    sink = ListSink()
    engine = Engine(sinks=[sink], sensor="t", evidence=EvidenceSettings(tmp_path / "ev"))
    engine.run(source)
    latest = {e.detector: e for e in sink.latest()}
    scan = rdpcap(str(tmp_path / "ev" / latest["port_scan"].evidence["pcap"]))
    assert sum(1 for p in scan if p[TCP].flags == "S") == 30
    spoof = rdpcap(str(tmp_path / "ev" / latest["arp_spoof"].evidence["pcap"]))
    assert [p[ARP].hwsrc for p in spoof if p[ARP].op == 2] == [GW_MAC, EVIL, EVIL]
