"""What every ``netwarden`` command shares: exit codes, consoles, common options, loading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from netwarden.errors import NetwardenError
from netwarden.inventory.models import Inventory

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


console = Console()
err_console = Console(stderr=True)


def default_inventory() -> Path:
    return Path(os.environ.get("NETWARDEN_INVENTORY", "inventory"))


InventoryOpt = Annotated[
    Path,
    typer.Option(
        "--inventory",
        "-i",
        help="Inventory directory or file (default: $NETWARDEN_INVENTORY or ./inventory).",
        default_factory=default_inventory,
        show_default=False,
    ),
]
VaultOpt = Annotated[
    Path | None,
    typer.Option(
        "--vault-password-file",
        help="Vault password file (default: $NETWARDEN_VAULT_PASSWORD_FILE, "
        "$ANSIBLE_VAULT_PASSWORD_FILE, then <inventory>/.vault-password).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: <message>`` on stderr and return the exit to raise.

    The message is plain text, printed verbatim: never parsed as Rich markup (``[::1]:22``,
    ``sw[ab]``, ``[/]``) nor emoji codes (``:ok:``). A :class:`~rich.text.Text` rather than
    :func:`rich.markup.escape`, which would double a trailing backslash.
    """
    line = Text.assemble(("error:", "bold red"), " ", message)
    err_console.print(line, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(inventory: Path, vault_password_file: Path | None) -> Inventory:
    from netwarden.inventory import read_inventory  # noqa: PLC0415  (Ansible import is slow)

    try:
        inv, problems = read_inventory(inventory, vault_password_file)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    if problems or inv is None:
        for p in problems:
            err_console.print(str(p), highlight=False, markup=False, soft_wrap=True)
        raise _fail(
            f"{inventory}: {len(problems)} problem(s); run `netwarden inventory check` for the list"
        )
    return inv
