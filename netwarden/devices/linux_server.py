"""The ``linux`` server session: read-only, over SSH (paramiko), host key checked.

A server (``platform: linux``, ``function: server``) is configured by Ansible
(``playbooks/servers.yml``, the ``linux_server`` role); netwarden only reads it.
:meth:`LinuxServerSession.get_config` is the server snapshot
(:mod:`~netwarden.devices.linuxstate`): ``sshd -T`` of the running sshd's config,
sysctls, auditd, login.defs, PAM, installed packages and listening sockets, each
section saying what was run, as whom and on which address. The live audit audits
it with the linux rule pack, ``backup`` stores it, ``drift`` compares it with the
last backup (a server has no rendered intended config).

Reads that need root (``sshd -T`` reads the host keys; ``ss -p``; ``auditctl``) are
one fixed command line each through ``sudo -n`` (never a password prompt), so sudoers
can allow exactly them; when sudo refuses, the read is tried as the login user and the
section says so. Everything that would change the server
(load, commit, confirm, rollback) raises ``DeviceError``.
"""

from __future__ import annotations

import logging
import shlex

from netwarden.devices.base import ConfigKind, Facts, PendingCommit, SessionOptions, address_of
from netwarden.devices.linuxssh import LinuxSsh, user_sh
from netwarden.devices.linuxstate import (
    AS_USER,
    HAS,
    READS,
    SNAPSHOT_MARK,
    SSHD_CONFIG,
    Read,
    sanitize_snapshot,
    section_text,
)
from netwarden.errors import DeviceError
from netwarden.inventory.models import Device, Function

logger = logging.getLogger(__name__)

READ_ONLY = "linux servers are read-only for netwarden: configure them with playbooks/servers.yml"
_SUDO_REFUSED = ("sudo:", "a password is required", "not allowed", "not in the sudoers")


def is_linux_server(device: Device) -> bool:
    """Whether ``device`` is a server (what :class:`LinuxServerSession` serves)."""
    return device.function is Function.SERVER


class LinuxServerSession(LinuxSsh):
    """:class:`~netwarden.devices.base.DeviceSession` of a Linux server: reads, never writes."""

    def __init__(self, device: Device, options: SessionOptions) -> None:
        super().__init__(device, options)
        self._user = ""

    def get_config(self, which: ConfigKind = "running") -> str:
        """The server snapshot (``running``; a server has no ``startup``)."""
        if which != "running":
            raise DeviceError(self.name, f"a linux server has no {which} config (running only)")
        return self.read_snapshot()

    def read_snapshot(self) -> str:
        host, port = address_of(self.device)
        where = f"on {self.name} ({host}:{port})"
        parts = [f"{SNAPSHOT_MARK}: {self.name} (read-only; secrets removed)\n"]
        for read in READS:
            parts.append(self._section(read, where))
        return sanitize_snapshot("".join(parts))

    def _section(self, read: Read, where: str) -> str:
        what = read.what
        if read.root:
            rc, out, err, who, what = self._as_root(read)
        else:
            args = (read.arg,) if read.arg else ()
            who = f"as {self._login()}"
            rc, out, err = self._run(f"read {read.what}", user_sh(read.script, *args))
        source = f"{what} {who} {where}"
        if rc != 0:
            logger.debug("%s: %s failed (exit %d): %s", self.name, read.what, rc, err)
            return section_text(read, source, None, f"exit {rc}: {err or 'no message'}")
        return section_text(read, source, out)

    def _as_root(self, read: Read) -> tuple[int, str, str, str, str]:
        """``sudo -n <command>`` (as the login user when sudo refuses): rc, out, err, who, what."""
        argv = list(read.root)
        what = read.what
        if self._run(f"find {argv[0]}", user_sh(HAS, argv[0]))[0] != 0:
            return 0, f"# {argv[0]} is not installed\n", "", f"as {self._login()}", what
        if read.section == "sshd":
            config = self._ok("find the sshd config", user_sh(SSHD_CONFIG)).strip()
            argv.append(config)
            what = f"sshd -T -f {config}"
        rc, out, err = self._run(
            f"read {read.what}", " ".join(shlex.quote(a) for a in ["sudo", "-n", *argv])
        )
        who = "as root"
        if rc != 0 and any(s in err for s in _SUDO_REFUSED):
            who = f"as {self._login()} (sudo -n refused: {err})"
            rc, out, err = self._run(f"read {read.what}", user_sh(AS_USER, *argv))
        return rc, out, err, who, what

    def _login(self) -> str:
        if not self._user:
            self._user = self._ok("who am I", "id -un").strip() or "?"
        return self._user

    # ------------------------------------------------------------ read-only contract
    def load_replace_candidate(self, config: str) -> None:
        del config
        raise DeviceError(self.name, READ_ONLY)

    def compare(self) -> str:
        raise DeviceError(self.name, READ_ONLY)

    def commit(self, revert_in: int | None = None) -> None:
        del revert_in
        raise DeviceError(self.name, READ_ONLY)

    def confirm(self) -> None:
        raise DeviceError(self.name, READ_ONLY)

    def rollback(self) -> None:
        raise DeviceError(self.name, READ_ONLY)

    def discard(self) -> None:
        """Nothing is ever staged on a server: nothing to discard."""

    def has_pending_commit(self) -> bool:
        return False

    def pending_commit(self) -> PendingCommit | None:
        return None

    def get_facts(self) -> Facts:
        script = '. /etc/os-release 2>/dev/null; hostname; uname -r; echo "${PRETTY_NAME:-}"'
        lines = [*self._ok("get facts", "sh -c " + shlex.quote(script)).splitlines(), "", "", ""]
        return Facts(
            hostname=lines[0].strip(),
            model="linux server",
            os_version=f"{lines[2].strip() or 'Linux'}, kernel {lines[1].strip()}",
        )
