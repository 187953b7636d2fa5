"""``lab down`` leaves nothing; a killed or interrupted ``lab up`` is cleaned; rootless is refused.

Each test builds its own lab (``--sites 1`` or ``2``, ``--no-sim``) in its own
directory, so its namespaces carry their own prefix, and removes it in a finalizer
even when it fails.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.lab.ns import netops
from tests.lab.nslab import (
    CLI,
    REPO,
    cli,
    force_cleanup,
    lab_prefix,
    netns_inodes,
    netns_with,
    procs_in,
)

pytestmark = pytest.mark.lab
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")
CRASH_EXIT = 86


@pytest.fixture
def lab_dir(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "lab"
    try:
        yield path
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=tmp_path / "cleanup.log")
        force_cleanup(lab_prefix(path))


def _traces(path: Path, prefix: str) -> dict[str, list[str]]:
    """What the host shows of this lab: namespaces, links, mounts, /etc/netns files."""
    mounts = [m for m in netops.mounts() if prefix in m or str(path) in m]
    links = [str(link.get("ifname")) for link in netops.host_links()]
    etc_netns = Path("/etc/netns")
    return {
        "namespaces": sorted(netns_with(prefix)),
        "links": sorted(name for name in links if name.startswith(prefix)),
        "mounts": sorted(mounts),
        "etc_netns": sorted(p.name for p in etc_netns.iterdir() if p.name.startswith(prefix))
        if etc_netns.is_dir()
        else [],
    }


def tempfile_dir() -> str:
    import tempfile

    return tempfile.gettempdir()


def _state_lines(path: Path) -> list[str]:
    try:
        return (path / ".lab" / "state.jsonl").read_text().splitlines()
    except OSError:
        return []


@needs_root
def test_down_leaves_nothing(lab_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "cli.log"
    prefix = lab_prefix(lab_dir)
    before = _traces(lab_dir, prefix)
    assert before["namespaces"] == []
    assert before["mounts"] == []
    private_tmp = tmp_path / "tmp"  # where up's temporary files go (the generated inventory)
    private_tmp.mkdir()
    env = {"TMPDIR": str(private_tmp)}
    code = cli("lab", "up", "--no-sim", "--sites", "1", "--out", str(lab_dir), log=log, env=env)
    assert code == 0, log.read_text()
    assert list(private_tmp.iterdir()) == []
    during = _traces(lab_dir, prefix)
    assert len(during["namespaces"]) > 20
    assert len(during["mounts"]) == len(during["namespaces"])  # /run/netns/<name> only
    inodes = netns_inodes(set(during["namespaces"]))
    # An engineer's process left inside the lab: down stops it too.
    leftover = subprocess.Popen(
        ["ip", "netns", "exec", f"{prefix}-jed-jed-mon1", "sleep", "300"], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while not procs_in(inodes) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert procs_in(inodes)
        assert cli("lab", "down", str(lab_dir), log=log, env=env) == 0, log.read_text()
        assert leftover.wait(timeout=15) == -signal.SIGTERM
    finally:
        leftover.kill()
        leftover.wait(timeout=10)
    assert _traces(lab_dir, prefix) == before
    assert list(private_tmp.iterdir()) == []
    assert procs_in(inodes) == set()
    assert not lab_dir.exists()
    assert "lab down:" in log.read_text()


@needs_root
@pytest.mark.parametrize("step", ["netns", "routes", "inventory"])
def test_up_killed_half_way_is_cleaned_by_down(lab_dir: Path, tmp_path: Path, step: str) -> None:
    log = tmp_path / "cli.log"
    prefix = lab_prefix(lab_dir)
    code = cli(
        "lab", "up", "--no-sim", "--sites", "1", "--out", str(lab_dir), log=log,
        env={"NETWARDEN_LAB_CRASH_AFTER": step},
    )  # fmt: skip
    assert code == CRASH_EXIT, log.read_text()
    assert netns_with(prefix), "the crash left namespaces behind (what down must clean)"
    status = subprocess.run(
        [*CLI, "lab", "status", str(lab_dir), "--json"], capture_output=True, text=True, check=False
    )
    assert status.returncode == 1
    assert json.loads(status.stdout)["phase"] == "building"
    assert cli("lab", "down", str(lab_dir), log=log) == 0, log.read_text()
    assert netns_with(prefix) == set()
    assert not lab_dir.exists()


def _start_up(lab_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*CLI, "lab", "up", "--no-sim", "--sites", "2", "--out", str(lab_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def _wait_for_links(proc: subprocess.Popen[bytes], lab_dir: Path) -> None:
    """Until up has recorded its first link (namespaces exist, links being made)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if any('"kind":"link"' in line for line in _state_lines(lab_dir)):
            return
        time.sleep(0.01)
    raise AssertionError(f"up never reached its links step (exit {proc.poll()})")


