"""The ``ios`` session: NAPALM's ios driver (and through it Netmiko), unmodified.

Host keys are checked twice: :func:`~netwarden.devices.hostkeys.check_host_key`
before login (clear messages, trust-on-first-use), then by Netmiko itself with
``ssh_strict=True`` against only the key just verified: the one-line known_hosts
file of :attr:`~netwarden.devices.hostkeys.HostKeyCheck.pinned_file`
(``alt_key_file``; ``system_host_keys=False``, ``alt_host_keys=True``), on the
CLI session and on NAPALM's SCP session alike.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, TypeVar

import paramiko
from napalm import get_network_driver
from napalm.base.exceptions import ConnectionClosedException, NapalmException
from netmiko.exceptions import (
    NetmikoAuthenticationException,
    NetmikoBaseException,
    NetmikoTimeoutException,
    ReadException,
    ReadTimeout,
)

from netwarden.devices.base import (
    ConfigKind,
    Facts,
    InterfaceState,
    PendingCommit,
    SessionOptions,
    address_of,
    credentials_for,
)
from netwarden.devices.health import (
    DeviceHealth,
    InterfaceHealth,
    environment_from_napalm,
    interface_from_napalm,
)
from netwarden.devices.hostkeys import check_host_key
from netwarden.errors import DeviceConnectionError, DeviceError, HostKeyError, SessionLostError
from netwarden.inventory.models import Device

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The session is gone (or its state unknown) after these.
_LOST = (ConnectionClosedException, ReadException, OSError, EOFError, paramiko.SSHException)
# The device answered but refused or failed the operation.
_FAILED = (NapalmException, NetmikoBaseException, ValueError, KeyError)
_HOST_KEY_HINTS = ("not found in known_hosts", "Host key for server", "does not match")
_SHOW_TIMEOUT = 10.0  # send_command's default read timeout; a session's read_timeout_override wins
# An answer that starts with one of these is IOS refusing the command.
_REFUSALS = (
    "% Invalid input",
    "% Incomplete command",
    "% Ambiguous command",
    "% Unknown command",
    "%Error",
    "% Error",
    "% Authorization failed",
    "Command authorization failed",
)
_NO_PENDING = "No Rollback Confirmed Change pending"
_TIMER_FIELDS = {
    "Time configured(or reset)": "configured",
    "Time configured": "configured",
    "User": "user",
    "Archive file": "archive",
    "Timer value": "minutes",
}


class NapalmIosSession:
    """:class:`~netwarden.devices.base.DeviceSession` for Cisco IOS through NAPALM."""

    def __init__(self, device: Device, options: SessionOptions) -> None:
        self.name = device.name
        self.device = device
        self.options = options
        self._driver: Any = None

    def __repr__(self) -> str:
        return f"NapalmIosSession({self.name!r}, open={self._driver is not None})"

    # ------------------------------------------------------------ lifecycle
    def open(self) -> None:
        host, port = address_of(self.device)
        creds = credentials_for(self.device)
        opts = self.options
        checked = check_host_key(
            self.name,
            host,
            port,
            opts.known_hosts,
            trust_on_first_use=opts.trust_on_first_use,
            timeout=opts.conn_timeout,
        )
        optional_args: dict[str, Any] = {
            "port": port,
            "secret": creds.enable_secret,
            "conn_timeout": opts.conn_timeout,
            "banner_timeout": opts.conn_timeout,
            "auth_timeout": opts.conn_timeout,
            "read_timeout_override": opts.read_timeout,
            "ssh_strict": True,
            "system_host_keys": False,
            "alt_host_keys": True,
            # Only the key just verified: Netmiko re-checks it strictly on its own connection.
            "alt_key_file": str(checked.pinned_file),
        }
        driver = get_network_driver("ios")(
            host,
            creds.username,
            creds.password,
            timeout=int(opts.timeout),
            optional_args=optional_args,
        )
        try:
            driver.open()
        except NetmikoAuthenticationException as exc:
            raise DeviceConnectionError(
                self.name,
                f"login refused for user {creds.username!r} on {host}:{port} (authentication failed)",
            ) from exc
        except NetmikoTimeoutException as exc:
            text = str(exc)
            if any(h in text for h in _HOST_KEY_HINTS):
                raise HostKeyError(
                    self.name,
                    f"host key of {host}:{port} rejected against {opts.known_hosts}: {_first_line(text)}",
                ) from exc
            raise DeviceConnectionError(
                self.name, f"no SSH session with {host}:{port}: {_first_line(text)}"
            ) from exc
        except ReadTimeout as exc:
            raise DeviceConnectionError(
                self.name,
                f"no session with {host}:{port}: no answer within {opts.read_timeout:g} s while "
                "preparing the session (the device is too slow or hung; raise --timeout for a "
                "slow device)",
            ) from exc
        except (*_LOST, *_FAILED) as exc:
            raise DeviceConnectionError(
                self.name, f"no session with {host}:{port}: {_describe(exc)}"
            ) from exc
        self._driver = driver
        logger.debug("%s: session open on %s:%d", self.name, host, port)

    def close(self) -> None:
        driver, self._driver = self._driver, None
        if driver is None:
            return
        try:
            driver.close()
        except (*_LOST, *_FAILED) as exc:
            logger.info(
                "%s: closing the session failed (%s); dropping it", self.name, _describe(exc)
            )
            netmiko = getattr(driver, "device", None)
            if netmiko is not None:
                try:
                    netmiko.disconnect()
                except (*_LOST, *_FAILED) as again:
                    logger.debug("%s: disconnect after a failed close: %r", self.name, again)

    def is_alive(self) -> bool:
        """Whether the SSH transport is still up (no round trip; what NAPALM's is_alive reads)."""
        return self._driver is not None and _connected(self._driver)

    def retime(self, read_timeout: float) -> None:
        """The longest wait for one command's answer from now on (Netmiko's override)."""
        self.options = replace(self.options, read_timeout=read_timeout)
        netmiko = getattr(self._driver, "device", None)
        if netmiko is not None:
            netmiko.read_timeout_override = read_timeout

    def __enter__(self) -> NapalmIosSession:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ config
    def get_config(self, which: ConfigKind = "running") -> str:
        result = self._call(f"get the {which} config", lambda d: d.get_config(retrieve=which))
        return str(result[which])

    def load_replace_candidate(self, config: str) -> None:
        self._call("load the candidate config", lambda d: d.load_replace_candidate(config=config))

    def compare(self) -> str:
        return str(self._call("compare the candidate with running", lambda d: d.compare_config()))

    def commit(self, revert_in: int | None = None) -> None:
        """``configure replace`` (NAPALM's commit); a refusal in the device's answer raises.

        NAPALM only looks for "error" and "failed" in the answer, so a device that
        answers ``% Invalid input`` (no privilege, command authorisation, an IOS
        without ``configure replace``) would pass for a commit. The answer is read
        here (NAPALM's ``_commit_handler`` returns it; the wrapper is on this driver
        instance only and removed after the call) and a refusal raises DeviceError
        quoting the device.
        """
        what = f"commit (revert in {revert_in} s)" if revert_in else "commit"
        answers: list[str] = []

        def run(driver: Any) -> None:
            original = driver._commit_handler  # NAPALM private: its answer, see above

            def handler(cmd: str) -> str:
                out = str(original(cmd))
                answers.append(out)
                return out

            driver._commit_handler = handler
            try:
                driver.commit_config(revert_in=revert_in)
            finally:
                del driver._commit_handler  # the class method again

        self._call(what, run)
        refusal = refusal_in("\n".join(answers))
        if refusal:
            raise DeviceError(self.name, f"configure replace refused by the device: {refusal}")

    def confirm(self) -> None:
        self._call("confirm the commit", lambda d: d.confirm_commit())

    def rollback(self) -> None:
        self._call("roll back", lambda d: d.rollback())

    def discard(self) -> None:
        self._call("discard the candidate", lambda d: d.discard_config())

    def has_pending_commit(self) -> bool:
        return bool(self._call("read the revert timer", lambda d: d.has_pending_commit()))

    def pending_commit(self) -> PendingCommit | None:
        command = "show archive config rollback timer"
        out = self.send_command(command)
        if _NO_PENDING in out:
            return None
        pending = parse_rollback_timer(out)
        if pending is None:
            raise DeviceError(
                self.name, f"{command!r} answered {_first_line(out)!r}, not a rollback timer"
            )
        return pending

    # ------------------------------------------------------------ getters
    def get_facts(self) -> Facts:
        facts = self._call("get facts", lambda d: d.get_facts())
        return Facts(
            hostname=str(facts.get("hostname", "")),
            fqdn=str(facts.get("fqdn", "")),
            model=str(facts.get("model", "")),
            os_version=str(facts.get("os_version", "")),
            serial_number=str(facts.get("serial_number", "")),
        )

    def get_interfaces(self) -> dict[str, InterfaceState]:
        got = self._call("get interfaces", lambda d: d.get_interfaces())
        return {
            name: InterfaceState(name, bool(v.get("is_enabled")), bool(v.get("is_up")))
            for name, v in got.items()
        }

    def get_health(self) -> DeviceHealth:
        """Facts and uptime, interfaces with counters, CPU/memory/temperature (NAPALM getters).

        A getter that fails is recorded in ``failed``; a lost session ends the reading.
        """
        readings = ("facts", "interfaces", "counters", "environment")
        got: dict[str, Any] = {}
        failed: dict[str, str] = {}
        getters = {
            "facts": lambda d: d.get_facts(),
            "interfaces": lambda d: d.get_interfaces(),
            "counters": lambda d: d.get_interfaces_counters(),
            "environment": lambda d: d.get_environment(),
        }
        with self._prompt_known():
            for reading in readings:
                try:
                    got[reading] = self._call(f"get {reading}", getters[reading])
                except SessionLostError:
                    raise
                except DeviceError as exc:
                    failed[reading] = str(exc)
        facts = got.get("facts") or {}
        counters = got.get("counters") or {}
        interfaces: tuple[InterfaceHealth, ...] = tuple(
            interface_from_napalm(name, iface, counters.get(name) or {})
            for name, iface in sorted((got.get("interfaces") or {}).items())
        )
        cpu, used, available, temps = environment_from_napalm(got.get("environment") or {})
        uptime = facts.get("uptime")
        return DeviceHealth(
            facts=Facts(
                hostname=str(facts.get("hostname", "")),
                fqdn=str(facts.get("fqdn", "")),
                model=str(facts.get("model", "")),
                os_version=str(facts.get("os_version", "")),
                serial_number=str(facts.get("serial_number", "")),
            )
            if facts
            else None,
            uptime_seconds=float(uptime)
            if isinstance(uptime, int | float) and uptime >= 0
            else None,
            interfaces=interfaces,
            cpu_ratio=cpu,
            memory_used_bytes=used,
            memory_available_bytes=available,
            temperature_celsius=temps,
            readings=readings,
            failed=failed,
        )

    def send_command(self, command: str) -> str:
        out = self._call(f"run {command!r}", lambda d: d.cli([command]))
        return str(out[command])

    # ------------------------------------------------------------ internals
    @contextmanager
    def _prompt_known(self) -> Iterator[None]:
        """Within: one reading's show commands, each asked once, read up to a known prompt.

        Netmiko's ``send_command`` looks for the prompt before every command (a RETURN
        and a sleep: about 0.1 s), which was half the time of a health reading's ten
        show commands. Those run in exec mode and never change the prompt, so it is
        found once per reading and given as each command's ``expect_string`` (anchored
        at the end of the answer). NAPALM's ``get_interfaces`` and
        ``get_interfaces_counters`` both send ``show interfaces``: within one reading
        (one snapshot of the device) the second gets the first's answer. Never used
        around config changes (the prompt changes in config mode). A prompt that
        cannot be found leaves Netmiko its own way.
        """
        netmiko: Any = getattr(self._driver, "device", None)
        prompt = ""
        if netmiko is not None:
            try:
                prompt = str(netmiko.find_prompt()).strip()
            except (*_LOST, *_FAILED, ReadTimeout) as exc:
                logger.debug(
                    "%s: prompt not found (%s); Netmiko finds it per command", self.name, exc
                )
        if netmiko is None or not prompt:
            yield
            return
        send = netmiko.send_command
        pattern = re.escape(prompt) + r"\s*$"
        answers: dict[str, Any] = {}

        def send_command(command_string: str, *args: Any, **kwargs: Any) -> Any:
            if args or kwargs:  # a caller with its own pattern or options: as it asks
                return send(command_string, *args, **kwargs)
            if command_string not in answers:
                answers[command_string] = _show(netmiko, command_string, pattern)
            return answers[command_string]

        netmiko.send_command = send_command  # this connection only, removed below
        try:
            yield
        finally:
            del netmiko.send_command

    def _call(self, operation: str, fn: Callable[[Any], T]) -> T:
        if self._driver is None:
            raise DeviceError(self.name, f"cannot {operation}: the session is not open")
        try:
            return fn(self._driver)
        except ReadTimeout as exc:
            if not _connected(self._driver):
                raise SessionLostError(
                    self.name, f"session lost during {operation}: the device closed the connection"
                ) from exc
            raise SessionLostError(
                self.name,
                f"session lost during {operation}: no answer within "
                f"{self.options.read_timeout:g} s (the device is too slow or hung; "
                "raise --timeout for a slow device)",
            ) from exc
        except _LOST as exc:
            raise SessionLostError(
                self.name, f"session lost during {operation}: {_describe(exc)}"
            ) from exc
        except _FAILED as exc:
            raise DeviceError(self.name, f"{operation} failed: {_describe(exc)}") from exc


def _show(netmiko: Any, command: str, prompt_pattern: str) -> str:
    """One exec-mode command through Netmiko's own parts, as ``send_command`` does it.

    The command written, its echo read (Netmiko's ``command_echo_read``, which keeps the
    reads in step), the answer read up to the prompt with ``read_until_pattern``, and
    the echo and prompt stripped by ``_sanitize_output``: ``send_command(command,
    expect_string=prompt_pattern)`` without its 25 ms sleeps between reads. The read
    timeout is Netmiko's (``send_command``'s default, or the session's override).
    """
    cmd = netmiko.normalize_cmd(command)
    netmiko.write_channel(cmd)
    output = str(netmiko.command_echo_read(cmd=cmd.strip(), read_timeout=_SHOW_TIMEOUT))
    if not re.search(prompt_pattern, output):
        output += str(
            netmiko.read_until_pattern(pattern=prompt_pattern, read_timeout=_SHOW_TIMEOUT)
        )
    return str(
        netmiko._sanitize_output(output, strip_command=True, command_string=cmd, strip_prompt=True)
    )


def _connected(driver: Any) -> bool:
    """Whether the driver's SSH transport is still up (a closed one reads as a timeout)."""
    channel: Any = getattr(getattr(driver, "device", None), "remote_conn", None)
    if channel is None or channel.closed:
        return False
    transport = channel.get_transport()
    return bool(transport is not None and transport.is_active())


def refusal_in(answer: str) -> str:
    """The device's refusal in a command's answer ("" when there is none), with the line after it.

    Examples:
        >>> refusal_in("configure replace flash:c.txt force\\n% Invalid input detected at '^' marker.")
        "% Invalid input detected at '^' marker."
        >>> refusal_in("Total number of passes: 1\\nRollback Done")
        ''
    """
    for line in answer.splitlines():
        text = line.strip()
        if text.startswith(_REFUSALS):
            return text
    return ""


def parse_rollback_timer(text: str) -> PendingCommit | None:
    """``show archive config rollback timer`` as a :class:`PendingCommit` (None: not that output).

    Examples:
        >>> p = parse_rollback_timer("Time configured(or reset): 09:05:25 CET Sat Dec 5 2026\\n"
        ...     "Timer type: Rollback timer\\nTimer value: 30 min\\nArchive file: flash:archive-1\\n"
        ...     "User: netwarden")
        >>> p.configured, p.user, p.minutes, p.archive
        ('09:05:25 CET Sat Dec 5 2026', 'netwarden', 30, 'flash:archive-1')
    """
    found: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        field_name = _TIMER_FIELDS.get(key.strip())
        if sep and field_name:
            found[field_name] = value.strip()
    if "configured" not in found:
        return None
    minutes = found.get("minutes", "").split()
    return PendingCommit(
        configured=found["configured"],
        user=found.get("user", ""),
        minutes=int(minutes[0]) if minutes and minutes[0].isdigit() else None,
        archive=found.get("archive", ""),
    )


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(lines[:3]) if lines else "no details"


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {_first_line(text)}" if text else type(exc).__name__
