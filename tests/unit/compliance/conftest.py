"""Shared fixtures of the compliance tests: the engine, the example inventory, the data folder."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from netwarden.compliance.engine import Engine
from netwarden.inventory.models import Inventory

DATA = Path(__file__).resolve().parents[2] / "data" / "compliance"
TODAY = date(2026, 11, 27)


@pytest.fixture(scope="session")
def engine() -> Engine:
    return Engine(today=TODAY)


@pytest.fixture(scope="session")
def inventory(example_inventory: Path) -> Inventory:
    from netwarden.inventory import load_inventory

    return load_inventory(example_inventory)


@pytest.fixture(scope="session")
def inv_engine(inventory: Inventory) -> Engine:
    return Engine(inventory=inventory, today=TODAY)
