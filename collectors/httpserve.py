"""A small, hardened HTTP server for Prometheus metrics (one thread, bounded, timed out).

``prometheus_client.start_http_server`` runs a ``ThreadingHTTPServer``: a thread and a
descriptor per connection, no timeout. A few hundred idle connections then exhaust
the process's descriptors and take down whatever else the process does (the auditor's
capture died of ``EMFILE``). :class:`MetricsServer` serves the same bytes from one
thread with a ``selectors`` loop and limits that keep the rest of the process safe:

- at most ``max_connections`` connections (never more than an eighth of the
  descriptor limit); at the bound the connection idle longest that has not finished
  its request is closed to make room, so a flood of idle connections cannot lock a
  scraper out;
- a whole request/response exchange (TLS handshake included) must finish within
  ``timeout`` seconds (slow-loris), and a request head is at most
  ``max_request_bytes``;
- ``accept`` failing for lack of descriptors (``EMFILE``/``ENFILE``) pauses accepting
  for a second and is logged, never raised;
- only ``GET``/``HEAD`` of the metrics path, ``/`` (a landing page),
  ``/-/healthy`` and the ``routes`` given; one request per connection
  (``Connection: close``, as prometheus_client's HTTP/1.0 server does);
- after the answer, a *lingering close* (as nginx's ``lingering_close``): the write
  side is shut and what the client still sends is read and dropped until it closes,
  for at most ``_LINGER`` seconds and ``_LINGER_BYTES``. Closing a socket with
  unread input makes the kernel send a reset, which can destroy the answer (a
  ``431`` to an oversized request) before the client has read it.

A route (the device exporter's ``/probe``) may take seconds: it runs on a bounded
pool of worker threads and its answer is handed back to the loop, which alone
touches the sockets; the connection's deadline becomes ``route_timeout`` while it waits.

The exposition is prometheus_client's own: :func:`~prometheus_client.exposition.choose_encoder`
(text format, or OpenMetrics when the ``Accept`` header asks), ``name[]`` filtering, and
gzip when ``Accept-Encoding`` allows it, so the body is byte-identical to
``start_http_server``'s. TLS and basic authentication come from a
:class:`~collectors.webconfig.WebConfig` (the Prometheus exporter-toolkit web
configuration file).

Examples:
    >>> from prometheus_client import CollectorRegistry
    >>> server = MetricsServer(CollectorRegistry(), "127.0.0.1", 0)
    >>> server.start()
    >>> server.port > 0
    True
    >>> server.close()
"""

from __future__ import annotations

import errno
import gzip
import logging
import os
import resource
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Final
from urllib.parse import parse_qs, urlsplit

from prometheus_client.exposition import choose_encoder, gzip_accepted
from prometheus_client.registry import CollectorRegistry

from collectors.webconfig import WebConfig

logger = logging.getLogger(__name__)

_DESCRIPTOR_ERRORS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_PAUSE: Final = 1.0
_LOG_EVERY: Final = 60.0
_TICK: Final = 0.25
_LINGER: Final = 2.0
_LINGER_BYTES: Final = 1 << 20
_LANDING: Final = (
    "<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>\n"
    '<h1>{title}</h1>\n<p><a href="{path}">Metrics</a></p>\n</body></html>\n'
)
_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    505: "HTTP Version Not Supported",
}


@dataclass(frozen=True)
class ServeLimits:
    """The bounds of a :class:`MetricsServer`.

    Args:
        max_connections: connections open at once (capped at an eighth of ``RLIMIT_NOFILE``).
        timeout: seconds a connection may take to send its request and read the answer.
        max_request_bytes: the request line and headers together, at most.
    """

    max_connections: int = 64
    timeout: float = 10.0
    max_request_bytes: int = 8192
    route_timeout: float = 130.0
    """How long a connection may wait for a route's answer (the route bounds its own work)."""

    def effective_connections(self) -> int:
        """``max_connections``, but never more than an eighth of the soft descriptor limit.

        The rest of the process (capture files, sockets, the event log) keeps the other
        seven eighths whatever the clients of the metrics port do.
        """
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft // 8))


@dataclass(frozen=True)
class Request:
    """One request to a route: path, raw query string, headers (lower-case names), arrival."""

    path: str
    query: str
    headers: Mapping[str, str]
    received: float
    """``time.monotonic()`` when the request head was complete."""


