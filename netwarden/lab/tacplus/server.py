"""The TACACS+ server: sessions over TCP (RFC 8907), answers from the users file.

:class:`Responder` is the protocol without sockets: one :class:`Connection`'s state
(its single-connect agreement, its ASCII logins half-way) and a packet in, the reply
packet out (or none) and whether to close. :func:`serve` runs it with asyncio on
each listen address: at most ``max_connections`` at once, each closed after
``idle_timeout`` seconds without a whole packet and after ``max_packets``.

What closes a connection without an answer: a header that is not TACACS+ (major
version, type, a body over 64 KiB), a body that does not decode (malformed, or
obfuscated with another key: RFC 8907 section 4.5 says discard it), an odd sequence
number out of turn, and the end of a session unless single-connect was agreed.
What gets ``ERROR``: an unobfuscated packet (this server always has a key), a
CONTINUE for no session, values the RFC does not allow (accounting flags, an
argument without ``=`` or ``*``).

Accounting records go, one JSON object a line, to ``accounting_log``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from netwarden.lab.tacplus.packet import (
    CONTINUE_FLAG_ABORT,
    MINOR_ONE,
    REPLY_FLAG_NOECHO,
    SINGLE_CONNECT_FLAG,
    UNENCRYPTED_FLAG,
    AcctFlag,
    AcctReply,
    AcctRequest,
    AcctStatus,
    AuthenAction,
    AuthenContinue,
    AuthenReply,
    AuthenStart,
    AuthenStatus,
    AuthenType,
    AuthorRequest,
    AuthorResponse,
    AuthorStatus,
    Header,
    PacketError,
    PacketType,
    encode,
    obfuscate,
)
from netwarden.lab.tacplus.policy import TacacsSecrets, TacacsUser
from netwarden.textsafe import printable

logger = logging.getLogger(__name__)

VALID_ACCT_FLAGS: dict[int, str] = {
    AcctFlag.START: "start",
    AcctFlag.STOP: "stop",
    AcctFlag.WATCHDOG: "watchdog",
    AcctFlag.WATCHDOG | AcctFlag.START: "watchdog",  # an update that carries start data
}


@dataclass(frozen=True)
class ServerOptions:
    listen: tuple[tuple[str, int], ...]
    accounting_log: Path
    idle_timeout: float = 30.0
    max_connections: int = 64
    max_packets: int = 1000  # per connection
    max_ascii_sessions: int = 16  # ASCII logins half-way, per connection


@dataclass
class _Login:
    """An ASCII login between START and its last CONTINUE."""

    user: str
    priv_lvl: int
    service: int
    next_seq: int  # the client's next sequence number
    asked: str  # "user" or "password"


@dataclass
class Connection:
    peer: str
    single_connect: bool | None = None  # decided by the first packet
    logins: dict[int, _Login] = field(default_factory=dict)
    packets: int = 0


@dataclass(frozen=True)
class Outcome:
    reply: bytes | None
    close: bool


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _shown(raw: bytes | str) -> str:
    return printable(raw if isinstance(raw, str) else _text(raw), multiline=False)


class Responder:
    """The protocol for one server's key and users (module docstring)."""

    def __init__(
        self,
        secrets: TacacsSecrets,
        accounting_log: Path,
        *,
        max_ascii_sessions: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = secrets
        self.key = secrets.key.get_secret_value().encode()
        self.accounting_log = accounting_log
        self.max_ascii_sessions = max_ascii_sessions
        self.clock = clock

    # ------------------------------------------------------------ framing
    def respond(self, conn: Connection, header: Header, raw_body: bytes) -> Outcome:
        """The answer to one packet of ``conn`` (its header already checked)."""
        conn.packets += 1
        if header.seq_no % 2 == 0 or header.seq_no == 255:
            logger.warning("%s: sequence number %d from a client (odd, below 255 expected); "
                           "closing", conn.peer, header.seq_no)  # fmt: skip
            return Outcome(None, close=True)
        if conn.single_connect is None:
            conn.single_connect = bool(header.flags & SINGLE_CONNECT_FLAG)
        if header.flags & UNENCRYPTED_FLAG:
            logger.warning("%s: unobfuscated packet refused (this server has a key)", conn.peer)
            body = self._error_body(header, b"unobfuscated packets are refused")
            return self._reply(conn, header, body, done=True, unencrypted=True, force_close=True)
        body = obfuscate(header, raw_body, self.key)
        try:
            if header.type == PacketType.AUTHEN:
                return self._authen(conn, header, body)
            if header.type == PacketType.AUTHOR:
                return self._author(conn, header, AuthorRequest.decode(body))
            return self._acct(conn, header, AcctRequest.decode(body))
        except PacketError as exc:
            logger.warning("%s: session %08x discarded: %s", conn.peer, header.session_id, exc)
            conn.logins.pop(header.session_id, None)
            return Outcome(None, close=True)

    def _reply(
        self,
        conn: Connection,
        header: Header,
        body: bytes,
        *,
        done: bool,
        unencrypted: bool = False,
        force_close: bool = False,
    ) -> Outcome:
        flags = UNENCRYPTED_FLAG if unencrypted else 0
        if conn.single_connect:
            flags |= SINGLE_CONNECT_FLAG
        reply = Header(header.version, header.type, header.seq_no + 1, flags,
                       header.session_id, len(body))  # fmt: skip
        close = force_close or (done and not conn.single_connect)
        return Outcome(encode(reply, body, b"" if unencrypted else self.key), close)

    @staticmethod
    def _error_body(header: Header, message: bytes) -> bytes:
        if header.type == PacketType.AUTHEN:
            return AuthenReply(AuthenStatus.ERROR, server_msg=message).encode()
        if header.type == PacketType.AUTHOR:
            return AuthorResponse(AuthorStatus.ERROR, server_msg=message).encode()
        return AcctReply(AcctStatus.ERROR, server_msg=message).encode()

    # ------------------------------------------------------- authentication
    def _authen(self, conn: Connection, header: Header, body: bytes) -> Outcome:
        if header.seq_no == 1:
            conn.logins.pop(header.session_id, None)  # a START (re)starts the session
            return self._start(conn, header, AuthenStart.decode(body))
        login = conn.logins.get(header.session_id)
        cont = AuthenContinue.decode(body)
        if login is None or header.seq_no != login.next_seq:
            conn.logins.pop(header.session_id, None)
            return self._authen_reply(conn, header, AuthenStatus.ERROR,
                                      b"no authentication session in progress for this packet")  # fmt: skip
        if cont.flags & CONTINUE_FLAG_ABORT:
            del conn.logins[header.session_id]
            logger.info("%s: login of %r aborted by the client", conn.peer, login.user)
            return Outcome(None, close=not conn.single_connect)
        login.next_seq += 2
        if login.asked == "user":
            login.user = _text(cont.user_msg).strip()
            if not login.user:
                del conn.logins[header.session_id]
                return self._authen_reply(conn, header, AuthenStatus.FAIL, b"no user name")
            login.asked = "password"
            return self._authen_reply(conn, header, AuthenStatus.GETPASS, b"Password: ",
                                      flags=REPLY_FLAG_NOECHO, done=False)  # fmt: skip
        del conn.logins[header.session_id]
        return self._verdict(conn, header, login.user, _text(cont.user_msg),
                             priv=login.priv_lvl, how="ascii")  # fmt: skip

    def _start(self, conn: Connection, header: Header, start: AuthenStart) -> Outcome:
        user = _text(start.user)
        refused = _not_served(start)
        if refused:
            logger.info("%s: %s of %r refused: %s", conn.peer, _type_name(start.authen_type),
                        _shown(user), refused)  # fmt: skip
            return self._authen_reply(conn, header, AuthenStatus.FAIL, refused.encode())
        if start.authen_type == AuthenType.PAP:
            if header.minor != MINOR_ONE:
                return self._authen_reply(conn, header, AuthenStatus.ERROR,
                                          b"PAP needs minor version 1")  # fmt: skip
            return self._verdict(conn, header, user, _text(start.data), priv=start.priv_lvl,
                                 how="pap")  # fmt: skip
        if len(conn.logins) >= self.max_ascii_sessions:
            return self._authen_reply(conn, header, AuthenStatus.ERROR,
                                      b"too many logins in progress on this connection")  # fmt: skip
        asked = "password" if user else "user"
        conn.logins[header.session_id] = _Login(user, start.priv_lvl, start.authen_service,
                                                next_seq=header.seq_no + 2, asked=asked)  # fmt: skip
        if asked == "user":
            return self._authen_reply(conn, header, AuthenStatus.GETUSER, b"Username: ",
                                      done=False)  # fmt: skip
        return self._authen_reply(conn, header, AuthenStatus.GETPASS, b"Password: ",
                                  flags=REPLY_FLAG_NOECHO, done=False)  # fmt: skip

    def _verdict(
        self, conn: Connection, header: Header, name: str, password: str, *, priv: int, how: str
    ) -> Outcome:
        user = self.secrets.user(name)
        if user is None or not user.check_password(password):
            logger.warning("%s: %s login of %r failed (%s)", conn.peer, how, _shown(name),
                           "unknown user" if user is None else "wrong password")  # fmt: skip
            return self._authen_reply(conn, header, AuthenStatus.FAIL, b"Authentication failed")
        if priv > user.privilege:
            logger.warning("%s: %s login of %r at privilege %d refused (the user has %d)",
                           conn.peer, how, name, priv, user.privilege)  # fmt: skip
            return self._authen_reply(conn, header, AuthenStatus.FAIL,
                                      b"privilege level not allowed")  # fmt: skip
        logger.info("%s: %s login of %r accepted", conn.peer, how, name)
        return self._authen_reply(conn, header, AuthenStatus.PASS, b"")

    def _authen_reply(
        self,
        conn: Connection,
        header: Header,
        status: AuthenStatus,
        message: bytes,
        *,
        flags: int = 0,
        done: bool = True,
    ) -> Outcome:
        body = AuthenReply(status, flags, message).encode()
        return self._reply(conn, header, body, done=done)

    # -------------------------------------------------------- authorization
    def _author(self, conn: Connection, header: Header, request: AuthorRequest) -> Outcome:
        name = _text(request.user)

        def answer(
            status: AuthorStatus, message: bytes = b"", args: tuple[bytes, ...] = ()
        ) -> Outcome:
            body = AuthorResponse(status, args, message).encode()
            return self._reply(conn, header, body, done=True)

        if header.seq_no != 1:
            return answer(AuthorStatus.ERROR, b"authorization is one request, sequence 1")
        try:
            pairs = [_attribute(arg) for arg in request.args]
        except ValueError as exc:
            return answer(AuthorStatus.ERROR, str(exc).encode())
        service = next((v for a, v in pairs if a == "service"), "")
        cmd = next((v for a, v in pairs if a == "cmd"), None)
        cmd_args = tuple(v for a, v in pairs if a == "cmd-arg")
        user = self.secrets.user(name)
        verdict, why = _authorize(user, service, cmd, cmd_args, request.priv_lvl)
        shown = " ".join([cmd or "(exec)", *cmd_args]) if service == "shell" else service
        if verdict is None:
            logger.warning("%s: authorization of %r for %s refused: %s", conn.peer, _shown(name),
                           _shown(shown), why)  # fmt: skip
            return answer(AuthorStatus.FAIL, why.encode())
        logger.info("%s: authorization of %r for %s passed", conn.peer, _shown(name), _shown(shown))
        return answer(AuthorStatus.PASS_ADD, b"", verdict)

    # ----------------------------------------------------------- accounting
    def _acct(self, conn: Connection, header: Header, request: AcctRequest) -> Outcome:
        def answer(status: AcctStatus, message: bytes = b"") -> Outcome:
            return self._reply(conn, header, AcctReply(status, message).encode(), done=True)

        if header.seq_no != 1:
            return answer(AcctStatus.ERROR, b"accounting is one request, sequence 1")
        kind = VALID_ACCT_FLAGS.get(request.flags)
        user = _text(request.user)
        if kind is None:
            return answer(AcctStatus.ERROR, b"flags must be START, STOP or WATCHDOG")
        record = {
            "time": self.clock(),
            "peer": conn.peer,
            "session_id": f"{header.session_id:08x}",
            "record": kind,
            "user": user,
            "port": _text(request.port),
            "rem_addr": _text(request.rem_addr),
            "priv_lvl": request.priv_lvl,
            "args": [_text(a) for a in request.args],
        }
        problem = append_record(self.accounting_log, record)
        if problem:
            logger.error("%s: accounting record not written to %s: %s", conn.peer,
                         self.accounting_log, problem)  # fmt: skip
            return answer(AcctStatus.ERROR, b"accounting record not written")
        logger.info("%s: accounting %s for %r recorded", conn.peer, kind, _shown(user))
        return answer(AcctStatus.SUCCESS)


def _not_served(start: AuthenStart) -> str:
    """Why this server does not serve ``start`` ("" when it does)."""
    if start.action != AuthenAction.LOGIN:
        return "only login is served (no chpass, no sendauth)"
    if start.authen_type not in {AuthenType.ASCII, AuthenType.PAP}:
        return "only ASCII and PAP logins are served (passwords are kept hashed)"
    return ""


def _type_name(value: int) -> str:
    try:
        return AuthenType(value).name
    except ValueError:
        return f"type {value:#x}"


def _attribute(raw: bytes) -> tuple[str, str]:
    """``attr=value`` (mandatory) or ``attr*value`` (optional) -> (attr, value)."""
    text = _text(raw)
    cut = min((i for i in (text.find("="), text.find("*")) if i > 0), default=-1)
    if cut <= 0:
        raise ValueError(f"argument {_shown(text)!r} is not attr=value or attr*value")
    return text[:cut], text[cut + 1 :]


def _authorize(
    user: TacacsUser | None, service: str, cmd: str | None, args: tuple[str, ...], priv_lvl: int
) -> tuple[tuple[bytes, ...] | None, str]:
    """(arguments to add, "") when it passes; (None, why) when not."""
    if user is None:
        return None, "unknown user"
    if service != "shell":
        return None, f"service {service or '(none)'} is not authorized in the lab"
    if priv_lvl > user.privilege:
        return None, f"privilege {priv_lvl} above the user's {user.privilege}"
    if not cmd:  # exec (the shell itself): its privilege level
        return (f"priv-lvl={user.privilege}".encode(),), ""
    if user.permits(cmd, args):
        return (), ""
    return None, "command not permitted for this user"


def append_record(path: Path, record: dict[str, object]) -> str:
    """One JSON line appended to ``path`` (made ``0640``); "" or what went wrong."""
    line = json.dumps(record, sort_keys=True, ensure_ascii=True) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        return str(exc)
    return ""


# ---------------------------------------------------------------- asyncio
class TacacsServer:
    """:class:`Responder` on TCP; :meth:`serve` until ``stop`` is set."""

    def __init__(self, secrets: TacacsSecrets, options: ServerOptions) -> None:
        self.options = options
        self.responder = Responder(secrets, options.accounting_log,
                                   max_ascii_sessions=options.max_ascii_sessions)  # fmt: skip
        self.active = 0
        self.bound: list[tuple[str, int]] = []

    async def serve(self, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
        servers = [
            await asyncio.start_server(self._connection, host, port, reuse_address=True)
            for host, port in self.options.listen
        ]
        for server in servers:
            self.bound += [s.getsockname()[:2] for s in server.sockets]
        logger.info("TACACS+ listening on %s",
                    ", ".join(f"{h}:{p}" for h, p in self.bound))  # fmt: skip
        if ready is not None:
            ready()
        try:
            await stop.wait()
        finally:
            for server in servers:
                server.close()
                await server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername", ("?", 0))[0])
        if self.active >= self.options.max_connections:
            logger.warning("%s: refused: %d connections open already", peer, self.active)
            writer.close()
            return
        self.active += 1
        conn = Connection(peer)
        try:
            await self._packets(conn, reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
            if not isinstance(exc, asyncio.IncompleteReadError) or exc.partial:
                logger.info("%s: connection ended: %s", peer, type(exc).__name__)
        except PacketError as exc:
            logger.warning("%s: closing: %s", peer, exc)
        except Exception:  # a bug here must not end the server
            logger.exception("%s: unexpected error; connection closed", peer)
        finally:
            self.active -= 1
            writer.close()

    async def _packets(
        self, conn: Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        timeout = self.options.idle_timeout
        while conn.packets < self.options.max_packets:
            header = Header.unpack(await asyncio.wait_for(reader.readexactly(12), timeout))
            body = await asyncio.wait_for(reader.readexactly(header.length), timeout)
            outcome = self.responder.respond(conn, header, body)
            if outcome.reply is not None:
                writer.write(outcome.reply)
                await asyncio.wait_for(writer.drain(), timeout)
            if outcome.close:
                return
        logger.warning("%s: %d packets on one connection; closing", conn.peer, conn.packets)
