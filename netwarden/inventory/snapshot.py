"""A secret-free snapshot of a validated inventory on disk, for readers that need no secret.

Reading the inventory through Ansible (decrypting the vault, merging variables,
validating, checking) costs ~0.6 s of CPU plus ~0.4 s of Ansible imports: more
than the auditor needs to start and read its first packet. The auditor reads the
sites, zones, devices, services and the flow policy, never a secret. So after a
successful full read, :func:`load_inventory_snapshot` writes the validated model
as JSON with every ``SecretStr`` masked (pydantic writes ``"**********"``) and
reads it back in ~10 ms while no input changed.

Safe by construction, and only where that holds:

- No secret on disk (decision 46 refused a disk cache of decrypted secrets): the
  models declare every secret ``SecretStr``; a test checks that no value of the
  example vault appears in the snapshot. The returned model carries masked
  secrets, so it is for readers that never use one (the auditor); renderers and
  device sessions keep :func:`~netwarden.inventory.load_inventory`.
- Never stale: the file is named after a hash of every input of the read (each
  file under the inventory directory with its size, mtime, inode and mode; the
  vault password file and the Ansible configuration files the same way; the
  ``ANSIBLE_*`` environment; the working directory; the netwarden version and the
  inventory package's own source files). A change to any of them is a miss: the
  full read runs again (and reports problems as before).
- Never someone else's: the directory is ``0700``, the file ``0600``, and a file
  not owned by this user, or writable by others, is ignored. The file is JSON
  validated by the model, never unpickled.
- Only a valid inventory is written: a read with problems raises as before.

``NETWARDEN_INVENTORY_SNAPSHOT=0`` turns it off. The files live in
``$XDG_CACHE_HOME/netwarden/inventory`` (``~/.cache`` by default; under systemd,
the unit's ``CacheDirectory=``); older snapshots of the same inventory are removed
when a new one is written. A directory that cannot be written (``ProtectHome=``)
only means every start reads in full, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import sys
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from netwarden import __version__, basemodel
from netwarden.inventory.models import Inventory
from netwarden.inventory.vault import find_vault_password_file
from netwarden.privatefile import write_private

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

ENV_SWITCH = "NETWARDEN_INVENTORY_SNAPSHOT"
"""``0`` (or ``no``, ``off``, ``false``): always read the inventory through Ansible."""

INVENTORY = "inventory"
"""The ``kind`` of the inventory model's snapshot."""

_PACKAGE = Path(__file__).resolve().parent
_MAX_FILES = 20_000
"""An inventory directory with more files than this is not snapshotted (the walk
that keys the snapshot must stay cheaper than what it saves)."""


def snapshot_dir() -> Path | None:
    """Where snapshots live: systemd's ``$CACHE_DIRECTORY`` (a unit's ``CacheDirectory=``),
    else ``$XDG_CACHE_HOME/netwarden/inventory`` (``~/.cache/...``); None without a home."""
    if os.environ.get("CACHE_DIRECTORY"):
        return Path(os.environ["CACHE_DIRECTORY"].split(":")[0]) / "inventory"
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except (RuntimeError, KeyError):  # no $HOME and no passwd entry (a bare service user)
            return None
    return Path(base) / "netwarden" / "inventory"


