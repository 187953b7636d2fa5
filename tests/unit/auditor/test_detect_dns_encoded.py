"""dns_tunnel's per-query score: a short dnscat2-style tunnel, and look-alikes that stay quiet."""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet

from collectors.auditor.config import AuditorConfig
from collectors.auditor.detectors.base import DetectorContext
from collectors.auditor.detectors.dns_tunnel import DnsTunnel, DnsTunnelSettings, encoding, entropy
from collectors.auditor.events import Severity
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine

CLIENT, RESOLVER = "10.11.30.52", "10.11.20.10"
SRC_MAC, DST_MAC = "02:00:00:11:30:52", "02:00:00:11:00:01"  # explicit: scapy would ARP


def _query(name: str, qtype: str, t: float, sport: int) -> Packet:
    q = DNS(id=sport & 0xFFFF, rd=1, qd=DNSQR(qname=name, qtype=qtype))
    return at(
        Ether(src=SRC_MAC, dst=DST_MAC)
        / IP(src=CLIENT, dst=RESOLVER)
        / UDP(sport=sport, dport=53)
        / q,
        t,
    )


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _dnscat2(rng: random.Random, count: int = 12) -> list[Packet]:
    """dnscat2's pattern: about one query a second, a 30-plus hex label, TXT/MX/CNAME in turn."""
    types = ("TXT", "MX", "CNAME")
    return [
        _query(f"{_hex(rng, 34 + k % 6)}.c2-example.org", types[k % 3], T0 + k * 1.05, 40000 + k)
        for k in range(count)
    ]


def test_short_dnscat2_tunnel_is_reported(tmp_path: Path) -> None:
    rng = random.Random(1)  # noqa: S311  (reproducible traffic, not cryptography)
    events = of(run_engine(tmp_path, _dnscat2(rng)), "dns_tunnel")
    assert len(events) == 1
    ev = events[0]
    assert ev.evidence["domain"] == "c2-example.org"
    assert ev.evidence["reasons"] == ["encoded_queries"]  # no volume rule reaches 12 queries
    assert ev.evidence["encoded_queries"] == 12
    assert ev.severity is Severity.HIGH


def test_nine_encoded_queries_stay_below_the_threshold(tmp_path: Path) -> None:
    rng = random.Random(2)  # noqa: S311  (reproducible traffic, not cryptography)
    assert of(run_engine(tmp_path, _dnscat2(rng, 9)), "dns_tunnel") == []


def test_base32_and_base64_labels_in_txt_queries(tmp_path: Path) -> None:
    rng = random.Random(3)  # noqa: S311  (reproducible traffic, not cryptography)
    b32 = "abcdefghijklmnopqrstuvwxyz234567"
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    pkts = [
        _query(
            f"{''.join(rng.choice(b32) for _ in range(36))}.b32-example.net",
            "TXT",
            T0 + k,
            41000 + k,
        )
        for k in range(12)
    ]
    pkts += [
        _query(
            f"{''.join(rng.choice(b64) for _ in range(40))}.b64-example.net",
            "CNAME",
            T0 + k,
            42000 + k,
        )
        for k in range(12)
    ]
    events = of(run_engine(tmp_path, pkts), "dns_tunnel")
    assert sorted(e.evidence["domain"] for e in events) == ["b32-example.net", "b64-example.net"]
    assert all("encoded_queries" in e.evidence["reasons"] for e in events)


