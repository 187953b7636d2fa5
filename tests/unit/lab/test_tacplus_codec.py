"""The TACACS+ codec and the server's answers, without sockets (RFC 8907).

The obfuscation vector was computed once with plain ``hashlib`` from the RFC's
definition (MD5_1 = MD5(session_id, key, version, seq_no), MD5_n = MD5(..., MD5_n-1))
and is kept as hex, so a change of the implementation cannot change the expectation.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netwarden.lab.tacplus.packet import (
    CONTINUE_FLAG_ABORT,
    MAX_BODY,
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
    pseudo_pad,
)
from netwarden.lab.tacplus.policy import TacacsSecrets, TacacsUser, hash_password, verify_password
from netwarden.lab.tacplus.server import Connection, Responder

KEY = "tac_plus_key"
PAD_VECTOR = (  # session 0x12345678, key "tac_plus_key", version 0xc0, seq_no 1: 40 bytes
    "90882af688b5dce064d46cf9d698ff208d2bcfacec3e53e5ce33ddab3ac2740ceaa6d7ea8b9d1f01"
)
V0, V1 = 0xC0, 0xC1


def _header(kind: PacketType, seq: int = 1, *, version: int = V0, flags: int = 0,
            session: int = 0x0BADCAFE, length: int = 0) -> Header:  # fmt: skip
    return Header(version, kind, seq, flags, session, length)


def test_pseudo_pad_matches_the_rfc_vector() -> None:
    header = _header(PacketType.AUTHEN, session=0x12345678)
    assert pseudo_pad(header, KEY.encode(), 40).hex() == PAD_VECTOR
    assert pseudo_pad(header, KEY.encode(), 7).hex() == PAD_VECTOR[:14]
    body = bytes(range(40))
    hidden = obfuscate(header, body, KEY.encode())
    assert hidden == bytes(b ^ p for b, p in zip(body, bytes.fromhex(PAD_VECTOR), strict=True))
    assert obfuscate(header, hidden, KEY.encode()) == body  # XOR undoes itself
    other_seq = _header(PacketType.AUTHEN, seq=3, session=0x12345678)
    assert pseudo_pad(other_seq, KEY.encode(), 40).hex() != PAD_VECTOR


def test_unencrypted_flag_leaves_the_body_clear() -> None:
    header = _header(PacketType.AUTHEN, flags=UNENCRYPTED_FLAG)
    assert obfuscate(header, b"clear text", KEY.encode()) == b"clear text"


def test_header_round_trip_and_its_checks() -> None:
    header = _header(PacketType.ACCT, seq=3, version=V1, flags=SINGLE_CONNECT_FLAG, length=99)
    packed = header.pack()
    assert len(packed) == 12
    assert packed[:4] == bytes((0xC1, 3, 3, SINGLE_CONNECT_FLAG))
    assert Header.unpack(packed) == header
    assert (header.major, header.minor) == (0xC, 1)
    with pytest.raises(PacketError, match="major version 0xd"):
        Header.unpack(bytes((0xD0,)) + packed[1:])
    with pytest.raises(PacketError, match="unknown packet type 0x9"):
        Header.unpack(packed[:1] + b"\x09" + packed[2:])
    with pytest.raises(PacketError, match="at most"):
        Header.unpack(packed[:8] + struct.pack("!I", MAX_BODY + 1))
    with pytest.raises(PacketError, match="11 bytes"):
        Header.unpack(packed[:11])


@pytest.mark.parametrize(
    "body",
    [
        AuthenStart(
            AuthenAction.LOGIN, 1, AuthenType.PAP, 1, b"admin", b"tty0", b"10.0.0.1", b"pw"
        ),
        AuthenContinue(b"secret", b"", CONTINUE_FLAG_ABORT),
        AuthenReply(AuthenStatus.GETPASS, 1, b"Password: ", b""),
        AuthorRequest(6, 15, 1, 1, b"admin", b"tty0", b"", (b"service=shell", b"cmd=show")),
        AuthorResponse(AuthorStatus.PASS_ADD, (b"priv-lvl=15",), b"ok", b"data"),
        AcctRequest(AcctFlag.START, 6, 1, 1, 1, b"ops", b"tty1", b"h", (b"task_id=7",)),
        AcctReply(AcctStatus.SUCCESS, b"recorded", b""),
    ],
    ids=lambda b: type(b).__name__,
)
def test_every_body_round_trips(body: object) -> None:
    encoded = body.encode()  # type: ignore[attr-defined]
    assert type(body).decode(encoded) == body  # type: ignore[attr-defined]
    with pytest.raises(PacketError):
        type(body).decode(encoded + b"x")  # type: ignore[attr-defined]  # a byte too many
    with pytest.raises(PacketError):
        type(body).decode(encoded[:-1])  # type: ignore[attr-defined]  # a byte too few


def test_too_many_arguments_are_refused_when_encoding() -> None:
    with pytest.raises(ValueError, match="255"):
        AuthorRequest(6, 1, 1, 1, b"u", b"", b"", (b"a=" + b"x" * 300,)).encode()


def test_passwords_are_kept_hashed() -> None:
    stored = hash_password("s3cret", salt=b"\x00" * 16, iterations=1000)
    assert stored.startswith("pbkdf2-sha256$1000$")
    assert "s3cret" not in stored
    assert verify_password("s3cret", stored)
    assert not verify_password("s3cre", stored)
    assert not verify_password("s3cret", "md5$1$x$y")
    assert not verify_password("s3cret", "pbkdf2-sha256$1$AA==$AA==")  # too few rounds
    assert not verify_password("s3cret", "garbage")


# ---------------------------------------------------------------- the responder
USERS = TacacsSecrets(
    key=KEY,
    users=(
        TacacsUser.with_password("admin", "adminpw", privilege=15, commands=("*",)),
        TacacsUser.with_password("ops", "opspw", privilege=1, commands=("show *", "ping *")),
    ),
)


@pytest.fixture
def responder(tmp_path: Path) -> Responder:
    return Responder(USERS, tmp_path / "acct.jsonl", clock=lambda: 1_700_000_000.0)


def _ask(responder: Responder, conn: Connection, header: Header, body: bytes,
         key: str = KEY) -> tuple[Header | None, bytes, bool]:  # fmt: skip
    """Send ``body`` (obfuscated with ``key``); return the reply's header, clear body, close."""
    packet = encode(header, body, key.encode())
    sent = Header.unpack(packet[:12])
    outcome = responder.respond(conn, sent, packet[12:])
    if outcome.reply is None:
        return None, b"", outcome.close
    reply = Header.unpack(outcome.reply[:12])
    return reply, obfuscate(reply, outcome.reply[12:], KEY.encode()), outcome.close


