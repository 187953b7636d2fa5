"""Start-up of the CLI (issue 18): a command imports its own module, not every command's.

``netwarden auditor --pcap`` with an inventory whose snapshot is warm imports neither
Ansible, nor scapy, nor prometheus_client, nor the other commands' modules. Checked in
a fresh interpreter with ``-X importtime`` (every import is listed on stderr).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.utils import wrpcap
from typer.testing import CliRunner

from netwarden.cli.app import HELP_ORDER, app

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("ansible", "scapy", "prometheus_client", "grafana_foundation_sdk", "jinja2")
OTHER_COMMANDS = (
    "netwarden.cli.fleet",
    "netwarden.cli.lab",
    "netwarden.cli.audit",
    "netwarden.cli.exporter",
    "netwarden.cli.dashboards",
    "netwarden.cli.matrix",
)


def _imported(args: list[str], env: dict[str, str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "NETWARDEN_INVENTORY_SNAPSHOT": "1",
    }


def test_importing_the_app_imports_no_command_module(env: dict[str, str]) -> None:
    mods = _imported(["-c", "import netwarden.cli.app"], env)
    assert "netwarden.cli.app" in mods
    assert not [m for m in mods if m in (*OTHER_COMMANDS, "netwarden.cli.auditor")]
    assert not [m for m in mods if m.split(".")[0] in HEAVY]


def test_auditor_on_a_pcap_imports_only_what_it_needs(
    env: dict[str, str], tmp_path: Path, example_inventory: Path
) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(example_inventory, inventory)
    pcap = tmp_path / "one.pcap"
    wrpcap(str(pcap), [Ether() / IP(src="10.11.40.66", dst="10.11.10.5") / TCP(dport=80)])
    args = ["-m", "netwarden.cli", "auditor", "--pcap", str(pcap), "-i", str(inventory)]
    first = _imported([*args, "--json"], env)  # reads through Ansible, writes the snapshot
    assert "ansible" in first
    mods = _imported([*args, "--json"], env)
    assert not [m for m in mods if m.split(".")[0] in HEAVY]
    assert not [m for m in mods if m in OTHER_COMMANDS]


def test_help_lists_every_command_in_order() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    listed = [
        line.strip("│ ").split()[0]
        for line in result.output.splitlines()
        if line.startswith("│ ")
        and line.strip("│ ").split()
        and line.strip("│ ").split()[0] in HELP_ORDER
    ]
    assert listed == list(HELP_ORDER)


def test_an_unknown_command_suggests_lazy_ones() -> None:
    result = CliRunner().invoke(app, ["audtor"])
    assert result.exit_code == 2
    assert "auditor" in result.output


def test_openblas_gets_one_thread_before_numpy_is_imported() -> None:
    """The CLI sets ``OPENBLAS_NUM_THREADS=1`` (unless set) before any command imports numpy:
    set after numpy's import it would not count (decision 96)."""
    probe = (
        "import os, sys; import netwarden.cli.app; "
        "print('numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    clean = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["False", "1"], out.stderr[-2000:]
    mine = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env={**clean, "OPENBLAS_NUM_THREADS": "4"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert mine.stdout.split() == ["False", "4"], mine.stderr[-2000:]
