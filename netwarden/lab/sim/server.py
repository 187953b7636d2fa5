"""The SSH side of the simulator: many devices, one process, one socket per device.

One acceptor thread watches every device's listening socket (``selectors``), so an
idle device costs a socket and its state, not a thread. Each connection gets a
thread that runs the paramiko transport's channels: a shell (:class:`CliSession`)
or an exec request (a single command, or ``scp -t``/``scp -f``).
"""

from __future__ import annotations

import codecs
import io
import logging
import selectors
import socket
import threading
import time
from collections.abc import Iterable

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)
from typing_extensions import override

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.scpsink import run_scp
from netwarden.lab.sim.session import CliSession, SessionClosedError

logger = logging.getLogger(__name__)

SSH_VERSION = "SSH-2.0-Cisco-1.25"
_AUTH_GRACE_SECONDS = 30.0
_REQUEST_WAIT_SECONDS = 10.0


def new_host_key() -> paramiko.PKey:
    """A fresh Ed25519 host key (fast to make, accepted by paramiko and OpenSSH)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    return paramiko.Ed25519Key(file_obj=io.StringIO(pem))


class _Interface(paramiko.ServerInterface):
    """Authentication and channel requests of one connection."""

    def __init__(self, device: SimDevice, peer: str) -> None:
        self.device = device
        self.peer = peer
        self.username: str | None = None
        self.requests: dict[int, tuple[str, str]] = {}
        self.ready = threading.Condition()

    @override
    def get_allowed_auths(self, username: str) -> str:
        return "password,publickey"

    @override
    def check_auth_password(self, username: str, password: str) -> int:
        if self.device.check_password(username, password, self.peer, self.device.bound_port):
            self.username = username
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    @override
    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        line = f"{key.get_name()} {key.get_base64()}"
        if self.device.check_public_key(username, line, self.peer, self.device.bound_port):
            self.username = username
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    @override
    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    @override
    def check_channel_pty_request(
        self,
        channel: paramiko.Channel,
        term: bytes,
        width: int,
        height: int,
        pixelwidth: int,
        pixelheight: int,
        modes: bytes,
    ) -> bool:
        return True

    @override
    def check_channel_window_change_request(
        self,
        channel: paramiko.Channel,
        width: int,
        height: int,
        pixelwidth: int,
        pixelheight: int,
    ) -> bool:
        return True

    def _record(self, channel: paramiko.Channel, kind: str, command: str) -> bool:
        with self.ready:
            self.requests[channel.get_id()] = (kind, command)
            self.ready.notify_all()
        return True

    @override
    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        return self._record(channel, "shell", "")

    @override
    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        return self._record(channel, "exec", command.decode("utf-8", "replace"))

    def wait_request(self, chanid: int, timeout: float) -> tuple[str, str] | None:
        with self.ready:
            self.ready.wait_for(lambda: chanid in self.requests, timeout)
            return self.requests.pop(chanid, None)


class SimServer:
    """Serves SSH for a set of devices until :meth:`stop`."""

    def __init__(self, devices: Iterable[SimDevice]) -> None:
        self.devices = list(devices)
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []
        self._stop = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._lock = threading.Lock()
        self._transports: set[paramiko.Transport] = set()
        self._hung: dict[SimDevice, list[socket.socket]] = {}
        self._threads: set[threading.Thread] = set()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for device in self.devices:
            if device.host_key is None:
                device.host_key = new_host_key()
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((device.spec.address, device.spec.port))
            sock.listen(16)
            sock.setblocking(False)
            device.bound_port = sock.getsockname()[1]
            self._sockets.append(sock)
            self._selector.register(sock, selectors.EVENT_READ, device)
        self._acceptor = threading.Thread(target=self._accept_loop, name="sim-accept", daemon=True)
        self._acceptor.start()
        logger.info("simulating %d devices", len(self.devices))

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._acceptor is not None:
            self._acceptor.join(timeout)
        for sock in self._sockets:
            self._selector.unregister(sock)
            sock.close()
        self._sockets.clear()
        self._selector.close()
        with self._lock:
            transports = list(self._transports)
            hung = [s for socks in self._hung.values() for s in socks]
            self._hung.clear()
            threads = list(self._threads)
        for sock in hung:
            sock.close()
        for transport in transports:
            transport.close()
        for device in self.devices:
            device.stop()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def release_hung(self, device: SimDevice) -> None:
        """Close the connections a ``hang`` fault is holding (the fault was cleared)."""
        with self._lock:
            socks = self._hung.pop(device, [])
        for sock in socks:
            sock.close()

    # --------------------------------------------------------------- accept
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            for key, _events in self._selector.select(timeout=0.2):
                device: SimDevice = key.data
                listener = key.fileobj
                if not isinstance(listener, socket.socket):
                    continue
                try:
                    conn, addr = listener.accept()
                except (BlockingIOError, OSError):
                    continue
                conn.setblocking(True)
                # IOS sends without Nagle's algorithm ("service nagle" is off by default);
                # with it, a command's answer waited for the client's delayed ACK of its
                # echo (40 ms on Linux) before it left.
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if device.faults.hang:
                    with self._lock:
                        self._hung.setdefault(device, []).append(conn)
                    continue
                thread = threading.Thread(
                    target=self._serve,
                    args=(device, conn, addr[0]),
                    name=f"sim-{device.spec.name}",
                    daemon=True,
                )
                with self._lock:
                    self._threads.add(thread)
                thread.start()

    def _serve(self, device: SimDevice, conn: socket.socket, peer: str) -> None:
        transport = paramiko.Transport(conn)
        transport.local_version = SSH_VERSION
        transport.add_server_key(device.host_key or new_host_key())
        interface = _Interface(device, peer)
        with self._lock:
            self._transports.add(transport)
        try:
            transport.start_server(server=interface)
            started = time.monotonic()
            while transport.is_active() and not self._stop.is_set():
                channel = transport.accept(0.5)
                if channel is None:
                    if (
                        interface.username is None
                        and time.monotonic() - started > _AUTH_GRACE_SECONDS
                    ):
                        break
                    continue
                self._serve_channel(device, transport, interface, channel)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            logger.debug("%s: connection from %s ended: %s", device.hostname, peer, exc)
        finally:
            transport.close()
            with self._lock:
                self._transports.discard(transport)
                self._threads.discard(threading.current_thread())

    def _serve_channel(
        self,
        device: SimDevice,
        transport: paramiko.Transport,
        interface: _Interface,
        channel: paramiko.Channel,
    ) -> None:
        request = interface.wait_request(channel.get_id(), _REQUEST_WAIT_SECONDS)
        username = interface.username or ""
        try:
            if request is None:
                return
            kind, command = request
            if kind == "shell":
                self._shell(device, transport, channel, username, interface.peer)
                return
            if command.startswith("scp "):
                status = run_scp(channel, device, command)
            else:
                status = self._exec(
                    device,
                    transport,
                    channel,
                    username=username,
                    peer=interface.peer,
                    command=command,
                )
            channel.send_exit_status(status)
        except (OSError, EOFError, paramiko.SSHException) as exc:
            logger.debug("%s: channel of %s ended: %s", device.hostname, username, exc)
        finally:
            channel.close()

    def _shell(
        self,
        device: SimDevice,
        transport: paramiko.Transport,
        channel: paramiko.Channel,
        username: str,
        peer: str,
    ) -> None:
        session = CliSession(
            device,
            username,
            peer,
            write=lambda text: channel.sendall(text.encode()),
            drop=transport.close,
        )
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        channel.settimeout(0.5)
        try:
            session.start()
            while not self._stop.is_set() and not session.closed:
                try:
                    data = channel.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    break
                session.feed(decoder.decode(data))
        except SessionClosedError:
            logger.debug("%s: session of %s closed (exit or fault)", device.hostname, username)
        finally:
            session.close()

    @staticmethod
    def _exec(
        device: SimDevice,
        transport: paramiko.Transport,
        channel: paramiko.Channel,
        *,
        username: str,
        peer: str,
        command: str,
    ) -> int:
        output: list[str] = []
        session = CliSession(device, username, peer, write=output.append, drop=transport.close)
        try:
            result = session.execute(command)
        except SessionClosedError:
            return 0
        finally:
            session.close()
        channel.sendall(("".join(output) + result).replace("\n", "\r\n").encode())
        return 0
