"""The access exporter's parsers and ledger on lines written in the real formats."""

from __future__ import annotations

import errno
import json
import socket
import time
from pathlib import Path

import pytest

from collectors.access.events import AccessEvent, access_event
from collectors.access.ledger import AccessLedger, LedgerSettings
from collectors.access.receiver import ReceiverLimits, SyslogReceiver
from collectors.access.syslog import UnparsedError, parse
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory


@pytest.fixture(scope="module")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


def test_rfc3164_with_hostname() -> None:
    m = parse(b"<86>Dec  6 05:12:01 nyc-srv1 sshd[1234]: Accepted publickey for deploy from "
              b"10.11.30.7 port 50022 ssh2: ED25519 SHA256:abc")  # fmt: skip
    assert (m.facility, m.severity) == (10, 6)
    assert (m.hostname, m.app) == ("nyc-srv1", "sshd")
    assert access_event(m) == AccessEvent("login", "success", "deploy", "10.11.30.7")


def test_rfc3164_without_hostname() -> None:
    m = parse(b"<38>Dec 16 23:59:59 sshd[77]: Invalid user admin from 203.0.113.9 port 4242\n")
    assert m.hostname is None
    assert m.app == "sshd"
    assert access_event(m) == AccessEvent("invalid_user", "failure", "admin", "203.0.113.9")


def test_sshd_failed_password_for_invalid_user() -> None:
    m = parse(b"<38>Dec  6 05:12:01 web1 sshd[9]: Failed password for invalid user root "
              b"from 10.11.40.5 port 1 ssh2")  # fmt: skip
    assert access_event(m) == AccessEvent("login", "failure", "root", "10.11.40.5")
    m = parse(b"<38>Dec  6 05:12:01 web1 sshd[9]: Failed password for alice from ::1 port 1 ssh2")
    assert access_event(m) == AccessEvent("login", "failure", "alice", "::1")


def test_rfc5424_with_structured_data() -> None:
    m = parse(
        b'<86>1 2026-12-06T05:12:01.003Z nyc-srv1 sshd 811 - [origin ip="10.11.10.101" '
        b'software="OpenSSH"][meta sequenceId="7" note="a \\"quoted\\" \\] value"] '
        b"\xef\xbb\xbfAccepted password for netwarden from 10.11.10.5 port 22 ssh2"
    )
    assert (m.hostname, m.app) == ("nyc-srv1", "sshd")
    assert m.structured["origin"] == {"ip": "10.11.10.101", "software": "OpenSSH"}
    assert m.structured["meta"]["note"] == 'a "quoted" ] value'
    assert access_event(m) == AccessEvent("login", "success", "netwarden", "10.11.10.5")


def test_rfc5424_nil_structured_data() -> None:
    m = parse(b"<13>1 - - - - - - hello")
    assert (m.hostname, m.app, m.text, m.structured) == (None, None, "hello", {})
    assert access_event(m) is None


def test_ios_with_sequence_numbers_and_unsynchronised_clock() -> None:
    m = parse(b"<188>000123: *Dec  6 05:12:01.123: %SEC_LOGIN-4-LOGIN_FAILED: Login failed "
              b"[user: bob] [Source: 10.11.30.9] [localport: 22] [Reason: Login Authentication "
              b"Failed] at 05:12:01 UTC Sun Dec 6 2026")  # fmt: skip
    assert (m.sequence, m.hostname) == (123, None)
    assert m.app == "%SEC_LOGIN-4-LOGIN_FAILED"
    assert access_event(m) == AccessEvent("login", "failure", "bob", "10.11.30.9")


