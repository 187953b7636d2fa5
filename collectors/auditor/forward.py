"""Events to HQ: RFC 5424 syslog over TCP or TLS, never blocking the capture, spooled when HQ is away.

:class:`TcpSyslogSink` is an :class:`~collectors.auditor.events.EventSink`. Its
``emit`` (the engine's thread) formats the message and appends it to a bounded
in-memory queue, or to the spool (:mod:`collectors.auditor.spool`), under a lock
that no network call is ever made under: the engine never waits for HQ. One sender
thread connects, sends, reconnects with exponential backoff, and replays the spool.

**Framing: octet counting** (RFC 6587 section 3.4.1, the only framing RFC 5425
allows over TLS): each message is sent as ``<length> <message>``. rsyslog's imtcp
and imptcp recognise it by the leading digit, and syslog-ng's ``syslog()`` source
expects it; unlike LF termination ("non-transparent framing") it needs no
escaping and cannot be split or merged by a newline inside a message (packet data
reaches our summaries and evidence), nor misread by a receiver that uses a
different trailer.

**Order and modes.** While HQ is reachable and the queue has room, messages go
through the queue. When the queue is full, or the sender cannot connect or send,
the sink switches to the spool: the queue's messages are moved to the spool first
(order kept) and every new message is appended there, until the sender has
delivered all of the spool; then the queue is used again. A spool left by an
earlier run is replayed before anything new.

**Delivery: at-least-once, in order, up to the server's TCP.** Syslog over TCP has
no acknowledgement, and a message written into a socket whose peer then dies is lost
silently (rsyslog's omfwd has the same gap). The sender therefore forgets a message
only when the kernel says the peer's TCP acknowledged every byte sent on a
connection still sound (``SIOCOUTQ`` is 0, state established) and the connection is
still sound :data:`_SETTLE` seconds later (a server that dies with our data unread
resets the connection within that time); until then the message is kept, and after a
broken connection everything not settled is sent again. A receiver can see a message
twice (a break between its arrival and our check, or a crash of the sensor before
the spool's position was written; a resend repeats the tail of what was sent), and
always sees the first copies in order. What remains: a message the server's kernel
acknowledged while its host died (no reset ever comes), or that the server read and
lost itself; only an application-level acknowledgement (RELP) closes that gap. The
same event id can arrive again anyway (updates of an incident).

**Peers that go away.** Connecting has a timeout (a WAN cut is a timeout, not a
hang); a send that the peer does not read within ``send_timeout`` (its window is
full) counts as a broken connection; a peer that has closed (rsyslog stopped) is
noticed before the next send (the socket reads end-of-file). A peer that vanished
(a cut WAN drops packets silently) is noticed by ``TCP_USER_TIMEOUT``: data left
unacknowledged ``send_timeout`` seconds aborts the connection (:func:`_hold_peer_to`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import select
import socket
import ssl
import struct
import termios
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from collectors.auditor.events import Event, rfc5424
from collectors.auditor.spool import DiskSpool, MemorySpool, Spool, fsync_all

logger = logging.getLogger(__name__)

Scheme = Literal["udp", "tcp", "tls"]
DEFAULT_PORTS: dict[str, int] = {"udp": 514, "tcp": 514, "tls": 6514}

_ACK_WINDOW = 1024
"""Messages sent and not yet settled before the sender waits."""
_SETTLE = 0.2
"""Seconds an acknowledged message must stay so, the connection sound, before it is forgotten.

