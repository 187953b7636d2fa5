"""``make demo`` as root cleans up after itself on Ctrl-C, at any stage.

The demo runs in its own session with its output in a file and its work directory under
the test's temporary directory (``--out``: its namespace lab's names derive from that
path, so it is this test's own). Ctrl-C is what a terminal sends: SIGINT to the whole
foreground process group, the demo and every child it started. Sent

- once the namespace lab, built in the background from the demo's start, is up (its
  ``lab-up.log`` says so), while the rootless stages run: the simulated fleet, the
  exporters, Prometheus;
- once the namespace lab steps run: netwarden on the lab's management server planning the
  New York devices over SSH (the demo's lab stage; the live attacks, minutes later, start
  and stop the same kind of processes in the lab, and tests/lab/test_end_to_end.py's kept
  demo is stopped by ``--down`` after them).

Afterwards nothing may be left: no namespace named like the lab's, no process in the
lab's namespaces (their inodes are taken while the lab runs), no process the demo
recorded in its state file, nothing in the demo's process group. (``--keep`` then
``--down``, ``make demo-down``, must leave the same nothing: the end of
tests/lab/test_end_to_end.py, whose kept demo it is.)

Root only (skips otherwise). Minutes: the second case runs the demo's rootless rollout first.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.cli.demolab import BUILD_LOG
from tests.lab.demorun import Demo, assert_nothing_left, clean_up, start
from tests.lab.nslab import netns_inodes, netns_with, procs_in

pytestmark = [
    pytest.mark.lab,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nftables"),
]

# the demo's step in which netwarden runs inside the lab (netwarden/cli/demolab.py)
LAB_PLAN = "Plan from the management server, over the lab's own network"
START_WAIT = 600.0  # seconds for the demo to reach the point where it is interrupted
STOP_WAIT = 240.0  # seconds for the interrupted demo to clean up and exit


@pytest.fixture
def demo_cleanup() -> Iterator[list[Demo]]:
    """Whatever a failed test leaves: the demo's group killed, its lab removed."""
    started: list[Demo] = []
    yield started
    clean_up(started)


@pytest.mark.parametrize(
    "stage",
    ["lab built in the background, rootless stages running", "namespace lab steps running"],
)
def test_ctrl_c_leaves_nothing(tmp_path: Path, demo_cleanup: list[Demo], stage: str) -> None:
    demo = start(tmp_path)
    demo_cleanup.append(demo)
    demo.wait_for(demo.out / BUILD_LOG, "lab up: ", START_WAIT)
    if stage.startswith("namespace"):
        demo.wait_for(demo.log, LAB_PLAN, START_WAIT)
    names = netns_with(demo.prefix)
    assert names, "the lab's namespaces are not there"
    inodes = netns_inodes(names)
    assert procs_in(inodes), "no process runs in the lab"
    recorded = demo.recorded()  # the rootless stages' services stopped before the lab steps
    assert recorded or stage.startswith("namespace"), "the demo recorded no background process"

    os.killpg(demo.proc.pid, signal.SIGINT)  # Ctrl-C in the demo's terminal
    rc = demo.proc.wait(timeout=STOP_WAIT)

    assert rc == 130, demo.output()[-4000:]
    assert "interrupted" in demo.output()
    assert_nothing_left(demo, inodes, recorded)
