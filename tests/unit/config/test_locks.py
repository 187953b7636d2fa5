"""Apply locks: one run holds a lock; others are refused naming it; a dead run's lock is free."""

from __future__ import annotations

import json
import multiprocessing
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from netwarden.config.locks import (
    LOCK_DIR_ENV,
    LOCK_DIR_NAME,
    Holder,
    acquire,
    device_lock_path,
    holder_of,
    inventory_lock_path,
    is_alive,
    lock_dir_for,
    locked,
    release,
)
from netwarden.errors import LockError


def other_live_run() -> Holder:
    """A run on another host: taken as alive (its liveness cannot be checked from here)."""
    return Holder(
        host="ops-jump-2",
        pid=4242,
        started="123",
        user="alice",
        command="netwarden apply -i inventory --yes",
        since="2026-12-05T08:00:00Z",
    )


def dead_run() -> Holder:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return replace(other_live_run(), host=socket.gethostname(), pid=int(proc.stdout))


def test_a_second_run_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    assert acquire(path, other_live_run(), "inventory inv")
    with pytest.raises(LockError) as err:
        acquire(path, Holder.this_run(), "inventory inv")
    message = str(err.value)
    for part in ("inventory inv is being applied by another run", "user alice",
                 "host ops-jump-2", "pid 4242", "netwarden apply -i inventory --yes",
                 "since 2026-12-05T08:00:00Z", str(path), "nothing was changed"):  # fmt: skip
        assert part in message
    assert json.loads(path.read_text())["user"] == "alice"


def test_the_same_run_re_enters_and_releases_only_its_own_lock(tmp_path: Path) -> None:
    path = tmp_path / "device.lock"
    me = Holder.this_run()
    assert acquire(path, me, "device sw1")
    assert not acquire(path, replace(me, since="later"), "device sw1")  # same run: already held
    release(path, other_live_run())  # not the holder: no effect
    assert holder_of(path) == me
    release(path, me)
    assert holder_of(path) is None


def test_a_dead_run_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    gone = dead_run()
    assert not is_alive(gone)
    assert acquire(path, gone, "inventory inv")
    assert holder_of(path) is None
    assert acquire(path, Holder.this_run(), "inventory inv")  # taken over


def test_a_reused_pid_is_not_the_holder(tmp_path: Path) -> None:
    me = Holder.this_run()
    assert is_alive(me)
    assert not is_alive(replace(me, started="1"))  # same pid, another start time


def test_locked_releases_at_the_end_unless_kept(tmp_path: Path) -> None:
    path = tmp_path / "apply.lock"
    me = Holder.this_run()
    with locked(path, me, "inventory inv"):
        assert holder_of(path) == me
    assert holder_of(path) is None
    with locked(path, me, "inventory inv", keep=True):
        pass
    assert holder_of(path) == me


def _fork_acquires(path: str, queue: multiprocessing.Queue[object]) -> None:
    try:
        acquire(Path(path), Holder.this_run(), "inventory inv")
        queue.put(Holder.this_run().pid)
    except LockError as exc:
        queue.put(str(exc))


def test_forks_of_one_run_share_its_locks_and_another_process_is_refused(tmp_path: Path) -> None:
    """Ansible's workers are forks of the controller: the controller is the run that holds."""
    path = tmp_path / "apply.lock"
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[object] = ctx.Queue()
    forks = [ctx.Process(target=_fork_acquires, args=(str(path), queue)) for _ in range(3)]
    for fork in forks:
        fork.start()
    for fork in forks:
        fork.join(30)
    assert [queue.get(timeout=5) for _ in forks] == [os.getpid()] * 3
    assert holder_of(path) is not None
    script = (
        "import sys; from pathlib import Path\n"
        "from netwarden.config.locks import Holder, acquire\n"
        "from netwarden.errors import LockError\n"
        "try:\n    acquire(Path(sys.argv[1]), Holder.this_run(), 'inventory inv')\n"
        "except LockError as exc:\n    print(exc); sys.exit(3)\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )
    assert other.returncode == 3, other.stdout + other.stderr
    assert f"pid {os.getpid()}" in other.stdout


def test_lock_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOCK_DIR_ENV, raising=False)
    inv = tmp_path / "inventory"
    inv.mkdir()
    assert lock_dir_for(inv) == inv / LOCK_DIR_NAME
    assert lock_dir_for(inv / "hosts.yml") == inv / LOCK_DIR_NAME
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path / "shared"))
    assert lock_dir_for(inv) == tmp_path / "shared"
    assert inventory_lock_path(tmp_path, inv).name.startswith("apply-inventory-")
    lab = device_lock_path(tmp_path, "sw1", "127.0.0.1", 2201)
    real = device_lock_path(tmp_path, "sw1", "10.0.0.1", 22)
    assert lab != real
    assert lab.name.startswith("device-sw1-")


def test_an_unwritable_lock_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LockError, match=f"cannot open the lock file .*set {LOCK_DIR_ENV}"):
        acquire(blocker / "x.lock", Holder.this_run(), "inventory inv")
