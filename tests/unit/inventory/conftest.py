"""A small valid generated inventory (HQ + 2 field offices), copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from netwarden.inventory.generate import generate


@pytest.fixture(scope="session")
def base_inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("base") / "inventory"
    generate(out, sites=2)
    return out


@pytest.fixture
def inventory_copy(base_inventory: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "inventory"
    shutil.copytree(base_inventory, dest)
    return dest
