"""The server side of ``scp -t`` (upload) and ``scp -f`` (download) on an exec channel.

IOS accepts SCP when ``ip scp server enable`` is configured; NAPALM's candidate
upload and Netmiko's ``file_transfer`` speak the classic rcp protocol: ``C<mode>
<size> <name>\\n``, the bytes, a NUL, each step acknowledged with a NUL.
"""

from __future__ import annotations

import logging
import shlex
from typing import Protocol

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.flash import split_path

logger = logging.getLogger(__name__)

_MAX_HEADER = 4096


class Channel(Protocol):
    """The part of a paramiko channel the SCP code uses."""

    def recv(self, nbytes: int) -> bytes: ...

    def sendall(self, s: bytes) -> None: ...


class _Reader:
    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.buffer = b""

    def _fill(self) -> bool:
        try:
            data = self.channel.recv(32768)
        except TimeoutError:
            return False
        if not data:
            return False
        self.buffer += data
        return True

    def line(self) -> bytes | None:
        while b"\n" not in self.buffer:
            if len(self.buffer) > _MAX_HEADER or not self._fill():
                return None
        line, _nl, self.buffer = self.buffer.partition(b"\n")
        return line

    def exact(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self._fill():
                return None
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def run_scp(channel: Channel, device: SimDevice, command: str) -> int:
    """Serve one ``scp`` exec request; return the exit status."""
    try:
        args = shlex.split(command)
    except ValueError:
        args = command.split()
    flags = {a for a in args[1:] if a.startswith("-")}
    paths = [a for a in args[1:] if not a.startswith("-")]
    if not paths or not ({"-t", "-f"} & flags):
        channel.sendall(b"\x01scp: unsupported arguments\n")
        return 1
    if device.running.find("ip scp server enable") is None:
        channel.sendall(b"\x01scp: SCP server not enabled\n")
        return 1
    if "-t" in flags:
        return _sink(channel, device, paths[-1])
    return _source(channel, device, paths[-1])


def _target(path: str, name: str) -> str:
    fs, rest = split_path(path)
    if not rest or rest.endswith("/"):
        return f"{fs}:/{rest}{name}"
    return f"{fs}:/{rest}"


def _sink(channel: Channel, device: SimDevice, path: str) -> int:
    reader = _Reader(channel)
    channel.sendall(b"\x00")
    while True:
        header = reader.line()
        if header is None or not header:
            return 0
        kind = header[:1]
        if kind == b"T":
            channel.sendall(b"\x00")
            continue
        if kind != b"C":
            channel.sendall(b"\x01scp: only plain files can be copied\n")
            return 1
        try:
            _mode, size_text, name = header[1:].decode().split(" ", 2)
            size = int(size_text)
        except ValueError:
            channel.sendall(b"\x01scp: protocol error: bad file header\n")
            return 1
        if size > device.flash.free():
            channel.sendall(b"\x01scp: No space left on device\n")
            return 1
        channel.sendall(b"\x00")
        data = reader.exact(size)
        trailer = reader.exact(1)
        if data is None or trailer is None:
            logger.info("%s: SCP upload of %s cut short", device.hostname, path)
            return 1
        dest = _target(path, name)
        error = device.write_file(dest, data)
        if error:
            channel.sendall(b"\x01" + error.encode() + b"\n")
            return 1
        logger.debug("%s: received %s (%d bytes) by SCP", device.hostname, dest, size)
        channel.sendall(b"\x00")


def _source(channel: Channel, device: SimDevice, path: str) -> int:
    reader = _Reader(channel)
    if reader.exact(1) is None:
        return 1
    data = device.read_file(path)
    if data is None:
        channel.sendall(f"\x01scp: {path}: No such file or directory\n".encode())
        return 1
    name = split_path(path)[1].rsplit("/", 1)[-1] or "file"
    channel.sendall(f"C0644 {len(data)} {name}\n".encode())
    if reader.exact(1) != b"\x00":
        return 1
    channel.sendall(data + b"\x00")
    reader.exact(1)
    return 0
