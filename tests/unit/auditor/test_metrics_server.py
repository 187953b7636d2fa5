"""The hardened metrics server (collectors/httpserve.py) and its web configuration (webconfig.py).

Real sockets on 127.0.0.1 and real HTTP(S) clients; the only stand-in is a
listening socket whose ``accept`` fails with EMFILE (the descriptor exhaustion the
server must survive cannot be caused inside the shared test process safely; the
integration test ``test_auditor_metrics_port`` causes it for real under ``ulimit``).
"""

from __future__ import annotations

import base64
import datetime as dt
import errno
import gzip
import http.client
import select
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from collectors.httpserve import MetricsServer, ServeLimits
from collectors.webconfig import WebConfig, WebConfigError, load_web_config

WAIT = 30.0
"""Seconds a test waits for the server at most (a bound on hangs, never asserted on)."""


@pytest.fixture
def registry() -> CollectorRegistry:
    reg = CollectorRegistry()
    Counter("demo_packets", "Packets.", ["site"], registry=reg).labels("nyc").inc(7)
    Gauge("demo_open", "Open.", registry=reg).set(3)
    return reg


@pytest.fixture
def serve(registry: CollectorRegistry) -> Iterator[type[MetricsServer]]:
    servers: list[MetricsServer] = []

    class Started(MetricsServer):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            servers.append(self)
            self.start()

    yield Started
    for server in servers:
        server.close()


def _get(
    server: MetricsServer, path: str = "/metrics", method: str = "GET", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=WAIT)
    try:
        conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _raw(server: MetricsServer, data: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=WAIT) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock`` (it reads EOF or a reset), waiting up to WAIT."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def _closed_of(socks: list[socket.socket], at_least: int) -> list[socket.socket]:
    """The sockets of ``socks`` the server has closed, once ``at_least`` are (or after WAIT)."""
    closed: set[socket.socket] = set()
    end = time.monotonic() + WAIT
    while len(closed) < at_least and time.monotonic() < end:
        readable, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.1)
        closed.update(s for s in readable if _closed_by_server(s))
    return list(closed)


