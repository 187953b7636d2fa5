"""The service contract: one small config writer per daemon, registered by service name.

A lab server runs one daemon per service its inventory ``provides:`` (sshd always).
Each daemon is a *writer*: a function registered with :func:`register` under the
service names it serves (the inventory's names: ``ntp``, ``dns``, ``https`` ...) that

- writes the daemon's configuration into the server's root (``ctx.path(...)``: the
  server's own overlay root inside the holder, a plain directory in unit tests),
  bound to the server's addresses and open to the site's networks only;
- returns a :class:`Daemon`: the foreground command line (no daemonising: the
  holder is their parent and reaps them), commands that prepare its data first
  (``slapadd``, ``kdb5_util create`` ...), an optional config check
  (``sshd -t``, ``unbound-checkconf`` ...), and the sockets it must have bound once
  ready (``wait_ready`` checks them).

Nothing imports a writer by name: ``services/__init__.py`` imports the built-in
modules so their ``@register`` runs, and the holder looks services up in
:func:`registry`. A new daemon is a new module there, not an edit of the holder.
A service with no writer is logged as "not provided in the lab", never a failure.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

LAB_ETC = "/etc/netwarden-lab"  # every config the holder writes, in the server's root
AUTOMATION_USER = "netwarden"


@dataclass(frozen=True)
class ServiceContext:
    """What a writer knows about its server; ``root`` is where the server's ``/`` is."""

    hostname: str
    addresses: tuple[IPv4Address, ...]
    provides: tuple[str, ...]  # the inventory's list, as given
    site_networks: tuple[IPv4Network, ...] = ()
    ntp_upstreams: tuple[IPv4Address, ...] = ()
    log_host: IPv4Address | None = None
    dns_records: tuple[tuple[str, IPv4Address], ...] = ()
    local_syslog: bool = False  # rsyslog runs on this server (/dev/log exists)
    domain: str = ""  # the organisation's DNS domain (LDAP base DN, Kerberos realm)
    root: Path = Path("/")

    def path(self, absolute: str) -> Path:
        """``absolute`` (``/etc/...``) inside the server's root."""
        return self.root / absolute.lstrip("/")

    def write(self, absolute: str, text: str, mode: int = 0o644) -> Path:
        """Write a file of the server (parents created ``0755``), mode ``mode`` from the start."""
        path = self.path(absolute)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        path.chmod(mode)
        return path

    def directory(self, absolute: str, mode: int = 0o755, owner: str | None = None) -> Path:
        """Make a directory of the server; ``owner`` (a user of the server) when running as root."""
        path = self.path(absolute)
        path.mkdir(parents=True, exist_ok=True, mode=mode)
        path.chmod(mode)
        if owner is not None and self.root == Path("/") and os.geteuid() == 0:
            user = pwd.getpwnam(owner)
            shutil.chown(path, user.pw_uid, grp.getgrgid(user.pw_gid).gr_gid)
        return path

    def others(self, addresses: tuple[IPv4Address, ...]) -> tuple[IPv4Address, ...]:
        """``addresses`` without this server's own."""
        return tuple(a for a in addresses if a not in self.addresses)


@dataclass(frozen=True)
class Listen:
    """A socket the daemon binds: ``proto`` ``tcp``/``udp``, on ``address`` (None: every address)."""

    proto: str
    port: int
    address: IPv4Address | None = None


@dataclass(frozen=True)
class Daemon:
    """One foreground daemon: how to check its config, how to run it, what it binds."""

    name: str
    argv: tuple[str, ...]
    listens: tuple[Listen, ...] = ()
    check: tuple[str, ...] | None = None
    prepare: tuple[tuple[str, ...], ...] = ()  # run in order before ``check`` (a database load)
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None  # run as this user of the server (None: root, the daemon drops itself)


class ServiceWriter(Protocol):
    """Write the daemon's configuration into ``ctx``'s root; return how to run it.

    Raises:
        ValueError: the context holds something the daemon cannot be configured with.
    """

    def __call__(self, ctx: ServiceContext) -> Daemon: ...


@dataclass(frozen=True)
class Registration:
    """A writer and what it needs: ``binary`` from Debian ``package``; ``order`` starts it."""

    daemon: str
    binary: str
    package: str
    order: int
    writer: ServiceWriter


_REGISTRY: dict[str, Registration] = {}


def register(
    *services: str, daemon: str, binary: str, package: str, order: int = 50
) -> Callable[[ServiceWriter], ServiceWriter]:
    """Register a writer for ``services`` (inventory names); lower ``order`` starts first.

    Raises:
        ValueError: a service name already has a writer.
    """

    def decorate(writer: ServiceWriter) -> ServiceWriter:
        registration = Registration(daemon, binary, package, order, writer)
        for service in services:
            if service in _REGISTRY:
                raise ValueError(
                    f"service {service!r} is already served by {_REGISTRY[service].daemon}"
                )
            _REGISTRY[service] = registration
        return writer

    return decorate


def registry() -> Mapping[str, Registration]:
    """Service name -> registration, for every writer imported so far."""
    return dict(_REGISTRY)


@dataclass(frozen=True)
class ServicePlan:
    """The daemons a server runs (each once, in start order) and what it cannot run."""

    daemons: tuple[Registration, ...]
    not_provided: tuple[str, ...]  # inventory names with no writer
    not_installed: tuple[tuple[str, Registration], ...]  # (service, registration) binary missing


def plan_services(
    provides: tuple[str, ...], *, log_host: IPv4Address | None, root: Path = Path("/")
) -> ServicePlan:
    """sshd, rsyslog when the server receives or forwards logs, and a daemon per service.

    Examples:
        >>> from netwarden.lab.ns import services
        >>> plan = plan_services(("ntp", "radius"), log_host=None, root=Path("/nonexistent"))
        >>> plan.not_provided
        ('radius',)
        >>> sorted(r.daemon for _, r in plan.not_installed)
        ['chronyd', 'sshd']
    """
    wanted = ["ssh", *provides]
    if log_host is not None and "syslog" not in provides:
        wanted.append("syslog")  # rsyslog as a forwarder: the server's own logs to the log host
    known = registry()
    chosen: dict[str, Registration] = {}
    missing_writer: list[str] = []
    missing_binary: list[tuple[str, Registration]] = []
    for service in wanted:
        registration = known.get(service)
        if registration is None:
            missing_writer.append(service)
        elif registration.daemon in chosen or any(r is registration for _, r in missing_binary):
            continue
        elif not (root / registration.binary.lstrip("/")).is_file():
            missing_binary.append((service, registration))
        else:
            chosen[registration.daemon] = registration
    daemons = tuple(sorted(chosen.values(), key=lambda r: (r.order, r.daemon)))
    return ServicePlan(daemons, tuple(missing_writer), tuple(missing_binary))
