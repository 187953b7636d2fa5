"""Where the inventory's vault password comes from, and Ansible's loader that holds it.

The password file is named by ``--vault-password-file``, else by
``NETWARDEN_VAULT_PASSWORD_FILE`` or ``ANSIBLE_VAULT_PASSWORD_FILE``, else it is
``.vault-password`` in the inventory directory. The lab simulator and the
inventory generator write and find it through the same names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from netwarden.errors import VaultError

VAULT_PASSWORD_ENV = ("NETWARDEN_VAULT_PASSWORD_FILE", "ANSIBLE_VAULT_PASSWORD_FILE")
VAULT_PASSWORD_FILENAME = ".vault-password"  # noqa: S105  (a file name, not a password)


def find_vault_password_file(inventory: Path, explicit: Path | None = None) -> Path | None:
    """Where the vault password comes from: option, environment, then ``<inventory>/.vault-password``."""
    return vault_password_source(inventory, explicit)[0]


def vault_password_source(inventory: Path, explicit: Path | None = None) -> tuple[Path | None, str]:
    """The vault password file and where it was named (for messages).

    Examples:
        >>> vault_password_source(Path("/nonexistent"), Path("pw"))
        (PosixPath('pw'), '--vault-password-file')
    """
    if explicit is not None:
        return explicit, "--vault-password-file"
    for var in VAULT_PASSWORD_ENV:
        if os.environ.get(var):
            return Path(os.environ[var]), var
    candidate = (inventory if inventory.is_dir() else inventory.parent) / VAULT_PASSWORD_FILENAME
    if candidate.is_file():
        return candidate, f"{VAULT_PASSWORD_FILENAME} in the inventory directory"
    return None, ""


def vault_hint(inventory: Path, explicit: Path | None = None) -> str:
    """What to do when the vault does not open: name the password file that was tried, if any.

    Examples:
        >>> print(vault_hint(Path("/nonexistent"), Path("pw.txt")))
        the password in pw.txt (given with --vault-password-file) does not open this vault: check that it is this inventory's password
        >>> "give it with --vault-password-file" in vault_hint(Path("/nonexistent"))
        True
    """
    from netwarden.inventory.origins import display_path  # noqa: PLC0415  (YAML: lazily)

    pw_file, origin = vault_password_source(inventory, explicit)
    if pw_file is not None:
        return (
            f"the password in {display_path(pw_file)} (given with {origin}) does not open this "
            "vault: check that it is this inventory's password"
        )
    return (
        "no vault password was given: give it with --vault-password-file, "
        f"NETWARDEN_VAULT_PASSWORD_FILE or {VAULT_PASSWORD_FILENAME} in the inventory directory"
    )


def data_loader(path: Path, vault_password_file: Path | None) -> Any:
    """Ansible's DataLoader for ``path``, with the vault secret if one is configured."""
    from ansible.parsing.dataloader import DataLoader  # noqa: PLC0415
    from ansible.parsing.vault import VaultSecret  # noqa: PLC0415

    loader = DataLoader()
    pw_file = find_vault_password_file(path, vault_password_file)
    if pw_file is not None:
        try:
            secret = pw_file.read_bytes().strip()
        except OSError as exc:
            raise VaultError(
                f"cannot read the vault password file {pw_file}: {exc.strerror}"
            ) from exc
        if not secret:
            raise VaultError(f"the vault password file {pw_file} is empty")
        loader.set_vault_secrets([("default", VaultSecret(secret))])
    return loader


def is_vault_error(exc: BaseException) -> bool:
    """Whether an Ansible error is (or wraps, up to 10 deep) a vault that did not open."""
    from ansible.parsing.vault import AnsibleVaultError  # noqa: PLC0415

    current: BaseException | None = exc
    for _ in range(10):
        if current is None:
            return False
        if isinstance(current, AnsibleVaultError) or "vault" in str(current).lower():
            return True
        current = current.__cause__ or current.__context__
    return False
