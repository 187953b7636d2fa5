"""The lab directory the simulator writes: its marker, file names, and the vault re-keyed.

Split from :mod:`netwarden.lab.sim.fleet` (which re-exports the names): replacing a
previous lab safely (:func:`clear_lab_dir`) and giving a lab copy of an inventory its
own vault password (:func:`rekey_vault`) are about files, not simulated devices.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

CREDENTIALS_FILE = "group_vars/all/zz_lab_credentials.yml"
KNOWN_HOSTS_FILE = "known_hosts.txt"  # .txt: Ansible does not read it as an inventory source
LAB_MARKER = ".netwarden-lab"  # a dot file: Ansible ignores it as an inventory source
LOCK_DIR_NAME = ".netwarden-locks"  # the source's apply locks (netwarden.config.locks): not copied
VAULT_HEADER = b"$ANSIBLE_VAULT;"
# An inline vault value: "!vault |" then the vaulted text, indented, up to the first other line.
_INLINE_VAULT = re.compile(
    r"(?P<tag>!vault[ \t]*\|[-+]?[ \t]*\r?\n)"
    r"(?P<indent>[ \t]+)(?P<body>\$ANSIBLE_VAULT;[^\n]*\n(?:(?P=indent)[0-9A-Fa-f]+[ \t]*(?:\n|\Z))+)"
)


def dump_yaml(path: Path, data: object, *, private: bool = False) -> None:
    """Write ``data`` as YAML to ``path`` (0600 from the first byte when ``private``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "---\n# written by netwarden lab sim\n" + yaml.safe_dump(data, sort_keys=False)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    if private:
        path.chmod(0o600)


def clear_lab_dir(out: Path, source: Path) -> None:
    """Make ``out`` an empty directory: new, empty, or a lab this module wrote before.

    A previous lab (it holds :data:`LAB_MARKER`) is replaced whole: a stale host file
    would add a device that is not simulated. Any other non-empty directory is
    refused, never deleted, and so is an ``out`` that is ``source`` or contains it or
    lies inside it (``lab sim -i lab --out lab`` would delete its own input).
    """
    src, dst = source.resolve(), out.resolve()
    if src == dst or src.is_relative_to(dst) or dst.is_relative_to(src):
        raise ValueError(
            f"--out {out} overlaps the inventory {source} it is built from; choose another --out"
        )
    if out.is_dir() and any(out.iterdir()):
        if not (out / LAB_MARKER).is_file():
            raise ValueError(
                f"{out} is not empty and is not a lab written by netwarden lab sim "
                f"(no {LAB_MARKER}); choose another --out"
            )
        if (out / ".lab" / "state.jsonl").exists():  # netwarden.lab.ns.state: never here
            raise ValueError(
                f"{out} holds a namespace lab (netwarden lab up); remove it with "
                f"`netwarden lab down {out}` or choose another --out"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def rekey_vault(source: Path, out: Path) -> Path:
    """Give the lab copy ``out`` of ``source`` a fresh random vault password; return its file.

    ``<out>/.vault-password`` gets ``secrets.token_urlsafe(32)``, mode 0600 from its
    first byte, and every vault of the copy (vault files, inline ``!vault`` values)
    is decrypted with the source's password (found as the inventory loader finds
    it) and encrypted again with the new one: the secrets, and so the rendered
    configs, stay the same; the source's password is not copied.

    Raises:
        ValueError: the copy holds a vault but the source's password is missing or wrong.
    """
    from netwarden.inventory.vault import (  # noqa: PLC0415 - Ansible is heavy
        VAULT_PASSWORD_FILENAME,
        find_vault_password_file,
    )
    from netwarden.privatefile import write_private  # noqa: PLC0415

    password = secrets.token_urlsafe(32)
    pw_file = out / VAULT_PASSWORD_FILENAME
    pw_file.unlink(missing_ok=True)  # the source's copy (0644 in a checkout)
    write_private(pw_file, password + "\n")
    whole: list[Path] = []  # vault files
    inline: list[Path] = []  # YAML files with inline !vault values
    for path in sorted(out.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if data.startswith(VAULT_HEADER):
            whole.append(path)
        elif path.suffix in (".yml", ".yaml", "") and b"!vault" in data:
            inline.append(path)
    if not whole and not inline:
        return pw_file
    old_file = find_vault_password_file(source)
    first = (whole or inline)[0].relative_to(out)
    if old_file is None:
        raise ValueError(
            f"{source}: {first} is vault-encrypted but no vault password was found "
            "(NETWARDEN_VAULT_PASSWORD_FILE, ANSIBLE_VAULT_PASSWORD_FILE or "
            f"{source}/{VAULT_PASSWORD_FILENAME})"
        )
    from ansible.errors import AnsibleError  # noqa: PLC0415
    from ansible.parsing.vault import VaultLib, VaultSecret  # noqa: PLC0415

    old = VaultLib([("default", VaultSecret(old_file.read_bytes().strip()))])
    new = VaultLib([("default", VaultSecret(password.encode()))])

    def again(vaulted: str | bytes) -> bytes:
        return bytes(new.encrypt(old.decrypt(vaulted)))

    def inline_again(match: re.Match[str]) -> str:
        indent = match["indent"]
        body = "\n".join(line.strip() for line in match["body"].splitlines())
        lines = again(body).decode().splitlines()
        return match["tag"] + "".join(f"{indent}{line}\n" for line in lines)

    for path in [*whole, *inline]:
        try:
            if path in whole:
                path.write_bytes(again(path.read_bytes()))
            else:
                text = path.read_text(encoding="utf-8")
                path.write_text(_INLINE_VAULT.sub(inline_again, text), encoding="utf-8")
        except AnsibleError as exc:
            raise ValueError(
                f"{source / path.relative_to(out)}: cannot decrypt it with the vault password "
                f"of {old_file}: {exc}"
            ) from exc
    logger.info("lab vault re-encrypted with a fresh password in %s", pw_file)
    return pw_file