def test_exposition_is_prometheus_clients_own(
    registry: CollectorRegistry, serve: type[MetricsServer]
) -> None:
    server = serve(registry, "127.0.0.1", 0)
    status, headers, body = _get(server)
    assert status == 200
    assert body == generate_latest(registry)
    assert headers["content-type"].startswith("text/plain; version=")
    status, headers, body = _get(server, Accept="application/openmetrics-text; version=1.0.0")
    assert headers["content-type"].startswith("application/openmetrics-text")
    assert body == openmetrics_latest(registry)  # type: ignore[no-untyped-call]
    status, headers, body = _get(server, Accept_Encoding="gzip")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == generate_latest(registry)
    status, _, body = _get(server, "/metrics?name[]=demo_open")
    assert b"demo_open 3.0" in body
    assert b"demo_packets" not in body
    status, headers, body = _get(server, method="HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) == len(generate_latest(registry))


def test_other_paths_methods_and_malformed_requests(
    registry: CollectorRegistry, serve: type[MetricsServer]
) -> None:
    server = serve(registry, "127.0.0.1", 0, title="netwarden auditor")
    assert b'href="/metrics"' in _get(server, "/")[2]
    assert _get(server, "/-/healthy")[:1] == (200,)
    assert _get(server, "/nope")[0] == 404
    status, headers, _ = _get(server, method="POST")
    assert (status, headers["allow"]) == (405, "GET, HEAD")
    assert _raw(server, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert _raw(server, b"GET /metrics HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 505 ")
    huge = b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
    assert _raw(server, huge).startswith(b"HTTP/1.1 431 ")


def test_an_oversized_request_gets_its_431_while_the_client_sends_on(
    registry: CollectorRegistry, serve: type[MetricsServer]
) -> None:
    """Closing with unread input resets the connection, which can destroy the answer
    before the client reads it: the server lingers, dropping input, until the client closes."""
    server = serve(registry, "127.0.0.1", 0)
    with socket.create_connection((server.host, server.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 200_000)  # a head never ending
        assert select.select([sock], [], [], WAIT)[0], "the answer came"
        sock.sendall(b"a" * 50_000)  # and the client still sends
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    assert b"".join(chunks).startswith(b"HTTP/1.1 431 ")
    end = time.monotonic() + WAIT
    while server.open_connections and time.monotonic() < end:
        time.sleep(0.01)
    assert server.open_connections == 0


def test_a_client_that_never_closes_is_not_lingered_on_for_ever(
    registry: CollectorRegistry, serve: type[MetricsServer]
) -> None:
    server = serve(registry, "127.0.0.1", 0)
    with socket.create_connection((server.host, server.port), timeout=WAIT) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):  # the answer, then EOF: the write side is shut
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 ")
        end = time.monotonic() + WAIT
        while server.open_connections and time.monotonic() < end:
            time.sleep(0.05)
        assert server.open_connections == 0, "closed after the linger, the client still open"


def test_idle_connections_are_bounded_and_never_lock_a_scraper_out(
    registry: CollectorRegistry, serve: type[MetricsServer]
) -> None:
    server = serve(registry, "127.0.0.1", 0, limits=ServeLimits(max_connections=8, timeout=WAIT))
    idle = [socket.create_connection((server.host, server.port), timeout=WAIT) for _ in range(40)]
    try:
        for _ in range(3):  # room is made for every new scrape
            assert _get(server)[0] == 200
        assert server.open_connections <= 8
        assert len(_closed_of(idle, at_least=40 - 8)) >= 40 - 8
    finally:
        for sock in idle:
            sock.close()


def test_a_slow_request_is_timed_out(
    registry: CollectorRegistry, serve: type[MetricsServer]
) -> None:
    server = serve(registry, "127.0.0.1", 0, limits=ServeLimits(timeout=0.2))
    with socket.create_connection((server.host, server.port), timeout=WAIT) as slow:
        slow.sendall(b"GET /metrics HTTP/1.1\r\n")  # and never the blank line
        assert _closed_by_server(slow)
    assert server.open_connections == 0
    assert _get(server)[0] == 200


def test_connections_capped_by_the_descriptor_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("resource.getrlimit", lambda _which: (256, 4096))
    assert ServeLimits(max_connections=1000).effective_connections() == 32
    assert ServeLimits(max_connections=5).effective_connections() == 5


class _ExhaustedListener:
    """A listening socket whose next ``accept`` calls fail with EMFILE, as at the fd limit."""

    def __init__(self, sock: socket.socket, failures: int) -> None:
        self.sock = sock
        self.failures = failures

    def fileno(self) -> int:
        return self.sock.fileno()

    def accept(self) -> tuple[socket.socket, object]:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return self.sock.accept()

    def getsockname(self) -> object:
        return self.sock.getsockname()

    def close(self) -> None:
        self.sock.close()


def test_emfile_on_accept_pauses_and_never_kills_the_server(
    registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    server = MetricsServer(registry, "127.0.0.1", 0)
    listener = _ExhaustedListener(server._listener, failures=1)
    server._listener = listener  # type: ignore[assignment]
    server.start()
    try:
        assert _get(server)[0] == 200  # after the pause, the same connection is accepted
        assert listener.failures == 0
        assert server._thread is not None
        assert server._thread.is_alive()
        assert "cannot accept a connection (Too many open files)" in caplog.text
    finally:
        server.close()


# --- TLS and basic authentication (the exporter-toolkit web configuration) ---


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "metrics.crt", tmp / "metrics.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _web_config(tmp: Path, password: str) -> Path:
    _self_signed(tmp)
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    path = tmp / "web.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: metrics.crt\n  key_file: metrics.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    return path


def _https_get(server: MetricsServer, ca: Path, auth: str | None) -> tuple[int, bytes]:
    ctx = ssl.create_default_context(cafile=str(ca))
    conn = http.client.HTTPSConnection("localhost", server.port, timeout=WAIT, context=ctx)
    headers = {}
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        conn.request("GET", "/metrics", headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_tls_and_basic_auth_from_a_web_config(
    tmp_path: Path, registry: CollectorRegistry, serve: type[MetricsServer]
) -> None:
    config = load_web_config(_web_config(tmp_path, "s3cret"))
    server = serve(registry, "127.0.0.1", 0, web_config=config)
    assert server.url.startswith("https://")
    ca = tmp_path / "metrics.crt"
    assert _https_get(server, ca, None)[0] == 401
    assert _https_get(server, ca, "prometheus:wrong")[0] == 401
    assert _https_get(server, ca, "nobody:s3cret")[0] == 401
    for _ in range(2):  # the second check is served from the cache
        status, body = _https_get(server, ca, "prometheus:s3cret")
        assert (status, body) == (200, generate_latest(registry))
    with socket.create_connection((server.host, server.port), timeout=WAIT) as plain:
        plain.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")  # plain HTTP to the TLS port
        assert _closed_by_server(plain)
    assert _https_get(server, ca, "prometheus:s3cret")[0] == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: []\n",
            "cipher_suites",
        ),
        ("basic_auth_users:\n  prometheus: plaintext\n", "not a bcrypt hash"),
        ("tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n", "missing.crt"),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequestClientCert\n",
            "client_auth_type",
        ),
        ("- a list\n", "expected a mapping"),
        ("basic_auth_users: {a: [\n", "not valid YAML"),
    ],
    ids=[
        "unknown-key",
        "plain-password",
        "missing-cert",
        "unsupported-client-auth",
        "list",
        "yaml",
    ],
)
def test_web_config_errors_name_the_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "web.yml"
    path.write_text(text)
    with pytest.raises(WebConfigError, match=r"web\.yml") as err:
        load_web_config(path)
    assert expected in str(err.value)


def test_no_web_config_means_plain_http_without_auth() -> None:
    assert WebConfig().ssl_context() is None
    assert WebConfig().authorized(None)
