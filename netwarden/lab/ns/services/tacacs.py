"""The lab's own TACACS+ server (:mod:`netwarden.lab.tacplus`) for ``tacacs``: tcp/49.

Debian 12 and PyPI have no TACACS+ server, so the lab runs netwarden's
(``python -m netwarden.lab.tacplus``, the holder's own interpreter) in the
foreground on port 49 of each of the server's addresses. Its users file
(``/etc/netwarden-lab/secrets/tacacs-users.json``, ``0600``: the shared key and the
users with hashed passwords) is written by ``start_server`` before the holder
starts (:func:`write_users`), from the lab's credentials: the key is the
inventory's ``policy.aaa.tacacs_key`` (the one the switches' ``tacacs server``
blocks are rendered with). Accounting records go to
``/var/log/tacacs/accounting.jsonl``; the server logs to the server's syslog (auth)
when rsyslog runs there, else to its log file.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import TYPE_CHECKING

from netwarden.lab.ns.services.base import LAB_ETC, Daemon, Listen, ServiceContext, register

if TYPE_CHECKING:  # the holder imports this module: no pydantic there
    from netwarden.lab.tacplus.policy import TacacsSecrets

logger = logging.getLogger(__name__)

TACACS_PORT = 49
USERS_FILE = f"{LAB_ETC}/secrets/tacacs-users.json"
CONFIG_FILE = f"{LAB_ETC}/tacacs.json"
LOG_DIR = "/var/log/tacacs"
ACCOUNTING_LOG = f"{LOG_DIR}/accounting.jsonl"
IDLE_TIMEOUT_SECONDS = 30


def write_users(ctx: ServiceContext, secrets: TacacsSecrets) -> None:
    """The users file in the server's root (``0600``), replaced at every start."""
    ctx.directory(f"{LAB_ETC}/secrets", 0o700)
    ctx.write(USERS_FILE, secrets.dump(), 0o600)


@register(
    "tacacs", daemon="tacplus", binary=sys.executable, package="python3 (netwarden's own)",
    order=45,
)  # fmt: skip
def tacplus(ctx: ServiceContext) -> Daemon:
    """``python -m netwarden.lab.tacplus`` on tcp/49 of each address.

    Raises:
        ValueError: the users file is missing (``start_server`` writes it).
    """
    if not ctx.path(USERS_FILE).is_file():
        raise ValueError(
            f"{ctx.hostname}: tacacs needs its users file {USERS_FILE} (start_server writes it "
            "from the lab's credentials: ServerSpec.tacacs)"
        )
    config = {
        "listen": [[str(address), TACACS_PORT] for address in ctx.addresses],
        "users_file": USERS_FILE,
        "accounting_log": ACCOUNTING_LOG,
        "idle_timeout": IDLE_TIMEOUT_SECONDS,
    }
    ctx.write(CONFIG_FILE, json.dumps(config, indent=1) + "\n")
    ctx.directory(LOG_DIR, 0o750)
    run = (sys.executable, "-m", "netwarden.lab.tacplus", CONFIG_FILE)
    env = {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}
    return Daemon(
        name="tacplus",
        argv=(*run, "--syslog") if ctx.local_syslog else run,
        listens=tuple(Listen("tcp", TACACS_PORT, a) for a in ctx.addresses),
        check=(*run, "--check"),
        env=env,
    )
