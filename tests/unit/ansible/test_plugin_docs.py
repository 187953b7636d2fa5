"""The action plugins' argument specs and their ansible-doc documentation say the same thing."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[3]
PLUGINS = ("netwarden_config", "netwarden_backup")
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"


def argument_spec(name: str) -> dict[str, dict[str, Any]]:
    path = REPO / "playbooks" / "action_plugins" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_action_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result: dict[str, dict[str, Any]] = module.ARGUMENT_SPEC
    return result


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    proc = subprocess.run(
        [str(ANSIBLE_DOC), "-M", str(REPO / "playbooks" / "library"), "--json", *PLUGINS],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize("name", PLUGINS)
def test_documented_options_are_the_argument_spec(docs: dict[str, Any], name: str) -> None:
    doc = docs[name]["doc"]
    assert doc["short_description"]
    assert docs[name]["examples"].strip()
    assert docs[name]["return"]
    options = doc["options"]
    spec = argument_spec(name)
    assert set(options) == set(spec)
    for option, rule in spec.items():
        documented = options[option]
        assert documented["type"] == rule["type"], option
        assert documented.get("default") == rule.get("default"), option
        assert bool(documented.get("required")) == bool(rule.get("required")), option
        assert documented.get("choices") == rule.get("choices"), option
