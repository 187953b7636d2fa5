"""The syslog receiver: UDP datagrams and TCP streams (RFC 6587 framing), one thread, bounded.

UDP: one datagram is one message; a datagram over ``max_message`` bytes is counted
as ``oversize`` and dropped. TCP: each connection is framed by its first byte,
octet counting (``LEN SP MSG``, RFC 6587 3.4.1) when it is a digit, newline
(LF, RFC 6587 3.4.2) otherwise, and may change per frame as rsyslog allows. A
frame over ``max_message`` is counted ``oversize`` and skipped (its bytes read and
dropped); a bad length is ``framing`` and closes the connection. At most
``max_connections`` TCP connections (the oldest is closed to make room), each
closed after ``idle_timeout`` seconds without data. Nothing a sender does raises
out of the loop: a message is handed to :meth:`AccessLedger.receive`, which only counts.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Final

from collectors.access.ledger import AccessLedger

logger = logging.getLogger(__name__)

_TICK: Final = 0.25
_READ: Final = 65536
_MAX_LENGTH_DIGITS: Final = 10


@dataclass(frozen=True)
class ReceiverLimits:
    max_message: int = 8192
    max_connections: int = 64
    idle_timeout: float = 300.0


@dataclass
class _Stream:
    sock: socket.socket
    peer: str
    buffer: bytearray = field(default_factory=bytearray)
    skip: int = 0
    """Bytes of an oversize octet-counted frame still to drop."""
    skip_line: bool = False
    """Dropping an oversize newline frame up to its LF."""
    last: float = field(default_factory=time.monotonic)


_FREE_PORT_TRIES = 20
"""Ports the kernel picks for UDP before one is also free for TCP (``port=0``)."""


class SyslogReceiver:
    """Listens on ``host:port`` for UDP and TCP (the same port number for both, as rsyslog)."""

    def __init__(
        self, ledger: AccessLedger, host: str, port: int, limits: ReceiverLimits | None = None
    ) -> None:
        self.ledger = ledger
        self.limits = limits or ReceiverLimits()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # Port 0: the kernel picks a free UDP port, which another process may hold for TCP;
        # then try another (a bounded number of times). A port asked for is tried once.
        for attempt in range(_FREE_PORT_TRIES if port == 0 else 1):
            self.udp = socket.socket(family, socket.SOCK_DGRAM)
            self.tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                self.udp.bind((host, port))
                bound = self.udp.getsockname()[1]
                self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.tcp.bind((host, bound))
                self.tcp.listen(16)
            except OSError as exc:
                self.udp.close()
                self.tcp.close()
                if port != 0 or exc.errno != errno.EADDRINUSE or attempt + 1 == _FREE_PORT_TRIES:
                    raise
                continue
            break
        self.host, self.port = host, bound
        self.udp.setblocking(False)
        self.tcp.setblocking(False)
        self.streams: dict[int, _Stream] = {}
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.udp, selectors.EVENT_READ)
        self.selector.register(self.tcp, selectors.EVENT_READ)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="syslog-receiver", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        for stream in list(self.streams.values()):
            self._drop(stream)
        self.selector.close()
        self.udp.close()
        self.tcp.close()

    # --------------------------------------------------------------- loop
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for key, _ in self.selector.select(_TICK):
                    if key.fileobj is self.udp:
                        self._datagrams()
                    elif key.fileobj is self.tcp:
                        self._accept()
                    else:
                        stream = self.streams.get(key.fd)
                        if stream is not None:
                            self._read(stream)
                self._expire()
            except Exception:  # the receiver must stay up whatever a sender does
                logger.exception("syslog receiver: unexpected error (continuing)")

    def _datagrams(self) -> None:
        for _ in range(256):  # bounded: other sockets get their turn
            try:
                data, peer = self.udp.recvfrom(self.limits.max_message + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.debug("syslog UDP receive: %s", exc)
                return
            if len(data) > self.limits.max_message:
                self.ledger.count_unparsed("oversize", "udp")
            else:
                self.ledger.receive(data, peer[0], "udp")

    def _accept(self) -> None:
        try:
            sock, peer = self.tcp.accept()
        except OSError as exc:
            logger.debug("syslog TCP accept: %s", exc)
            return
        if len(self.streams) >= self.limits.max_connections:
            oldest = min(self.streams.values(), key=lambda s: s.last)
            logger.info("syslog: %d TCP connections; closing %s's", len(self.streams), oldest.peer)
            self._drop(oldest)
        sock.setblocking(False)
        stream = _Stream(sock, peer[0])
        self.streams[sock.fileno()] = stream
        self.selector.register(sock, selectors.EVENT_READ)

    def _drop(self, stream: _Stream) -> None:
        self.streams.pop(stream.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(stream.sock)
        stream.sock.close()

    def _expire(self) -> None:
        now = time.monotonic()
        for stream in [s for s in self.streams.values() if now - s.last > self.limits.idle_timeout]:
            self._drop(stream)

    def _read(self, stream: _Stream) -> None:
        try:
            data = stream.sock.recv(_READ)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            if stream.buffer and not stream.skip and not stream.skip_line:
                self.ledger.receive(bytes(stream.buffer), stream.peer, "tcp")  # last, unterminated
            self._drop(stream)
            return
        stream.last = time.monotonic()
        stream.buffer += data
        if not self._frames(stream):
            self.ledger.count_unparsed("framing", "tcp")
            self._drop(stream)

    def _frames(self, stream: _Stream) -> bool:
        """Hand over every complete frame in the buffer; False on a framing error."""
        buf, limit = stream.buffer, self.limits.max_message
        while buf:
            if stream.skip:
                cut = min(stream.skip, len(buf))
                del buf[:cut]
                stream.skip -= cut
                continue
            if stream.skip_line:
                end = buf.find(b"\n")
                if end < 0:
                    buf.clear()
                    return True
                del buf[: end + 1]
                stream.skip_line = False
                continue
            if buf[:1].isdigit():
                verdict = self._octet_frame(stream)
                if verdict is None:
                    continue
                return verdict
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > limit:
                    self.ledger.count_unparsed("oversize", "tcp")
                    buf.clear()
                    stream.skip_line = True
                return True
            frame = bytes(buf[:end])
            del buf[: end + 1]
            if len(frame) > limit:
                self.ledger.count_unparsed("oversize", "tcp")
            elif frame.strip():
                self.ledger.receive(frame, stream.peer, "tcp")
        return True

    def _octet_frame(self, stream: _Stream) -> bool | None:
        """One ``LEN SP MSG`` frame: None when handled, else :meth:`_frames`' answer (wait/bad)."""
        buf, limit = stream.buffer, self.limits.max_message
        space = buf.find(b" ", 0, _MAX_LENGTH_DIGITS + 1)
        if space < 0:
            return len(buf) <= _MAX_LENGTH_DIGITS and buf.isdigit()
        if not buf[:space].isdigit():
            return False
        length = int(buf[:space])
        if length > limit:
            self.ledger.count_unparsed("oversize", "tcp")
            del buf[: space + 1]
            stream.skip = length
            return None
        if len(buf) < space + 1 + length:
            return True
        frame = bytes(buf[space + 1 : space + 1 + length])
        del buf[: space + 1 + length]
        self.ledger.receive(frame, stream.peer, "tcp")
        return None
