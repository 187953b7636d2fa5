"""A lab server's identity, written into its root before its daemons start.

- ``/etc/hostname``, ``/etc/hosts`` (its own addresses), ``/etc/resolv.conf`` (the
  lab's DNS servers, never the host's: with none given, 127.0.0.1, which answers
  only if the server runs unbound itself);
- the automation user (``netwarden``): passwd/group/shadow lines appended (so they
  live in the overlay's upper directory), a home with ``~/.ssh/authorized_keys``
  holding the lab's public key, and passwordless sudo when sudo is installed (the
  lab's Ansible runs become like on a real server). The shadow password is ``*``:
  no password login, key login allowed.

Every function takes the server's ``root`` so unit tests write into a directory.
"""

from __future__ import annotations

import logging
import os
import re
from ipaddress import IPv4Address
from pathlib import Path

logger = logging.getLogger(__name__)

_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( [^\n]*)?$")
FIRST_UID = 2000


def _write(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink():  # e.g. resolv.conf -> /run/...: replace the link, never follow it
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(mode)


def write_identity(
    root: Path, hostname: str, addresses: tuple[IPv4Address, ...], dns: tuple[IPv4Address, ...]
) -> None:
    """hostname, hosts and resolv.conf of the server.

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_identity(Path(tmp), "jed-ntp1", (IPv4Address("10.10.20.11"),), ())
        ...     print((Path(tmp) / "etc/resolv.conf").read_text().strip())
        nameserver 127.0.0.1
    """
    _write(root / "etc/hostname", f"{hostname}\n", 0o644)
    hosts = ["127.0.0.1\tlocalhost", *(f"{a}\t{hostname}" for a in addresses)]
    _write(root / "etc/hosts", "\n".join(hosts) + "\n", 0o644)
    servers = dns or (IPv4Address("127.0.0.1"),)
    _write(root / "etc/resolv.conf", "".join(f"nameserver {s}\n" for s in servers[:3]), 0o644)


def _ids_in_use(path: Path) -> set[int]:
    if not path.is_file():
        return set()
    return {
        int(parts[2])
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(parts := line.split(":")) > 2 and parts[2].isdigit()
    }


def _has_entry(path: Path, name: str) -> bool:
    return path.is_file() and any(
        line.split(":", 1)[0] == name for line in path.read_text(encoding="utf-8").splitlines()
    )


def _append(path: Path, line: str) -> None:
    """Append a line, keeping the file's mode and owner (shadow stays 0640 root:shadow)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(("\n" if text and not text.endswith("\n") else "") + line + "\n")


def add_automation_user(root: Path, user: str, public_key: str) -> tuple[int, int]:
    """The automation user with ``public_key`` as its only key; return (uid, gid).

    An existing user of that name (in the host's files, seen through the overlay)
    is kept; its key file is replaced.

    Raises:
        ValueError: ``public_key`` is not one OpenSSH public key line.
    """
    public_key = public_key.strip()
    if not _KEY.match(public_key):
        raise ValueError(
            "the automation public key must be one OpenSSH public key line "
            f"('ssh-ed25519 AAAA... comment'), not {public_key[:40]!r}"
        )
    etc = root / "etc"
    passwd, group, shadow = etc / "passwd", etc / "group", etc / "shadow"
    if _has_entry(passwd, user):
        entry = next(
            line.split(":")
            for line in passwd.read_text(encoding="utf-8").splitlines()
            if line.split(":", 1)[0] == user
        )
        uid, gid, home = int(entry[2]), int(entry[3]), Path(entry[5])
    else:
        used = _ids_in_use(passwd) | _ids_in_use(group)
        uid = next(n for n in range(FIRST_UID, 60000) if n not in used)
        gid, home = uid, Path("/home") / user
        _append(passwd, f"{user}:x:{uid}:{gid}:netwarden lab automation:{home}:/bin/bash")
        if not _has_entry(group, user):
            _append(group, f"{user}:x:{gid}:")
        if not _has_entry(shadow, user):
            _append(shadow, f"{user}:*:19000:0:99999:7:::")
        logger.info("automation user %s added (uid %d)", user, uid)
    home_dir = root / str(home).lstrip("/")
    ssh_dir = home_dir / ".ssh"
    ssh_dir.mkdir(parents=True, exist_ok=True)
    _write(ssh_dir / "authorized_keys", public_key + "\n", 0o600)
    for path, mode in ((home_dir, 0o750), (ssh_dir, 0o700), (ssh_dir / "authorized_keys", 0o600)):
        path.chmod(mode)
        if os.geteuid() == 0:
            os.chown(path, uid, gid)
    if (root / "usr/bin/sudo").is_file():
        _write(root / f"etc/sudoers.d/{user}-lab", f"{user} ALL=(ALL:ALL) NOPASSWD: ALL\n", 0o440)
    return uid, gid
