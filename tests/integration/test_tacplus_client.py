"""The lab's TACACS+ server as a process on 127.0.0.1, used by a real client (PyPI tacacs_plus).

``python -m netwarden.lab.tacplus`` is started as the lab starts it (a config file,
a users file with hashed passwords), on an ephemeral port of 127.0.0.1 read from its
"listening on" line. The third-party client authenticates (ASCII, PAP), authorizes
and accounts against it; a wrong key, garbage and an oversize header get no answer
and never stop the server. Rootless; nothing leaves loopback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netwarden.lab.tacplus.packet import Header, PacketType, pseudo_pad
from netwarden.lab.tacplus.policy import TacacsSecrets, TacacsUser

tacacs_client = pytest.importorskip("tacacs_plus.client", reason="needs tacacs-plus (PyPI)")
flags = pytest.importorskip("tacacs_plus.flags")
tacacs_packet = pytest.importorskip("tacacs_plus.packet")

KEY = "lab-key-for-this-test"
ADMIN, ADMIN_PW = "netwarden", "admin-pass-1"
RO, RO_PW = "netwarden-ro", "ro-pass-2"


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    accounting: Path
    log: Path

    def client(self, key: str | None = KEY) -> Any:
        return tacacs_client.TACACSClient("127.0.0.1", self.port, key, timeout=5)


def _wait_listening(log: Path, process: subprocess.Popen[str]) -> int:
    for _ in range(200):  # bounded: about 10 s
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)", log.read_text())
        if found:
            return int(found[1])
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"the server did not listen:\n{log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("tacplus")
    users = TacacsSecrets(
        key=KEY,
        users=(
            TacacsUser.with_password(ADMIN, ADMIN_PW, privilege=15, commands=("*",)),
            TacacsUser.with_password(RO, RO_PW, privilege=1, commands=("show *",)),
        ),
    )
    (tmp / "users.json").write_text(users.dump())
    config = {
        "listen": [["127.0.0.1", 0]],
        "users_file": str(tmp / "users.json"),
        "accounting_log": str(tmp / "accounting.jsonl"),
        "idle_timeout": 2,
    }
    (tmp / "tacacs.json").write_text(json.dumps(config))
    log = tmp / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "netwarden.lab.tacplus", str(tmp / "tacacs.json")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
    try:
        port = _wait_listening(log, process)
        yield Server(process, port, tmp / "accounting.jsonl", log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def test_the_pseudo_pad_agrees_with_the_clients() -> None:
    header = Header(0xC1, PacketType.AUTHOR, 3, 0, 0xDEADBEEF, 50)
    theirs = tacacs_packet.TACACSHeader(0xC1, PacketType.AUTHOR, 0xDEADBEEF, 50, seq_no=3)
    body = bytes(50)
    assert tacacs_packet.crypt(theirs, body, KEY) == pseudo_pad(header, KEY.encode(), 50)


def test_ascii_and_pap_logins(server: Server) -> None:
    assert server.client().authenticate(ADMIN, ADMIN_PW).valid
    assert server.client().authenticate(RO, RO_PW).valid
    bad = server.client().authenticate(ADMIN, "wrong-password")
    assert bad.invalid
    assert not bad.valid
    assert server.client().authenticate("nobody", ADMIN_PW).invalid
    pap = flags.TAC_PLUS_AUTHEN_TYPE_PAP
    assert server.client().authenticate(ADMIN, ADMIN_PW, authen_type=pap).valid
    assert server.client().authenticate(ADMIN, "wrong", authen_type=pap).invalid
    # privilege 15 asked by the read-only user: refused
    assert server.client().authenticate(RO, RO_PW, priv_lvl=15).invalid


def test_authorization(server: Server) -> None:
    shell = [b"service=shell", b"cmd="]
    exec_admin = server.client().authorize(ADMIN, arguments=shell, priv_lvl=15)
    assert exec_admin.valid
    assert b"priv-lvl=15" in exec_admin.arguments
    exec_ro = server.client().authorize(RO, arguments=shell)
    assert exec_ro.valid
    assert b"priv-lvl=1" in exec_ro.arguments
    show = [b"service=shell", b"cmd=show", b"cmd-arg=version", b"cmd-arg=<cr>"]
    assert server.client().authorize(RO, arguments=show).valid
    reload_ = [b"service=shell", b"cmd=reload", b"cmd-arg=<cr>"]
    assert server.client().authorize(RO, arguments=reload_).invalid
    assert server.client().authorize(ADMIN, arguments=reload_, priv_lvl=15).valid
    assert server.client().authorize("nobody", arguments=show).invalid


def test_accounting_start_watchdog_stop_in_the_log(server: Server) -> None:
    task = f"task_id={os.getpid()}"
    for flag in ("START", "WATCHDOG", "STOP"):
        reply = server.client().account(
            ADMIN, getattr(flags, f"TAC_PLUS_ACCT_FLAG_{flag}"),
            arguments=[task.encode(), b"service=shell", b"cmd=show version"],
        )  # fmt: skip
        assert reply.valid, flag
    records = [json.loads(line) for line in server.accounting.read_text().splitlines()]
    mine = [r for r in records if task in r["args"]]
    assert [r["record"] for r in mine] == ["start", "watchdog", "stop"]
    assert {r["user"] for r in mine} == {ADMIN}
    assert mine[0]["peer"] == "127.0.0.1"


def test_a_wrong_key_fails_and_the_server_goes_on(server: Server) -> None:
    try:  # the server discards the packet and closes: the client cannot read a reply
        passed = server.client(key="not-the-lab-key").authenticate(ADMIN, ADMIN_PW).valid
    except (ValueError, OSError, struct.error):
        passed = False
    assert not passed
    assert server.client().authenticate(ADMIN, ADMIN_PW).valid
    assert "obfuscated with another key" in server.log.read_text()


def _raw(server: Server, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = b""
        while chunk := sock.recv(4096):  # ends when the server closes
            chunks += chunk
        return chunks


def test_garbage_oversize_and_idle_connections_are_closed(server: Server) -> None:
    assert _raw(server, b"GET / HTTP/1.0\r\n\r\n") == b""  # not major version 0xc
    oversize = Header(0xC0, PacketType.AUTHEN, 1, 0, 7, 0).pack()[:8] + struct.pack("!I", 1 << 30)
    assert _raw(server, oversize) == b""
    truncated = Header(0xC0, PacketType.AUTHEN, 1, 0, 7, 100).pack() + b"x" * 10
    assert _raw(server, truncated) == b""  # closed after the idle timeout (2 s in this config)
    assert server.process.poll() is None
    assert server.client().authenticate(ADMIN, ADMIN_PW).valid


def test_sigterm_stops_it_cleanly(tmp_path: Path, server: Server) -> None:
    config = json.loads(Path(server.accounting.parent / "tacacs.json").read_text())
    (tmp_path / "tacacs.json").write_text(json.dumps(config))
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "netwarden.lab.tacplus", str(tmp_path / "tacacs.json")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
    try:
        _wait_listening(log, process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert "stopped" in log.read_text()


def test_a_missing_users_file_is_a_clear_error(tmp_path: Path) -> None:
    config = {"listen": [["127.0.0.1", 0]], "users_file": str(tmp_path / "none.json"),
              "accounting_log": str(tmp_path / "a.jsonl")}  # fmt: skip
    (tmp_path / "c.json").write_text(json.dumps(config))
    done = subprocess.run(
        [sys.executable, "-m", "netwarden.lab.tacplus", str(tmp_path / "c.json")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "not a TACACS+ users file" in done.stderr