A server that closes with our data unread (killed, restarting, a full rsyslog
refusing the session) has its kernel acknowledge it and then reset the connection:
the reset arrives within a round trip, so waiting turns that loss into a resend."""
_SYNC_EVERY = 1.0
"""Seconds between two fsyncs of a disk spool by the sender thread."""


@dataclass(frozen=True)
class SyslogTarget:
    """Where ``--syslog`` sends: ``scheme`` (udp, tcp, tls), host and port."""

    scheme: Scheme
    host: str
    port: int


def parse_syslog_target(text: str) -> SyslogTarget:
    """``--syslog``: ``HOST:PORT`` (UDP, as before), ``udp://``, ``tcp://`` or ``tls://HOST[:PORT]``.

    Default ports: 514 (udp, tcp), 6514 (tls, RFC 5425). IPv6 in brackets.

    Examples:
        >>> parse_syslog_target("10.0.0.5:514")
        SyslogTarget(scheme='udp', host='10.0.0.5', port=514)
        >>> parse_syslog_target("tls://hq-log.example.net")
        SyslogTarget(scheme='tls', host='hq-log.example.net', port=6514)
        >>> parse_syslog_target("tcp://[::1]:1514")
        SyslogTarget(scheme='tcp', host='::1', port=1514)
    """
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "udp", text
        if ":" not in text:
            raise ValueError(
                f"--syslog {text!r}: give HOST:PORT (UDP) or udp://, tcp://, tls://HOST[:PORT]"
            )
    if scheme not in DEFAULT_PORTS:
        raise ValueError(f"--syslog {text!r}: scheme {scheme!r} is not udp, tcp or tls")
    host, port_text = _split_hostport(rest, text)
    if not host and not sep:
        host = "127.0.0.1"  # ``:PORT``, as --syslog always read it
    if not host or any(c.isspace() or c in "/?#@" for c in host):
        raise ValueError(f"--syslog {text!r}: no valid host")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"--syslog {text!r}: port {port_text!r} is not 1-65535")
        port = int(port_text)
    elif sep:
        port = DEFAULT_PORTS[scheme]
    else:
        raise ValueError(f"--syslog {text!r}: give HOST:PORT")
    return SyslogTarget(cast(Scheme, scheme), host, port)


def _split_hostport(rest: str, text: str) -> tuple[str, str]:
    """``host[:port]`` or ``[v6][:port]`` -> (host, port text, maybe empty)."""
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0:
            raise ValueError(f"--syslog {text!r}: unclosed '[' in an IPv6 address")
        host, after = rest[1:close], rest[close + 1 :]
        if after and not after.startswith(":"):
            raise ValueError(f"--syslog {text!r}: expected ':PORT' after ']'")
        return host, after[1:]
    if rest.count(":") > 1:
        raise ValueError(f"--syslog {text!r}: write an IPv6 address in brackets: [::1]:514")
    host, _, port_text = rest.partition(":")
    return host, port_text


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing: ``MSG-LEN SP SYSLOG-MSG``.

    Examples:
        >>> octet_frame(b"<165>1 - - - - - - hi")
        b'21 <165>1 - - - - - - hi'
    """
    return b"%d %s" % (len(message), message)


def tls_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A client context: the server's certificate verified against ``ca_file``, its name checked.

    Without ``ca_file``, against the system's trusted CAs.

    ``cert_file``/``key_file`` add a client certificate (for a server that asks for
    one, rsyslog's ``StreamDriver.AuthMode="x509/certvalid"`` or ``"x509/name"``).
    TLS 1.2 at least. Errors (unreadable file, bad PEM) are ``ssl.SSLError``/``OSError``.
    """
    ctx = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=None if ca_file is None else str(ca_file)
    )
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    if cert_file is not None:
        ctx.load_cert_chain(str(cert_file), str(key_file) if key_file is not None else None)
    return ctx


@dataclass
class ForwardStats:
    """What the metrics say about the way to HQ (read by ``AuditorCollector``)."""

    delivered: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    spool_bytes: int = 0
    pending: int = 0
    connected: bool = False
    last_error: str = ""


_TCP_ESTABLISHED, _TCP_CLOSE_WAIT = 1, 8  # linux/tcp_states.h


def _all_acked(sock: socket.socket) -> bool:
    """Whether the peer's TCP acknowledged every byte sent on a connection still sound.

    ``SIOCOUTQ`` (= ``TIOCOUTQ``) is what was sent and not acknowledged; the state
    (``TCP_INFO``) must be established, or closing by the peer after it acknowledged
    (a reset connection is neither: what it did not acknowledge is sent again).
    """
    raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    if struct.unpack("i", raw)[0] != 0:
        return False
    state = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
    return state in {_TCP_ESTABLISHED, _TCP_CLOSE_WAIT}


_KEEPALIVE = (30, 10, 3)
"""Keepalive on an idle connection: first probe after 30 s, then every 10 s, 3 unanswered."""


def _hold_peer_to(sock: socket.socket, timeout: float) -> None:
    """Abort the connection when sent data stays unacknowledged ``timeout`` seconds.

    A cut WAN drops packets silently: no reset, no ICMP that TCP acts on. Without a
    bound, the kernel retransmits for about 15 minutes (``tcp_retries2``) while the
    sender counts the connection as sound, keeps the messages in its queue rather
    than the spool, and reports ``hq_connected`` 1. ``TCP_USER_TIMEOUT`` (RFC 5482)
    makes the kernel abort it after ``timeout`` seconds of unacknowledged data, the
    next ``select``/``send`` sees the error, and everything not settled goes to the
    spool. Keepalive probes do the same for an idle connection (within about a
    minute), so ``hq_connected`` also drops when there is nothing to send.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, max(1, int(timeout * 1000)))
    idle, interval, count = _KEEPALIVE
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, interval)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, count)


