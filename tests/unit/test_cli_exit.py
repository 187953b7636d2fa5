"""``netwarden.cli.common.exit_process``: the auditor ends its own process without the
interpreter's teardown (decision 107), and loses nothing doing so: the ``atexit``
handlers run, the streams are flushed, the exit code is the command's, a thread still
working is waited for, and inside a caller's process (a test's ``CliRunner``) it is an
ordinary ``typer.Exit``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap

from netwarden.cli import common

REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import atexit, sys, threading, time
import typer
from netwarden.cli import common
common.OWN_PROCESS = True
atexit.register(lambda: open(sys.argv[1], "w").write("atexit ran"))
if sys.argv[2] == "thread":
    def late():
        time.sleep(0.3)
        sys.stdout.write("the thread finished\\n")
    threading.Thread(target=late).start()
sys.stdout.write("x" * 100000)  # buffered: lost unless flushed
try:
    common.exit_process(typer.Exit(5))
except typer.Exit as done:
    sys.stdout.write("\\nraised\\n")
    raise SystemExit(done.exit_code)
"""


def _probe(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "mark"), mode],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_in_its_own_process_it_exits_at_once_with_atexit_run_and_streams_flushed(
    tmp_path: Path,
) -> None:
    done = _probe(tmp_path, "alone")
    assert done.returncode == 5, done.stderr
    assert done.stdout == "x" * 100000  # flushed, and not raised (os._exit)
    assert (tmp_path / "mark").read_text() == "atexit ran"


def test_a_thread_still_working_is_waited_for(tmp_path: Path) -> None:
    done = _probe(tmp_path, "thread")
    assert done.returncode == 5, done.stderr
    assert done.stdout.endswith("raised\nthe thread finished\n")  # the usual exit, which waits
    assert (tmp_path / "mark").read_text() == "atexit ran"


def test_in_a_callers_process_it_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "OWN_PROCESS", False)
    with pytest.raises(typer.Exit) as raised:
        common.exit_process(typer.Exit(3))
    assert raised.value.exit_code == 3


def test_the_auditor_read_through_ansible_leaves_no_temporary_directory(tmp_path: Path) -> None:
    """A cold snapshot reads the inventory through Ansible, which makes a local temporary
    directory and removes it at exit (``atexit``): still removed with the quick exit."""
    pcap = tmp_path / "one.pcap"
    wrpcap(str(pcap), [Ether() / IP(src="10.11.40.66", dst="10.11.10.5") / TCP(dport=80)])
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "ANSIBLE_LOCAL_TEMP": str(home / "ansible-tmp"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "NETWARDEN_INVENTORY_SNAPSHOT": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "netwarden.cli", "auditor", "--pcap", str(pcap),
         "-i", str(REPO / "inventory"), "--site", "nyc", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr  # the probe's flow is a finding
    assert done.stdout.rstrip().endswith("}")  # the whole JSON summary
    assert '"packets": 1' in done.stdout
    made = home / "ansible-tmp"
    assert made.exists()  # Ansible did make it ...
    assert list(made.iterdir()) == []  # ... and its atexit handler emptied it
