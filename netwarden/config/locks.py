"""Apply locks: one apply per inventory, one run per device, across processes.

Two applies at once used to interleave on the devices and leave the fleet split
between their configs. A lock here is a small JSON file naming its holder (user,
host, pid, command, since when); taking it is a read-check-write done under
``flock`` on that file, so two processes never both win. The holder is a *run*,
not a process:

- ``netwarden apply`` (and any caller of :func:`~netwarden.config.apply.apply_fleet`)
  is one process; its device threads share its run;
- on the Ansible route every host is worked on by a forked worker
  (``multiprocessing``, fork context) of ansible-playbook: the run is the
  controller (the workers' parent), so the forks of one play share the locks and
  another play, or a CLI apply, is refused.

A lock whose holder process is gone (crashed, killed, or an ansible-playbook that
ended) is free: the next run takes it over with a warning. Liveness is the pid
*and* its start time (``/proc/<pid>/stat``), so a reused pid does not keep a lock;
a holder on another host (a shared lock directory) is taken as alive.

Files: ``<lock dir>/apply-<inventory>-<hash>.lock`` (per inventory, held for the
whole run; the CLI releases it at the end, an Ansible play when the controller
exits) and ``<lock dir>/device-<name>-<hash>.lock`` (per device and address, held
while that device is backed up and applied). The lock directory is
``$NETWARDEN_LOCK_DIR``, else ``.netwarden-locks`` in the inventory directory
(Ansible ignores dot names in an inventory directory). Point several inventories
(or several checkouts) at one ``NETWARDEN_LOCK_DIR`` to make their device locks
exclude each other too.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import re
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from netwarden.errors import LockError
from netwarden.identity import current_user

logger = logging.getLogger(__name__)

LOCK_DIR_ENV = "NETWARDEN_LOCK_DIR"
LOCK_DIR_NAME = ".netwarden-locks"
GUARD_TIMEOUT = 10.0
"""Seconds to wait for the ``flock`` guarding a read-check-write (held for milliseconds)."""
_SECRET_OPTIONS = frozenset({"-e", "--extra-vars", "--vault-password", "--become-password"})
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: a run, identified by ``host``, ``pid`` and the pid's start time.

    Attributes:
        host: the host name of the machine the run is on.
        pid: the run's process (the ansible-playbook controller for its forks).
        started: the process start time (clock ticks since boot, from ``/proc``; ""
            when unknown): with ``pid`` it tells a live holder from a reused pid.
        user: who runs it.
        command: its command line (option values that may be secrets removed).
        since: when the lock was taken (UTC, ISO 8601).
    """

    host: str
    pid: int
    started: str
    user: str
    command: str
    since: str = ""

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.host, self.pid, self.started)

    def describe(self) -> str:
        """``user alice on host h, pid 42 (netwarden apply ...), since 2026-...``."""
        return (
            f"user {self.user} on host {self.host}, pid {self.pid} ({self.command}), "
            f"since {self.since or 'an unknown time'}"
        )

    @classmethod
    def this_run(cls) -> Holder:
        """The run this process belongs to.

        Itself, or its parent when this process is a ``multiprocessing`` worker (an
        Ansible fork): the forks of one ansible-playbook share their controller's run.
        """
        parent = multiprocessing.parent_process()
        pid = parent.pid if parent is not None and parent.pid else os.getpid()
        argv = _cmdline(pid) or list(sys.argv)
        return cls(
            host=socket.gethostname(),
            pid=pid,
            started=_start_time(pid),
            user=current_user(),
            command=safe_command(argv),
            since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )


def in_worker() -> bool:
    """Whether this process is a ``multiprocessing`` worker (an Ansible fork) of its run."""
    return multiprocessing.parent_process() is not None


def safe_command(argv: Sequence[str]) -> str:
    """A command line for a lock file: no interpreter, no values of options that may hold secrets.

    Examples:
        >>> safe_command(["/venv/bin/python", "/venv/bin/ansible-playbook", "-e", "pw=x", "p.yml"])
        'ansible-playbook -e <removed> p.yml'
        >>> safe_command(["/venv/bin/netwarden", "apply", "-i", "lab", "--yes"])
        'netwarden apply -i lab --yes'
    """
    args = list(argv)
    if args and Path(args[0]).name.startswith("python") and len(args) > 1:
        args = args[1:]
    if not args:
        return "unknown command"
    out = [Path(args[0]).name]
    hide = False
    for arg in args[1:]:
        if hide:
            out.append("<removed>")
            hide = False
        elif arg in _SECRET_OPTIONS:
            out.append(arg)
            hide = True
        elif arg.startswith("--") and arg.split("=", 1)[0] in _SECRET_OPTIONS:
            out.append(arg.split("=", 1)[0] + "=<removed>")
        elif arg.startswith("-e") and not arg.startswith("--"):
            out.append("-e<removed>")
        else:
            out.append(arg)
    text = " ".join(out)
    return text if len(text) <= 200 else text[:197] + "..."


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]


