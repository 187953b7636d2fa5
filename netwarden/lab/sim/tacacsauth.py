"""``aaa authentication login default group tacacs+ local`` in the simulator: ask the server.

A device whose running config has ``aaa new-model`` and a default login method list
that starts with ``group tacacs+`` asks its ``tacacs server`` blocks in order (PAP,
RFC 8907, with each block's key; from the device's own address, as ``ip tacacs
source-interface`` on the management interface does). The first server that answers
decides: PASS lets the user in, FAIL refuses (as IOS, no fall back to ``local`` on a
FAIL). Only when no server answers (refused, timed out, an ERROR, a reply that does
not decode) does the next method, ``local``, decide.

Only a device serving on its own address inside a lab namespace asks
(:class:`~netwarden.lab.sim.fleet.SimFleet` with ``own_addresses=True`` sets
:attr:`SimDevice.aaa_network`): a fleet on 127.0.0.1 never opens a connection to an
address its config names. Each server gets :data:`TIMEOUT_SECONDS` for the connect
and for the reply.

Examples:
    >>> from netwarden.lab.sim.config import ConfigTree
    >>> tree = ConfigTree.build(
    ...     "aaa new-model\\naaa authentication login default group tacacs+ local\\n"
    ...     "tacacs server hq\\n address ipv4 10.10.20.10\\n key 0 k3y\\n", frozenset())
    >>> methods = login_methods(tree)
    >>> [(s.name, s.address, s.port) for s in methods.servers], methods.local_fallback
    ([('hq', '10.10.20.10', 49)], True)
"""

from __future__ import annotations

import logging
import secrets
import socket
from dataclasses import dataclass, field

from netwarden.ios import secrets as ios_secrets
from netwarden.lab.sim.config import ConfigTree
from netwarden.lab.tacplus.packet import (
    HEADER_LEN,
    MAJOR_VERSION,
    MINOR_ONE,
    AuthenAction,
    AuthenReply,
    AuthenStart,
    AuthenStatus,
    AuthenType,
    Header,
    PacketError,
    PacketType,
    encode,
    obfuscate,
)

logger = logging.getLogger(__name__)

TACACS_PORT = 49
TIMEOUT_SECONDS = 3.0
AUTHEN_SVC_LOGIN = 0x01


@dataclass(frozen=True)
class TacacsServerConf:
    name: str
    address: str
    port: int = TACACS_PORT
    key: str = field(default="", repr=False)


@dataclass(frozen=True)
class LoginMethods:
    servers: tuple[TacacsServerConf, ...]
    local_fallback: bool


def _server(node_words: list[str], children: list[list[str]]) -> TacacsServerConf | None:
    name = node_words[2] if len(node_words) > 2 else ""
    address, port, key = "", TACACS_PORT, ""
    for words in children:
        if words[:2] == ["address", "ipv4"] and len(words) > 2:
            address = words[2]
        elif words[:1] == ["port"] and len(words) > 1 and words[1].isdigit():
            port = int(words[1])
        elif words[:1] == ["key"] and len(words) > 1:
            kind, value = (
                (words[1], " ".join(words[2:]))
                if words[1] in ("0", "7")
                else ("0", " ".join(words[1:]))
            )
            key = (ios_secrets.type7_decode(value) or "") if kind == "7" else value
    return TacacsServerConf(name, address, port, key) if address and key else None


def login_methods(running: ConfigTree) -> LoginMethods | None:
    """The TACACS+ servers the default login method list asks, or None when it asks none."""
    if not running.top_starting("aaa new-model"):
        return None
    methods = (running.value("aaa authentication login default") or "").split()
    if methods[:2] != ["group", "tacacs+"]:
        return None
    servers = []
    for node in running.top_starting("tacacs server"):
        found = _server(node.words(), [child.words() for child in node.children])
        if found is not None:
            servers.append(found)
    return LoginMethods(tuple(servers), "local" in methods[2:])


def _recv_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def _exchange(
    server: TacacsServerConf, header: Header, start: AuthenStart, source: str | None
) -> int:
    """Send ``start``; the status of the server's reply (raises when there is none)."""
    with socket.create_connection(
        (server.address, server.port), timeout=TIMEOUT_SECONDS,
        source_address=(source, 0) if source else None,
    ) as sock:  # fmt: skip
        sock.sendall(encode(header, start.encode(), server.key.encode()))
        reply = Header.unpack(_recv_exactly(sock, HEADER_LEN))
        body = _recv_exactly(sock, reply.length)
    if (reply.session_id, reply.seq_no, reply.type) != (header.session_id, 2, header.type):
        raise PacketError("the reply does not answer the request")
    return AuthenReply.decode(obfuscate(reply, body, server.key.encode())).status


def ask_server(
    server: TacacsServerConf, username: str, password: str, *, source: str | None, rem_addr: str
) -> bool | None:
    """PAP login at ``server``: True (PASS), False (FAIL), None (no usable answer)."""
    header = Header((MAJOR_VERSION << 4) | MINOR_ONE, PacketType.AUTHEN, 1, 0,
                    secrets.randbits(32) or 1, 0)  # fmt: skip
    start = AuthenStart(AuthenAction.LOGIN, 1, AuthenType.PAP, AUTHEN_SVC_LOGIN,
                        username.encode(), b"tty0", rem_addr.encode(), password.encode())  # fmt: skip
    try:
        status = _exchange(server, header, start, source)
    except (OSError, ValueError) as exc:  # PacketError is a ValueError; so is a name over 255 B
        logger.warning("TACACS+ server %s (%s:%d) did not answer: %s", server.name,
                       server.address, server.port, exc)  # fmt: skip
        return None
    if status == AuthenStatus.PASS:
        return True
    if status == AuthenStatus.FAIL:
        return False
    logger.warning("TACACS+ server %s answered status %#x", server.name, status)
    return None


def authenticate(
    methods: LoginMethods, username: str, password: str, *, source: str | None, rem_addr: str
) -> bool | None:
    """The first answering server's verdict; None when none answered (``local`` decides)."""
    for server in methods.servers:
        verdict = ask_server(server, username, password, source=source, rem_addr=rem_addr)
        if verdict is not None:
            return verdict
    return None