def _start(user: bytes, kind: AuthenType = AuthenType.ASCII, data: bytes = b"",
           priv: int = 1) -> bytes:  # fmt: skip
    return AuthenStart(AuthenAction.LOGIN, priv, kind, 1, user, b"tty0", b"10.0.0.9", data).encode()


def test_ascii_login_asks_user_then_password(responder: Responder) -> None:
    conn = Connection("10.0.0.9")
    head, body, close = _ask(responder, conn, _header(PacketType.AUTHEN), _start(b""))
    assert head is not None
    assert head.seq_no == 2
    assert not close
    assert AuthenReply.decode(body).status == AuthenStatus.GETUSER
    cont = AuthenContinue(b"admin", b"").encode()
    head, body, close = _ask(responder, conn, _header(PacketType.AUTHEN, 3), cont)
    reply = AuthenReply.decode(body)
    assert (reply.status, reply.flags) == (AuthenStatus.GETPASS, 1)  # NOECHO
    cont = AuthenContinue(b"adminpw", b"").encode()
    head, body, close = _ask(responder, conn, _header(PacketType.AUTHEN, 5), cont)
    assert AuthenReply.decode(body).status == AuthenStatus.PASS
    assert head is not None
    assert head.seq_no == 6
    assert close  # no single-connect: the session's end closes the connection
    assert conn.logins == {}


