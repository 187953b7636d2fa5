"""Where configs come from: the :class:`ConfigSource` contract and its folder implementation.

The audit reads devices through one small protocol so the offline path (a
folder of backups, what auditors usually receive) and the live path (through
the device-session layer of issue 4) feed the same engine.

Folder layout (``FolderSource``): one entry per device, named after the device.

- IOS: ``<device>.cfg`` (any extension but ``.json``) is the running config;
  ``<device>.startup.cfg`` the startup config; ``<device>.intended.cfg`` the
  intended config (or pass ``intended=`` rendered from the inventory).
- nftables: ``<device>.json``, the output of ``nft -j list ruleset``.
- Linux: ``<device>/`` with ``sshd-T.txt``, ``sysctl.txt``, ``auditctl-l.txt``,
  ``auditctl-s.txt``, ``login.defs``, ``pam-password.txt``, ``packages.txt``,
  ``ss-ltnup.txt``; or one bundle file with ``#@ <section>`` headers (see
  :mod:`netwarden.compliance.platforms.linux`): ``<device>.linux``, or a server
  backup (``<device>.cfg`` that starts with ``# netwarden server snapshot``).

Examples:
    >>> device_and_role(Path("jed-acc-sw1.startup.cfg"))
    ('jed-acc-sw1', 'startup')
    >>> device_and_role(Path("jed-fw1.json"))
    ('jed-fw1', 'running')
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from netwarden.compliance.models import ComplianceError
from netwarden.compliance.sniff import NotAConfig, shape_problem, text_of
from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device, Platform

if TYPE_CHECKING:
    from netwarden.devices import SessionOptions

logger = logging.getLogger(__name__)

PLATFORMS = ("ios", "nftables", "linux")
LINUX_FILES = {
    "sshd": "sshd-T.txt",
    "sysctl": "sysctl.txt",
    "auditctl-l": "auditctl-l.txt",
    "auditctl-s": "auditctl-s.txt",
    "login.defs": "login.defs",
    "pam": "pam-password.txt",
    "packages": "packages.txt",
    "sockets": "ss-ltnup.txt",
}


@dataclass(frozen=True, slots=True)
class Artifact:
    """One file read for a device: its path (as shown in evidence) and its text."""

    path: str
    text: str


@dataclass(slots=True)
class Target:
    """Everything known about one device for one audit."""

    name: str
    platform: str
    running: Artifact
    startup: Artifact | None = None
    intended: Artifact | None = None
    extra: dict[str, Artifact] = field(default_factory=dict)
    error: str | None = None
    """Why the device could not be read (unreachable, login refused ...): audited as ``error``."""

    def artifacts(self) -> list[Artifact]:
        if self.error is not None:
            return []
        out = [self.running]
        out += [a for a in (self.startup, self.intended) if a is not None]
        out += list(self.extra.values())
        return out


@runtime_checkable
class ConfigSource(Protocol):
    """A supplier of device configs for the audit.

    Contract: ``targets()`` yields one :class:`Target` per device, each with
    the running config (or ruleset, or server outputs) and, when available,
    startup and intended configs. It raises :class:`ComplianceError` when the
    source as a whole cannot be read (missing folder, unreachable layer). A
    single unreadable device is never silently passed: the source yields it
    with ``error`` set to the reason (a file that is not text or not a config of
    its platform, :mod:`netwarden.compliance.sniff`; a device that cannot be
    reached or logged into), and the engine reports every rule of that device
    as ``error`` with that reason, lists it as not audited and counts it in no
    score. ``description`` says where the configs came from (for the run
    metadata); an optional ``not_read`` mapping (device name -> reason) names
    the devices the source did not even try (e.g. platforms the live audit
    cannot read), for the report's scope.
    """

    description: str

    def targets(self) -> Iterator[Target]: ...


def device_and_role(path: Path) -> tuple[str, str]:
    """``<device>[.startup|.intended].<ext>`` -> (device, role)."""
    parts = path.name.split(".")
    role = "running"
    if len(parts) >= 3 and parts[1] in ("startup", "intended", "running"):
        role = parts[1]
    return parts[0], role


def detect_platform(path: Path) -> str:
    """The platform a folder entry holds, from its shape: dir/.linux = linux, .json = nftables."""
    if path.is_dir() or path.suffix == ".linux":
        return "linux"
    if path.suffix in (".json", ".nft"):
        return "nftables"
    return "ios"


class FolderSource:
    """Configs from a folder of files (the offline audit)."""

    def __init__(
        self,
        root: Path,
        platform: str | None = None,
        intended: Mapping[str, str] | None = None,
    ) -> None:
        if platform is not None and platform not in PLATFORMS:
            raise ComplianceError(f"--platform {platform!r} is not one of {', '.join(PLATFORMS)}")
        self.root = root
        self.platform = platform
        self.intended = dict(intended or {})
        self.description = f"folder {root}"

    def _entries(self) -> tuple[dict[str, dict[str, Path]], dict[str, str]]:
        """The folder's entries by device name and role, and each device's platform."""
        if not self.root.is_dir():
            raise ComplianceError(f"{self.root}: not a directory of configs")
        grouped: dict[str, dict[str, Path]] = {}
        platforms: dict[str, str] = {}
        for path in sorted(self.root.iterdir()):
            if path.name.startswith("."):
                continue
            plat = self.platform or detect_platform(path)
            if plat == "ios" and self.platform is None and _is_snapshot_file(path):
                plat = "linux"  # a server backup (netwarden backup) is a bundle
            if self.platform is not None and detect_platform(path) == "linux" and plat != "linux":
                continue
            name, role = device_and_role(path)
            grouped.setdefault(name, {})[role] = path
            platforms[name] = plat
        return grouped, platforms

    def names(self) -> list[str]:
        """The device names the folder holds files for (nothing is read)."""
        return sorted(self._entries()[0])

    def targets(self) -> Iterator[Target]:
        """One target per device file; a file that is not a config is yielded with ``error`` set."""
        grouped, platforms = self._entries()
        for name, roles in grouped.items():
            running = roles.get("running")
            if running is None:
                given = ", ".join(str(p) for p in roles.values())
                yield self._unreadable(
                    name,
                    platforms[name],
                    Path(f"{name}.cfg"),
                    f"{given}: no running config beside it (expected {name}.cfg)",
                )
                continue
            try:
                yield self._target(name, platforms[name], running, roles)
            except NotAConfig as exc:
                yield self._unreadable(name, platforms[name], running, str(exc))
            except OSError as exc:
                yield self._unreadable(
                    name, platforms[name], running, f"{exc.filename or running}: {exc.strerror}"
                )

    def _unreadable(self, name: str, platform: str, path: Path, reason: str) -> Target:
        logger.debug("%s: not audited: %s", name, reason)
        return Target(name, platform, Artifact(str(path), ""), error=reason)

    def _target(self, name: str, platform: str, running: Path, roles: dict[str, Path]) -> Target:
        if platform == "linux" and running.is_dir():
            extra = {
                key: _read(running / fname, platform, may_be_empty=True)
                for key, fname in LINUX_FILES.items()
                if (running / fname).is_file()
            }
            if not extra:
                raise NotAConfig(
                    f"{running}: none of the expected files ({', '.join(LINUX_FILES.values())})"
                )
            return Target(name, platform, Artifact(str(running), ""), extra=extra)
        if running.suffix == ".nft":
            raise NotAConfig(
                f"{running}: an nftables ruleset as `nft -f` reads it; the nftables pack audits "
                f"`nft -j list ruleset` output: load it and save that JSON as {name}.json"
            )
        target = Target(name, platform, _read(running, platform))
        if "startup" in roles:
            target.startup = _read(roles["startup"], platform, may_be_empty=True)
        if "intended" in roles:
            target.intended = _read(roles["intended"], platform)
        elif name in self.intended:
            target.intended = Artifact(f"intended:{name}", self.intended[name])
        return target


SNAPSHOT_MARK = b"# netwarden server snapshot"
"""How a server snapshot starts (:mod:`netwarden.devices.linuxstate`: a backup of a server)."""


def _is_snapshot_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(SNAPSHOT_MARK)) == SNAPSHOT_MARK
    except OSError:
        return False


def _read(path: Path, platform: str, *, may_be_empty: bool = False) -> Artifact:
    """A config file as text; :class:`NotAConfig` when it is not text or not the platform's shape.

    ``may_be_empty``: an empty file is a valid (absent) config, e.g. a startup
    config that was never saved.
    """
    text = text_of(path.read_bytes(), str(path))
    if not (may_be_empty and not text.strip()):
        problem = shape_problem(platform, text)
        if problem is not None:
            raise NotAConfig(f"{path}: {problem}")
    return Artifact(str(path), text)


LIVE_PLATFORMS: dict[Platform, str] = {Platform.IOS: "ios", Platform.LINUX: "nftables, linux"}
"""Inventory platforms the live audit reads, and the rule packs that audit them (for messages)."""

LIVE_READS = {
    "ios": "running-config and startup-config",
    "nftables": "nft -j list ruleset",
    "linux": "the server snapshot (sshd -T, sysctl, auditd, login.defs, PAM, packages, sockets)",
}
"""What the live audit reads, by rule pack."""


def live_pack(device: Device) -> str | None:
    """The rule pack that audits ``device`` live (None: the live audit cannot read it).

    IOS devices: ``ios``; linux firewalls running nftables: ``nftables`` (their ruleset
    as ``nft -j list ruleset``); linux servers: ``linux`` (the server snapshot). Linux
    sensors have no session yet.
    """
    if device.platform is Platform.IOS:
        return "ios"
    if device.platform is Platform.LINUX:
        from netwarden.devices import is_linux_server, is_nftables_firewall  # noqa: PLC0415

        if is_nftables_firewall(device):
            return "nftables"
        if is_linux_server(device):
            return "linux"
    return None


_STARTUP_HEADER = re.compile(r"\AUsing \d+ out of \d+ bytes[^\n]*\n?")
_NO_STARTUP = "startup-config is not present"


def startup_text(shown: str) -> str:
    """``show startup-config`` as a config: no ``Using N out of M bytes`` header; "" when absent.

    Examples:
        >>> startup_text("Using 1500 out of 524288 bytes\\n!\\nhostname sw1")
        '!\\nhostname sw1'
        >>> startup_text("startup-config is not present")
        ''
    """
    if shown.strip() == _NO_STARTUP:
        return ""
    return _STARTUP_HEADER.sub("", shown.lstrip(), count=1)


ABSENT = (
    "absent from this lab (netwarden lab sim simulates switches; netwarden lab up runs "
    "firewalls and servers too)"
)


class LiveSource:
    """Configs, rulesets and server snapshots read from the devices through their sessions.

    Every device gets a session of its own (``session_for(device, options)``: host
    keys are checked like every other command), at most ``concurrency`` at once.
    What is read depends on the device (:func:`live_pack`, :data:`LIVE_READS`): an
    IOS device's running and startup configs; an nftables firewall's ``nft -j list
    ruleset``; a server's snapshot (:mod:`netwarden.devices.linuxstate`, the same
    bundle the offline linux pack reads, one ``# read:`` line per section saying what
    was run, as whom and where). A device that cannot be read (unreachable, login
    refused, unknown or changed host key, a command that fails) is yielded with
    ``error`` set to the reason, so the audit reports it and goes on with the others.
    Devices the live audit cannot read (linux sensors) and devices a lab inventory
    marks absent (``netwarden_lab_absent``: the simulator runs switches only) are
    listed in ``skipped`` and named in ``description``, each with its reason in
    ``not_read``; they are not audited and nothing connects to them.

    Intended configs (``intended``, rendered from the inventory) are attached by
    device name to IOS devices. What is read is held in memory only; nothing read
    from a device is logged (the reports show redacted evidence lines).
    """

    def __init__(
        self,
        devices: Sequence[Device],
        options: SessionOptions,
        *,
        intended: Mapping[str, str] | None = None,
        concurrency: int = 8,
        on_done: Callable[[Target], None] | None = None,
    ) -> None:
        absent = {d.name for d in devices if d.connection is not None and d.connection.lab_absent}
        self.packs = {
            d.name: p for d in devices if d.name not in absent and (p := live_pack(d)) is not None
        }
        self.devices = [d for d in devices if d.name in self.packs]
        self.skipped = sorted(d.name for d in devices if d.name not in self.packs)
        self.options = options
        self.intended = dict(intended or {})
        self.concurrency = concurrency
        self.on_done = on_done
        self.description = f"live: {len(self.devices)} device(s) over SSH"
        self.not_read = {
            d.name: ABSENT
            if d.name in absent
            else f"live audit of linux {d.function.value}s not supported yet: "
            "audit their outputs with --configs"
            for d in devices
            if d.name not in self.packs
        }
        if self.skipped:
            shown = ", ".join(self.skipped[:8]) + (" ..." if len(self.skipped) > 8 else "")
            self.description += (
                f"; skipped {len(self.skipped)} device(s) the live audit cannot read "
                f"(ios devices, nftables firewalls and linux servers are read: "
                f"audit the others with --configs): {shown}"
            )

    def targets(self) -> Iterator[Target]:
        from netwarden.devices.runner import run_each  # noqa: PLC0415  (imports the session layer)

        yield from run_each(
            self.devices,
            self._read,
            lambda d, exc: self._unreadable(d, f"{d.name}: internal error: {exc!r}"),
            concurrency=self.concurrency,
            on_done=self.on_done,
        )

    def _read(self, device: Device) -> Target:
        from netwarden.devices import session_for  # noqa: PLC0415  (NAPALM import is slow)
        from netwarden.devices.linux_nft import NFT_JSON  # noqa: PLC0415

        where = f"live/{device.name}"
        pack = self.packs[device.name]
        startup: Artifact | None = None
        try:
            session = session_for(device, self.options)
            session.open()
            try:
                if pack == "nftables":
                    running = Artifact(
                        f"{where}/nft -j list ruleset", session.send_command(NFT_JSON)
                    )
                elif pack == "linux":
                    running = Artifact(f"{where}/server-snapshot", session.get_config("running"))
                else:
                    running = Artifact(f"{where}/running-config", session.get_config("running"))
                    shown = session.get_config("startup")
                    startup = Artifact(f"{where}/startup-config", startup_text(shown))
            finally:
                session.close()
        except NetwardenError as exc:
            # Not logged above debug: the CLI prints every unreadable device once.
            logger.debug("%s: not audited: %s", device.name, exc)
            return self._unreadable(device, str(exc))
        target = Target(device.name, pack, running, startup=startup)
        if pack == "ios" and device.name in self.intended:
            target.intended = Artifact(f"intended:{device.name}", self.intended[device.name])
        return target

    def _unreadable(self, device: Device, reason: str) -> Target:
        return Target(
            device.name,
            self.packs.get(device.name, "ios"),
            Artifact(f"live/{device.name}", ""),
            error=reason,
        )