def test_ios_origin_id_and_other_mnemonics() -> None:
    m = parse(b"<189>42: nyc-acc-sw1: Dec  6 2026 05:12:01.123 UTC: "
              b"%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: netwarden] [Source: 10.11.10.5] [localport: 22] at x")  # fmt: skip
    assert (m.sequence, m.hostname) == (42, "nyc-acc-sw1")
    assert access_event(m) == AccessEvent("login", "success", "netwarden", "10.11.10.5")
    m = parse(b"<189>*Mar  1 00:10:00: %SYS-5-CONFIG_I: Configured from console by admin on "
              b"vty0 (10.11.30.4)")  # fmt: skip
    assert access_event(m) == AccessEvent("config_change", "success", "admin", "10.11.30.4")
    m = parse(b"<189>7: %SSH-5-SSH2_USERAUTH: User 'ops' authentication for SSH2 Session from "
              b"10.11.30.8 (tty = 0) using crypto cipher 'aes256-ctr', hmac 'hmac-sha2-256' "
              b"Failed")  # fmt: skip
    assert access_event(m) == AccessEvent("ssh_userauth", "failure", "ops", "10.11.30.8")
    for uptime in (b"1w2d", b"*00:10:00.120", b"3d04h"):  # service timestamps log uptime
        m = parse(b"<189>9: " + uptime + b": %SYS-5-CONFIG_I: Configured from console by vty0")
        assert (m.app, m.sequence, m.hostname) == ("%SYS-5-CONFIG_I", 9, None)
    m = parse(b"<189>8: *Dec  6 05:00:00.000: %LINK-3-UPDOWN: Interface Gi1/0/1, changed state")
    assert access_event(m) is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "no <PRI>"),
        (b"<999>x", "PRI 999"),
        (b"<13>\xff\xfe", "not UTF-8"),
        (b"<13>just words", "neither"),
        (b"<13>1 short", "too short"),
        (b'<13>1 - - - - - [id k="v" unclosed', "not closed"),
    ],
)
def test_garbage_is_unparsed(data: bytes, why: str) -> None:
    with pytest.raises(UnparsedError, match=why):
        parse(data)


def test_ledger_labels(inv: Inventory, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    ledger = AccessLedger(inv, LedgerSettings(events_log=log, automation_users=frozenset({"ci"})))
    ledger.receive(b"<189>1: %SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: ci] "
                   b"[Source: 10.11.30.9] [localport: 22] at x", "10.11.10.21", "udp")  # fmt: skip
    # an unknown sender naming a known device is still unknown
    ledger.receive(b"<189>2: nyc-acc-sw1: %SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: s3cret] "
                   b"[Source: 8.8.8.8] [localport: 22] at x", "192.0.2.1", "tcp")  # fmt: skip
    ledger.receive(b"<13>garbage", "10.11.10.21", "udp")
    assert dict(ledger.events) == {
        ("nyc-acc-sw1", "nyc", "login", "success", "automation", "nyc/staff"): 1,
        ("unknown", "unknown", "login", "failure", "other", "internet"): 1,
    }
    assert ledger.unparsed["syslog"] == 1
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["device"] for r in records] == ["nyc-acc-sw1", "unknown"]
    assert log.stat().st_mode & 0o077 == 0  # user names: the owner's only


def test_shared_address_resolved_by_hostname_among_its_devices(inv: Inventory) -> None:
    ledger = AccessLedger(inv)
    ledger.by_address["127.0.0.1"] = [("nyc-acc-sw1", "nyc"), ("nyc-acc-sw2", "nyc")]
    assert ledger.device_of("127.0.0.1", "nyc-acc-sw2") == ("nyc-acc-sw2", "nyc")
    assert ledger.device_of("127.0.0.1", "bru-acc-sw1") == ("unknown", "unknown")
    assert ledger.device_of("127.0.0.1", None) == ("unknown", "unknown")


def test_a_relay_names_its_messages_by_their_hostname(inv: Inventory) -> None:
    ledger = AccessLedger(inv, LedgerSettings(relays=frozenset({"jed-log1"})))
    relay = str(inv.devices["jed-log1"].interfaces[-1].address.ip)  # type: ignore[union-attr]
    ledger.receive(b"<38>Dec  6 05:12:01 nyc-srv1 sshd[9]: Invalid user mallory from "
                   b"10.10.10.106 port 40000", relay, "udp")  # fmt: skip
    ledger.receive(b"<38>Dec  6 05:12:02 not-a-device sshd[9]: Invalid user mallory from "
                   b"10.10.10.106 port 40001", relay, "udp")  # fmt: skip
    # not a relay: the sender's own address names it, whatever the hostname says
    ledger.receive(b"<38>Dec  6 05:12:03 nyc-srv1 sshd[9]: Invalid user mallory from "
                   b"10.10.10.106 port 40002", str(inv.devices["jed-web1"].mgmt_address), "udp")  # fmt: skip
    devices = {key[0]: n for key, n in ledger.events.items()}
    assert devices == {"nyc-srv1": 1, "unknown": 1, "jed-web1": 1}
    with pytest.raises(ValueError, match="nowhere-log1: not an inventory device"):
        AccessLedger(inv, LedgerSettings(relays=frozenset({"nowhere-log1"})))