def test_cdn_dns_sd_and_blocklist_look_alikes_are_quiet(tmp_path: Path) -> None:
    rng = random.Random(4)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts: list[Packet] = []
    t = T0
    for k in range(40):
        t += 1.0
        # long hex names under a CDN, looked up as A/AAAA (the address is what a CDN gives)
        pkts.append(_query(f"{_hex(rng, 40)}.akamaihd.net", "A", t, 43000 + k))
        pkts.append(
            _query("a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6.akamaihd.net", "AAAA", t, 44000 + k)
        )
        pkts.append(_query(f"e{rng.randint(1000, 99999)}.dscx.akamaiedge.net", "A", t, 45000 + k))
        pkts.append(_query(f"r{k % 9}---sn-4g5e6nz7.googlevideo.com", "A", t, 46000 + k))
        # CNAME chains of long but wordy names (no digits: not an encoding)
        pkts.append(
            _query(
                "www-marketing-campaign-landing-pages-europe.example-shop.com",
                "CNAME",
                t,
                47000 + k,
            )
        )
        # DNS-SD browsing and spam-blocklist lookups (A then TXT for the reason)
        pkts.append(_query(f"_service{k}._tcp.local", "PTR", t, 48000 + k))
        rev = f"{k}.{rng.randint(0, 255)}.51.198"
        pkts.append(_query(f"{rev}.zen.spamhaus.org", "A", t, 49000 + k))
        if k % 8 == 0:  # listed: the reason is asked for (TXT)
            pkts.append(_query(f"{rev}.zen.spamhaus.org", "TXT", t + 0.1, 50000 + k))
        # DKIM keys of the senders of the mail received: TXT, short labels
        pkts.append(_query(f"s{k}._domainkey.sender{k}.example", "TXT", t, 51000 + k))
    assert of(run_engine(tmp_path, pkts), "dns_tunnel") == []


def test_score_of_single_queries() -> None:
    det = DnsTunnel(DnsTunnelSettings(), DetectorContext(reporter=None))  # type: ignore[arg-type]
    hexlabel = b"6d2e0101a3f9c45e8b7a6d2e0101a3f9c45e"
    assert det.score(16, [hexlabel]) == 4  # TXT, long, hex, high entropy
    assert det.score(1, [hexlabel]) == 3  # an A query: not counted
    assert det.score(16, [b"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"]) == 3  # two symbols: entropy 1 bit
    assert det.score(15, [b"mail"]) == 1
    assert encoding(b"MFRGGZDFMZTWQ2LK") == "base32"
    assert encoding(b"aGVsbG8gV29ybGQ1") == "base64"
    assert encoding(b"r3---sn-4g5e6nz7") is None
    assert (
        AuditorConfig().settings_for("dns_tunnel", DnsTunnelSettings, None).encoded_min_score == 4
    )


def test_encoded_short_cut_agrees_with_the_score() -> None:
    """``_encoded`` stops once the answer cannot change: for every minimum score, the same
    answer as ``score(...) >= minimum`` on hex, base32, base64, words, short and long labels
    of every record type; and ``entropy`` is the Counter-based sum, to the bit."""
    rng = random.Random(12)  # noqa: S311  (test data)
    alphabets = (
        b"0123456789abcdef",
        b"abcdefghijklmnopqrstuvwxyz234567",
        b"aZ09+/",
        b"mail",
        b"ab",
    )
    cases = []
    for _ in range(600):
        alphabet = rng.choice(alphabets)
        label = bytes(rng.choice(alphabet) for _ in range(rng.choice([4, 12, 29, 30, 31, 45, 63])))
        labels = [label] + ([b"www"] if rng.random() < 0.5 else [])
        cases.append((rng.choice([1, 5, 10, 15, 16, 28]), labels))
    for need in (1, 2, 3, 4):
        det = DnsTunnel(
            DnsTunnelSettings(encoded_min_score=need),
            DetectorContext(reporter=None),  # type: ignore[arg-type]
        )
        got = [det._encoded(q, labels) for q, labels in cases]
        assert got == [det.score(q, labels) >= need for q, labels in cases]
        assert any(got)
        assert need == 1 or not all(got)
    for _, labels in cases[:200]:
        text = labels[0]
        n = len(text)
        want = max(0.0, -sum(c / n * math.log2(c / n) for c in Counter(text).values()))
        assert entropy(text) == want
