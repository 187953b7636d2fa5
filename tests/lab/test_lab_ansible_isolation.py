"""Two namespace labs built from one inventory never share an Ansible SSH connection.

Every lab built from one inventory has the same addresses and the same automation
user. Ansible names an SSH control socket after the host, port and user only
(``~/.ansible/cp/<hash>``) and, with ``ControlPersist`` (60 s), runs the next task
for that host over any live master it finds there; a socket is a file, which every
network namespace reaches, and the master is already authenticated, so no host key is
checked again. Without a control directory per lab (``labinventory.control_path_dir``)
Ansible in one lab ran its tasks on the other lab's server: a ``make demo`` while
another lab from the example inventory was in use applied nyc-srv1 as "unchanged" (the
other lab's nyc-srv1 was already hardened), then the audit of its own, unhardened
nyc-srv1 failed at "Live compliance again".

Two labs (``lab up --sites 1 --no-sim``, the same generated inventory), then the same
Ansible task from each lab's management server, a few seconds apart, writes which lab
ran it into a file of HQ's DNS server: each server's own root must hold its own lab's
name. Root only; both labs removed at the end, also on failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.lab.ns.servers import NODES_DIR
from netwarden.lab.ns.state import read_state, work_dir
from tests.lab.nslab import REPO, cli, force_cleanup, in_ns, lab_prefix, netns_with

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
]

ANSIBLE = str(Path(sys.executable).parent / "ansible")
SERVER = "jed-dns1"
FROM = "jed-mon1"
MARK = "var/tmp/netwarden-which-lab"


@contextlib.contextmanager
def _lab(path: Path, log: Path) -> Iterator[Path]:
    try:
        code = cli("lab", "up", "--sites", "1", "--no-sim", "--out", str(path), log=log)
        assert code == 0, log.read_text()
        yield path
    finally:
        if path.exists():
            cli("lab", "down", str(path), log=log)
        left = netns_with(lab_prefix(path))
        force_cleanup(lab_prefix(path))
    assert not left, f"lab down left {sorted(left)}"


def _write_mark(lab: Path, text: str) -> None:
    """From the lab's management server, Ansible writes ``text`` to the mark on SERVER."""
    state = read_state(lab)
    assert state is not None
    done = in_ns(
        state.header.nodes[FROM].netns,
        "env", f"HOME={os.environ.get('HOME', '/root')}", "ANSIBLE_NOCOLOR=1",
        ANSIBLE, "-i", str(lab), "--vault-password-file", str(lab / ".vault-password"),
        SERVER, "-m", "ansible.builtin.copy", "-a", f"content={text} dest=/{MARK}",
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def _mark(lab: Path) -> str | None:
    """The mark as written in SERVER's own root (its overlay's upper layer on the host)."""
    path = work_dir(lab) / NODES_DIR / SERVER / "upper" / MARK
    return path.read_text(encoding="utf-8") if path.exists() else None


def test_two_labs_from_one_inventory_keep_their_own_ansible_connections(
    tmp_path: Path,
) -> None:
    os.chdir(REPO)  # ansible.cfg, as the demo and the CLI run Ansible
    first, second = tmp_path / "a" / "lab", tmp_path / "b" / "lab"
    with _lab(first, tmp_path / "a.log"), _lab(second, tmp_path / "b.log"):
        _write_mark(first, "first-lab")
        _write_mark(second, "second-lab")  # well within the first master's 60 s

        assert _mark(first) == "first-lab"
        assert _mark(second) == "second-lab", "Ansible ran on the other lab's server"