def _wait(predicate: object, bound: float = 10.0) -> None:
    deadline = time.monotonic() + bound
    while not predicate() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.05)


def test_receiver_framings_and_bounds(inv: Inventory) -> None:
    ledger = AccessLedger(inv)
    receiver = SyslogReceiver(ledger, "127.0.0.1", 0, ReceiverLimits(max_message=512))
    receiver.start()
    try:
        ok = b"<38>Dec  6 05:12:01 h sshd[1]: Invalid user x from 10.11.30.1 port 1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(ok, ("127.0.0.1", receiver.port))
            udp.sendto(b"<13>" + b"A" * 600, ("127.0.0.1", receiver.port))
        with socket.create_connection(("127.0.0.1", receiver.port)) as tcp:
            tcp.sendall(b"%d %s" % (len(ok), ok) + ok + b"\n" + b"9999 " + b"B" * 9999 + ok + b"\n")
            tcp.sendall(b"C" * 700 + b"\n" + ok + b"\n")
        with socket.create_connection(("127.0.0.1", receiver.port)) as bad:
            bad.sendall(b"12x4 nonsense\n")

        def done() -> bool:
            return sum(ledger.events.values()) >= 5 and ledger.unparsed["framing"] >= 1

        _wait(done)
        assert sum(ledger.events.values()) == 5
        assert ledger.unparsed["oversize"] == 3
        assert ledger.unparsed["framing"] == 1
    finally:
        receiver.close()


def test_monitoring_config_has_the_access_job_only_when_asked() -> None:
    from collectors.exporter.promconfig import MonitoringSettings, prometheus_config

    jobs = {j["job_name"]: j for j in prometheus_config(MonitoringSettings())["scrape_configs"]}
    assert "netwarden_access" not in jobs
    settings = MonitoringSettings(access_exporter="10.10.20.30:9432")
    jobs = {j["job_name"]: j for j in prometheus_config(settings)["scrape_configs"]}
    assert jobs["netwarden_access"]["static_configs"] == [{"targets": ["10.10.20.30:9432"]}]


def test_cli_refuses_a_bad_syslog_address(example_inventory: Path) -> None:
    from typer.testing import CliRunner

    from netwarden.cli.app import app

    result = CliRunner().invoke(
        app, ["exporter", "access", "-i", str(example_inventory), "--listen-syslog", "nowhere"]
    )
    assert result.exit_code != 0
    assert "HOST:PORT" in result.output


def test_receiver_closes_the_longest_idle_connection_at_the_bound(inv: Inventory) -> None:
    ledger = AccessLedger(inv)
    receiver = SyslogReceiver(ledger, "127.0.0.1", 0, ReceiverLimits(max_connections=2))
    receiver.start()
    try:
        first = socket.create_connection(("127.0.0.1", receiver.port))
        _wait(lambda: len(receiver.streams) == 1)
        others = [socket.create_connection(("127.0.0.1", receiver.port)) for _ in range(2)]
        first.settimeout(10)
        assert first.recv(1) == b""  # closed by the receiver to make room
        line = b"<38>Dec  6 05:12:01 h sshd[1]: Invalid user x from 10.11.30.1 port 1\n"
        others[-1].sendall(line)
        _wait(lambda: sum(ledger.events.values()) == 1)
        assert sum(ledger.events.values()) == 1
        assert len(receiver.streams) == 2
        for sock in (first, *others):
            sock.close()
    finally:
        receiver.close()


def test_receiver_on_port_0_tries_another_port_when_tcp_is_taken(
    inv: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel's free UDP port may be held for TCP by another process: try another."""
    real_bind = socket.socket.bind
    refused: list[int] = []

    def bind(self: socket.socket, address: tuple[str, int]) -> None:
        if self.type == socket.SOCK_STREAM and not refused:
            refused.append(address[1])
            raise OSError(errno.EADDRINUSE, "Address already in use")
        real_bind(self, address)

    monkeypatch.setattr(socket.socket, "bind", bind)
    receiver = SyslogReceiver(AccessLedger(inv), "127.0.0.1", 0)
    try:
        assert refused
        assert receiver.port != 0
        assert receiver.tcp.getsockname()[1] == receiver.udp.getsockname()[1] == receiver.port
    finally:
        receiver.close()
    # a port asked for is not changed behind the caller's back
    refused.clear()
    with pytest.raises(OSError, match="in use"):
        SyslogReceiver(AccessLedger(inv), "127.0.0.1", receiver.port)
