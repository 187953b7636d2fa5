"""Start-up of the CLI (issue 18): a command imports its own module, not every command's.

``netwarden auditor --pcap`` with an inventory whose snapshot is warm imports neither
Ansible, nor scapy, nor prometheus_client, nor the other commands' modules; with
``--json`` on a pipe, not Rich either, nor what only some options use (TLS and the spool
for ``--syslog``, ``--evidence``, ECS, ``--workers``). Checked in a fresh interpreter with
``-X importtime`` (every import of the whole run is listed on stderr, those before the
first packet among them). The cyclic garbage collector is paused from the start until
the auditor's engine is built (decision 109).
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
NOT_FOR_JSON_ON_A_PIPE = (
    "rich",
    "netwarden.cli.readable",
    "ssl",
    "multiprocessing",
    "collectors.auditor.forward",
    "collectors.auditor.spool",
    "collectors.auditor.evidence",
    "collectors.auditor.ecs",
    "collectors.auditor.fanout",
)
"""What ``auditor --pcap FILE --json`` on a pipe does without (each ~3-20 ms of start-up):
Rich draws for a person (a terminal, the table); the others serve options not given."""
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


def _root_or_self(mods: set[str], names: tuple[str, ...]) -> list[str]:
    """The modules of ``mods`` that are one of ``names`` or inside one of them."""
    return sorted(m for m in mods if any(m == n or m.startswith(f"{n}.") for n in names))


def test_importing_the_app_imports_no_command_module(env: dict[str, str]) -> None:
    mods = _imported(["-c", "import netwarden.cli.app"], env)
    assert "netwarden.cli.app" in mods
    assert not [m for m in mods if m in (*OTHER_COMMANDS, "netwarden.cli.auditor")]
    assert not [m for m in mods if m.split(".")[0] in HEAVY]
    assert not _root_or_self(mods, ("rich", "netwarden.cli.readable"))


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
    assert "collectors.auditor.decode" in mods  # the run did read the capture
    assert not _root_or_self(mods, NOT_FOR_JSON_ON_A_PIPE)
    table = _imported(args, env)  # the summary table, for a person: Rich, after the run
    assert "rich.table" in table


_GC_PROBE = """
import atexit, gc, runpy, sys
seen = {}
import collectors.auditor.engine as engine
init, run = engine.Engine.__init__, engine.Engine.run
def traced_init(self, *a, **k):
    seen["while starting"] = gc.isenabled()
    init(self, *a, **k)
def traced_run(self, source):
    seen["at the first packet"] = gc.isenabled()
    seen["frozen"] = gc.get_freeze_count() > 0
    return run(self, source)
engine.Engine.__init__, engine.Engine.run = traced_init, traced_run
class Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "netwarden.cli.app":
            seen["importing the app"] = gc.isenabled()
sys.meta_path.insert(0, Watch())
sys.argv = ["netwarden", *sys.argv[1:]]
# at exit: the auditor ends its own process itself (common.exit_process), atexit runs
atexit.register(lambda: print(sorted(seen.items()), gc.isenabled(), file=sys.stderr))
runpy.run_module("netwarden.cli", run_name="__main__")
"""


def test_the_collector_is_paused_until_the_auditor_engine_is_built(
    env: dict[str, str], tmp_path: Path
) -> None:
    """``python -m netwarden.cli`` pauses the cyclic collector before its first import; the
    auditor resumes it once its engine has frozen the start-up's objects (and
    :func:`~netwarden.cli.app.main` on the way out, for a caller in the same process); it is
    on when the process ends."""
    pcap = tmp_path / "one.pcap"
    wrpcap(str(pcap), [Ether() / IP(src="10.11.40.66", dst="10.11.10.5") / TCP(dport=80)])
    proc = subprocess.run(
        [sys.executable, "-c", _GC_PROBE, "auditor", "--pcap", str(pcap), "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    last = proc.stderr.strip().splitlines()[-1]
    expected = [
        ("at the first packet", True),
        ("frozen", True),
        ("importing the app", False),
        ("while starting", False),
    ]
    assert last == f"{expected} True", proc.stderr[-2000:]


_VERSION_PROBE = """
import gc, sys
import netwarden.cli.readable as readable
from netwarden.cli import app
seen = []
readable.console.print = lambda *a, **k: seen.append(gc.isenabled())
sys.argv = ["netwarden", "version"]
try:
    app.main()
except SystemExit:
    pass
print(seen, gc.isenabled())
"""


def test_main_resumes_the_collector_for_other_commands() -> None:
    """Any other command runs with the collector on: the root callback resumes it."""
    out = subprocess.run(
        [sys.executable, "-c", _VERSION_PROBE],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.strip() == "[True] True", out.stderr[-2000:]


def test_is_terminal_needs_rich_only_for_what_may_be_a_terminal() -> None:
    """A pipe is no terminal, told without Rich; what may be one (``FORCE_COLOR``,
    ``TTY_COMPATIBLE``, a tty) is left to Rich, whose answer stands."""
    probe = (
        "import sys; from netwarden.cli.common import is_terminal; "
        "print(is_terminal(), is_terminal(stderr=True), 'rich' in sys.modules)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "TTY_COMPATIBLE"}}

    def answers(**extra: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=REPO, env={**clean, **extra},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout.split()

    assert answers() == ["False", "False", "False"]  # a pipe: no Rich imported to say so
    assert answers(FORCE_COLOR="1") == ["True", "True", "True"]
    assert answers(FORCE_COLOR="1", TTY_COMPATIBLE="0") == ["False", "False", "True"]


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


def test_the_installed_command_starts_like_python_m() -> None:
    """The ``netwarden`` console script enters through :mod:`netwarden.cli.start` (the
    collector paused before the CLI's imports), as ``python -m netwarden.cli`` does."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "netwarden"]
    assert script.value == "netwarden.cli.start:main"
    main_py = (Path(__file__).parents[2] / "netwarden" / "cli" / "__main__.py").read_text()
    assert "from netwarden.cli.start import main" in main_py
