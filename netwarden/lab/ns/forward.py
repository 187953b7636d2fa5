"""A loopback port that reaches one address:port inside a lab namespace, and nothing else.

The namespace lab is sealed: no route, NAT or bridge joins it to the host's interfaces.
A program on the host that must read one service inside it (``make demo``'s Prometheus
scraping a sensor's auditor metrics, ``<sensor>:9101``) gets this instead: a TCP
listener on the host's loopback whose every accepted connection is relayed to that one
address and port through a socket created inside the node's namespace
(:func:`~netwarden.lab.ns.nsproc.ns_connect`, root). No packet crosses between the
namespaces; bytes are copied by this process, for this one destination only.

Run as ``python -m netwarden.lab.ns.forward NETNS ADDRESS PORT LISTEN_PORT`` (the listen
address is always 127.0.0.1); it prints ``ready`` once listening, stops on SIGTERM or
SIGINT, and bounds what it holds: at most :data:`MAX_CONNECTIONS` at once, each closed
after :data:`IDLE_SECONDS` without a byte.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from types import FrameType

from netwarden.lab.ns.nsproc import ns_connect

MAX_CONNECTIONS = 16
IDLE_SECONDS = 30.0
CONNECT_TIMEOUT = 5.0
CHUNK = 65536


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst``. At ``src``'s end of data, half-close ``dst`` (the answer
    may still come back the other way); on an error or an idle timeout, close both ways."""
    try:
        while data := src.recv(CHUNK):
            dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
    except OSError:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _relay(
    client: socket.socket, netns: str, address: str, port: int, slots: threading.Semaphore
) -> None:
    try:
        try:
            upstream = ns_connect(netns, address, port, CONNECT_TIMEOUT)
        except OSError:
            return
        with upstream:
            client.settimeout(IDLE_SECONDS)
            upstream.settimeout(IDLE_SECONDS)
            back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            back.start()
            _pipe(client, upstream)
            back.join(IDLE_SECONDS)
    finally:
        client.close()
        slots.release()


def serve(netns: str, address: str, port: int, listen_port: int) -> None:
    """Relay ``127.0.0.1:listen_port`` to ``address:port`` in ``netns`` until a stop signal."""
    listener = socket.create_server(("127.0.0.1", listen_port))
    listener.settimeout(0.5)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    slots = threading.Semaphore(MAX_CONNECTIONS)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    with listener:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            if not slots.acquire(blocking=False):  # full: refused, not queued
                client.close()
                continue
            threading.Thread(
                target=_relay, args=(client, netns, address, port, slots), daemon=True
            ).start()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
