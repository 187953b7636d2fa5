"""The lab's TACACS+ logins: generated at ``up``, vaulted in the lab inventory, served by the lab.

Two logins, both made at run time and never committed:

- the lab's switch login (``<lab>/.lab/switches/credentials.json``, the one every
  simulated switch accepts locally) at privilege 15, every command: a switch whose
  ``aaa authentication login default group tacacs+ local`` asks the server or falls
  back to its local user accepts the same login either way;
- ``netwarden-ro`` at privilege 1, ``show``/``ping``/``traceroute`` only
  (``<lab>/.lab/tacacs/readonly.json``, ``0600``): authorization's FAIL has a user.

The shared key is the inventory's ``policy.aaa.tacacs_key`` (the lab's copy holds
the same value under its own vault password), so the server's key is the one the
switches' ``tacacs server`` blocks are rendered with. :func:`vault_vars` names the
passwords for the lab's vault (``group_vars/all/zz_lab_vault.yml``):
``vault_lab_tacacs_<user>_password``.

Examples:
    >>> vault_name("netwarden-ro")
    'vault_lab_tacacs_netwarden_ro_password'
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from netwarden.lab.tacplus.policy import TacacsSecrets, TacacsUser
from netwarden.privatefile import write_private

logger = logging.getLogger(__name__)

TACACS_DIR = "tacacs"  # in the lab's work directory
READONLY_FILE = "readonly.json"
READONLY_USER = "netwarden-ro"
ADMIN_COMMANDS = ("*",)
READONLY_COMMANDS = ("show *", "ping *", "traceroute *", "terminal length *", "exit", "logout")


@dataclass(frozen=True)
class TacacsLogin:
    """One TACACS+ user as the lab knows it (the password in clear: never logged)."""

    username: str
    password: str = field(repr=False)
    privilege: int
    commands: tuple[str, ...]


def vault_name(username: str) -> str:
    """The lab vault's variable for ``username``'s TACACS+ password."""
    return f"vault_lab_tacacs_{re.sub(r'[^a-z0-9]', '_', username.lower())}_password"


def _readonly_password(work: Path) -> str:
    path = work / TACACS_DIR / READONLY_FILE
    if path.is_file():
        return str(json.loads(path.read_text(encoding="utf-8"))["password"])
    password = secrets.token_urlsafe(12)
    write_private(path, json.dumps({"username": READONLY_USER, "password": password}) + "\n")
    return password


def lab_logins(work: Path) -> tuple[TacacsLogin, ...]:
    """The lab's TACACS+ logins (module docstring), made in ``work`` the first time."""
    from netwarden.lab.ns.switches import lab_credentials  # noqa: PLC0415 - the simulator: heavy

    admin = lab_credentials(work)
    return (
        TacacsLogin(admin.username, admin.password, 15, ADMIN_COMMANDS),
        TacacsLogin(READONLY_USER, _readonly_password(work), 1, READONLY_COMMANDS),
    )


def server_secrets(key: str, logins: tuple[TacacsLogin, ...]) -> TacacsSecrets:
    """The server's users file: ``key`` and each login with its password hashed."""
    return TacacsSecrets(
        key=key,  # pydantic makes the SecretStr
        users=tuple(
            TacacsUser.with_password(
                login.username, login.password, privilege=login.privilege, commands=login.commands
            )
            for login in logins
        ),
    )


def vault_vars(logins: tuple[TacacsLogin, ...]) -> dict[str, str]:
    """``vault_lab_tacacs_<user>_password`` -> password, for the lab's vault."""
    return {vault_name(login.username): login.password for login in logins}
