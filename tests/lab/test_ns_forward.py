"""The loopback relay into one lab namespace (netwarden.lab.ns.forward, decision 103).

A namespace of the test's own with only its loopback up and a TCP service on it: the
host cannot reach that service (another namespace's loopback); through the relay, a
connection to the host's 127.0.0.1:PORT reaches it, in both directions, and the relay
stops on SIGTERM. Root only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
]

ECHO = r"""
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("listening", flush=True)
for _ in range(3):  # bounded: three connections, then exit
    conn, _ = server.accept()
    with conn:
        data = conn.recv(1024)
        conn.sendall(b"echo:" + data)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"nwfwd-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_the_relay_reaches_one_service_inside_a_namespace(netns: str) -> None:
    port = _free_port()  # free on the host's loopback: nothing answers there
    inside = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c", ECHO, str(port)],
        stdout=subprocess.PIPE,
    )
    listen = _free_port()
    relay = subprocess.Popen(
        [sys.executable, "-m", "netwarden.lab.ns.forward", netns, "127.0.0.1",
         str(port), str(listen)],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert inside.stdout is not None
        assert relay.stdout is not None
        assert inside.stdout.readline().strip() == b"listening"
        assert relay.stdout.readline().strip() == b"ready"
        with pytest.raises(ConnectionRefusedError):  # the host's loopback has no such service
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        for n in range(2):
            with socket.create_connection(("127.0.0.1", listen), timeout=10) as conn:
                conn.sendall(f"hello {n}".encode())
                conn.shutdown(socket.SHUT_WR)
                assert conn.recv(1024) == f"echo:hello {n}".encode()
        relay.terminate()
        assert relay.wait(timeout=10) == 0
    finally:
        for proc in (relay, inside):
            proc.kill()
            proc.wait()
