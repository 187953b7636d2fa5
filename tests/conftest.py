"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def example_inventory() -> Path:
    return REPO / "inventory"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout; tests that use it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (evaluation data is only beside the checkout)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _no_ambient_vault_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their vault password explicitly; a developer's environment must not leak in."""
    for var in (
        "NETWARDEN_VAULT_PASSWORD_FILE",
        "ANSIBLE_VAULT_PASSWORD_FILE",
        "NETWARDEN_INVENTORY",
    ):
        if var in os.environ:
            monkeypatch.delenv(var)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Inventory snapshots (netwarden.inventory.snapshot) go to the session's own cache
    directory, never the developer's ``~/.cache``; subprocesses inherit it."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before