def _start_time(pid: int) -> str:
    """The process start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), or ""."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def is_alive(holder: Holder) -> bool:
    """Whether the holder's run still exists (a holder on another host is taken as alive)."""
    if holder.host != socket.gethostname():
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, as another user
    # A different start time: the pid was reused by a newer process.
    return not (holder.started and _start_time(holder.pid) not in ("", holder.started))


# ----------------------------------------------------------------- paths
def slug(text: str) -> str:
    """A file-name-safe form of ``text``.

    Examples:
        >>> slug("bru acc/sw1")
        'bru-acc-sw1'
    """
    return _SLUG.sub("-", text).strip("-") or "x"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def lock_dir_for(inventory: Path) -> Path:
    """``$NETWARDEN_LOCK_DIR``, else ``.netwarden-locks`` in the inventory's directory."""
    configured = os.environ.get(LOCK_DIR_ENV)
    if configured:
        return Path(configured)
    base = inventory if inventory.is_dir() else inventory.parent
    return base / LOCK_DIR_NAME


def inventory_lock_path(lock_dir: Path, inventory: Path) -> Path:
    """The inventory's lock file (its name, and a hash of its resolved path)."""
    resolved = inventory.resolve()
    return lock_dir / f"apply-{slug(resolved.name)}-{_digest(str(resolved))}.lock"


def device_lock_path(lock_dir: Path, name: str, host: str, port: int) -> Path:
    """A device's lock file: by name and address (a lab device and a real one never share)."""
    return lock_dir / f"device-{slug(name)}-{_digest(f'{name}@{host}:{port}')}.lock"


# ----------------------------------------------------------------- locking
@contextlib.contextmanager
def _guarded(path: Path) -> Iterator[int]:
    """The lock file, open and ``flock``-ed for one read-check-write."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o664)
    except OSError as exc:
        raise LockError(
            f"cannot open the lock file {path}: {exc.strerror}; "
            f"set {LOCK_DIR_ENV} to a directory you can write"
        ) from exc
    try:
        deadline = time.monotonic() + GUARD_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise LockError(
                        f"the lock file {path} stays busy (flock: {exc.strerror}); "
                        "is a process stopped while taking it?"
                    ) from exc
                time.sleep(0.02)
        yield fd
    finally:
        os.close(fd)  # releases the flock


def _read(fd: int, path: Path) -> Holder | None:
    raw = os.pread(fd, 65536, 0)
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
        return Holder(**{k: data[k] for k in Holder.__dataclass_fields__ if k in data})
    except (ValueError, TypeError) as exc:
        logger.warning("%s: unreadable lock file (%s); taking it over", path, exc)
        return None


def _write(fd: int, holder: Holder | None, what: str = "") -> None:
    os.ftruncate(fd, 0)
    if holder is not None:
        data = {**asdict(holder), "what": what}
        os.pwrite(fd, (json.dumps(data, indent=2) + "\n").encode(), 0)
    os.fsync(fd)


def holder_of(path: Path) -> Holder | None:
    """The live holder of a lock file, None if it is free."""
    if not path.exists():
        return None
    with _guarded(path) as fd:
        current = _read(fd, path)
    return current if current is not None and is_alive(current) else None


def acquire(path: Path, holder: Holder, what: str) -> bool:
    """Take the lock for ``holder``'s run; True if taken now, False if the run already held it.

    Raises:
        LockError: another live run holds it (the message names the holder), or the
            lock file cannot be opened.
    """
    with _guarded(path) as fd:
        current = _read(fd, path)
        if current is not None and current.key == holder.key:
            return False
        if current is not None:
            if is_alive(current):
                raise LockError(
                    f"{what} is being applied by another run: {current.describe()} "
                    f"(lock file {path}); nothing was changed, try again when it has finished"
                )
            logger.warning(
                "%s: taking over the lock of a run that ended: %s", what, current.describe()
            )
        _write(fd, holder, what)
        logger.debug("%s: locked by %s", what, holder.describe())
        return True


def release(path: Path, holder: Holder) -> None:
    """Free the lock if ``holder``'s run holds it (never someone else's)."""
    with contextlib.suppress(LockError), _guarded(path) as fd:
        current = _read(fd, path)
        if current is not None and current.key == holder.key:
            _write(fd, None)


@contextlib.contextmanager
def locked(path: Path, holder: Holder, what: str, *, keep: bool = False) -> Iterator[None]:
    """Hold the lock for the block; released at the end unless ``keep`` or held before.

    ``keep``: the run keeps the lock after the block (an Ansible fork: the play
    holds its inventory until ansible-playbook exits).
    """
    taken = acquire(path, holder, what)
    try:
        yield
    finally:
        if taken and not keep:
            release(path, holder)
