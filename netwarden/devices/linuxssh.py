"""The SSH part every Linux session shares: host key checked, key or password login, commands.

:class:`LinuxSsh` opens one paramiko session to a Linux host (``platform: linux``):
the host key is checked first (:func:`~netwarden.devices.hostkeys.check_host_key`),
then the login's own client accepts only the key just verified (``RejectPolicy``);
the login is :func:`~netwarden.devices.base.credentials_for` (a private key stands in
for the password). Each command runs on a channel of its own; its exit status is
returned, never guessed from the output. The firewall session
(:mod:`~netwarden.devices.linux_nft`) and the server session
(:mod:`~netwarden.devices.linux_server`) build on it.
"""

from __future__ import annotations

import json
import logging
import shlex
from dataclasses import replace
from typing import Any, Self

import paramiko

from netwarden.devices.base import (
    Facts,
    InterfaceState,
    SessionOptions,
    address_of,
    credentials_for,
)
from netwarden.devices.health import DeviceHealth, InterfaceHealth, links_from_ip, nft_counters
from netwarden.devices.hostkeys import check_host_key
from netwarden.errors import DeviceConnectionError, DeviceError, HostKeyError, SessionLostError
from netwarden.inventory.models import Device

logger = logging.getLogger(__name__)


class LinuxSsh:
    """One SSH session to a Linux host; subclasses add what they read or change."""

    def __init__(self, device: Device, options: SessionOptions) -> None:
        self.name = device.name
        self.device = device
        self.options = options
        self._client: paramiko.SSHClient | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, open={self._client is not None})"

    # ------------------------------------------------------------ lifecycle
    def open(self) -> None:
        host, port = address_of(self.device)
        opts = self.options
        checked = check_host_key(
            self.name,
            host,
            port,
            opts.known_hosts,
            trust_on_first_use=opts.trust_on_first_use,
            timeout=opts.conn_timeout,
        )
        creds = credentials_for(self.device)
        client = paramiko.SSHClient()
        client.load_host_keys(str(checked.pinned_file))  # only the key just verified
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                host,
                port=port,
                username=creds.username,
                password=creds.password or None,
                key_filename=creds.key_file,
                look_for_keys=False,
                allow_agent=False,
                timeout=opts.conn_timeout,
                banner_timeout=opts.conn_timeout,
                auth_timeout=opts.conn_timeout,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyError(self.name, f"host key of {host}:{port} changed: {exc}") from exc
        except paramiko.AuthenticationException as exc:
            client.close()
            raise DeviceConnectionError(
                self.name, f"login refused for user {creds.username!r} on {host}:{port}: {exc}"
            ) from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            client.close()
            raise DeviceConnectionError(
                self.name, f"no SSH session with {host}:{port}: {exc or type(exc).__name__}"
            ) from exc
        self._client = client
        logger.debug("%s: session open on %s:%d", self.name, host, port)

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except (OSError, EOFError, paramiko.SSHException) as exc:
                logger.debug("%s: closing the session: %r", self.name, exc)

    def is_alive(self) -> bool:
        """Whether the SSH transport is still up (no round trip)."""
        transport = self._client.get_transport() if self._client is not None else None
        return transport is not None and transport.is_active()

    def retime(self, read_timeout: float) -> None:
        """The longest wait for one command's answer from now on."""
        self.options = replace(self.options, read_timeout=read_timeout)

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ getters
    def get_interfaces(self) -> dict[str, InterfaceState]:
        out = self._ok("get interfaces", "ip -j link show")
        try:
            links: list[dict[str, Any]] = json.loads(out)
        except ValueError as exc:
            raise DeviceError(self.name, f"'ip -j link show' answered no JSON: {exc}") from exc
        return {
            str(link["ifname"]): InterfaceState(
                str(link["ifname"]),
                "UP" in link.get("flags", []),
                "LOWER_UP" in link.get("flags", []) and link.get("operstate") != "DOWN",
            )
            for link in links
            if "ifname" in link
        }

    def get_facts(self) -> Facts:  # each kind says what it is
        raise NotImplementedError

    # The sudo command that lists the named nftables counters (None: the kind has none).
    rule_counters_command: str | None = None

    def get_health(self) -> DeviceHealth:
        """Facts, uptime, interfaces with the kernel's counters (and named rule counters)."""
        readings = (
            ("facts", "interfaces", "rules")
            if self.rule_counters_command
            else ("facts", "interfaces")
        )
        failed: dict[str, str] = {}
        facts: Facts | None = None
        uptime: float | None = None
        links: tuple[InterfaceHealth, ...] = ()
        rules: dict[str, tuple[int, int]] = {}
        try:
            facts = self.get_facts()
            uptime = float(self._ok("read the uptime", "cat /proc/uptime").split()[0])
        except (DeviceError, ValueError, IndexError) as exc:
            failed["facts"] = str(exc)
        try:
            links = links_from_ip(self._ok("get interfaces", "ip -j -s link show"))
        except (DeviceError, ValueError) as exc:
            failed["interfaces"] = str(exc)
        if self.rule_counters_command:
            try:
                rules = nft_counters(self._ok("read the rule counters", self.rule_counters_command))
            except (DeviceError, ValueError) as exc:
                failed["rules"] = str(exc)
        return DeviceHealth(
            facts=facts,
            uptime_seconds=uptime,
            interfaces=links,
            rule_counters=rules,
            readings=readings,
            failed=failed,
        )

    def send_command(self, command: str) -> str:
        return self._ok(f"run {command!r}", command)

    # ------------------------------------------------------------ internals
    def _ok(self, operation: str, command: str, stdin: str | None = None) -> str:
        rc, out, err = self._run(operation, command, stdin)
        if rc != 0:
            shown = command if len(command) < 80 else command[:60] + " ..."
            raise DeviceError(self.name, f"{operation} failed: {shown!r} exit {rc}: {err}")
        return out

    def _run(self, operation: str, command: str, stdin: str | None = None) -> tuple[int, str, str]:
        """Run ``command``; (exit status, stdout, first lines of stderr). Loss raises."""
        if self._client is None:
            raise DeviceError(self.name, f"cannot {operation}: the session is not open")
        timeout = self.options.read_timeout
        try:
            transport = self._client.get_transport()
            if transport is None or not transport.is_active():
                raise SessionLostError(self.name, f"session lost before {operation}")
            channel = transport.open_session(timeout=self.options.conn_timeout)
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin is not None:
                channel.sendall(stdin.encode())
            channel.shutdown_write()
            out = _read_all(channel, err=False)
            err = _read_all(channel, err=True)
            rc = _exit_status(channel, timeout)
            channel.close()
        except TimeoutError as exc:
            raise SessionLostError(
                self.name,
                f"session lost during {operation}: no answer within {timeout:g} s "
                "(the device is too slow, hung, or no longer lets this session through)",
            ) from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SessionLostError(
                self.name, f"session lost during {operation}: {exc or type(exc).__name__}"
            ) from exc
        return rc, out, " / ".join(err.strip().splitlines()[:3])


def _exit_status(channel: paramiko.Channel, timeout: float | None) -> int:
    """The command's exit status, waited for as long as a read (``recv_exit_status`` waits forever).

    Raises:
        TimeoutError: no status within ``timeout`` s.
    """
    if not channel.status_event.wait(timeout):
        raise TimeoutError(f"no exit status within {timeout} s")
    return int(channel.recv_exit_status())


def _read_all(channel: paramiko.Channel, *, err: bool) -> str:
    chunks: list[bytes] = []
    read = channel.recv_stderr if err else channel.recv
    while True:
        data = read(65536)
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def sudo_sh(script: str, *args: str) -> str:
    """``sudo -n sh -c SCRIPT sh ARGS...`` quoted for the remote shell.

    Examples:
        >>> sudo_sh("echo $1", "a b")
        "sudo -n sh -c 'echo $1' sh 'a b'"
    """
    return " ".join(shlex.quote(p) for p in ("sudo", "-n", "sh", "-c", script, "sh", *args))


def user_sh(script: str, *args: str) -> str:
    """``sh -c SCRIPT sh ARGS...`` (as the login user) quoted for the remote shell."""
    return " ".join(shlex.quote(p) for p in ("sh", "-c", script, "sh", *args))