def _peer_closed(sock: socket.socket, timeout: float) -> bool:
    """Whether the peer has closed the connection (a syslog server never sends data).

    Over TLS, what arrives may be a session ticket (TLS 1.3 sends them after the
    handshake): it is read through the TLS layer, and only an end of stream counts.
    """
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    sock.setblocking(False)
    try:
        return not sock.recv(4096)
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


class TcpSyslogSink:
    """RFC 5424 events over TCP (optionally TLS) to HQ, queued, spooled, replayed in order.

    ``render`` turns an event into the MSG part (the event's JSON, or its ECS
    document); the whole RFC 5424 message is built at ``emit`` and is what the
    queue and the spool hold. ``spool`` defaults to a :class:`MemorySpool`.
    ``close`` sends what it can within ``close_timeout`` seconds, then leaves the
    rest in the spool (a disk spool: for the next run).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        render: Callable[[Event], str] = Event.to_json,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        spool: Spool | None = None,
        queue_size: int = 1024,
        facility: int = 20,
        hostname: str | None = None,
        connect_timeout: float = 5.0,
        send_timeout: float = 10.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        close_timeout: float = 5.0,
        stats: ForwardStats | None = None,
    ) -> None:
        self.address = (host, port)
        self.render = render
        self.tls = tls
        self.server_hostname = server_hostname or host
        self.spool: Spool = spool if spool is not None else MemorySpool()
        self.queue_size = queue_size
        self.facility = facility
        self.hostname = hostname or socket.gethostname() or "-"
        self.connect_timeout = connect_timeout
        self.send_timeout = send_timeout
        self.backoff = backoff
        self.close_timeout = close_timeout
        self.stats = stats if stats is not None else ForwardStats()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: deque[bytes] = deque()
        self._queue_sent = 0  # queue messages sent, not acknowledged yet
        self._spooling = self.spool.pending() > 0  # a spool left by an earlier run first
        self._unacked = 0
        self._mark: tuple[float, int] | None = None  # (when, how many) seen acknowledged
        self._gen = 0  # bumped when what was sent is given back (spooled, rewound)
        self._closing = False
        self._abort = threading.Event()
        self._closed = threading.Event()  # wakes a backoff wait: one last attempt, then out
        self._sock: socket.socket | None = None
        self._failures = 0
        self._update_stats()
        self._thread = threading.Thread(target=self._run, name=f"syslog-{host}:{port}", daemon=True)
        self._thread.start()

    @property
    def label(self) -> str:
        scheme = "tls" if self.tls is not None else "tcp"
        return f"{scheme}://{self.address[0]}:{self.address[1]}"

    # ---- the engine's side ------------------------------------------------------------

    def format(self, event: Event) -> bytes:
        return rfc5424(event, self.render(event), hostname=self.hostname, facility=self.facility)

    def emit(self, event: Event) -> None:
        """Queue or spool the event's message; returns at once (disk write at most)."""
        message = self.format(event)
        with self._lock:
            if self._closing:
                return
            if not self._spooling and len(self._queue) < self.queue_size:
                self._queue.append(message)
            else:
                if not self._spooling:
                    self._to_spool()
                self.spool.append(message)
            self._update_stats()
            self._wake.notify()

    def _to_spool(self) -> None:
        """Switch to the spool, moving the queue's messages into it first (order kept).

        Messages sent from the queue and not yet acknowledged move too: they will be
        sent again (at-least-once). Called with the lock held.
        """
        for message in self._queue:
            self.spool.append(message)
        self._queue.clear()
        self._queue_sent = 0
        self._unacked = 0
        self._mark = None
        self._gen += 1
        self._spooling = True

    def _update_stats(self) -> None:
        s = self.stats
        s.dropped = Counter(self.spool.dropped)
        s.spool_bytes = self.spool.size_bytes()
        s.pending = len(self._queue) + self.spool.pending()

    # ---- the sender thread ------------------------------------------------------------

    def _next(self) -> bytes | None:
        """The next message to send (spool first while spooling), under the lock."""
        if self._spooling:
            message = self.spool.next()
            if message is not None:
                return message
            if self.spool.pending() > 0:
                return None  # all handed out, waiting for the acknowledgement
            self._spooling = False  # the spool is delivered: back to the queue
        if self._queue_sent < len(self._queue):
            self._queue_sent += 1
            return self._queue[self._queue_sent - 1]
        return None

    def _commit(self, count: int) -> None:
        """The first ``count`` messages sent are delivered: forget them (lock held)."""
        if self._spooling:
            self.spool.commit(count)
        else:
            for _ in range(min(count, self._queue_sent)):
                self._queue.popleft()
            self._queue_sent = max(0, self._queue_sent - count)
        self._failures = 0  # delivered: the way to HQ works (a server that accepts and
        # hangs up at once fails every time, and its backoff keeps growing)
        self.stats.delivered += count
        self._unacked -= count
        self._update_stats()

    def _settle(self, sock: socket.socket) -> bool:
        """Commit what was acknowledged ``_SETTLE`` seconds ago on a still sound connection.

        False when some bytes sent are not acknowledged yet.
        """
        if not _all_acked(sock):
            return False
        now = time.monotonic()
        with self._lock:
            mark = self._mark
            if mark is None or mark[1] > self._unacked:
                self._mark = (now, self._unacked)
            elif now - mark[0] >= _SETTLE:
                self._commit(mark[1])
                self._mark = (now, self._unacked) if self._unacked else None
        return True

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        try:
            _hold_peer_to(sock, self.send_timeout)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.server_hostname)
            sock.settimeout(self.send_timeout)
        except BaseException:
            sock.close()
            raise
        return sock

    def _broken(self, exc: BaseException | str) -> None:
        """The connection failed: close it, keep what was not acknowledged, spool from now on."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        text = _describe(exc, self.label)
        with self._lock:
            self._queue_sent = 0
            self.spool.rewind()
            self._unacked = 0
            self._mark = None
            self._gen += 1
            if not self._spooling:
                self._to_spool()
            self.stats.connected = False
            self.stats.last_error = text
            self._update_stats()
        self._failures += 1
        if self._failures == 1 or self._failures % 20 == 0:  # not a line per retry
            logger.warning("%s (attempt %d; events are spooled)", text, self._failures)

    def _sync(self) -> None:
        if isinstance(self.spool, DiskSpool):
            with self._lock:
                fds = self.spool.sync_fds()
            fsync_all(fds)

    def _delay(self) -> float:
        low, high = self.backoff
        return float(min(high, low * 2 ** min(self._failures - 1, 30)))

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # a bug must not pass silently: events stay queued/spooled
            logger.exception("%s: the sender stopped; events are kept for the next run", self.label)

    def _loop(self) -> None:
        last_sync = time.monotonic()
        while not self._abort.is_set():
            if time.monotonic() - last_sync >= _SYNC_EVERY:
                self._sync()
                last_sync = time.monotonic()
            with self._lock:
                pending = bool(self._queue) or self.spool.pending() > 0
                closing = self._closing
            if self._sock is None:
                if not pending:
                    if closing:
                        return
                    with self._lock:
                        self._wake.wait(_SYNC_EVERY)
                    continue
                if self._failures and not closing:
                    self._closed.wait(self._delay())  # backoff after any failure
                try:
                    self._sock = self._connect()
                except (OSError, ssl.SSLError) as exc:
                    self._broken(exc)
                    if closing:
                        return
                    continue
                with self._lock:
                    self.stats.connected = True
                    self.stats.last_error = ""
                logger.info("%s: connected", self.label)
            if not self._step(closing):
                return

    def _step(self, closing: bool) -> bool:
        """Send one message or wait for acknowledgements; False when done (closing)."""
        sock = self._sock
        if sock is None:
            return True
        try:
            if _peer_closed(sock, self.send_timeout):
                hint = " (does it require a client certificate, --syslog-cert?)" if self.tls else ""
                self._broken(f"{self.label}: the server closed the connection{hint}")
                return True
            if self._unacked:
                self._settle(sock)
                if self._unacked >= _ACK_WINDOW:
                    return self._await_ack(sock)
            with self._lock:
                gen = self._gen
                message = self._next()
                if message is None:
                    if closing and not self._unacked:
                        sock.close()
                        self._sock = None
                        return False
                    self._wake.wait(0.02 if self._unacked else _SYNC_EVERY)
                    return True
            sock.sendall(octet_frame(message))
            with self._lock:
                if self._gen == gen:  # not given back meanwhile (the engine spooled the queue)
                    self._unacked += 1
        except (OSError, ssl.SSLError) as exc:
            self._broken(exc)
        return True

    def _await_ack(self, sock: socket.socket) -> bool:
        """Wait (bounded by ``send_timeout``) for the window to be acknowledged and settled."""
        deadline = time.monotonic() + self.send_timeout + _SETTLE
        while time.monotonic() < deadline and not self._abort.is_set():
            if _peer_closed(sock, self.send_timeout):
                self._broken(f"{self.label}: the server closed the connection")
                return True
            self._settle(sock)
            if self._unacked < _ACK_WINDOW:
                return True
            self._abort.wait(0.01)
        self._broken(f"{self.label}: the server stopped reading (nothing acknowledged in "
                     f"{self.send_timeout:g} s)")  # fmt: skip
        return True

    # ---- closing ----------------------------------------------------------------------

    def close(self) -> None:
        """Deliver what can be within ``close_timeout``; leave the rest in the spool."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._wake.notify()
        self._closed.set()
        self._thread.join(self.close_timeout)
        if self._thread.is_alive():
            self._abort.set()
            sock = self._sock
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # a blocked sendall returns at once
            self._thread.join(self.connect_timeout + 1.0)
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        with self._lock:
            self.spool.rewind()
            if self._queue:
                self._to_spool()
            left = self.spool.pending()
            self.spool.close()
            self._update_stats()
        if left:
            where = (
                f"in the spool {self.spool.directory}, sent by the next run"
                if isinstance(self.spool, DiskSpool)
                else "lost (no --spool)"
            )
            logger.warning("%s: %d event message(s) not delivered: %s", self.label, left, where)


def _describe(exc: BaseException | str, label: str) -> str:
    """A failure in words: refused, timed out, certificate not verified (and why)."""
    if isinstance(exc, str):
        return exc
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"{label}: TLS: the server's certificate was not accepted: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"{label}: TLS: {exc.reason or exc}"
    if isinstance(exc, TimeoutError):
        return f"{label}: timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{label}: {exc.strerror}"
    return f"{label}: {exc}"


__all__ = [
    "DiskSpool",
    "ForwardStats",
    "MemorySpool",
    "SyslogTarget",
    "TcpSyslogSink",
    "octet_frame",
    "parse_syslog_target",
    "tls_context",
]
