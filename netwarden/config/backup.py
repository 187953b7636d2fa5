"""Backups: sanitised running configs in a git repository, one commit per run.

Layout: ``<repo>/<device>.cfg``, the running config without the lines that
change by themselves (``strip_volatile``) and with every secret replaced by
``<removed>`` (``sanitize_config``). A run that changes nothing makes no commit.
The commit's author is ``netwarden``; its message says who ran it, why, and
per device: new, changed, unchanged or unreachable.

Apply records the running configs its change produced (:func:`record_after_apply`):
one commit per run (per host on the Ansible route) whose author is the user who
applied, with the change's reason and every device's outcome, so the backup
history is the change history and drift right after an apply compares with the
configuration the apply left.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from netwarden.config.models import (
    ApplyStatus,
    BackupReport,
    BackupStatus,
    DeviceApplyResult,
    DeviceBackup,
)
from netwarden.devices import SessionOptions, session_for
from netwarden.devices.linuxstate import is_snapshot, sanitize_snapshot
from netwarden.devices.runner import DEFAULT_CONCURRENCY, run_each
from netwarden.errors import BackupError, NetwardenError
from netwarden.inventory.models import Device
from netwarden.ios.normalize import strip_volatile
from netwarden.ios.sanitize import sanitize_config

logger = logging.getLogger(__name__)

DEFAULT_REPO = Path("var/backups")
AUTHOR = "netwarden <netwarden@localhost>"
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "netwarden",
    "GIT_AUTHOR_EMAIL": "netwarden@localhost",
    "GIT_COMMITTER_NAME": "netwarden",
    "GIT_COMMITTER_EMAIL": "netwarden@localhost",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``git -C repo args...`` (no user config needed: identity comes from the environment)."""
    exe = shutil.which("git")
    if exe is None:
        raise BackupError("git is not installed (needed for the backup repository)")
    env = {**os.environ, **_GIT_ENV}
    proc = subprocess.run(
        [exe, "-C", str(repo), "-c", "commit.gpgsign=false", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    if check and proc.returncode != 0:
        raise BackupError(
            f"{repo}: git {' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr.strip()}"
        )
    return proc


@contextlib.contextmanager
def _parent_lock(repo: Path) -> Iterator[None]:
    """Serialise the creation of ``repo`` among processes (Ansible forks) on its parent directory."""
    fd = os.open(repo.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def ensure_repo(repo: Path) -> None:
    """Create the repository (``git init``) if ``repo`` is not one yet.

    Safe to call from several processes at once (Ansible forks): the creation is
    serialised by a lock on the parent directory.
    """
    try:
        repo.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup directory {repo}: {exc.strerror}") from exc
    with _parent_lock(repo):
        if not (repo / ".git").exists():
            git(repo, "init", "-q", "-b", "main")
            logger.info("created the backup repository %s", repo)


@contextlib.contextmanager
def repo_lock(repo: Path) -> Iterator[None]:
    """Serialise writers of one repository (several processes, e.g. Ansible forks)."""
    with (repo / ".git" / "netwarden.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def backup_path(repo: Path, device: str) -> Path:
    return repo / f"{device}.cfg"


def last_backup(repo: Path, device: str) -> str | None:
    """The device's config in the last commit, None without a repository or a backup."""
    if not (repo / ".git").exists():
        return None
    proc = git(repo, "show", f"HEAD:{device}.cfg", check=False)
    return proc.stdout if proc.returncode == 0 else None


def last_backup_commit(repo: Path, device: str) -> str | None:
    """The commit that last changed the device's backup, None without a repository or a backup."""
    if not (repo / ".git").exists():
        return None
    proc = git(repo, "log", "-1", "--format=%H", "--", f"{device}.cfg", check=False)
    if proc.returncode != 0:  # a repository without commits yet
        return None
    return proc.stdout.strip() or None


def stored_form(running: str) -> str:
    """What a backup file holds for a running config: no volatile lines, no secrets.

    A server snapshot (:mod:`netwarden.devices.linuxstate`) is sanitised by its own
    rules (it holds no IOS secrets; the IOS patterns would blank its PAM lines).
    """
    if is_snapshot(running):
        return sanitize_snapshot(running)
    return sanitize_config(strip_volatile(running))


def backup_status(before: str | None, text: str) -> BackupStatus:
    """New, unchanged or changed: ``text`` (a :func:`stored_form`) against the last backup ``before``."""
    if before is None:
        return BackupStatus.NEW
    return BackupStatus.UNCHANGED if before == text else BackupStatus.CHANGED


def fetch_running(device: Device, options: SessionOptions) -> str:
    """The running config of one device (a session of its own)."""
    session = session_for(device, options)
    session.open()
    try:
        return session.get_config("running")
    finally:
        session.close()


def _fetch(device: Device, options: SessionOptions) -> tuple[str, str | None, str | None]:
    try:
        return device.name, fetch_running(device, options), None
    except NetwardenError as exc:
        return device.name, None, str(exc)


def run_backup(
    devices: Sequence[Device],
    options: SessionOptions,
    repo: Path = DEFAULT_REPO,
    *,
    user: str,
    message: str = "",
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[tuple[str, str | None, str | None]], None] | None = None,
) -> BackupReport:
    """Back up every device into ``repo`` and commit once; unreachable devices are reported."""
    ensure_repo(repo)
    fetched = run_each(
        devices,
        lambda d: _fetch(d, options),
        lambda d, exc: (d.name, None, f"{d.name}: internal error: {exc!r}"),
        concurrency=concurrency,
        on_done=on_done,
    )
    return _record(repo, fetched, user=user, message=message)


def record_backup(
    repo: Path, configs: Mapping[str, str], *, user: str, message: str = ""
) -> BackupReport:
    """:func:`run_backup` of running configs already read (device name: running config).

    The Ansible route's apply backs a device up with the running config its plan
    read on the session that then commits (no session of its own).
    """
    ensure_repo(repo)
    return _record(
        repo,
        [(name, running, None) for name, running in configs.items()],
        user=user,
        message=message,
    )


def _record(
    repo: Path, fetched: Sequence[tuple[str, str | None, str | None]], *, user: str, message: str
) -> BackupReport:
    """Store the fetched configs and commit them once (under the repository's lock)."""
    with repo_lock(repo):
        results = _store(repo, fetched)
        commit = _commit(repo, results, user=user, message=message)
    return BackupReport(
        repo=str(repo), commit=commit, user=user, message=message, devices=tuple(results)
    )


def _store(repo: Path, fetched: Sequence[tuple[str, str | None, str | None]]) -> list[DeviceBackup]:
    """Write each fetched config; say per device whether it is new, changed or unchanged."""
    results: list[DeviceBackup] = []
    for name, running, error in fetched:
        if running is None:
            results.append(DeviceBackup(device=name, status=BackupStatus.UNREACHABLE, error=error))
            continue
        path = backup_path(repo, name)
        text = stored_form(running)
        status = backup_status(last_backup(repo, name), text)
        path.write_text(text, encoding="utf-8")
        results.append(DeviceBackup(device=name, status=status, path=str(path)))
    return results


def commit_message(results: Sequence[DeviceBackup], *, user: str, message: str) -> str:
    """``backup: 2 changed, 8 unchanged`` then who, why and one line per device."""
    counts: dict[BackupStatus, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items()) or "no devices"
    lines = [f"backup: {summary}", "", f"who: {user}", f"why: {message or '(no reason given)'}", ""]
    for r in sorted(results, key=lambda r: (r.status.value, r.device)):
        extra = f" ({r.error})" if r.error else ""
        lines.append(f"{r.status.value}: {r.device}{extra}")
    return "\n".join(lines) + "\n"


def _commit(repo: Path, results: Sequence[DeviceBackup], *, user: str, message: str) -> str | None:
    paths = [Path(r.path).name for r in results if r.path]
    return _commit_paths(repo, paths, AUTHOR, commit_message(results, user=user, message=message))


def _commit_paths(repo: Path, paths: Sequence[str], author: str, message: str) -> str | None:
    """Stage ``paths`` and commit them as ``author``; None (no commit) when nothing changed."""
    if paths:
        git(repo, "add", "--", *paths)
    staged = git(repo, "diff", "--cached", "--quiet", check=False)
    if staged.returncode == 0:
        logger.info("backup: nothing changed, no commit")
        return None
    git(repo, "commit", "-q", "--author", author, "-m", message)
    return git(repo, "rev-parse", "HEAD").stdout.strip()


_NOT_IN_AUTHOR = re.compile(r"[<>\n\r\x00]+")
_NOT_IN_EMAIL = re.compile(r"[^A-Za-z0-9._+-]+")


def author_of(user: str) -> str:
    """``user`` as a git author (``alice <alice@localhost>``): the person who applied a change.

    Examples:
        >>> author_of("alice")
        'alice <alice@localhost>'
        >>> author_of("uid 1000")
        'uid 1000 <uid-1000@localhost>'
    """
    name = _NOT_IN_AUTHOR.sub(" ", user).strip() or "unknown"
    local = _NOT_IN_EMAIL.sub("-", name).strip("-.") or "unknown"
    return f"{name} <{local}@localhost>"


_RECORDED = (ApplyStatus.CHANGED, ApplyStatus.ROLLED_BACK, ApplyStatus.FAILED)
"""Outcomes whose running config is recorded when it differs from the last backup."""


def record_after_apply(
    repo: Path,
    outcomes: Sequence[tuple[DeviceApplyResult, str | None]],
    *,
    user: str,
    message: str = "",
) -> str | None:
    """Commit the running configs an apply left (stored form), once, as ``user``; the commit or None.

    ``outcomes``: each device's apply result and the running config the apply read
    last (None when it could not). A changed device's config is recorded; a
    rolled-back or failed device's only when it differs from the last backup (the
    message says so); unchanged and skipped devices are only listed. Nothing
    differs from the last backup: no commit.

    Raises:
        BackupError: the repository cannot be created or git fails.
    """
    ensure_repo(repo)
    with repo_lock(repo):
        notes: dict[str, str] = {}
        paths: list[str] = []
        for result, running in outcomes:
            if result.status not in _RECORDED:
                continue
            if running is None:
                notes[result.device] = "running config not read: not recorded"
                continue
            text = stored_form(running)
            status = backup_status(last_backup(repo, result.device), text)
            if status is BackupStatus.UNCHANGED:
                notes[result.device] = "running config as in the last backup: nothing to record"
                continue
            backup_path(repo, result.device).write_text(text, encoding="utf-8")
            paths.append(backup_path(repo, result.device).name)
            if result.status is not ApplyStatus.CHANGED:
                notes[result.device] = "running config differs from the last backup: recorded"
        text = apply_message([r for r, _ in outcomes], notes, user=user, message=message)
        return _commit_paths(repo, paths, author_of(user), text)


def apply_message(
    results: Sequence[DeviceApplyResult], notes: Mapping[str, str], *, user: str, message: str
) -> str:
    """``apply: <reason>`` then who, why, the counts and one line per device with its outcome.

    Examples:
        >>> r = [DeviceApplyResult(device="a", status=ApplyStatus.CHANGED),
        ...      DeviceApplyResult(device="b", status=ApplyStatus.ROLLED_BACK)]
        >>> print(apply_message(r, {"b": "running config as in the last backup"},
        ...                     user="alice", message="ntp keys"), end="")
        apply: ntp keys
        <BLANKLINE>
        who: alice
        why: ntp keys
        result: 1 changed, 1 rolled_back
        <BLANKLINE>
        changed: a
        rolled_back: b (running config as in the last backup)
    """
    counts: dict[ApplyStatus, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{counts[s]} {s.value}" for s in ApplyStatus if s in counts)
    why = message or "(no reason given)"
    lines = [
        f"apply: {message or summary or 'no devices'}",
        "",
        f"who: {user}",
        f"why: {why}",
        f"result: {summary or 'no devices'}",
        "",
    ]
    order = {s: i for i, s in enumerate(ApplyStatus)}
    for r in sorted(results, key=lambda r: (order[r.status], r.device)):
        note = notes.get(r.device)
        lines.append(f"{r.status.value}: {r.device}" + (f" ({note})" if note else ""))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BackupHistory:
    """What the backup repository says about one device (None: nothing recorded).

    Attributes:
        last_read: Unix time of the last commit that lists the device as read (``new``,
            ``changed``, ``unchanged`` ...; not ``unreachable``). A backup run that changes
            nothing makes no commit, so this is the last run that recorded anything.
        last_change: Unix time of the last commit that changed the device's file.
        last_change_user: who made that change (the ``who:`` line of the commit, else its author).
    """

    last_read: float | None = None
    last_change: float | None = None
    last_change_user: str = ""


_HISTORY_DEPTH = 500
_WHO = re.compile(r"^who: (.+)$", re.MULTILINE)


def backup_history(repo: Path, device: str) -> BackupHistory:
    """Read the device's backup times from the repository's log (the last 500 commits).

    Raises:
        BackupError: git is not installed.
    """
    if not (repo / ".git").exists():
        return BackupHistory()
    listed = re.compile(rf"^(?!unreachable)[a-z_]+: {re.escape(device)}( \(|$)", re.MULTILINE)
    log = git(repo, "log", f"-n{_HISTORY_DEPTH}", "--format=%ct%x1f%B%x1e", check=False)
    last_read: float | None = None
    for entry in log.stdout.split("\x1e") if log.returncode == 0 else []:
        stamp, _, body = entry.strip().partition("\x1f")
        if stamp.isdigit() and listed.search(body):
            last_read = float(stamp)
            break
    change = git(repo, "log", "-1", "--format=%ct%x1f%an%x1f%B", "--", f"{device}.cfg", check=False)
    stamp, _, rest = change.stdout.strip().partition("\x1f")
    if change.returncode != 0 or not stamp.isdigit():
        return BackupHistory(last_read=last_read)
    author, _, body = rest.partition("\x1f")
    who = _WHO.search(body)
    return BackupHistory(
        last_read=last_read,
        last_change=float(stamp),
        last_change_user=(who.group(1).strip() if who else author).strip(),
    )
