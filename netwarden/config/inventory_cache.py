"""The inventory, loaded once per process while its files are unchanged (the Ansible route).

On the Ansible route every plugin call names the inventory again: the
``netwarden_config`` and ``netwarden_backup`` action plugins once per host, the
lookups once per batch. Reading it (Ansible's InventoryManager, the vault, every
check) costs far more than a device's render, so :func:`cached_inventory` keeps
what it read in memory, for the process:

- keyed by the inventory path (as given and resolved) and the vault password file
  that opens it (resolved as :func:`~netwarden.inventory.vault.find_vault_password_file`
  does: option, environment, ``.vault-password``);
- checked against a fingerprint of the files it was read from (every file under
  the inventory, or the inventory file and its ``group_vars``/``host_vars``, and the
  password file: path, size, mtime, inode), so an edited inventory is read again;
- bounded (:data:`MAX_ENTRIES` inventories, least recently used dropped);
- thread-safe (one lock; a read of an inventory is serialised with the others).

Only an inventory that loaded and validated is kept: an invalid one raises every
time. Ansible forks a worker process per task and host, and a worker gets a copy
of what its parent process held: what this saves there is the reads of one
process (a unit of work calling the API for several hosts, a lookup called
more than once), not the reads of sibling workers.

Examples:
    >>> clear()
    >>> info()
    CacheInfo(loads=0, hits=0, entries=0)
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import NamedTuple

from netwarden.inventory import Inventory, load_inventory
from netwarden.inventory.vault import find_vault_password_file

logger = logging.getLogger(__name__)

MAX_ENTRIES = 4
"""Inventories kept per process (a play names one; tests and tools a few)."""

_Key = tuple[str, str, str | None]
_Stamp = tuple[tuple[str, int, int, int], ...]


class CacheInfo(NamedTuple):
    """What the cache did in this process: inventories read, reads saved, entries held."""

    loads: int
    hits: int
    entries: int


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[_Key, tuple[_Stamp, Inventory]] = OrderedDict()
        self.loads = 0
        self.hits = 0


_cache = _Cache()


def _reset_after_fork() -> None:
    """A forked child starts with a free lock (the parent's may be held by another thread)."""
    _cache.lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def _stat(path: Path) -> tuple[str, int, int, int]:
    try:
        st = path.stat()
    except OSError:
        return (str(path), -1, -1, -1)
    return (str(path), st.st_size, st.st_mtime_ns, st.st_ino)


def _files(root: Path) -> list[Path]:
    """The files Ansible may read for the inventory ``root``, hidden directories left out.

    A directory: every file under it (its sources, ``group_vars``, ``host_vars``).
    A file: it, and everything under ``group_vars``/``host_vars`` beside it.
    """
    if root.is_dir():
        tops = [root]
        found: list[Path] = []
    else:
        tops = [root.parent / "group_vars", root.parent / "host_vars"]
        found = [root]
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found.extend(Path(dirpath) / name for name in sorted(filenames))
    return found


def fingerprint(root: Path, vault_password_file: Path | None) -> _Stamp:
    """Path, size, mtime and inode of the inventory's files and the password file.

    Examples:
        >>> fingerprint(Path("/nonexistent/hosts.yml"), None)
        (('/nonexistent/hosts.yml', -1, -1, -1),)
    """
    files = _files(root)
    if vault_password_file is not None:
        files.append(vault_password_file)
    return tuple(_stat(path) for path in files)


def cached_inventory(
    path: str | os.PathLike[str], vault_password_file: Path | None = None
) -> Inventory:
    """:func:`~netwarden.inventory.load_inventory`, read once per process while its files are unchanged.

    Raises:
        NetwardenError: the inventory is invalid or cannot be read (nothing is kept).
    """
    root = Path(path)
    resolved = root.resolve()
    password = find_vault_password_file(root, vault_password_file)
    key: _Key = (os.fspath(path), str(resolved), str(password.resolve()) if password else None)
    with _cache.lock:
        stamp = fingerprint(resolved, password)
        held = _cache.entries.get(key)
        if held is not None and held[0] == stamp:
            _cache.entries.move_to_end(key)
            _cache.hits += 1
            logger.debug("inventory %s: in memory", root)
            return held[1]
        inventory = load_inventory(path, vault_password_file)
        _cache.loads += 1
        logger.debug("inventory %s: loaded (%d files)", root, len(stamp))
        _cache.entries[key] = (stamp, inventory)
        _cache.entries.move_to_end(key)
        while len(_cache.entries) > MAX_ENTRIES:
            _cache.entries.popitem(last=False)
        return inventory


def info() -> CacheInfo:
    """The counters of this process (reads, hits) and how many inventories are held."""
    with _cache.lock:
        return CacheInfo(_cache.loads, _cache.hits, len(_cache.entries))


def clear() -> None:
    """Forget every inventory and reset the counters (tests; a long-lived process)."""
    with _cache.lock:
        _cache.entries.clear()
        _cache.loads = _cache.hits = 0
