"""``python -m netwarden.lab.tacplus <config.json> [--syslog]``: the server in the foreground.

The config (JSON, written by the lab's service writer)::

    {"listen": [["10.10.20.10", 49]], "users_file": "/etc/.../users.json",
     "accounting_log": "/var/log/tacacs/accounting.jsonl", "idle_timeout": 30}

``--syslog`` logs to ``/dev/log`` (facility auth) instead of stderr; ``--check``
reads both files and exits. SIGTERM or
SIGINT stops it (exit 0); a config or users file it cannot read exits 2, a listen
address it cannot bind exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import logging.handlers
import signal
import sys
from pathlib import Path

from netwarden.lab.tacplus.policy import TacacsSecrets
from netwarden.lab.tacplus.server import ServerOptions, TacacsServer

logger = logging.getLogger("netwarden.lab.tacplus")


def load_options(path: Path) -> tuple[ServerOptions, TacacsSecrets]:
    """The server's options and its users file.

    Raises:
        ValueError: a file is missing or not what it should be (the message names it).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        listen = tuple((str(host), int(port)) for host, port in data["listen"])
        options = ServerOptions(
            listen=listen,
            accounting_log=Path(data["accounting_log"]),
            idle_timeout=float(data.get("idle_timeout", 30.0)),
        )
        users_file = Path(data["users_file"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a TACACS+ server config: {exc!r}") from exc
    if not listen:
        raise ValueError(f"{path}: no listen address")
    return options, TacacsSecrets.load(users_file)


def _logging(syslog: bool) -> None:
    if syslog:
        handler: logging.Handler = logging.handlers.SysLogHandler(
            address="/dev/log", facility=logging.handlers.SysLogHandler.LOG_AUTH
        )
        handler.setFormatter(logging.Formatter("tacplus: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s tacplus: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


async def _run(server: TacacsServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.serve(stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m netwarden.lab.tacplus")
    parser.add_argument("config", type=Path)
    parser.add_argument("--syslog", action="store_true", help="log to /dev/log (facility auth)")
    parser.add_argument("--check", action="store_true", help="read the files, then exit")
    args = parser.parse_args(argv)
    _logging(args.syslog)
    try:
        options, secrets = load_options(args.config)
    except ValueError as exc:
        logger.critical("%s", exc)
        return 2
    if args.check:
        logger.info("%s: %d users, listen %s", args.config, len(secrets.users),
                    ", ".join(f"{h}:{p}" for h, p in options.listen))  # fmt: skip
        return 0
    try:
        asyncio.run(_run(TacacsServer(secrets, options)))
    except OSError as exc:
        logger.critical("cannot serve: %s", exc)
        return 1
    logger.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
