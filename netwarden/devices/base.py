"""The device-session contract, the options every session takes, and the platform registry.

A platform is supported by one class that satisfies :class:`DeviceSession` and is
registered with :func:`register_platform`; plan, apply, backup and drift only ever
talk to that protocol, so adding ``eos`` or ``junos`` is a new session class plus
templates, not a change to the workflows.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from netwarden.errors import DeviceConnectionError
from netwarden.inventory.models import Device, Platform

logger = logging.getLogger(__name__)

ENV_USERNAME = "NETWARDEN_USERNAME"
ENV_PASSWORD = "NETWARDEN_PASSWORD"  # noqa: S105 - the name of a variable, not a password
ENV_ENABLE_SECRET = "NETWARDEN_ENABLE_SECRET"  # noqa: S105
ENV_KEY_FILE = "NETWARDEN_SSH_KEY"
KNOWN_HOSTS_NAME = "known_hosts.txt"
"""The known_hosts file an inventory may carry (the lab writes one)."""

ConfigKind = Literal["running", "startup"]


@dataclass(frozen=True)
class InterfaceState:
    """What a post-check needs to know about one interface."""

    name: str
    is_enabled: bool
    is_up: bool


@dataclass(frozen=True)
class Facts:
    """Identity of a device as it reports it."""

    hostname: str
    fqdn: str = ""
    model: str = ""
    os_version: str = ""
    serial_number: str = ""


@dataclass(frozen=True)
class PendingCommit:
    """A commit waiting for confirmation (``show archive config rollback timer`` on IOS).

    Attributes:
        configured: when the timer was set or last reset, as the device says it.
        user: who committed.
        minutes: the timer's value.
        archive: the config the device reverts to when the timer fires.
    """

    configured: str
    user: str = ""
    minutes: int | None = None
    archive: str = ""

    @property
    def identity(self) -> tuple[str, str]:
        """What tells two commits apart: another commit (or a reset of the timer) changes it."""
        return (self.configured, self.archive)

    def describe(self) -> str:
        timer = f", timer {self.minutes} min" if self.minutes is not None else ""
        return f"configured at {self.configured} by {self.user or 'unknown'}{timer}"


@dataclass(frozen=True)
class Credentials:
    """Login for one device; secrets never appear in a repr or a log line."""

    username: str
    password: str = field(repr=False)
    enable_secret: str = field(default="", repr=False)
    key_file: str | None = None
    """The private key to log in with (``ansible_ssh_private_key_file``; Linux hosts)."""


@dataclass(frozen=True)
class SessionOptions:
    """How sessions connect: host-key policy and timeouts (seconds).

    Attributes:
        known_hosts: the known_hosts file host keys are checked against; a missing
            file is an empty one (every key is unknown).
        trust_on_first_use: record an UNKNOWN key in ``known_hosts`` instead of
            refusing it; a CHANGED key is refused regardless.
        conn_timeout: TCP connect and SSH banner/auth timeout.
        timeout: NAPALM's overall operation timeout.
        read_timeout: the longest wait for one command's output (a commit included).
    """

    known_hosts: Path
    trust_on_first_use: bool = False
    conn_timeout: float = 10.0
    timeout: float = 60.0
    read_timeout: float = 120.0

    @classmethod
    def for_inventory(
        cls,
        inventory: Path,
        known_hosts: Path | None = None,
        trust_on_first_use: bool = False,
        timeout: float = 30.0,
    ) -> SessionOptions:
        """What the CLI and Ansible use: the inventory's known_hosts unless one is given,
        one timeout for everything (connecting capped at 10 s)."""
        return cls(
            known_hosts=known_hosts or default_known_hosts(inventory),
            trust_on_first_use=trust_on_first_use,
            conn_timeout=min(timeout, 10.0),
            timeout=timeout,
            read_timeout=timeout,
        )


def default_known_hosts(inventory: Path) -> Path:
    """``<inventory>/known_hosts.txt`` if the inventory has one, else ``~/.ssh/known_hosts``.

    Examples:
        >>> default_known_hosts(Path("/nonexistent")).name
        'known_hosts'
    """
    base = inventory if inventory.is_dir() else inventory.parent
    candidate = base / KNOWN_HOSTS_NAME
    if candidate.is_file():
        return candidate
    return Path.home() / ".ssh" / "known_hosts"


def credentials_for(device: Device, env: Mapping[str, str] | None = None) -> Credentials:
    """The device's login: Ansible's connection variables, else ``NETWARDEN_*`` from the environment.

    A private key (``ansible_ssh_private_key_file``, else ``NETWARDEN_SSH_KEY``) stands in
    for the password; the session that cannot use one (NAPALM) still needs a password.

    Raises:
        DeviceConnectionError: no username, or neither a password nor a key, from either source.
    """
    env = os.environ if env is None else env
    conn = device.connection
    username = (conn.username if conn else None) or env.get(ENV_USERNAME)
    password = conn.password.get_secret_value() if conn and conn.password else env.get(ENV_PASSWORD)
    key_file = (conn.key_file if conn else None) or env.get(ENV_KEY_FILE) or None
    enable = (
        conn.enable_secret.get_secret_value()
        if conn and conn.enable_secret
        else env.get(ENV_ENABLE_SECRET, "")
    )
    if not username or (password is None and key_file is None):
        raise DeviceConnectionError(
            device.name,
            "no credentials: set ansible_user and ansible_password (vault allowed) or "
            f"ansible_ssh_private_key_file for the host, or {ENV_USERNAME} and "
            f"{ENV_PASSWORD} or {ENV_KEY_FILE} in the environment",
        )
    return Credentials(
        username=username, password=password or "", enable_secret=enable, key_file=key_file
    )


def address_of(device: Device) -> tuple[str, int]:
    """Where to connect: ``ansible_host``/``ansible_port``, else the management address on 22."""
    if device.connection is not None:
        return device.connection.host, device.connection.port
    return str(device.mgmt_address), 22


@runtime_checkable
class DeviceSession(Protocol):
    """One management session to one device.

    The contract every platform implements (the workflows rely on nothing else):

    - :meth:`open` connects and authenticates, after checking the host key against
      ``SessionOptions.known_hosts``; it raises ``HostKeyError`` for an unknown or
      changed key (nothing is sent to such a device) and ``DeviceConnectionError``
      for anything else that prevents a session. :meth:`close` never raises.
    - :meth:`load_replace_candidate` stages a full config; :meth:`compare` returns
      the device's own diff of running against it ("" when equal); :meth:`discard`
      drops the candidate. None of these change the running config.
    - :meth:`commit` replaces running with the candidate. With ``revert_in``
      (seconds) the device reverts by itself unless :meth:`confirm` is called
      in time; :meth:`rollback` reverts a pending commit now (or the last commit).
      A commit the device refuses (an error in its answer) raises ``DeviceError``
      quoting the device; it never returns as if it had been applied.
    - :meth:`pending_commit` says which commit waits for confirmation (None: none),
      so a run can tell its own commit from another session's.
    - The getters read state for post-checks; they never change the device.

    Every method other than ``close`` raises ``DeviceError`` (or a subclass) with
    the device name and the failing operation.
    """

    name: str

    def open(self) -> None: ...

    def close(self) -> None: ...

    def get_config(self, which: ConfigKind = "running") -> str: ...

    def load_replace_candidate(self, config: str) -> None: ...

    def compare(self) -> str: ...

    def commit(self, revert_in: int | None = None) -> None: ...

    def confirm(self) -> None: ...

    def rollback(self) -> None: ...

    def discard(self) -> None: ...

    def has_pending_commit(self) -> bool: ...

    def pending_commit(self) -> PendingCommit | None: ...

    def get_facts(self) -> Facts: ...

    def get_interfaces(self) -> dict[str, InterfaceState]: ...

    def send_command(self, command: str) -> str: ...


@runtime_checkable
class ReusableSession(Protocol):
    """What a session offers a caller that keeps it open between uses (the exporter's cache).

    - :meth:`is_alive` says, without a round trip to the device, whether the
      transport is still up (a device that closed the session, an idle timeout that
      fired): cheap enough to ask before every reuse. True does not promise the
      next command will be answered; a caller still handles a lost session.
    - :meth:`retime` sets the longest wait for one command's answer from now on
      (the options were fixed at :meth:`DeviceSession.open`; the next user may
      have a different budget).
    """

    def is_alive(self) -> bool: ...

    def retime(self, read_timeout: float) -> None: ...


SessionFactory = Callable[[Device, SessionOptions], DeviceSession]
Handles = Callable[[Device], bool]
_REGISTRY: dict[Platform, SessionFactory] = {}
_HANDLES: dict[Platform, Handles] = {}


def register_platform(
    platform: Platform, factory: SessionFactory, handles: Handles | None = None
) -> None:
    """Make ``factory`` the session class of ``platform`` (a later registration replaces it).

    ``handles`` says which of the platform's devices the factory serves (default:
    all); a ``linux`` factory serves firewalls running nftables, not servers.
    """
    _REGISTRY[platform] = factory
    if handles is None:
        _HANDLES.pop(platform, None)
    else:
        _HANDLES[platform] = handles


def has_session(device: Device) -> bool:
    """Whether a registered session class serves ``device`` (what the fleet commands select)."""
    if device.platform not in _REGISTRY:
        return False
    handles = _HANDLES.get(device.platform)
    return handles is None or handles(device)


def session_for(device: Device, options: SessionOptions) -> DeviceSession:
    """An unopened session for ``device``, from its platform's registered factory.

    Raises:
        DeviceConnectionError: no session class is registered for the platform.
    """
    factory = _REGISTRY.get(device.platform)
    if factory is None:
        known = ", ".join(sorted(p.value for p in _REGISTRY)) or "none"
        raise DeviceConnectionError(
            device.name,
            f"platform {device.platform.value!r} has no session class (registered: {known})",
        )
    return factory(device, options)
