"""Hostile inventories end to end (issue 10, points 1, 5 and 9).

The CLI in a subprocess (exit code and message as a user sees them), the
simulator for apply (the device must not receive the injected line), and
ansible-playbook for the role's route. Nothing here asserts on time: the alias
bomb runs under an address-space limit, so without the guard it fails with a
MemoryError (exit 1) instead of exhausting the machine.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from netwarden.cli.app import app
from netwarden.cli.common import EXIT_USAGE
from netwarden.inventory.generate import generate

from .labfleet import Lab, running, start_lab

pytestmark = [pytest.mark.integration]

BIN = Path(sys.executable).parent
NETWARDEN = BIN / "netwarden"
ANSIBLE_PLAYBOOK = BIN / "ansible-playbook"
INJECTED = "username evil privilege 15 secret 0 Pwn3d"
MODEL_LINE = "model: C9200L-24P-4G"
HOSTILE_MODEL = f'model: "C9200L-24P-4G\\n{INJECTED}\\n!"'
MEMORY_LIMIT = 1536 * 1024 * 1024  # the CLI needs ~600 MB of address space; the bomb, gigabytes


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base") / "inventory"
    generate(out, sites=1)
    return out


@pytest.fixture
def inv(base: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "inventory"
    shutil.copytree(base, dest)
    return dest


def _inject_model(inventory: Path, host: str = "fo001-acc-sw1") -> Path:
    path = inventory / "host_vars" / f"{host}.yml"
    text = path.read_text(encoding="utf-8")
    assert MODEL_LINE in text
    path.write_text(text.replace(MODEL_LINE, HOSTILE_MODEL, 1), encoding="utf-8")
    return path


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _netwarden(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "NETWARDEN_"))}
    return subprocess.run(
        [str(NETWARDEN), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        preexec_fn=_limit_memory,  # only setrlimit before exec (no threads to worry about)
    )


def test_check_refuses_a_line_break_in_the_model(inv: Path) -> None:
    _inject_model(inv)
    result = _netwarden("inventory", "check", "-i", "inventory", cwd=inv.parent)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert "host_vars/fo001-acc-sw1.yml:4: fo001-acc-sw1.model:" in result.stdout
    assert "contains a line feed (U+000A) at character 14" in result.stdout
    assert "Traceback" not in result.stderr


def test_render_of_the_hostile_inventory_writes_no_injected_line(inv: Path) -> None:
    _inject_model(inv)
    out = inv.parent / "configs"
    result = _netwarden("render", "-i", "inventory", "-o", str(out), cwd=inv.parent)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    assert "host_vars/fo001-acc-sw1.yml:4" in result.stdout + result.stderr
    written = [p.read_text() for p in out.glob("*.cfg")] if out.exists() else []
    assert not any(INJECTED in text for text in written)


def test_check_refuses_duplicate_keys_naming_both_lines(inv: Path) -> None:
    host = inv / "host_vars" / "fo001-acc-sw1.yml"
    lines = host.read_text(encoding="utf-8").splitlines()
    first_mgmt = next(i for i, line in enumerate(lines) if line.startswith("mgmt_address:")) + 1
    first_platform = next(i for i, line in enumerate(lines) if line.startswith("platform:")) + 1
    host.write_text("\n".join([*lines, "mgmt_address: 10.11.10.99", "platform: linux", ""]))
    result = _netwarden("inventory", "check", "-i", "inventory", cwd=inv.parent)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr
    n = len(lines)
    assert (
        f"host_vars/fo001-acc-sw1.yml:{n + 1}: mgmt_address: duplicate key 'mgmt_address' "
        f"(also on line {first_mgmt})"
    ) in result.stdout
    assert (
        f"host_vars/fo001-acc-sw1.yml:{n + 2}: platform: duplicate key 'platform' "
        f"(also on line {first_platform})"
    ) in result.stdout


BOMB = "".join(
    [
        "l1: &l1 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
        *(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(2, 10)),
    ]
)


@pytest.mark.parametrize(
    ("file", "text", "line"),
    [
        (
            "host_vars/fo001-acc-sw1.yml",
            "platform: ios\nmgmt_address: 10.11.10.21\n" + BOMB + "role: *l9\n",
            7,
        ),
        (
            "group_vars/all/auditor.yml",
            "auditor:\n" + "".join(f"  {line}\n" for line in BOMB.splitlines()),
            6,
        ),
    ],
    ids=["host_vars", "auditor.yml"],
)
def test_check_refuses_an_alias_bomb(inv: Path, file: str, text: str, line: int) -> None:
    (inv / file).write_text(text, encoding="utf-8")
    result = _netwarden("inventory", "check", "-i", "inventory", cwd=inv.parent)
    assert result.returncode == EXIT_USAGE, result.stdout + result.stderr[-2000:]
    assert f"{file}:{line}:" in result.stdout
    assert "refused as an alias bomb" in result.stdout
    assert "Traceback" not in result.stderr


# --- apply against the simulator: the switch never gets the injected line ---


@pytest.fixture(scope="module")
def lab(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(base, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


@pytest.mark.slow
def test_apply_refuses_and_the_switch_is_untouched(lab: Lab) -> None:
    host = lab.path / "host_vars" / "fo001-acc-sw1.yml"
    original = host.read_text(encoding="utf-8")
    before = running(lab.sim("fo001-acc-sw1"))
    try:
        _inject_model(lab.path)
        common = ["-i", str(lab.path), "--known-hosts", str(lab.known_hosts), "--timeout", "30"]
        runner = CliRunner()
        for command in (["plan"], ["apply", "--yes"]):
            result = runner.invoke(app, [*command, *common, "--limit", "fo001-acc-sw1"])
            assert result.exit_code == EXIT_USAGE, result.output
            assert "fo001-acc-sw1.yml" in result.stderr
            assert "fo001-acc-sw1.model" in result.stderr
    finally:
        host.write_text(original, encoding="utf-8")
    after = running(lab.sim("fo001-acc-sw1"))
    assert after == before
    assert "username evil" not in after


# --- the role's route: ansible-playbook with the lookup plugin ---


def _play(inventory: Path, out: Path) -> subprocess.CompletedProcess[str]:
    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(inventory),
            "--vault-password-file",
            str(inventory / ".vault-password"),
            "playbooks/render.yml",
            "-e",
            f"ios_baseline_output_dir={out}",
        ],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.mark.slow
def test_role_refuses_the_hostile_inventory(inv: Path) -> None:
    _inject_model(inv)
    out = inv.parent / "configs"
    result = _play(inv, out)
    assert result.returncode != 0, result.stdout
    assert "fo001-acc-sw1.model" in result.stdout
    assert "contains a line feed" in result.stdout
    written = [p.read_text() for p in out.glob("*.cfg")] if out.exists() else []
    assert not any(INJECTED in text for text in written)


@pytest.mark.slow
def test_role_refuses_a_role_option_with_a_line_break(inv: Path) -> None:
    """Inventory group_vars can set the role's options; Ansible renders those without netwarden's environment."""
    (inv / "group_vars" / "switches.yml").write_text(
        f'ios_baseline_archive_path: "flash:archive\\n{INJECTED}"\n', encoding="utf-8"
    )
    out = inv.parent / "configs"
    result = _play(inv, out)
    assert result.returncode != 0, result.stdout
    assert "template variable ios_baseline_archive_path contains a line feed" in result.stdout
    written = [p.read_text() for p in out.glob("*.cfg")] if out.exists() else []
    assert not any(INJECTED in text for text in written)
