"""The architecture contracts (``[tool.importlinter]`` in pyproject.toml) hold, and they bite.

``make test`` runs ``lint-imports`` on the tree as it is (the ``lint`` target);
these tests copy the packages into a scratch directory, make one wrong import
there, and check that the contracts fail naming it: a contract that cannot
fail would prove nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
DETECTORS = ROOT / "collectors" / "auditor" / "detectors"


def _scratch(tmp_path: Path) -> Path:
    """A copy of the two packages and pyproject.toml, importable from ``tmp_path``."""
    for package in ("netwarden", "collectors"):
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.c"),
        )
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(where), "COLUMNS": "200"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(where / "pyproject.toml")],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_contracts_hold_on_the_tree(tmp_path: Path) -> None:
    proc = _lint(_scratch(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout
    assert "5 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        # a lower layer importing a higher one
        ("netwarden/inventory/text.py", "import netwarden.render", "Layers"),
        ("netwarden/ios/secrets.py", "import netwarden.devices", "Layers"),
        # the core importing the CLI, collectors importing the CLI
        ("netwarden/config/plan.py", "import netwarden.cli.common", "Layers"),
        ("collectors/auditor/engine.py", "import netwarden.cli.auditor", "Layers"),
        # workflows are independent of each other
        ("netwarden/config/drift.py", "import netwarden.compliance.models", "Layers"),
        # a detector importing another detector
        (
            "collectors/auditor/detectors/port_scan.py",
            "import collectors.auditor.detectors.address_scan",
            "Detectors are plugins",
        ),
        # the workflows reaching for a device library themselves
        ("netwarden/render/__init__.py", "import netmiko", "device libraries"),
        ("netwarden/compliance/models.py", "import scapy", "scapy and prometheus_client"),
    ],
)
def test_a_wrong_import_breaks_its_contract(
    tmp_path: Path, module: str, wrong_import: str, contract: str
) -> None:
    where = _scratch(tmp_path)
    _append(where / module, wrong_import)
    proc = _lint(where)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    broken = [line for line in proc.stdout.splitlines() if line.rstrip().endswith("BROKEN")]
    assert any(contract in line for line in broken), proc.stdout
    dotted = module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert dotted in proc.stdout


def test_a_circle_breaks_the_acyclic_contract(tmp_path: Path) -> None:
    """Two sibling modules importing each other (whichever way they did before)."""
    where = _scratch(tmp_path)
    _append(where / "netwarden/ios/normalize.py", "import netwarden.ios.sanitize")
    _append(where / "netwarden/ios/sanitize.py", "import netwarden.ios.normalize")
    proc = _lint(where)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "No circles" in proc.stdout
    assert "No cycles are allowed in netwarden.ios" in proc.stdout


def test_every_detector_is_in_the_independence_contract() -> None:
    """A new detector module is a plugin: the contract must list it (else it is unchecked)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    listed = {m.rsplit(".", 1)[1] for m in contracts["detectors"]["modules"]}
    plugins = {
        p.stem for p in DETECTORS.glob("*.py") if not p.stem.startswith("_") and p.stem != "base"
    }
    assert plugins, "no detector modules found"
    assert listed == plugins
