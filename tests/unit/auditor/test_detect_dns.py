"""dns_tunnel: iodine-like NULL queries, encoded labels, TXT-heavy mixes; CDN names are not tunnels."""

from __future__ import annotations

import random
from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from collectors.auditor.detectors.dns_tunnel import entropy, parse_query, split_domain
from collectors.auditor.events import Severity
from netwarden.inventory.models import Inventory
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine

CLIENT, RESOLVER = "10.11.30.52", "10.11.20.10"
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def _query(name: str, qtype: str, t: float, sport: int = 40000, src: str = CLIENT) -> object:
    q = DNS(id=sport, rd=1, qd=DNSQR(qname=name, qtype=qtype))
    return at(Ether() / IP(src=src, dst=RESOLVER) / UDP(sport=sport, dport=53) / q, t)


def _label(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(n))


def test_null_queries_iodine_style(tmp_path: Path) -> None:
    rng = random.Random(1)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts = [
        _query(f"{_label(rng, 30)}.t1.tunnel-example.com", "NULL", T0 + k * 0.2, 40000 + k)
        for k in range(6)
    ]
    events = of(run_engine(tmp_path, pkts), "dns_tunnel")
    assert len(events) == 1
    ev = events[0]
    assert ev.evidence["domain"] == "tunnel-example.com"
    assert "null_queries" in ev.evidence["reasons"]
    assert ev.severity is Severity.HIGH


def test_encoded_labels_in_a_queries(tmp_path: Path) -> None:
    rng = random.Random(2)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts = [
        _query(f"{_label(rng, 60)}.{_label(rng, 40)}.x.exfil-example.org", "A", T0 + k, 40000 + k)
        for k in range(15)
    ]
    events = of(run_engine(tmp_path, pkts), "dns_tunnel")
    assert len(events) == 1
    assert "suspicious_names" in events[0].evidence["reasons"]


def test_txt_heavy_mix(tmp_path: Path) -> None:
    rng = random.Random(3)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts = [
        _query(f"{_label(rng, 12)}.c2-example.net", "TXT", T0 + k * 2, 40000 + k) for k in range(25)
    ]
    events = of(run_engine(tmp_path, pkts), "dns_tunnel")
    assert len(events) == 1
    assert events[0].evidence["reasons"] == ["txt_heavy"]
    assert events[0].severity is Severity.MEDIUM


def test_cdn_names_each_once_are_not_a_tunnel(tmp_path: Path) -> None:
    rng = random.Random(4)  # noqa: S311  (reproducible traffic, not cryptography)
    pkts = []
    for k in range(80):  # long-ish, random-looking, but short labels each looked up once
        pkts.append(
            _query(f"d{rng.getrandbits(52):013x}.cloudfront.net", "A", T0 + k * 3, 40000 + k)
        )
        pkts.append(
            _query(f"{rng.getrandbits(40):010x}.akamaized.net", "AAAA", T0 + k * 3 + 1, 41000 + k)
        )
    pkts += [_query("www.un.org", "A", T0 + 300), _query("_dmarc.un.org", "TXT", T0 + 301)]
    pkts += [
        _query(f"{k}.2.0.192.in-addr.arpa", "PTR", T0 + 400 + k, 42000 + k) for k in range(150)
    ]
    assert run_engine(tmp_path, pkts) == []


def test_inventory_resolvers_are_not_sources(tmp_path: Path, inv: Inventory) -> None:
    rng = random.Random(5)  # noqa: S311  (reproducible traffic, not cryptography)
    # nyc-srv1 provides dns: its own upstream NULL queries (forwarded for clients) are skipped
    pkts = [
        _query(
            f"{_label(rng, 30)}.t1.tunnel-example.com", "NULL", T0 + k, 40000 + k, src="10.11.20.10"
        )
        for k in range(6)
    ]
    assert of(run_engine(tmp_path, pkts, inventory=inv, site="nyc"), "dns_tunnel") == []


def test_parsers() -> None:
    raw = bytes(DNS(id=1, rd=1, qd=DNSQR(qname="A.b.Example.co.uk", qtype="TXT")))
    assert parse_query(raw) == (16, [b"a", b"b", b"example", b"co", b"uk"])
    assert parse_query(raw[:15]) is None
    assert parse_query(bytes(DNS(id=1, qr=1, qd=DNSQR(qname="x.y")))) is None
    assert split_domain([b"a", b"example", b"com"]) == (b"example.com", b"a")
    assert entropy(b"abababab") == 1.0
