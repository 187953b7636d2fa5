"""The predicate API and the platform registry: imports go one way, the engine sees every platform."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import netwarden.compliance.platforms
from netwarden.compliance import predicates
from netwarden.compliance.engine import Engine, builtin_pack_path, load_pack
from netwarden.compliance.models import ComplianceError
from netwarden.identity import current_user

PLATFORMS = Path(netwarden.compliance.platforms.__file__).parent
PLATFORM_MODULES = sorted(p for p in PLATFORMS.glob("*.py") if p.name != "__init__.py")


def imported_modules(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, lazy (function-level) imports included."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


@pytest.mark.parametrize("path", PLATFORM_MODULES, ids=lambda p: p.stem)
def test_platform_modules_never_import_the_engine(path: Path) -> None:
    assert not [m for m in imported_modules(path) if m.startswith("netwarden.compliance.engine")]


def test_the_predicate_api_imports_neither_the_engine_nor_a_platform() -> None:
    code = (
        "import sys, netwarden.compliance.predicates\n"
        "print(sorted(m for m in sys.modules if m.startswith("
        "('netwarden.compliance.engine', 'netwarden.compliance.platforms'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_every_platform_module_is_imported_by_the_package() -> None:
    registered = {m.rsplit(".", 1)[-1] for m in imported_modules(PLATFORMS / "__init__.py")}
    assert {p.stem for p in PLATFORM_MODULES} <= registered


def test_the_engine_sees_every_builtin_platform_and_predicate() -> None:
    drivers = predicates.drivers  # complete: importing the engine registered every platform
    assert sorted(drivers()) == ["ios", "linux", "nftables"]
    specs = predicates.predicate_specs()
    for platform, driver in drivers().items():
        pack = load_pack(builtin_pack_path(platform))
        assert driver.pack == f"{platform}.yml"
        for rule in pack.rules:
            assert rule.check.predicate in specs, rule.id
            if rule.applies.when is not None:
                assert rule.applies.when.predicate in specs, rule.id


def test_a_predicate_registered_twice_is_refused() -> None:
    name = next(iter(predicates.predicate_specs()))
    with pytest.raises(ComplianceError, match="registered twice"):
        predicates.predicate(name)(lambda _ctx, _args: predicates.passed())


def plain_types(value: Any) -> set[type]:
    if isinstance(value, dict):
        return {dict}.union(*(plain_types(k) | plain_types(v) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return {type(value)}.union(*(plain_types(v) for v in value))
    return {type(value)}


@pytest.mark.parametrize("platform", ["ios", "linux", "nftables"])
def test_pack_arguments_are_plain_builtins(platform: str) -> None:
    """Ansible tags the values it loads; what reaches pydantic and the predicates is untagged."""
    pack = load_pack(builtin_pack_path(platform))
    found = set().union(*(plain_types(dict(r.check.args)) for r in pack.rules))
    assert found <= {dict, list, str, int, float, bool, type(None)}
    assert {type(r.id) for r in pack.rules} == {str}


def test_the_run_names_who_ran_it(engine: Engine, tmp_path: Path) -> None:
    from netwarden.compliance.sources import FolderSource

    (tmp_path / "sw1.cfg").write_text("hostname sw1\n", encoding="utf-8")
    run = engine.run(FolderSource(tmp_path, platform="ios"))
    assert run.meta.user == current_user()
