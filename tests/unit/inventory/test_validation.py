"""Every validation rule, driven by broken-inventory fixtures in tests/data/inventory_cases.

Each case edits a copy of a valid generated inventory and names the problem it
must produce: the file, the key, part of the message and, optionally, the line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from netwarden.inventory import read_inventory

CASES = sorted((Path(__file__).parents[2] / "data" / "inventory_cases").glob("*.yml"))
_INDEX = re.compile(r"^(?P<key>[^\[]+)?(?:\[(?P<idx>\d+)\])?$")


def _steps(path: str) -> list[str | int]:
    steps: list[str | int] = []
    for part in path.split("."):
        m = _INDEX.match(part)
        assert m, f"bad key path {path!r}"
        if m["key"]:
            steps.append(m["key"])
        if m["idx"] is not None:
            steps.append(int(m["idx"]))
    return steps


def _set(doc: Any, path: str, value: Any) -> None:
    steps = _steps(path)
    node = doc
    for step in steps[:-1]:
        if isinstance(step, str):
            if node.get(step) is None:
                node[step] = {}
            node = node[step]
        else:
            node = node[step]
    last = steps[-1]
    node[last] = value


def apply_edits(root: Path, edits: list[dict[str, Any]]) -> None:
    for edit in edits:
        target = root / edit["file"]
        if "write" in edit:
            target.write_text(edit["write"], encoding="utf-8")
            continue
        doc = yaml.safe_load(target.read_text(encoding="utf-8"))
        for key, value in edit["set"].items():
            _set(doc, key, value)
        target.write_text(
            yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )


def test_base_inventory_is_clean(base_inventory: Path) -> None:
    inv, problems = read_inventory(base_inventory)
    assert problems == []
    assert inv is not None
    assert {"jed", "fo001", "fo002"} <= set(inv.sites)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_broken_inventory_is_reported(case: Path, inventory_copy: Path) -> None:
    spec = yaml.safe_load(case.read_text(encoding="utf-8"))
    apply_edits(inventory_copy, spec["edits"])
    _, problems = read_inventory(inventory_copy)
    assert problems, f"{case.stem}: expected problems, got none"
    for want in spec["expect"]:
        matches = [
            p
            for p in problems
            if p.file.endswith(want["file"])
            and p.key == want["key"]
            and want["message"] in p.message
            and p.line == want.get("line", p.line)
        ]
        assert matches, (
            f"{case.stem}: no problem with file {want['file']}, line {want.get('line', 'any')}, "
            f"key {want['key']!r}, message containing {want['message']!r}; got:\n"
            + "\n".join(map(str, problems))
        )
        assert str(matches[0]).startswith(matches[0].file)