def test_wrong_password_unknown_user_and_privilege_fail(responder: Responder) -> None:
    cases = [
        (_start(b"admin", AuthenType.PAP, b"nope"), AuthenStatus.FAIL),
        (_start(b"nobody", AuthenType.PAP, b"adminpw"), AuthenStatus.FAIL),
        (_start(b"ops", AuthenType.PAP, b"opspw", priv=15), AuthenStatus.FAIL),
        (_start(b"ops", AuthenType.PAP, b"opspw"), AuthenStatus.PASS),
        (_start(b"admin", AuthenType.CHAP, b"\x01" + b"c" * 16 + b"r" * 16), AuthenStatus.FAIL),
    ]
    for body, expected in cases:
        _, reply, _ = _ask(responder, Connection("p"), _header(PacketType.AUTHEN, version=V1), body)
        assert AuthenReply.decode(reply).status == expected
    _, reply, _ = _ask(responder, Connection("p"), _header(PacketType.AUTHEN),  # minor 0
                       _start(b"admin", AuthenType.PAP, b"adminpw"))  # fmt: skip
    assert AuthenReply.decode(reply).status == AuthenStatus.ERROR


def test_a_wrong_key_or_garbage_closes_without_an_answer(responder: Responder) -> None:
    header = _header(PacketType.AUTHEN, version=V1)
    wrong = _ask(responder, Connection("p"), header, _start(b"admin", AuthenType.PAP, b"x"),
                 key="not-the-key")  # fmt: skip
    assert wrong == (None, b"", True)
    for kind in PacketType:
        for junk in (b"", b"\xff" * 3, b"\x01" * 40):
            assert _ask(responder, Connection("p"), _header(kind), junk) == (None, b"", True)


def test_unencrypted_packets_get_a_clear_error(responder: Responder) -> None:
    conn = Connection("p")
    header = _header(PacketType.AUTHEN, version=V1, flags=UNENCRYPTED_FLAG)
    body = _start(b"admin", AuthenType.PAP, b"adminpw")
    outcome = responder.respond(conn, Header.unpack(encode(header, body, b"")[:12]), body)
    assert outcome.close
    assert outcome.reply is not None
    reply = Header.unpack(outcome.reply[:12])
    assert reply.flags & UNENCRYPTED_FLAG
    assert AuthenReply.decode(outcome.reply[12:]).status == AuthenStatus.ERROR


def test_sequence_numbers_are_checked(responder: Responder) -> None:
    assert _ask(responder, Connection("p"), _header(PacketType.AUTHEN, 2), _start(b"a")) == (
        None, b"", True)  # fmt: skip
    conn = Connection("p")
    _ask(responder, conn, _header(PacketType.AUTHEN), _start(b"admin"))
    _, body, _ = _ask(responder, conn, _header(PacketType.AUTHEN, 7),  # 3 expected
                      AuthenContinue(b"adminpw", b"").encode())  # fmt: skip
    assert AuthenReply.decode(body).status == AuthenStatus.ERROR
    _, body, _ = _ask(responder, Connection("p"), _header(PacketType.AUTHEN, 3, session=5),
                      AuthenContinue(b"x", b"").encode())  # fmt: skip
    assert AuthenReply.decode(body).status == AuthenStatus.ERROR  # no such session


def test_abort_ends_the_login_without_reply(responder: Responder) -> None:
    conn = Connection("p")
    _ask(responder, conn, _header(PacketType.AUTHEN), _start(b"admin"))
    abort = AuthenContinue(b"", b"", CONTINUE_FLAG_ABORT).encode()
    assert _ask(responder, conn, _header(PacketType.AUTHEN, 3), abort) == (None, b"", True)
    assert conn.logins == {}


def test_single_connect_keeps_the_connection_for_more_sessions(responder: Responder) -> None:
    conn = Connection("p")
    for session in (1, 2, 3):
        head, body, close = _ask(
            responder, conn,
            _header(PacketType.AUTHEN, version=V1, flags=SINGLE_CONNECT_FLAG, session=session),
            _start(b"admin", AuthenType.PAP, b"adminpw"),
        )  # fmt: skip
        assert head is not None
        assert head.flags & SINGLE_CONNECT_FLAG
        assert AuthenReply.decode(body).status == AuthenStatus.PASS
        assert not close


def _author(responder: Responder, user: bytes, *args: bytes, priv: int = 1) -> AuthorResponse:
    request = AuthorRequest(6, priv, 1, 1, user, b"tty0", b"", args).encode()
    _, body, close = _ask(responder, Connection("p"), _header(PacketType.AUTHOR), request)
    assert close
    return AuthorResponse.decode(body)


