"""Fixtures of the auditor tests: the example inventory, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory


@pytest.fixture(scope="session")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)