@dataclass(frozen=True)
class Response:
    """A route's answer."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


Route = Callable[[Request], Response]


@dataclass(eq=False)
class _Conn:
    """One client connection: what it sent so far, what is left to send, its deadline."""

    sock: socket.socket
    peer: str
    deadline: float
    opened: float
    handshaking: bool = False
    pending: bool = False
    read_closed: bool = False
    lingering: bool = False
    """The answer is sent and the write side shut: input is dropped until EOF."""
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytes = b""
    sent: int = 0

    @property
    def writing(self) -> bool:
        return bool(self.outbuf)


class MetricsServer:
    """Serve ``registry`` over HTTP(S) from one daemon thread (see the module docstring).

    Args:
        registry: what ``/metrics`` exposes (a ``CollectorRegistry`` holding the collectors).
        host, port: where to listen (port 0: any free port, see :attr:`port`).
        limits: connection bound, timeout and request size.
        web_config: TLS and basic authentication (None: plain HTTP, no authentication).
        path: the metrics path.
        title: the landing page's title.
        routes: more paths, each answered by a function on a worker thread.
        workers: worker threads for ``routes``.
        landing: the landing page's HTML (default: a link to the metrics path).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        *,
        limits: ServeLimits | None = None,
        web_config: WebConfig | None = None,
        path: str = "/metrics",
        title: str = "netwarden",
        routes: Mapping[str, Route] | None = None,
        workers: int = 8,
        landing: str | None = None,
    ) -> None:
        self.registry = registry
        self.limits = limits or ServeLimits()
        self.web_config = web_config or WebConfig()
        self.path = path
        self.title = title
        self.max_connections = self.limits.effective_connections()
        self._tls = self.web_config.ssl_context()
        self._listener = _listen(host, port)
        self.host, self.port = self._listener.getsockname()[:2]
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._conns: dict[int, _Conn] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0
        self._last_log = -_LOG_EVERY
        self.routes = dict(routes or {})
        self.landing = landing
        self._pool = (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="http-route")
            if self.routes
            else None
        )
        self._done: deque[tuple[_Conn, Response, bool]] = deque()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)

    @property
    def url(self) -> str:
        """The metrics URL (``http``/``https``, host, port and path)."""
        scheme = "https" if self._tls is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{self.path}"

    def start(self) -> None:
        """Serve from a daemon thread (returns at once)."""
        self._thread = threading.Thread(target=self.serve, name="metrics-http", daemon=True)
        self._thread.start()
        logger.info(
            "serving metrics on %s (at most %d connections)", self.url, self.max_connections
        )

    def close(self) -> None:
        """Stop serving, close every connection and the listening socket."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for conn in list(self._conns.values()):
            self._drop(conn)
        self._listener.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def serve(self) -> None:
        """The loop (what :meth:`start` runs): never raises, whatever the clients do."""
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # a bug here must not end metrics or the process; logged
                logger.exception("metrics server: unexpected error (serving on)")
                time.sleep(_TICK)

    def _step(self) -> None:
        now = time.monotonic()
        if self._paused_until and now >= self._paused_until:
            self._paused_until = 0.0
            self._selector.register(self._listener, selectors.EVENT_READ)
        for key, events in self._selector.select(self._wait(now)):
            if key.fd == self._listener.fileno():
                self._accept()
                continue
            if key.fd == self._wake_r.fileno():
                self._answer_done()
                continue
            conn = self._conns.get(key.fd)
            if conn is None:
                continue
            try:
                if conn.lingering:
                    self._drain(conn)
                elif conn.pending:
                    self._discard_input(conn)
                elif conn.handshaking:
                    self._handshake(conn)
                elif events & selectors.EVENT_READ and not conn.writing:
                    self._read(conn)
                elif events & selectors.EVENT_WRITE:
                    self._write(conn)
            except (OSError, ssl.SSLError) as exc:
                logger.debug("metrics client %s: %s", conn.peer, exc)
                self._drop(conn)
        self._expire(time.monotonic())

    def _wait(self, now: float) -> float:
        deadlines = [c.deadline for c in self._conns.values()]
        if self._paused_until:
            deadlines.append(self._paused_until)
        return max(0.0, min([now + _TICK, *deadlines]) - now)

    def _accept(self) -> None:
        for _ in range(self.max_connections):
            try:
                sock, addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _DESCRIPTOR_ERRORS:
                    self._pause(exc)
                    return
                if exc.errno == errno.ECONNABORTED:
                    continue
                raise
            if len(self._conns) >= self.max_connections:
                self._make_room()
            self._add(sock, addr)

    def _pause(self, exc: OSError) -> None:
        """Stop accepting for a while: the process is out of descriptors."""
        now = time.monotonic()
        if now - self._last_log >= _LOG_EVERY:
            self._last_log = now
            logger.warning(
                "metrics server: cannot accept a connection (%s); pausing for %.0f s "
                "(%d open metrics connections)",
                os.strerror(exc.errno or 0),
                _ACCEPT_PAUSE,
                len(self._conns),
            )
        self._selector.unregister(self._listener)
        self._paused_until = now + _ACCEPT_PAUSE

    def _make_room(self) -> None:
        """Close the connection that has waited longest for its request (or the oldest)."""
        reading = [c for c in self._conns.values() if c.lingering] or [
            c for c in self._conns.values() if not c.writing and not c.pending
        ]
        victim = min(reading or self._conns.values(), key=lambda c: c.opened)
        logger.debug("metrics server: at %d connections, closing %s", len(self._conns), victim.peer)
        self._drop(victim)

    def _add(self, sock: socket.socket, addr: object) -> None:
        sock.setblocking(False)
        now = time.monotonic()
        peer = _peer(addr)
        handshaking = False
        if self._tls is not None:
            try:
                sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            except (OSError, ssl.SSLError) as exc:
                logger.debug("metrics client %s: %s", peer, exc)
                sock.close()
                return
            handshaking = True
        conn = _Conn(sock, peer, now + self.limits.timeout, now, handshaking=handshaking)
        self._conns[sock.fileno()] = conn
        self._selector.register(sock, selectors.EVENT_READ)
        if handshaking:
            try:
                self._handshake(conn)
            except OSError as exc:  # ssl.SSLError included: not TLS, bad certificate ...
                logger.debug("metrics client %s: %s", peer, exc)
                self._drop(conn)

    def _handshake(self, conn: _Conn) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)  # noqa: S101 (only TLS connections handshake)
        try:
            conn.sock.do_handshake()
        except ssl.SSLWantReadError:
            self._selector.modify(conn.sock, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._selector.modify(conn.sock, selectors.EVENT_WRITE)
            return
        conn.handshaking = False
        self._selector.modify(conn.sock, selectors.EVENT_READ)
        self._read(conn)  # the request may have come with the handshake's last flight

    def _read(self, conn: _Conn) -> None:
        while True:  # until the socket (and, for TLS, its decrypted buffer) is drained
            try:
                data = conn.sock.recv(4096)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            if not data:
                self._drop(conn)
                return
            conn.inbuf += data
            if b"\r\n\r\n" in conn.inbuf or len(conn.inbuf) > self.limits.max_request_bytes:
                break
        end = conn.inbuf.find(b"\r\n\r\n")  # not found: the loop stopped at the size bound
        if end < 0 or end > self.limits.max_request_bytes:
            self._respond(conn, 431, b"request head too large\n")
        else:
            self._handle(conn, bytes(conn.inbuf[:end]))

    def _handle(self, conn: _Conn, head: bytes) -> None:
        """Answer one request head (request line and headers, without the blank line)."""
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._respond(conn, 400, b"malformed request line\n")
            return
        method, target, version = parts
        if version not in {"HTTP/1.0", "HTTP/1.1"}:
            self._respond(conn, 505, b"HTTP/1.0 or HTTP/1.1 only\n")
            return
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                self._respond(conn, 400, b"malformed header line\n")
                return
            headers[name.lower()] = value.strip()
        head_only = method == "HEAD"
        if method not in {"GET", "HEAD"}:
            self._respond(conn, 405, b"GET or HEAD only\n", [("Allow", "GET, HEAD")])
            return
        if not self.web_config.authorized(headers.get("authorization")):
            realm = [("WWW-Authenticate", 'Basic realm="netwarden", charset="UTF-8"')]
            self._respond(conn, 401, b"unauthorized\n", realm, head_only=head_only)
            return
        url = urlsplit(target)
        if url.path == self.path:
            try:
                body, extra = self._metrics(headers, parse_qs(url.query))
            except Exception:  # a collector that fails must not take the server down; logged
                logger.exception("metrics server: collecting %s failed", self.path)
                self._respond(conn, 500, b"collecting metrics failed (see the log)\n")
                return
            self._respond(conn, 200, body, extra, head_only=head_only)
        elif url.path in self.routes:
            self._dispatch(
                conn,
                self.routes[url.path],
                Request(url.path, url.query, headers, time.monotonic()),
                head_only,
            )
        elif url.path == "/":
            page = (self.landing or _LANDING.format(title=self.title, path=self.path)).encode()
            self._respond(
                conn, 200, page, [("Content-Type", "text/html; charset=utf-8")], head_only=head_only
            )
        elif url.path == "/-/healthy":
            self._respond(conn, 200, b"OK\n", head_only=head_only)
        else:
            self._respond(conn, 404, b"not found\n", head_only=head_only)

    def _dispatch(self, conn: _Conn, route: Route, request: Request, head_only: bool) -> None:
        """Run ``route`` on a worker; its answer comes back through :meth:`_answer_done`."""
        assert self._pool is not None  # noqa: S101 (routes exist, so the pool does)
        conn.pending = True
        conn.inbuf.clear()
        conn.deadline = time.monotonic() + self.limits.route_timeout

        def work() -> None:
            try:
                response = route(request)
            except Exception:  # a failing route answers 500; the server serves on (logged)
                logger.exception("http route %s failed", request.path)
                response = Response(500, b"internal error (see the exporter's log)\n")
            self._done.append((conn, response, head_only))
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, OSError) as exc:  # full: the loop is awake anyway
                logger.debug("wake-up not sent: %s", exc)

        self._pool.submit(work)

    def _answer_done(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        while self._done:
            conn, response, head_only = self._done.popleft()
            fd = conn.sock.fileno()
            if fd < 0 or self._conns.get(fd) is not conn:
                continue  # the client left (or timed out) while the route ran
            conn.pending = False
            if conn.read_closed:  # unregistered at the client's EOF: back for the answer
                self._selector.register(conn.sock, selectors.EVENT_WRITE)
            try:
                self._respond(
                    conn,
                    response.status,
                    response.body,
                    list(response.headers),
                    head_only=head_only,
                )
            except (OSError, ssl.SSLError) as exc:
                logger.debug("metrics client %s: %s", conn.peer, exc)
                self._drop(conn)

    def _discard_input(self, conn: _Conn) -> None:
        """A client that sends more while its route runs: read and drop it.

        At EOF (a client that half-closed after its request, as HTTP/1.0 clients may)
        the socket leaves the selector until the answer is ready.
        """
        try:
            data = conn.sock.recv(4096)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        if not data:
            self._selector.unregister(conn.sock)
            conn.read_closed = True

    def _metrics(
        self, headers: dict[str, str], params: dict[str, list[str]]
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """The exposition, as prometheus_client's own servers build it."""
        encoder, content_type = choose_encoder(headers.get("accept", ""))
        registry: CollectorRegistry = self.registry
        if "name[]" in params:
            registry = registry.restricted_registry(params["name[]"])  # type: ignore[assignment]
        body = encoder(registry)
        extra = [("Content-Type", content_type)]
        if gzip_accepted(headers.get("accept-encoding", "")):
            body = gzip.compress(body)
            extra.append(("Content-Encoding", "gzip"))
        return body, extra

    def _respond(
        self,
        conn: _Conn,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        *,
        head_only: bool = False,
    ) -> None:
        fields = headers or []
        if not any(k == "Content-Type" for k, _ in fields):
            fields = [*fields, ("Content-Type", "text/plain; charset=utf-8")]
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
            f"Date: {formatdate(usegmt=True)}",
            *(f"{k}: {v}" for k, v in fields),
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        conn.outbuf = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (
            b"" if head_only else body
        )
        conn.inbuf.clear()
        self._selector.modify(conn.sock, selectors.EVENT_WRITE)
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        try:
            conn.sent += conn.sock.send(conn.outbuf[conn.sent : conn.sent + 65536])
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        if conn.sent >= len(conn.outbuf):
            self._linger(conn)

    def _linger(self, conn: _Conn) -> None:
        """The answer is out: shut the write side and drop input until the client closes."""
        if conn.read_closed:  # the client's EOF came already: nothing can reset the answer
            self._drop(conn, graceful=True)
            return
        conn.sock.shutdown(socket.SHUT_WR)  # an OSError: the caller drops the connection
        conn.lingering = True
        conn.outbuf, conn.sent = b"", 0
        conn.inbuf.clear()
        conn.deadline = time.monotonic() + _LINGER
        self._selector.modify(conn.sock, selectors.EVENT_READ)

    def _drain(self, conn: _Conn) -> None:
        """Read and drop what a lingering client sends; close at its EOF or the byte bound."""
        for _ in range(_LINGER_BYTES // 65536):
            try:
                data = conn.sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return
            if not data:
                break
        self._drop(conn)

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._conns.values() if c.deadline <= now]:
            logger.debug("metrics client %s timed out", conn.peer)
            self._drop(conn)

    def _drop(self, conn: _Conn, *, graceful: bool = False) -> None:
        fd = conn.sock.fileno()
        self._conns.pop(fd, None)
        if fd >= 0:
            try:
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                logger.debug("metrics client %s was not registered", conn.peer)
        if graceful:
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                logger.debug("metrics client %s: %s", conn.peer, exc)
        conn.sock.close()

    @property
    def open_connections(self) -> int:
        """Connections currently open (for tests and diagnostics)."""
        return len(self._conns)


def _listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening socket on ``host:port`` (IPv4 or IPv6)."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _canon, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(addr)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def _peer(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        return f"{addr[0]}:{addr[1]}"
    return str(addr)
