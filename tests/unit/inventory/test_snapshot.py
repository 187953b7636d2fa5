"""The secret-free inventory snapshot the auditor starts from (netwarden.inventory.snapshot)."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectors.auditor.config import load_auditor_config, load_auditor_config_snapshot
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Inventory
from netwarden.inventory.snapshot import (
    ENV_SWITCH,
    INVENTORY,
    load_inventory_snapshot,
    read_snapshot,
    snapshot_dir,
)
from netwarden.inventory.vault import data_loader


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    directory = snapshot_dir()
    assert directory is not None
    return directory


def _snapshots(cache: Path) -> list[Path]:
    return sorted(cache.glob(f"*-{INVENTORY}-*.json")) if cache.exists() else []


def _scalars(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    elif value is not None:
        yield str(value)


def test_snapshot_holds_no_vault_value_and_reads_back_the_same_model(
    inventory_copy: Path, cache: Path
) -> None:
    first = load_inventory_snapshot(inventory_copy)
    (file,) = _snapshots(cache)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    text = file.read_text()
    vault = data_loader(inventory_copy, None).load_from_file(
        str(inventory_copy / "group_vars" / "all" / "vault.yml")
    )
    secrets = [s for s in _scalars(dict(vault)) if len(s) >= 4]
    assert secrets  # the generated inventory has a vault: the check means something
    assert not [s for s in secrets if s in text]
    again = read_snapshot(inventory_copy, None, Inventory, INVENTORY)
    assert again is not None
    assert again.model_dump(mode="json") == first.model_dump(mode="json")
    # The full read gives the same model (its secrets masked the same way in a dump).
    assert load_inventory(inventory_copy).model_dump(mode="json") == again.model_dump(mode="json")


def test_any_change_to_the_inventory_is_a_miss(inventory_copy: Path, cache: Path) -> None:
    load_inventory_snapshot(inventory_copy)
    (old,) = _snapshots(cache)
    host_vars = sorted((inventory_copy / "host_vars").iterdir())[0]
    host_vars.write_text(host_vars.read_text() + "\n# touched\n")
    assert read_snapshot(inventory_copy, None, Inventory, INVENTORY) is None
    load_inventory_snapshot(inventory_copy)
    (new,) = _snapshots(cache)  # the stale one is removed
    assert new != old


def test_a_snapshot_others_may_write_is_ignored(inventory_copy: Path, cache: Path) -> None:
    load_inventory_snapshot(inventory_copy)
    (file,) = _snapshots(cache)
    file.chmod(0o666)
    assert read_snapshot(inventory_copy, None, Inventory, INVENTORY) is None


def test_switched_off(inventory_copy: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SWITCH, "0")
    load_inventory_snapshot(inventory_copy)
    assert _snapshots(cache) == []


def test_auditor_settings_come_back_with_their_source(
    example_inventory: Path, tmp_path: Path, cache: Path
) -> None:
    inventory = tmp_path / "inventory"
    shutil.copytree(example_inventory, inventory)
    full = load_auditor_config(inventory)
    assert load_auditor_config_snapshot(inventory) == full  # read in full, snapshotted
    assert list(cache.glob("*-auditor-config-*.json"))
    again = load_auditor_config_snapshot(inventory)
    assert again == full
    assert again.source == full.source != ""


def test_systemd_cache_directory_and_no_home(
    inventory_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path / "unit-cache"))
    load_inventory_snapshot(inventory_copy)
    assert list((tmp_path / "unit-cache" / "inventory").glob(f"*-{INVENTORY}-*.json"))
    monkeypatch.delenv("CACHE_DIRECTORY")

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    assert snapshot_dir() is None
    assert read_snapshot(inventory_copy, None, Inventory, INVENTORY) is None  # a miss, no crash
