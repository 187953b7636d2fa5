"""Synthetic fleets are valid inventories in the same format."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from netwarden.errors import GenerateError
from netwarden.inventory import load_inventory
from netwarden.inventory.generate import generate


def test_generated_inventory_is_valid(tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    hosts = generate(out, sites=7)
    inv = load_inventory(out)
    assert len(inv.devices) == hosts
    assert len(inv.sites) == 8
    pw = out / ".vault-password"
    assert stat.S_IMODE(pw.stat().st_mode) == 0o600
    assert (
        (out / "group_vars" / "all" / "vault.yml")
        .read_text()
        .startswith("$ANSIBLE_VAULT;1.1;AES256")
    )


def test_two_generated_vaults_differ(tmp_path: Path) -> None:
    generate(tmp_path / "a", sites=1)
    generate(tmp_path / "b", sites=1)
    a = load_inventory(tmp_path / "a").policy.aaa.tacacs_key.get_secret_value()
    b = load_inventory(tmp_path / "b").policy.aaa.tacacs_key.get_secret_value()
    assert a != b


@pytest.mark.parametrize("count", [0, 201])
def test_site_count_bounds(tmp_path: Path, count: int) -> None:
    with pytest.raises(GenerateError, match="between 1 and 200"):
        generate(tmp_path / "x", sites=count)


def test_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(GenerateError, match="not empty"):
        generate(tmp_path, sites=1)
    assert (tmp_path / "keep.txt").read_text() == "precious"
