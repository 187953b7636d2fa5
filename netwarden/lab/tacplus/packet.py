"""TACACS+ (RFC 8907) on the wire: the header, body obfuscation, and each body's codec.

Every packet is a 12-byte header and a body of ``length`` bytes::

    major(4 bits) minor(4 bits) | type | seq_no | flags | session_id (4) | length (4)

The body is obfuscated (RFC 8907 section 4.5) by XOR with a pseudo-pad made of MD5
hashes over ``session_id || key || version || seq_no`` (then ``|| previous hash``),
unless the header carries ``TAC_PLUS_UNENCRYPTED_FLAG``. Decoders here never trust a
length field: a body whose fields do not add up to its length raises
:class:`PacketError` (with a wrong key that is what the garbage looks like).

Examples:
    >>> h = Header(version=0xC0, type=PacketType.AUTHEN, seq_no=1, flags=0,
    ...            session_id=0x01020304, length=4)
    >>> Header.unpack(h.pack()) == h
    True
    >>> obfuscate(h, b"\\x00\\x00\\x00\\x00", b"key") == pseudo_pad(h, b"key", 4)
    True
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from enum import IntEnum

HEADER_LEN = 12
MAJOR_VERSION = 0xC
MINOR_DEFAULT = 0x0
MINOR_ONE = 0x1  # PAP and CHAP (RFC 8907 section 5.4.2)
MAX_BODY = 65_535  # what this server accepts; every field of every body fits far below it
UNENCRYPTED_FLAG = 0x01
SINGLE_CONNECT_FLAG = 0x04
REPLY_FLAG_NOECHO = 0x01
CONTINUE_FLAG_ABORT = 0x01


class PacketError(ValueError):
    """A packet that cannot be decoded (malformed, or obfuscated with another key)."""


class PacketType(IntEnum):
    AUTHEN = 0x01
    AUTHOR = 0x02
    ACCT = 0x03


class AuthenAction(IntEnum):
    LOGIN = 0x01
    CHPASS = 0x02
    SENDAUTH = 0x04


class AuthenType(IntEnum):
    ASCII = 0x01
    PAP = 0x02
    CHAP = 0x03
    MSCHAP = 0x05
    MSCHAPV2 = 0x06


class AuthenStatus(IntEnum):
    PASS = 0x01
    FAIL = 0x02
    GETDATA = 0x03
    GETUSER = 0x04
    GETPASS = 0x05
    RESTART = 0x06
    ERROR = 0x07
    FOLLOW = 0x21


class AuthorStatus(IntEnum):
    PASS_ADD = 0x01
    PASS_REPL = 0x02
    FAIL = 0x10
    ERROR = 0x11
    FOLLOW = 0x21


class AcctFlag(IntEnum):
    START = 0x02
    STOP = 0x04
    WATCHDOG = 0x08


class AcctStatus(IntEnum):
    SUCCESS = 0x01
    ERROR = 0x02
    FOLLOW = 0x21


@dataclass(frozen=True)
class Header:
    """The 12-byte packet header (RFC 8907 section 4.1)."""

    version: int  # major << 4 | minor
    type: int
    seq_no: int
    flags: int
    session_id: int
    length: int

    @property
    def major(self) -> int:
        return self.version >> 4

    @property
    def minor(self) -> int:
        return self.version & 0x0F

    def pack(self) -> bytes:
        return struct.pack(
            "!BBBBII", self.version, self.type, self.seq_no, self.flags, self.session_id,
            self.length,
        )  # fmt: skip

    @classmethod
    def unpack(cls, data: bytes) -> Header:
        """Decode and check a header.

        Raises:
            PacketError: not 12 bytes, not major version 0xc, an unknown type, or a
                body longer than :data:`MAX_BODY`.
        """
        if len(data) != HEADER_LEN:
            raise PacketError(f"header: {len(data)} bytes, expected {HEADER_LEN}")
        header = cls(*struct.unpack("!BBBBII", data))
        if header.major != MAJOR_VERSION:
            raise PacketError(f"header: major version {header.major:#x}, expected 0xc")
        if header.type not in set(PacketType):
            raise PacketError(f"header: unknown packet type {header.type:#x}")
        if header.length > MAX_BODY:
            raise PacketError(f"header: body of {header.length} bytes, at most {MAX_BODY}")
        return header


def pseudo_pad(header: Header, key: bytes, length: int) -> bytes:
    """The MD5 pseudo-pad of RFC 8907 section 4.5, ``length`` bytes long."""
    seed = struct.pack("!I", header.session_id) + key + bytes((header.version, header.seq_no))
    pad = b""
    last = b""
    while len(pad) < length:
        last = hashlib.md5(seed + last, usedforsecurity=False).digest()
        pad += last
    return pad[:length]


def obfuscate(header: Header, body: bytes, key: bytes) -> bytes:
    """``body`` XOR the pseudo-pad (the same call undoes it); unchanged when unencrypted."""
    if header.flags & UNENCRYPTED_FLAG:
        return body
    pad = pseudo_pad(header, key, len(body))
    return bytes(b ^ p for b, p in zip(body, pad, strict=True))


def encode(header: Header, body: bytes, key: bytes) -> bytes:
    """A whole packet: ``header`` (its length set to the body's) and the obfuscated body."""
    fixed = Header(header.version, header.type, header.seq_no, header.flags,
                   header.session_id, len(body))  # fmt: skip
    return fixed.pack() + obfuscate(fixed, body, key)


class _Reader:
    """Fields read off a body in order; any shortfall or leftover is a :class:`PacketError`."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data, self.pos, self.what = data, 0, what

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise PacketError(
                f"{self.what}: fields need {self.pos + count} bytes, the body has "
                f"{len(self.data)} (malformed, or obfuscated with another key)"
            )
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        value: int = struct.unpack("!H", self.take(2))[0]
        return value

    def end(self) -> None:
        if self.pos != len(self.data):
            raise PacketError(
                f"{self.what}: fields add up to {self.pos} bytes, the body has "
                f"{len(self.data)} (malformed, or obfuscated with another key)"
            )


@dataclass(frozen=True)
class AuthenStart:
    action: int
    priv_lvl: int
    authen_type: int
    authen_service: int
    user: bytes
    port: bytes
    rem_addr: bytes
    data: bytes = field(repr=False)

    @classmethod
    def decode(cls, body: bytes) -> AuthenStart:
        r = _Reader(body, "authentication START")
        action, priv, kind, service = r.u8(), r.u8(), r.u8(), r.u8()
        lens = [r.u8() for _ in range(4)]
        user, port, rem, data = (r.take(n) for n in lens)
        r.end()
        return cls(action, priv, kind, service, user, port, rem, data)

    def encode(self) -> bytes:
        parts = (self.user, self.port, self.rem_addr, self.data)
        head = bytes((self.action, self.priv_lvl, self.authen_type, self.authen_service))
        return head + bytes(len(p) for p in parts) + b"".join(parts)


@dataclass(frozen=True)
class AuthenContinue:
    user_msg: bytes = field(repr=False)
    data: bytes = field(repr=False)
    flags: int = 0

    @classmethod
    def decode(cls, body: bytes) -> AuthenContinue:
        r = _Reader(body, "authentication CONTINUE")
        msg_len, data_len, flags = r.u16(), r.u16(), r.u8()
        msg, data = r.take(msg_len), r.take(data_len)
        r.end()
        return cls(msg, data, flags)

    def encode(self) -> bytes:
        head = struct.pack("!HHB", len(self.user_msg), len(self.data), self.flags)
        return head + self.user_msg + self.data


@dataclass(frozen=True)
class AuthenReply:
    status: int
    flags: int = 0
    server_msg: bytes = b""
    data: bytes = b""

    def encode(self) -> bytes:
        head = struct.pack("!BBHH", self.status, self.flags, len(self.server_msg), len(self.data))
        return head + self.server_msg + self.data

    @classmethod
    def decode(cls, body: bytes) -> AuthenReply:
        r = _Reader(body, "authentication REPLY")
        status, flags, msg_len, data_len = r.u8(), r.u8(), r.u16(), r.u16()
        msg, data = r.take(msg_len), r.take(data_len)
        r.end()
        return cls(status, flags, msg, data)


def _args_encode(args: tuple[bytes, ...]) -> tuple[bytes, bytes]:
    if len(args) > 255 or any(len(a) > 255 for a in args):
        raise ValueError("at most 255 arguments of at most 255 bytes each")
    return bytes(len(a) for a in args), b"".join(args)


_RequestFields = tuple[int, int, int, int, bytes, bytes, bytes, tuple[bytes, ...]]


def _request_decode(r: _Reader) -> _RequestFields:
    """The fields authorization and accounting REQUESTs share (RFC 8907 sections 6.1,
    7.1), read after any leading flags: method, priv_lvl, type, service, the user, port
    and rem_addr lengths, the argument count and lengths, then the strings."""
    method, priv, kind, service = r.u8(), r.u8(), r.u8(), r.u8()
    user_len, port_len, rem_len, arg_cnt = r.u8(), r.u8(), r.u8(), r.u8()
    arg_lens = [r.u8() for _ in range(arg_cnt)]
    user, port, rem = r.take(user_len), r.take(port_len), r.take(rem_len)
    args = tuple(r.take(n) for n in arg_lens)
    r.end()
    return method, priv, kind, service, user, port, rem, args


def _request_encode(fields: _RequestFields) -> bytes:
    """:func:`_request_decode`'s inverse."""
    method, priv, kind, service, user, port, rem, args = fields
    lens, joined = _args_encode(args)
    head = bytes((method, priv, kind, service, len(user), len(port), len(rem), len(args)))
    return head + lens + user + port + rem + joined


@dataclass(frozen=True)
class AuthorRequest:
    authen_method: int
    priv_lvl: int
    authen_type: int
    authen_service: int
    user: bytes
    port: bytes
    rem_addr: bytes
    args: tuple[bytes, ...]

    @classmethod
    def decode(cls, body: bytes) -> AuthorRequest:
        return cls(*_request_decode(_Reader(body, "authorization REQUEST")))

    def encode(self) -> bytes:
        return _request_encode((self.authen_method, self.priv_lvl, self.authen_type,
                                self.authen_service, self.user, self.port, self.rem_addr,
                                self.args))  # fmt: skip


@dataclass(frozen=True)
class AuthorResponse:
    status: int
    args: tuple[bytes, ...] = ()
    server_msg: bytes = b""
    data: bytes = b""

    def encode(self) -> bytes:
        lens, joined = _args_encode(self.args)
        head = struct.pack("!BBHH", self.status, len(self.args), len(self.server_msg),
                           len(self.data))  # fmt: skip
        return head + lens + self.server_msg + self.data + joined

    @classmethod
    def decode(cls, body: bytes) -> AuthorResponse:
        r = _Reader(body, "authorization RESPONSE")
        status, arg_cnt, msg_len, data_len = r.u8(), r.u8(), r.u16(), r.u16()
        arg_lens = [r.u8() for _ in range(arg_cnt)]
        msg, data = r.take(msg_len), r.take(data_len)
        args = tuple(r.take(n) for n in arg_lens)
        r.end()
        return cls(status, args, msg, data)


@dataclass(frozen=True)
class AcctRequest:
    flags: int
    authen_method: int
    priv_lvl: int
    authen_type: int
    authen_service: int
    user: bytes
    port: bytes
    rem_addr: bytes
    args: tuple[bytes, ...]

    @classmethod
    def decode(cls, body: bytes) -> AcctRequest:
        r = _Reader(body, "accounting REQUEST")
        flags = r.u8()
        return cls(flags, *_request_decode(r))

    def encode(self) -> bytes:
        return bytes((self.flags,)) + _request_encode(
            (self.authen_method, self.priv_lvl, self.authen_type, self.authen_service,
             self.user, self.port, self.rem_addr, self.args)
        )  # fmt: skip


@dataclass(frozen=True)
class AcctReply:
    status: int
    server_msg: bytes = b""
    data: bytes = b""

    def encode(self) -> bytes:
        head = struct.pack("!HHB", len(self.server_msg), len(self.data), self.status)
        return head + self.server_msg + self.data

    @classmethod
    def decode(cls, body: bytes) -> AcctReply:
        r = _Reader(body, "accounting REPLY")
        msg_len, data_len, status = r.u16(), r.u16(), r.u8()
        msg, data = r.take(msg_len), r.take(data_len)
        r.end()
        return cls(status, msg, data)
