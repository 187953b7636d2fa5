"""The Ansible route reads the inventory once per process while its files are unchanged.

The plugins call :mod:`netwarden.config.ansible_api` once per host (and the
lookups once per batch); each call used to read and validate the whole
inventory again. Reads are counted at ``read_inventory``, what
``load_inventory`` calls, so the count is the same whichever way the API reaches it.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netwarden.config import inventory_cache
from netwarden.config.ansible_api import host_from_params, lookup_inventory
from netwarden.config.inventory_cache import MAX_ENTRIES, cached_inventory
from netwarden.errors import InventoryInvalidError
from netwarden.inventory import loader
from netwarden.inventory.problems import Problem

HOSTS = ("gva-acc-sw1", "nyc-acc-sw1", "nyc-acc-sw2", "jed-core-sw1")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    inventory_cache.clear()
    yield
    inventory_cache.clear()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The inventories really read (``read_inventory`` calls), in order."""
    seen: list[Path] = []
    real = loader.read_inventory

    def counting(path: Any, vault_password_file: Path | None = None) -> Any:
        seen.append(Path(path))
        return real(path, vault_password_file)

    monkeypatch.setattr(loader, "read_inventory", counting)
    return seen


@pytest.fixture
def fake_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Like :func:`reads`, but nothing is read: each call returns a fresh stand-in, slowly."""
    seen: list[Path] = []

    def fake(path: Any, vault_password_file: Path | None = None) -> Any:
        seen.append(Path(path))
        time.sleep(0.05)  # wide enough for threads to meet
        return object(), []

    monkeypatch.setattr(loader, "read_inventory", fake)
    return seen


def play_vars(inventory: Path, host: str) -> dict[str, object]:
    return {"inventory_hostname": host, "ansible_inventory_sources": [str(inventory)]}


def test_several_hosts_and_a_lookup_read_the_inventory_once(
    example_inventory: Path, reads: list[Path]
) -> None:
    hosts = [host_from_params({}, play_vars(example_inventory, name)) for name in HOSTS]
    inv, names = lookup_inventory(str(example_inventory), [list(HOSTS)])
    assert [h.device.name for h in hosts] == list(HOSTS)
    assert names == list(HOSTS)
    assert all(h.inventory is inv for h in hosts)
    assert reads == [example_inventory]
    assert inventory_cache.info() == (1, len(HOSTS), 1)


def test_an_edited_inventory_is_read_again(
    example_inventory: Path, tmp_path: Path, reads: list[Path]
) -> None:
    copy = tmp_path / "inventory"
    shutil.copytree(example_inventory, copy)
    first = cached_inventory(copy)
    assert cached_inventory(copy) is first
    vars_file = copy / "host_vars" / "gva-acc-sw1.yml"
    vars_file.write_text(vars_file.read_text() + "\n# edited\n")
    second = cached_inventory(copy)
    assert second is not first
    assert cached_inventory(copy) is second
    assert reads == [copy, copy]


def test_another_vault_password_file_is_another_entry(
    example_inventory: Path, tmp_path: Path, reads: list[Path]
) -> None:
    password = tmp_path / "pw"
    shutil.copy2(example_inventory / ".vault-password", password)
    default = cached_inventory(example_inventory)
    other = cached_inventory(example_inventory, password)
    assert other is not default
    assert cached_inventory(example_inventory, password) is other
    assert cached_inventory(example_inventory) is default
    assert len(reads) == 2


def test_the_cache_is_bounded_least_recently_used_first(
    tmp_path: Path, fake_reads: list[Path]
) -> None:
    paths = [tmp_path / f"inv{i}" for i in range(MAX_ENTRIES + 1)]
    for path in paths:
        path.mkdir()
    kept = cached_inventory(paths[0])
    for path in paths[1:]:
        cached_inventory(path)
        assert cached_inventory(paths[0]) is kept  # used again: never the one dropped
    assert inventory_cache.info().entries == MAX_ENTRIES
    cached_inventory(paths[1])  # dropped when the last one came in
    assert fake_reads.count(paths[1]) == 2
    assert fake_reads.count(paths[0]) == 1


def test_threads_asking_at_once_read_once(tmp_path: Path, fake_reads: list[Path]) -> None:
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(cached_inventory(tmp_path))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8
    assert all(inv is got[0] for inv in got)
    assert fake_reads == [tmp_path]


def test_an_invalid_inventory_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []

    def invalid(path: Any, vault_password_file: Path | None = None) -> Any:
        calls.append(Path(path))
        return None, [Problem(file="hosts.yml", key="all", message="bad")]

    monkeypatch.setattr(loader, "read_inventory", invalid)
    for _ in range(2):
        with pytest.raises(InventoryInvalidError):
            cached_inventory(tmp_path)
    assert len(calls) == 2
    assert inventory_cache.info().entries == 0
