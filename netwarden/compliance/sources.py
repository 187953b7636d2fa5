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
  ``auditctl-s.txt``, ``login.defs``, ``pam-password.txt``; or one bundle file
  with ``#@ <section>`` headers (see :mod:`netwarden.compliance.linux`).

Examples:
    >>> device_and_role(Path("jed-acc-sw1.startup.cfg"))
    ('jed-acc-sw1', 'startup')
    >>> device_and_role(Path("jed-fw1.json"))
    ('jed-fw1', 'running')
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from netwarden.compliance.models import ComplianceError

logger = logging.getLogger(__name__)

PLATFORMS = ("ios", "nftables", "linux")
LINUX_FILES = {
    "sshd": "sshd-T.txt",
    "sysctl": "sysctl.txt",
    "auditctl-l": "auditctl-l.txt",
    "auditctl-s": "auditctl-s.txt",
    "login.defs": "login.defs",
    "pam": "pam-password.txt",
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

    def artifacts(self) -> list[Artifact]:
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
    source as a whole cannot be read (missing folder, unreachable layer); a
    single unreadable device is logged and skipped, never silently passed.
    ``description`` says where the configs came from (for the run metadata).
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
    if path.suffix == ".json":
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

    def targets(self) -> Iterator[Target]:
        if not self.root.is_dir():
            raise ComplianceError(f"{self.root}: not a directory of configs")
        grouped: dict[str, dict[str, Path]] = {}
        platforms: dict[str, str] = {}
        for path in sorted(self.root.iterdir()):
            if path.name.startswith("."):
                continue
            plat = self.platform or detect_platform(path)
            if self.platform is not None and detect_platform(path) == "linux" and plat != "linux":
                continue
            name, role = device_and_role(path)
            grouped.setdefault(name, {})[role] = path
            platforms[name] = plat
        for name, roles in grouped.items():
            running = roles.get("running")
            if running is None:
                logger.warning(
                    "%s: startup/intended config without a running config; skipped", name
                )
                continue
            try:
                yield self._target(name, platforms[name], running, roles)
            except (OSError, UnicodeDecodeError) as exc:
                logger.warning("%s: cannot read %s: %s", name, running, exc)

    def _target(self, name: str, platform: str, running: Path, roles: dict[str, Path]) -> Target:
        if platform == "linux" and running.is_dir():
            extra = {
                key: Artifact(str(running / fname), (running / fname).read_text(errors="replace"))
                for key, fname in LINUX_FILES.items()
                if (running / fname).is_file()
            }
            return Target(name, platform, Artifact(str(running), ""), extra=extra)
        target = Target(name, platform, _read(running))
        if "startup" in roles:
            target.startup = _read(roles["startup"])
        if "intended" in roles:
            target.intended = _read(roles["intended"])
        elif name in self.intended:
            target.intended = Artifact(f"intended:{name}", self.intended[name])
        return target


def _read(path: Path) -> Artifact:
    return Artifact(str(path), path.read_text(encoding="utf-8", errors="replace"))


class LiveSource:
    """Configs read from the devices themselves: needs the device-session layer (issue 4).

    The seam is here so the CLI and the engine do not change when it lands:
    ``targets()`` will open a session per device and return running and
    startup configs the way :class:`FolderSource` does.
    """

    def __init__(self, devices: list[str]) -> None:
        self.devices = devices
        self.description = "live devices"

    def targets(self) -> Iterator[Target]:
        raise ComplianceError(
            "the live audit needs the device-session layer (issue 4), which is not there yet; "
            "audit backups instead with --configs DIR"
        )