def test_authorization_by_privilege_and_commands(responder: Responder) -> None:
    shell = b"service=shell"
    exec_ok = _author(responder, b"ops", shell, b"cmd=")
    assert (exec_ok.status, exec_ok.args) == (AuthorStatus.PASS_ADD, (b"priv-lvl=1",))
    assert _author(responder, b"ops", shell, b"cmd=show", b"cmd-arg=version",
                   b"cmd-arg=<cr>").status == AuthorStatus.PASS_ADD  # fmt: skip
    assert _author(responder, b"ops", shell, b"cmd=reload").status == AuthorStatus.FAIL
    assert _author(responder, b"ops", shell, b"cmd=show", priv=15).status == AuthorStatus.FAIL
    assert _author(responder, b"admin", shell, b"cmd=reload",
                   priv=15).status == AuthorStatus.PASS_ADD  # fmt: skip
    assert _author(responder, b"nobody", shell, b"cmd=show").status == AuthorStatus.FAIL
    assert _author(responder, b"admin", b"service=ppp").status == AuthorStatus.FAIL
    assert _author(responder, b"admin", b"no-separator").status == AuthorStatus.ERROR


def test_accounting_writes_json_lines_and_refuses_bad_flags(
    responder: Responder, tmp_path: Path
) -> None:
    def account(flags: int) -> int:
        request = AcctRequest(flags, 6, 15, 1, 1, b"admin", b"tty0", b"10.0.0.9",
                              (b"task_id=42", b"cmd=show version")).encode()  # fmt: skip
        _, body, _ = _ask(responder, Connection("10.0.0.9"), _header(PacketType.ACCT), request)
        return AcctReply.decode(body).status

    for flag in (AcctFlag.START, AcctFlag.WATCHDOG, AcctFlag.STOP):
        assert account(flag) == AcctStatus.SUCCESS
    assert account(AcctFlag.START | AcctFlag.STOP) == AcctStatus.ERROR
    assert account(0) == AcctStatus.ERROR
    records = [json.loads(line) for line in (tmp_path / "acct.jsonl").read_text().splitlines()]
    assert [r["record"] for r in records] == ["start", "watchdog", "stop"]
    assert records[0] == {
        "time": 1_700_000_000.0, "peer": "10.0.0.9", "session_id": "0badcafe", "record": "start",
        "user": "admin", "port": "tty0", "rem_addr": "10.0.0.9", "priv_lvl": 15,
        "args": ["task_id=42", "cmd=show version"],
    }  # fmt: skip
    assert (tmp_path / "acct.jsonl").stat().st_mode & 0o777 == 0o640


def test_users_file_round_trips_with_the_key(tmp_path: Path) -> None:
    path = tmp_path / "users.json"
    path.write_text(USERS.dump())
    loaded = TacacsSecrets.load(path)
    assert loaded.key.get_secret_value() == KEY
    assert loaded.user("ops") == USERS.user("ops")
    assert "opspw" not in path.read_text()
    path.write_text("{}")
    with pytest.raises(ValueError, match="not a TACACS\\+ users file"):
        TacacsSecrets.load(path)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(list(PacketType)),
    seq=st.integers(0, 255),
    flags=st.integers(0, 255),
    version=st.sampled_from([V0, V1]),
    body=st.binary(max_size=300),
    obfuscated=st.booleans(),
)
def test_any_packet_gets_an_outcome_never_an_exception(
    tmp_path_factory: pytest.TempPathFactory,
    kind: PacketType,
    seq: int,
    flags: int,
    version: int,
    body: bytes,
    obfuscated: bool,
) -> None:
    responder = Responder(USERS, tmp_path_factory.getbasetemp() / "fuzz-acct.jsonl")
    header = Header(version, kind, seq, flags, 0x5EED, len(body))
    raw = obfuscate(header, body, KEY.encode()) if obfuscated else body
    outcome = responder.respond(Connection("fuzz"), header, raw)
    if outcome.reply is not None:
        reply = Header.unpack(outcome.reply[:12])
        assert (reply.seq_no, reply.session_id, reply.type) == (seq + 1, 0x5EED, kind)