def enabled() -> bool:
    """Whether snapshots are used (``NETWARDEN_INVENTORY_SNAPSHOT`` is not ``0``/``no``/``off``)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in {"0", "no", "off", "false"}


def _stat_line(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return f"{path}:absent"
    return f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_mode:o}"


def _ansible_configs() -> list[Path]:
    """Every file Ansible may take its configuration from (it reads the first that exists)."""
    named = os.environ.get("ANSIBLE_CONFIG")
    found = [Path(named)] if named else []
    return [
        *found,
        Path.cwd() / "ansible.cfg",
        Path(os.path.expanduser("~/.ansible.cfg")),  # noqa: PTH111  (no home: left as is)
        Path("/etc/ansible/ansible.cfg"),
    ]


def _model_sources(model: type[BaseModel]) -> list[Path]:
    """The source files that define ``model`` (its module, the shared base model): a change
    to a model (a new default) must not be hidden by a snapshot dumped by the old one."""
    files = [sys.modules[model.__module__].__file__, basemodel.__file__]
    return [Path(f) for f in files if f]


def snapshot_key(
    path: Path, vault_password_file: Path | None, model: type[BaseModel] = Inventory
) -> str | None:
    """The hash of every input of reading ``path`` into ``model``; None if it cannot be
    computed cheaply."""
    root = path.resolve()
    lines = [f"netwarden {__version__}", f"cwd {Path.cwd()}", f"inventory {root}"]
    lines += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith("ANSIBLE_"))
    lines += [_stat_line(p) for p in sorted(_PACKAGE.glob("*.py"))]
    lines += [_stat_line(p) for p in _model_sources(model)]
    pw_file = find_vault_password_file(root, vault_password_file)
    lines.append(f"vault {_stat_line(pw_file.resolve()) if pw_file else 'none'}")
    lines += [_stat_line(p) for p in _ansible_configs()]
    if root.is_dir():
        count = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            lines.append(_stat_line(Path(dirpath)))
            for name in sorted(filenames):
                count += 1
                if count > _MAX_FILES:
                    return None
                lines.append(_stat_line(Path(dirpath) / name))
    else:
        lines.append(_stat_line(root))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _owned_private(path: Path, kind: int) -> bool:
    """Whether ``path`` is a file (``kind`` ``stat.S_IFREG``) or directory (``S_IFDIR``) of
    this user that nobody else may write (a symbolic link is neither)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return (
        stat.S_IFMT(st.st_mode) == kind
        and st.st_uid == os.getuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _snapshot_file(path: Path, key: str, kind: str) -> Path | None:
    directory = snapshot_dir()
    return None if directory is None else directory / f"{_name_prefix(path)}-{kind}-{key}.json"


def _name_prefix(path: Path) -> str:
    """The part of a snapshot's file name shared by every snapshot of one inventory."""
    return hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]


def read_snapshot(
    path: Path, vault_password_file: Path | None, model: type[M], kind: str
) -> M | None:
    """The ``kind`` snapshot (a ``model``) of ``path`` if it matches every input of the
    read; else None. ``kind`` names what was read: ``inventory``, ``auditor-config``."""
    if not enabled():
        return None
    key = snapshot_key(path, vault_password_file, model)
    if key is None:
        return None
    file = _snapshot_file(path, key, kind)
    if file is None:
        return None
    if not (_owned_private(file, stat.S_IFREG) and _owned_private(file.parent, stat.S_IFDIR)):
        if file.exists():
            logger.warning("inventory snapshot %s ignored: not a private file of this user", file)
        return None
    try:
        return model.model_validate_json(file.read_bytes())
    except (OSError, ValueError) as exc:
        logger.debug("inventory snapshot %s not used: %s", file, exc)
        return None


def write_snapshot(
    path: Path, vault_password_file: Path | None, value: BaseModel, kind: str
) -> None:
    """Write ``value`` (read from ``path``) as its ``kind`` snapshot, secrets masked;
    failures are logged only (the next run reads in full again)."""
    if not enabled():
        return
    key = snapshot_key(path, vault_password_file, type(value))
    if key is None:
        return
    file = _snapshot_file(path, key, kind)
    if file is None:
        return
    try:
        write_private(file, value.model_dump_json())
    except OSError as exc:
        logger.debug("inventory snapshot not written to %s: %s", file, exc)
        return
    for old in file.parent.glob(f"{_name_prefix(path)}-{kind}-*.json"):
        if old != file:
            with contextlib.suppress(OSError):
                old.unlink()


def load_inventory_snapshot(path: Path, vault_password_file: Path | None = None) -> Inventory:
    """The validated inventory at ``path`` with its secrets masked: from the snapshot when
    no input changed, else read in full (:func:`~netwarden.inventory.load_inventory`, same
    errors) and snapshotted.

    Raises:
        InventoryError: the inventory cannot be read or has problems (as ``load_inventory``).
    """
    cached = read_snapshot(path, vault_password_file, Inventory, INVENTORY)
    if cached is not None:
        return cached
    from netwarden.inventory.loader import load_inventory  # noqa: PLC0415  (Ansible: slow)

    inv = load_inventory(path, vault_password_file)
    write_snapshot(path, vault_password_file, inv, INVENTORY)
    return inv