@needs_root
def test_up_sigkilled_is_cleaned_by_down(lab_dir: Path, tmp_path: Path) -> None:
    log = tmp_path / "cli.log"
    prefix = lab_prefix(lab_dir)
    proc = _start_up(lab_dir, log)
    try:
        _wait_for_links(proc, lab_dir)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert netns_with(prefix)
    assert '"phase":"ready"' not in "".join(_state_lines(lab_dir))
    assert cli("lab", "down", str(lab_dir), log=log) == 0, log.read_text()
    assert netns_with(prefix) == set()
    assert not lab_dir.exists()


@needs_root
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_up_interrupted_removes_what_it_built(
    lab_dir: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    log = tmp_path / "cli.log"
    prefix = lab_prefix(lab_dir)
    proc = _start_up(lab_dir, log)
    try:
        _wait_for_links(proc, lab_dir)
        proc.send_signal(sig)
        assert proc.wait(timeout=120) == 130, log.read_text()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert "the half-built lab was removed" in log.read_text()
    assert netns_with(prefix) == set()
    assert not lab_dir.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["lab", "up", "--no-sim"],
        ["lab", "down", "somewhere"],
        ["lab", "exec", "jed-mon1", "--", "true"],
    ],
    ids=["up", "down", "exec"],
)
def test_without_root_the_message_says_why_and_what_works(args: list[str]) -> None:
    """Without root's powers: exit 2, why, and lab sim.

    Root runs the CLI with an empty capability bounding set (setpriv): uid 0 without
    CAP_NET_ADMIN/CAP_SYS_ADMIN, which is what "not root" means to the lab. (Becoming
    nobody is not an option here: a checkout under a 0700 directory, as CI's is, and the
    interpreter under /root are unreadable to nobody.)
    """
    command = [*CLI, *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root, and no setpriv to drop the capabilities")
        command = [setpriv, "--bounding-set=-all", "--inh-caps=-all", *command]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        cwd="/",
        env={**os.environ, "HOME": "/nonexistent"},
        check=False,
        timeout=120,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    message = " ".join(done.stderr.split())
    assert "needs root" in message
    assert "netwarden lab sim" in message


@needs_root
def test_a_bad_inventory_leaves_no_directory(lab_dir: Path, tmp_path: Path) -> None:
    broken = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", broken)
    site = broken / "group_vars" / "site_nyc.yml"
    site.write_text(site.read_text().replace("10.11.30.0/23", "10.10.30.0/23"))
    log = tmp_path / "cli.log"
    assert cli("lab", "up", "--no-sim", "-i", str(broken), "--out", str(lab_dir), log=log) == 2
    assert "gateway 10.11.30.1 is outside subnet 10.10.30.0/23" in log.read_text()
    assert not lab_dir.exists()
    assert netns_with(lab_prefix(lab_dir)) == set()


@needs_root
def test_up_and_down_exclude_each_other(tmp_path: Path) -> None:
    lab = tmp_path / "lab"
    lab.mkdir()
    (lab / ".netwarden-lab").write_text("a lab\n")
    fd = os.open(lab, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running lab up holds it
        done = subprocess.run(
            [*CLI, "lab", "down", str(lab)], capture_output=True, text=True, check=False
        )
    finally:
        os.close(fd)
    assert done.returncode == 2
    assert "another netwarden lab up or down is working on this lab" in " ".join(
        done.stderr.split()
    )
    assert lab.exists()


@needs_root
def test_namespaces_of_an_unknown_lab_are_refused_not_touched(
    lab_dir: Path, tmp_path: Path
) -> None:
    stray = f"{lab_prefix(lab_dir)}-stray"  # as left by a lab whose directory was deleted
    subprocess.run(["ip", "netns", "add", stray], check=True)
    try:
        log = tmp_path / "cli.log"
        assert cli("lab", "up", "--no-sim", "--sites", "1", "--out", str(lab_dir), log=log) == 1
        assert "already exist" in log.read_text()
        assert netns_with(lab_prefix(lab_dir)) == {stray}
        assert not lab_dir.exists()
    finally:
        subprocess.run(["ip", "netns", "del", stray], check=False)
