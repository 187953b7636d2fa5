"""Events to HQ: octet framing, ``--syslog`` targets, the ECS mapping, the spool, the TCP sink.

The sink tests talk to servers on loopback that this module runs (a Python socket
server); the real rsyslog is in tests/integration/test_syslog_hq.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from collectors.auditor.demo import build_attack_pcap
from collectors.auditor.ecs import ECS_VERSION, ecs_document, ecs_json
from collectors.auditor.events import Event, JsonLinesSink, Severity, SyslogSink, rfc5424
from collectors.auditor.forward import (
    ForwardStats,
    SyslogTarget,
    TcpSyslogSink,
    _hold_peer_to,
    octet_frame,
    parse_syslog_target,
)
from collectors.auditor.metrics import AuditorCollector, AuditorStats
from collectors.auditor.spool import DiskSpool, MemorySpool, SpoolError
from netwarden.cli.auditor import auditor_app, parse_size

T0 = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)


def event(i: int = 0, **kw: object) -> Event:
    fields: dict[str, object] = {
        "id": f"00000000-0000-5000-8000-{i:012d}",
        "ts": T0 + timedelta(seconds=i),
        "first_seen": T0,
        "last_seen": T0 + timedelta(seconds=i),
        "site": "nyc",
        "sensor": "nyc-sensor1",
        "detector": "port_scan",
        "severity": Severity.HIGH,
        "src": "10.11.40.66",
        "dst": "10.11.10.5",
        "summary": f"event {i}",
        "evidence": {"ports": 40},
        "count": i + 1,
    }
    fields.update(kw)
    return Event.model_validate(fields)


# ---- framing and targets ---------------------------------------------------------------


def test_octet_counting_counts_bytes_not_characters() -> None:
    msg = "<163>1 - h a - m - é\nnext".encode()
    framed = octet_frame(msg)
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(msg) == len(rest)
    assert rest == msg  # a newline inside stays inside: no LF framing to break


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("10.0.0.5:514", SyslogTarget("udp", "10.0.0.5", 514)),
        (":514", SyslogTarget("udp", "127.0.0.1", 514)),
        ("[::1]:514", SyslogTarget("udp", "::1", 514)),
        ("udp://hq:1514", SyslogTarget("udp", "hq", 1514)),
        ("tcp://hq", SyslogTarget("tcp", "hq", 514)),
        ("tls://hq.example.net:6514", SyslogTarget("tls", "hq.example.net", 6514)),
        ("tls://[2001:db8::1]", SyslogTarget("tls", "2001:db8::1", 6514)),
    ],
)
def test_syslog_targets(text: str, target: SyslogTarget) -> None:
    assert parse_syslog_target(text) == target


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("hq", "HOST:PORT"),
        ("http://hq:80", "scheme 'http'"),
        ("tcp://hq:0", "not 1-65535"),
        ("tcp://hq:x", "not 1-65535"),
        ("tls://::1:6514", "brackets"),
        ("tls://[::1", "unclosed"),
        ("tcp://:514", "no valid host"),
    ],
)
def test_bad_syslog_targets_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_syslog_target(text)


def test_udp_sink_keeps_its_format_and_can_send_ecs() -> None:
    sink = SyslogSink("127.0.0.1", 9, hostname="s1", render=ecs_json)
    try:
        line = sink.format(event(1)).decode()
    finally:
        sink.close()
    head, _, body = line.partition(" - port_scan - ")
    assert head == "<163>1 2026-03-04T05:06:08.123456Z s1 netwarden-auditor"
    assert json.loads(body)["event"]["kind"] == "alert"


# ---- ECS -------------------------------------------------------------------------------


def test_ecs_document_maps_every_field() -> None:
    doc = ecs_document(event(2, evidence={"port": 443, "user": "alice"}))
    assert doc["@timestamp"] == "2026-03-04T05:06:09.123456Z"
    assert doc["ecs"] == {"version": ECS_VERSION}
    assert doc["message"] == "event 2"
    assert doc["event"] == {
        "kind": "alert",
        "category": ["network", "intrusion_detection"],
        "type": ["info"],
        "id": "00000000-0000-5000-8000-000000000002",
        "severity": 4,
        "start": "2026-03-04T05:06:07.123456Z",
        "end": "2026-03-04T05:06:09.123456Z",
        "module": "netwarden",
        "dataset": "netwarden.auditor",
    }
    assert doc["rule"] == {"name": "port_scan"}
    assert doc["source"] == {"ip": "10.11.40.66"}
    assert doc["destination"] == {"ip": "10.11.10.5", "port": 443}
    assert doc["related"] == {"ip": ["10.11.40.66", "10.11.10.5"]}
    assert doc["observer"] == {
        "type": "sensor",
        "vendor": "netwarden",
        "product": "netwarden auditor",
        "name": "nyc-sensor1",
    }
    assert doc["labels"] == {"site": "nyc"}
    assert doc["user"] == {"name": "alice"}
    assert doc["netwarden"] == {
        "schema_version": "1.0",
        "severity": "high",
        "count": 3,
        "evidence": {"port": 443, "user": "alice"},
    }


def test_ecs_macs_and_missing_addresses() -> None:
    doc = ecs_document(event(0, src="aa:bb:cc:00:11:22", dst="", site="", sensor=""))
    assert doc["source"] == {"mac": "AA-BB-CC-00-11-22"}
    assert "destination" not in doc
    assert "related" not in doc
    assert "labels" not in doc
    assert "name" not in doc["observer"]


def test_ecs_severity_grows_with_ours() -> None:
    ranks = [ecs_document(event(0, severity=s))["event"]["severity"] for s in Severity]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == len(ranks)


def test_events_file_in_ecs(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JsonLinesSink(path, ecs_json)
    sink.emit(event(0))
    sink.close()
    (line,) = path.read_text().splitlines()
    assert json.loads(line)["rule"]["name"] == "port_scan"


# ---- the spool -------------------------------------------------------------------------


def drain(spool: DiskSpool | MemorySpool) -> list[bytes]:
    out = []
    while (m := spool.next()) is not None:
        out.append(m)
    spool.commit()
    return out


def msgs(n: int, size: int = 100, start: int = 0) -> list[bytes]:
    return [f"{i:06d}".encode().ljust(size, b".") for i in range(start, start + n)]


@pytest.mark.parametrize("kind", ["disk", "memory"])
def test_spool_keeps_order_and_rewinds(tmp_path: Path, kind: str) -> None:
    spool = DiskSpool(tmp_path, 10_000, 1_000) if kind == "disk" else MemorySpool(10_000)
    for m in msgs(30):
        spool.append(m)
    first = [spool.next() for _ in range(5)]
    spool.rewind()  # not delivered: handed out again
    assert [spool.next() for _ in range(5)] == first
    spool.commit()
    assert spool.pending() == 25
    assert [spool.next() for _ in range(3)] == msgs(3, start=5)
    spool.commit(2)  # the first two handed out were delivered, the third was not
    spool.rewind()
    assert spool.pending() == 23
    assert drain(spool) == msgs(23, start=7)
    assert spool.pending() == 0
    assert spool.size_bytes() == 0
    spool.close()


def test_spool_rolls_segments_and_drops_the_oldest_counted(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, max_bytes=1_000, segment_bytes=250)  # 2 records a segment
    for m in msgs(20):
        spool.append(m)
    assert spool.size_bytes() <= 1_000
    assert len(list(tmp_path.glob("*.seg"))) == 4
    kept = drain(spool)
    assert kept == msgs(8, start=12)  # the newest, in order
    assert spool.dropped == {"spool_full": 12}
    spool.append(b"x" * 2_000)
    assert spool.dropped["too_large"] == 1
    spool.close()


def test_memory_spool_drops_the_oldest_counted() -> None:
    spool = MemorySpool(max_bytes=1_040)  # 10 records of 100 bytes + 8 of header
    for m in msgs(15):
        spool.append(m)
    assert drain(spool) == msgs(9, start=6)
    assert spool.dropped == {"spool_full": 6}


def test_spool_survives_a_restart_in_order(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 100_000, 1_000)
    for m in msgs(30):
        spool.append(m)
    assert [spool.next() for _ in range(10)] == msgs(10)
    spool.commit()
    spool.next()  # handed out, not delivered: sent again by the next run
    spool.close()
    again = DiskSpool(tmp_path, 100_000, 1_000)
    assert again.pending() == 20
    assert drain(again) == msgs(20, start=10)
    again.close()
    assert DiskSpool(tmp_path).pending() == 0


def test_spool_cuts_a_torn_tail_and_counts_it(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, 100_000)
    for m in msgs(3):
        spool.append(m)
    spool.close()
    (seg,) = tmp_path.glob("*.seg")
    with seg.open("ab") as fh:
        fh.write(b"\x00\x00\x00\x64garbage")  # a record cut by a power loss
    again = DiskSpool(tmp_path, 100_000)
    assert drain(again) == msgs(3)
    assert again.dropped == {"corrupt": 1}
    again.close()


def test_one_auditor_per_spool(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    with pytest.raises(SpoolError, match="in use by another process"):
        DiskSpool(tmp_path)
    spool.close()


# ---- the TCP sink against loopback servers ---------------------------------------------


class Server:
    """A TCP server on loopback reading octet-counted frames (or not reading at all)."""

    def __init__(self, *, read: bool = True, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.listener.settimeout(0.1)
        self.port = int(self.listener.getsockname()[1])
        self.read = read
        self.frames: list[bytes] = []
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.conns.append(conn)
            if self.read:
                threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buf = b""
        conn.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            buf += data
            while b" " in buf:
                length, _, rest = buf.partition(b" ")
                if len(rest) < int(length):
                    break
                self.frames.append(rest[: int(length)])
                buf = rest[int(length) :]

    def wait_for(self, count: int) -> list[bytes]:
        for _ in range(400):  # bounded
            if len(self.frames) >= count:
                break
            time.sleep(0.02)
        return self.frames

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        for c in self.conns:
            c.close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def summaries(frames: list[bytes]) -> list[str]:
    return [json.loads(f.split(b" - ", 2)[2])["summary"] for f in frames]


def test_events_arrive_framed_in_order(server: Server) -> None:
    sink = TcpSyslogSink("127.0.0.1", server.port, hostname="s1")
    for i in range(50):
        sink.emit(event(i))
    sink.close()
    frames = server.wait_for(50)
    assert summaries(frames) == [f"event {i}" for i in range(50)]
    assert frames[0].startswith(b"<163>1 2026-03-04T05:06:07.123456Z s1 netwarden-auditor - ")
    assert sink.stats.delivered == 50
    assert sink.stats.pending == 0


def test_refused_then_back_replays_in_order(tmp_path: Path) -> None:
    gone = Server()
    port = gone.port
    gone.close()  # a port nobody listens on: connections are refused
    stats = ForwardStats()
    sink = TcpSyslogSink(
        "127.0.0.1", port, spool=DiskSpool(tmp_path / "spool"), backoff=(0.02, 0.1), stats=stats
    )
    try:
        for i in range(20):
            sink.emit(event(i))
        for _ in range(200):  # bounded: the first attempt is refused within moments
            if "refused" in stats.last_error:
                break
            time.sleep(0.02)
        assert "Connection refused" in stats.last_error
        assert not stats.connected
        assert stats.pending == 20
        assert stats.spool_bytes > 0
        server = Server(port=port)
        try:
            frames = server.wait_for(20)
            assert summaries(frames) == [f"event {i}" for i in range(20)]
        finally:
            sink.close()
            server.close()
    finally:
        sink.close()  # a second close does nothing
    assert stats.delivered == 20
    assert stats.pending == 0


def test_queue_full_goes_to_the_spool_without_blocking(tmp_path: Path) -> None:
    """A peer that accepts and never reads: the sender stalls, the engine never does."""
    stalled = Server(read=False)
    stats = ForwardStats()
    sink = TcpSyslogSink(
        "127.0.0.1",
        stalled.port,
        spool=DiskSpool(tmp_path / "spool"),
        queue_size=8,
        send_timeout=0.5,
        backoff=(0.05, 0.1),
        close_timeout=0.5,
        stats=stats,
        render=lambda ev: ev.to_json() + " " + "x" * 60_000,  # fill the socket buffers fast
    )
    emitted = 0
    try:
        for i in range(400):  # bounded; every emit returns (none waits on the peer)
            sink.emit(event(i))
            emitted += 1
        assert emitted == 400
        assert stats.pending > 8  # beyond the queue: in the spool
        for _ in range(400):  # bounded: the stalled send times out after 0.5 s
            if stats.last_error:
                break
            time.sleep(0.01)
        assert "timed out" in stats.last_error or "stopped reading" in stats.last_error
    finally:
        sink.close()
        stalled.close()
    again = DiskSpool(tmp_path / "spool")
    assert again.pending() >= 400 - stats.delivered  # what was not acknowledged is kept
    first = again.next()
    again.close()
    assert first is not None


def test_a_restarted_sensor_sends_the_spool_first(tmp_path: Path, server: Server) -> None:
    spool = DiskSpool(tmp_path / "spool")
    for i in range(5):
        spool.append(rfc5424(event(i), event(i).to_json(), hostname="s1"))
    spool.close()
    sink = TcpSyslogSink("127.0.0.1", server.port, spool=DiskSpool(tmp_path / "spool"))
    for i in range(5, 8):
        sink.emit(event(i))
    sink.close()
    assert summaries(server.wait_for(8)) == [f"event {i}" for i in range(8)]


def test_forward_metrics(tmp_path: Path) -> None:
    stats = ForwardStats(delivered=7, spool_bytes=123, pending=2, connected=True)
    stats.dropped["spool_full"] = 3
    collector = AuditorCollector(AuditorStats(), site="nyc", forward=stats)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in collector.collect()
        for s in fam.samples
    }
    assert samples[("netwarden_auditor_events_delivered_total", (("site", "nyc"),))] == 7
    assert (
        samples[
            ("netwarden_auditor_events_dropped_total", (("reason", "spool_full"), ("site", "nyc")))
        ]
        == 3
    )
    assert samples[("netwarden_auditor_spool_bytes", (("site", "nyc"),))] == 123
    assert samples[("netwarden_auditor_events_pending", (("site", "nyc"),))] == 2
    assert samples[("netwarden_auditor_hq_connected", (("site", "nyc"),))] == 1


# ---- the CLI's options -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--syslog", "hq"], "HOST:PORT"),
        (["--syslog", "ftp://hq:21"], "scheme 'ftp'"),
        (["--syslog", "tcp://hq", "--spool-max-bytes", "lots"], "not a size in bytes"),
        (["--syslog", "tcp://hq", "--syslog-format", "cef"], "expected one of netwarden, ecs"),
        (["--events-format", "xml"], "--events-format 'xml'"),
        (["--syslog", "tcp://hq", "--syslog-ca", "ca.crt"], "need --syslog tls://"),
        (["--syslog", "10.0.0.1:514", "--spool", "sp"], "--spool needs --syslog tcp://"),
        (["--spool", "sp"], "need --syslog"),
        (["--syslog", "tls://hq", "--syslog-key", "k.pem"], "--syslog-key needs --syslog-cert"),
        (["--syslog", "tls://hq", "--syslog-ca", "missing.crt"], "missing.crt: no such file"),
    ],
)
def test_cli_rejects_bad_syslog_options(tmp_path: Path, args: list[str], words: str) -> None:
    pcap = tmp_path / "empty.pcap"
    pcap.write_bytes(b"")
    result = CliRunner().invoke(auditor_app, ["--pcap", str(pcap), *args])
    assert result.exit_code == 2
    assert words in " ".join(result.output.split())


def test_cli_bad_ca_file_is_a_usage_error(tmp_path: Path) -> None:
    pcap, ca = tmp_path / "empty.pcap", tmp_path / "ca.crt"
    pcap.write_bytes(b"")
    ca.write_text("not a certificate\n")
    result = CliRunner().invoke(
        auditor_app, ["--pcap", str(pcap), "--syslog", "tls://hq", "--syslog-ca", str(ca)]
    )
    assert result.exit_code == 2
    assert "cannot load the TLS files" in " ".join(result.output.split())


def test_sizes() -> None:
    assert parse_size("64K") == 65536
    for bad in ("0", "-1", "1T", "M", ""):
        with pytest.raises(ValueError, match="not a size"):
            parse_size(bad)


def test_a_peer_that_drops_syns_is_a_connect_timeout_not_a_hang(tmp_path: Path) -> None:
    """A WAN cut seen from the sensor: SYNs go unanswered. On loopback: a listener whose
    accept queue is full (Linux drops the SYNs it cannot queue), never accepting."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):  # bounded: fill the accept queue (backlog 0 holds one)
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.1)
    stats = ForwardStats()
    sink = TcpSyslogSink(
        "127.0.0.1",
        port,
        spool=DiskSpool(tmp_path / "spool"),
        connect_timeout=0.3,
        backoff=(5.0, 5.0),
        close_timeout=1.0,
        stats=stats,
    )
    try:
        for i in range(3):
            sink.emit(event(i))
        for _ in range(300):  # bounded: the connect gives up after 0.3 s
            if stats.last_error:
                break
            time.sleep(0.01)
        assert stats.last_error.endswith("timed out")
        assert stats.pending == 3
        assert not stats.connected
    finally:
        sink.close()
        for c in fillers:
            c.close()
        listener.close()
    kept = DiskSpool(tmp_path / "spool")
    assert kept.pending() == 3
    kept.close()


