"""The lab directory's bookkeeping: marker, write-ahead state file, lock, node table.

Layout of a lab directory (``--out``), which is also the lab inventory::

    <lab>/.netwarden-lab        marker: a directory netwarden may replace or remove
    <lab>/.lab/state.jsonl      the write-ahead state (below)
    <lab>/.lab/...              keys, generated files, the servers' overlay layers
    <lab>/hosts.yml, group_vars/, host_vars/, known_hosts.txt, .vault-password

Everything that is not the inventory lives under ``.lab/``: Ansible ignores dot
directories, so the lab directory stays a valid inventory (``-i <lab>``).

The state file is JSON lines, appended and never rewritten: a header (lab id, prefix,
source inventory, node table), then one line per :class:`~netwarden.lab.ns.record.Recorder`
call, written *before* the resource is created, and ``phase`` lines (``building``,
``ready``, ``stopping``). Each line is one ``write(2)`` to an ``O_APPEND`` file
descriptor: a process killed at any point leaves whole lines (a torn last line is
ignored), and the page cache outlives the process, so no ``fsync`` is needed for
``lab down`` after a crash of ``lab up`` (a crash of the machine takes the
namespaces with it).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from netwarden.basemodel import FrozenModel
from netwarden.errors import LabBusyError, LabError
from netwarden.lab.ns.record import KINDS

logger = logging.getLogger(__name__)

LAB_MARKER = ".netwarden-lab"
WORK_DIR = ".lab"
STATE_FILE = "state.jsonl"
FORMAT = 1


class NodeEntry(FrozenModel):
    """A node of the lab as ``status`` and ``exec`` need it."""

    kind: str
    netns: str
    site: str | None = None
    addresses: tuple[str, ...] = ()


class Header(FrozenModel):
    format: int = FORMAT
    lab_id: str
    prefix: str
    lab_dir: str
    source: str
    created: float
    pid: int
    nodes: dict[str, NodeEntry] = Field(default_factory=dict)


class Entry(FrozenModel):
    kind: str
    ident: str
    extra: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class LabState:
    """What the state file of a lab directory says."""

    lab_dir: Path
    header: Header
    entries: tuple[Entry, ...]
    phases: tuple[str, ...]

    @property
    def phase(self) -> str:
        return self.phases[-1] if self.phases else "created"

    @property
    def ready(self) -> bool:
        return self.phase == "ready"

    def of_kind(self, kind: str) -> list[Entry]:
        seen: dict[str, Entry] = {}
        for entry in self.entries:
            if entry.kind == kind:
                seen.setdefault(entry.ident, entry)
        return list(seen.values())

    def namespaces(self) -> list[str]:
        return [e.ident for e in self.of_kind("netns")]


def work_dir(lab_dir: Path) -> Path:
    return lab_dir / WORK_DIR


def state_path(lab_dir: Path) -> Path:
    return work_dir(lab_dir) / STATE_FILE


def is_lab_dir(path: Path) -> bool:
    return (path / LAB_MARKER).is_file()


@dataclass
class StateWriter:
    """Appends to the state file; an instance is the :class:`Recorder` of the build.

    Thread-safe: parts of the lab may start in threads.
    """

    path: Path
    _fd: int = -1
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, lab_dir: Path, header: Header) -> StateWriter:
        """A new state file holding ``header`` (an existing one is replaced)."""
        path = state_path(lab_dir)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        writer = cls(path)
        writer._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
        writer._write({"header": header.model_dump(mode="json")})
        return writer

    @classmethod
    def append_to(cls, lab_dir: Path) -> StateWriter:
        writer = cls(state_path(lab_dir))
        writer._fd = os.open(writer.path, os.O_WRONLY | os.O_APPEND)
        return writer

    def _write(self, obj: dict[str, Any]) -> None:
        line = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        with self._lock:
            written = os.write(self._fd, line)
        if written != len(line):
            raise LabError(f"{self.path}: short write to the state file ({written}/{len(line)})")

    def __call__(self, kind: str, ident: str, **extra: str) -> None:
        """The :class:`~netwarden.lab.ns.record.Recorder`: one line before the resource exists."""
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}; expected one of {', '.join(KINDS)}")
        self._write({"kind": kind, "ident": ident, "extra": {k: str(v) for k, v in extra.items()}})

    def phase(self, name: str) -> None:
        self._write({"phase": name, "at": time.time()})

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_state(lab_dir: Path) -> LabState | None:
    """The lab's state, or None when the directory has no state file.

    Raises:
        LabError: the state file's header is unreadable (a line further on that is
            cut short, the last one of a killed ``up``, is skipped).
    """
    path = state_path(lab_dir)
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return None
    header: Header | None = None
    entries: list[Entry] = []
    phases: list[str] = []
    for number, raw in enumerate(lines, start=1):
        try:
            obj = json.loads(raw)
            if "header" in obj:
                header = Header.model_validate(obj["header"])
            elif "phase" in obj:
                phases.append(str(obj["phase"]))
            else:
                entries.append(Entry.model_validate(obj))
        except (ValueError, ValidationError) as exc:
            if number == 1:
                raise LabError(f"{path}:1: the state header is unreadable: {exc}") from exc
            logger.warning("%s:%d: skipped an unreadable line: %s", path, number, exc)
    if header is None:
        raise LabError(f"{path}: no header line; expected a state file written by lab up")
    return LabState(lab_dir=lab_dir, header=header, entries=tuple(entries), phases=tuple(phases))


@contextlib.contextmanager
def lab_lock(lab_dir: Path, action: str) -> Iterator[None]:
    """Hold the lab directory's lock (``flock`` on the directory itself) for ``action``.

    Raises:
        LabBusyError: another process holds it (the pid of the ``up`` that wrote the
            state is named when there is one).
    """
    fd = os.open(lab_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise LabBusyError(
                f"{lab_dir}: another netwarden lab up or down is working on this lab"
                f"{_owner(lab_dir)}; wait for it (Ctrl-C on lab up removes what it built); "
                f"not lab {action}"
            ) from exc
        yield
    finally:
        os.close(fd)


def _owner(lab_dir: Path) -> str:
    try:
        state = read_state(lab_dir)
    except LabError:
        return ""
    return f" (lab up pid {state.header.pid})" if state is not None else ""
