"""``netwarden lab down``: remove exactly what ``lab up`` created, even half of it.

Works from the state file alone (``state.py``), in this order:

1. processes: those recorded (``pid:starttime``, so a reused pid is never signalled)
   and every process whose network namespace is one of the lab's (daemons, their
   children, a shell an engineer left in ``lab exec``): SIGTERM, then SIGKILL;
2. links recorded in the host namespace (the lab never creates one; listed for
   completeness of the contract);
3. namespaces (``ip netns del``; their veths, bridges, routes and rulesets go with them);
4. files and directories recorded outside the lab directory;
5. the lab directory itself, unless a mount is still active below it (then it
   is left and named, so nothing is deleted through a mount).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from netwarden.errors import LabNotFoundError
from netwarden.lab.ns import netops
from netwarden.lab.ns.record import parse_pid_ident
from netwarden.lab.ns.state import (
    LAB_MARKER,
    LabState,
    StateWriter,
    is_lab_dir,
    lab_lock,
    read_state,
)
from netwarden.lab.ns.status import lab_processes, pid_alive

logger = logging.getLogger(__name__)

TERM_WAIT = 5.0
KILL_WAIT = 5.0
ROUNDS = 3


@dataclass(frozen=True)
class DownResult:
    lab_dir: Path
    namespaces: int
    processes: int
    files: int
    problems: tuple[str, ...]


def lab_down(lab_dir: Path) -> DownResult:
    """Remove the lab in ``lab_dir`` (running or half-built) and the directory.

    Raises:
        LabNotFoundError: ``lab_dir`` is no lab directory.
        LabBusyError: an ``up`` is running on it.
    """
    lab_dir = lab_dir.resolve()
    if not lab_dir.is_dir() or not is_lab_dir(lab_dir):
        raise LabNotFoundError(
            f"{lab_dir} is not a lab directory (no {LAB_MARKER}); nothing removed"
        )
    with lab_lock(lab_dir, "down"):
        return remove_lab(lab_dir, read_state(lab_dir), remove_dir=True)


def _recorded_pids(state: LabState) -> dict[int, str]:
    found: dict[int, str] = {}
    for entry in state.of_kind("pid"):
        try:
            pid, _ = parse_pid_ident(entry.ident)
        except ValueError:
            logger.warning("state: unreadable pid record %r", entry.ident)
            continue
        if pid_alive(entry.ident):
            found[pid] = entry.extra.get("role", "recorded")
    return found


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True
    return stat[stat.rindex(")") + 2 :].split()[0] in ("Z", "X")


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    left = {p for p in pids if not _gone(p)}
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = {p for p in left if not _gone(p)}
    return left


def stop_processes(state: LabState, namespaces: list[str]) -> tuple[int, list[str]]:
    """Stop every lab process; return how many were stopped and what would not die."""
    stopped: set[int] = set()
    problems: list[str] = []
    for _ in range(ROUNDS):  # a dying daemon may have forked: look again
        targets = set(_recorded_pids(state)) | set(lab_processes(namespaces))
        targets -= {os.getpid()}
        if not targets:
            break
        _signal_all(targets, signal.SIGTERM)
        left = _wait_gone(targets, TERM_WAIT)
        if left:
            _signal_all(left, signal.SIGKILL)
            left = _wait_gone(left, KILL_WAIT)
        stopped |= targets - left
        if left:
            problems = [f"process {p} would not stop" for p in sorted(left)]
    return len(stopped), problems


def _remove_outside(state: LabState, lab_dir: Path) -> int:
    removed = 0
    for kind in ("file", "dir"):
        for entry in reversed(state.of_kind(kind)):
            path = Path(entry.ident)
            if not path.is_absolute() or path.resolve().is_relative_to(lab_dir):
                continue
            if kind == "file" and (path.is_file() or path.is_symlink()):
                path.unlink()
                removed += 1
            elif kind == "dir" and path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
                removed += 1
    return removed


def _host_links(state: LabState) -> list[str]:
    names = []
    for entry in state.of_kind("link"):
        netns, _, ifname = entry.ident.partition("/")
        if not netns and ifname:
            names.append(ifname)
    return names


def remove_lab(lab_dir: Path, state: LabState | None, *, remove_dir: bool) -> DownResult:
    """Remove what ``state`` records, then the lab directory (or only its contents)."""
    problems: list[str] = []
    stopped = namespaces_removed = files = 0
    if state is not None:
        try:
            writer = StateWriter.append_to(lab_dir)
            writer.phase("stopping")
            writer.close()
        except OSError as exc:
            logger.debug("state not marked stopping: %s", exc)
        present = netops.netns_names()
        namespaces = [n for n in state.namespaces() if n in present]
        stopped, problems = stop_processes(state, namespaces)
        existing = {str(link.get("ifname")) for link in netops.host_links()}
        for ifname in _host_links(state):
            if ifname in existing:
                netops.run(["ip", "link", "del", ifname], check=False)
        for name in namespaces:
            netops.run(["ip", "netns", "del", name], check=False)
        left = sorted(set(namespaces) & netops.netns_names())
        problems += [f"namespace {n} could not be deleted" for n in left]
        namespaces_removed = len(namespaces) - len(left)
        files = _remove_outside(state, lab_dir)
    busy = [m for m in netops.mounts() if Path(m).is_relative_to(lab_dir)]
    if busy:
        problems.append(f"mounts remain below {lab_dir} ({', '.join(busy[:3])}); directory kept")
    elif problems:
        problems.append(f"{lab_dir} kept (with its state) so that lab down can try again")
    else:
        _remove_dir(lab_dir, whole=remove_dir)
    return DownResult(
        lab_dir=lab_dir,
        namespaces=namespaces_removed,
        processes=stopped,
        files=files,
        problems=tuple(problems),
    )


def _remove_dir(lab_dir: Path, *, whole: bool) -> None:
    if whole:
        shutil.rmtree(lab_dir)
        return
    for child in lab_dir.iterdir():  # contents only: the directory existed before up
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
