"""The lab's copy of an inventory gets its own vault password; the secrets stay the same."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from ansible.parsing.vault import VaultLib, VaultSecret

from netwarden.lab.sim.labdir import rekey_vault


def vault(password: bytes) -> VaultLib:
    return VaultLib([("default", VaultSecret(password))])


@pytest.fixture
def copies(
    example_inventory: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    for var in ("NETWARDEN_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_PASSWORD_FILE"):
        monkeypatch.delenv(var, raising=False)
    source = tmp_path / "source"
    shutil.copytree(example_inventory, source)
    old = vault((source / ".vault-password").read_bytes().strip())
    lines = old.encrypt("inline-secret").decode().splitlines()
    (source / "host_vars" / "inline.yml").write_text(
        "---\nfoo: !vault |\n" + "".join(f"  {line}\n" for line in lines) + "bar: 1\n"
    )
    out = tmp_path / "lab"
    shutil.copytree(source, out)
    return source, out


def test_every_vault_is_re_encrypted_with_a_fresh_0600_password(copies: tuple[Path, Path]) -> None:
    source, out = copies
    pw_file = rekey_vault(source, out)
    password = pw_file.read_bytes().strip()
    assert password != (source / ".vault-password").read_bytes().strip()
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    old = vault((source / ".vault-password").read_bytes().strip())
    new = vault(password)
    whole = "group_vars/all/vault.yml"
    assert new.decrypt((out / whole).read_bytes()) == old.decrypt((source / whole).read_bytes())
    text = (out / "host_vars" / "inline.yml").read_text()
    body = text.split("|\n", 1)[1].split("bar:", 1)[0]
    assert new.decrypt("\n".join(line.strip() for line in body.splitlines())) == b"inline-secret"
    assert text.endswith("bar: 1\n")


def test_a_vault_without_its_password_is_a_clear_error(copies: tuple[Path, Path]) -> None:
    source, out = copies
    (source / ".vault-password").unlink()
    with pytest.raises(ValueError, match=r"vault\.yml is vault-encrypted but no vault password"):
        rekey_vault(source, out)


def test_a_wrong_source_password_names_the_file(copies: tuple[Path, Path]) -> None:
    source, out = copies
    (source / ".vault-password").write_text("wrong\n")
    with pytest.raises(ValueError, match="cannot decrypt it with the vault password of"):
        rekey_vault(source, out)
