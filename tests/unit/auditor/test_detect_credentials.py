"""cleartext_credentials: FTP, telnet, HTTP Basic, HTTP forms, SNMP; the secret never appears."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from scapy.asn1.asn1 import ASN1_OID
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.layers.snmp import SNMP, SNMPget, SNMPvarbind

from collectors.auditor.events import Severity
from tests.unit.auditor.auditor_helpers import T0, at, of, run_engine, tcp_session

CLIENT, SERVER = "10.11.30.51", "10.11.20.10"
SECRET = "Winter2026!"


def _kinds(events: list) -> set[str]:
    return {e.evidence["kind"] for e in of(events, "cleartext_credentials")}


def _no_secret(events: list) -> None:
    dump = json.dumps([e.model_dump(mode="json") for e in events])
    assert SECRET not in dump
    assert base64.b64encode(f"alice:{SECRET}".encode()).decode() not in dump


def test_ftp_user_pass(tmp_path: Path) -> None:
    pkts = tcp_session(
        T0,
        CLIENT,
        SERVER,
        21,
        payloads=[b"", b"USER backup\r\n", f"PASS {SECRET}\r\n".encode()],
        responses=[b"220 hi\r\n", b"331 Password required\r\n", b"230 ok\r\n"],
    )
    events = run_engine(tmp_path, pkts)
    creds = of(events, "cleartext_credentials")
    assert len(creds) == 1
    assert creds[0].evidence["kind"] == "ftp"
    assert creds[0].evidence["user"] == "backup"
    assert len(creds[0].evidence["secret_fingerprint"]) == 8
    assert creds[0].severity is Severity.HIGH
    _no_secret(events)


def test_anonymous_ftp_is_not_a_credential(tmp_path: Path) -> None:
    pkts = tcp_session(
        T0,
        CLIENT,
        SERVER,
        21,
        payloads=[b"USER anonymous\r\n", b"PASS guest@\r\n"],
        responses=[b"331 \r\n", b"230 \r\n"],
    )
    assert run_engine(tmp_path, pkts) == []


def test_telnet_password_prompt(tmp_path: Path) -> None:
    pkts = tcp_session(
        T0,
        CLIENT,
        SERVER,
        23,
        payloads=[b"admin\r\n", f"{SECRET}\r\n".encode()],
        responses=[b"Password: ", b"\r\nrouter#"],
    )
    events = run_engine(tmp_path, pkts)
    assert _kinds(events) == {"telnet"}
    _no_secret(events)


def test_http_basic_and_form_post(tmp_path: Path) -> None:
    token = base64.b64encode(f"alice:{SECRET}".encode()).decode()
    basic = f"GET /admin HTTP/1.1\r\nHost: printer\r\nAuthorization: Basic {token}\r\n\r\n".encode()
    body = f"user=alice&password={SECRET}&submit=1".encode()
    head = f"POST /login HTTP/1.1\r\nHost: app\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    pkts = tcp_session(
        T0, CLIENT, SERVER, 8080, payloads=[basic], responses=[b"HTTP/1.1 200 OK\r\n\r\n"]
    )
    # the form body in a second segment
    pkts += tcp_session(
        T0 + 5,
        CLIENT,
        "198.51.100.80",
        80,
        sport=40001,
        payloads=[head, body],
        responses=[b"", b"HTTP/1.1 302 Found\r\n\r\n"],
    )
    events = run_engine(tmp_path, pkts)
    assert _kinds(events) == {"http_basic", "http_form"}
    basic_ev = next(e for e in events if e.evidence.get("kind") == "http_basic")
    assert basic_ev.evidence["user"] == "alice"
    _no_secret(events)


def test_tls_and_ordinary_http_are_quiet(tmp_path: Path) -> None:
    get = b"GET / HTTP/1.1\r\nHost: www.un.org\r\nCookie: a=b\r\n\r\n"
    pkts = tcp_session(
        T0, CLIENT, "198.51.100.80", 80, payloads=[get], responses=[b"HTTP/1.1 200 OK\r\n\r\n"]
    )
    pkts += tcp_session(
        T0 + 1,
        CLIENT,
        "198.51.100.80",
        443,
        sport=40001,
        payloads=[b"\x16\x03\x01" + b"password=x" * 10],
    )
    assert run_engine(tmp_path, pkts) == []


def test_snmp_v2c_community(tmp_path: Path) -> None:
    msg = SNMP(
        version=1,
        community=SECRET,
        PDU=SNMPget(varbindlist=[SNMPvarbind(oid=ASN1_OID("1.3.6.1.2.1.1.1.0"))]),
    )
    pkts = [
        at(
            Ether() / IP(src="10.10.10.60", dst="10.11.10.21") / UDP(sport=50000, dport=161) / msg,
            T0 + k,
        )
        for k in range(3)
    ]
    events = run_engine(tmp_path, pkts)
    creds = of(events, "cleartext_credentials")
    assert len(creds) == 1
    assert creds[0].evidence["kind"] == "snmp_v2c"
    assert creds[0].count == 3
    assert creds[0].severity is Severity.MEDIUM
    assert creds[0].evidence["well_known_default"] is False
    _no_secret(events)


def test_basic_auth_is_found_among_many_plain_requests(tmp_path: Path) -> None:
    """A web server's traffic: hundreds of plain requests in one batch, three with an
    Authorization header (any case, any place in the head), one form post; only those."""
    pkts = []
    token = base64.b64encode(f"alice:{SECRET}".encode())
    auth_at = {37: b"Authorization", 150: b"AUTHORIZATION", 299: b"authorization"}
    for i in range(300):
        client = f"10.11.30.{i % 200 + 1}"
        head = b"GET /page/%d HTTP/1.1\r\nHost: intranet\r\n" % i
        if i in auth_at:
            head += b"Accept: */*\r\n" + auth_at[i] + b": Basic " + token + b"\r\n"
        elif i == 90:  # the word in a body only: not a header
            head = b"GET /x HTTP/1.1\r\n\r\nauthorization: Basic " + token
        pkts += tcp_session(T0 + i * 0.01, client, SERVER, 80, payloads=[head + b"\r\n"])
    pkts += tcp_session(
        T0 + 5,
        "10.11.30.250",
        SERVER,
        80,
        payloads=[
            b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n"
            + f"user=bob&password={SECRET}".encode()
        ],
    )
    events = run_engine(tmp_path, pkts)
    creds = of(events, "cleartext_credentials")
    basic = sorted(e.src for e in creds if e.evidence["kind"] == "http_basic")
    assert basic == sorted(f"10.11.30.{i % 200 + 1}" for i in auth_at)
    assert [e.src for e in creds if e.evidence["kind"] == "http_form"] == ["10.11.30.250"]
    assert len(creds) == 4
    _no_secret(events)