def test_a_server_that_hangs_up_keeps_the_events_and_backs_off(tmp_path: Path) -> None:
    """Accepts and closes at once (a full rsyslog, a TLS 1.3 server refusing our certificate
    after the handshake): nothing counts as delivered, the events stay in the spool."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    port = int(listener.getsockname()[1])
    stop = threading.Event()
    accepted = []

    def hang_up() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(1)
            conn.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    stats = ForwardStats()
    sink = TcpSyslogSink(
        "127.0.0.1",
        port,
        spool=DiskSpool(tmp_path / "spool"),
        backoff=(0.05, 0.1),
        close_timeout=1.0,
        stats=stats,
    )
    try:
        for i in range(3):
            sink.emit(event(i))
        for _ in range(400):  # bounded: several connections hung up on
            if len(accepted) >= 3:
                break
            time.sleep(0.01)
        assert len(accepted) >= 3
        assert stats.delivered == 0
    finally:
        sink.close()
        stop.set()
        listener.close()
        thread.join(5)
    assert sink._failures >= 3  # backing off: every attempt counts as a failure
    kept = DiskSpool(tmp_path / "spool")
    assert kept.pending() == 3
    kept.close()


def test_a_peer_that_vanishes_is_given_up_after_send_timeout() -> None:
    """A cut WAN drops packets silently: the kernel aborts the connection once data stays
    unacknowledged ``send_timeout`` s (TCP_USER_TIMEOUT), and keepalive probes an idle one
    (else TCP retransmits for ~15 minutes with the sink reporting HQ connected). The
    behaviour itself is tested with a real cut: tests/lab/test_sensor_events_to_hq.py."""
    with socket.socket() as sock:
        _hold_peer_to(sock, 2.5)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 2500
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30


def test_syslog_hostname_is_the_sensor_name(tmp_path: Path) -> None:
    """``--sensor`` names the messages' HOSTNAME (several auditors may share a machine, as
    the namespace lab's do); the events at HQ say which sensor sent them."""
    pcap = tmp_path / "attack.pcap"
    build_attack_pcap(pcap)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hq:
        hq.bind(("127.0.0.1", 0))
        hq.settimeout(10)
        result = CliRunner().invoke(auditor_app, [
            "--pcap", str(pcap), "--sensor", "nyc-sensor9", "--json",
            "--syslog", f"udp://127.0.0.1:{hq.getsockname()[1]}",
        ])  # fmt: skip
        assert result.exit_code in {0, 1}, result.output
        message = hq.recv(65536).decode()
    assert message.split(" ")[2:4] == ["nyc-sensor9", "netwarden-auditor"]
