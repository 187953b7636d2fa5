"""What every ``netwarden`` command shares: exit codes, consoles, common options, loading.

The options that several commands take are declared here once (names, limits,
help text): ``--limit`` and the session flags of the commands that reach devices
(``--known-hosts``, ``--trust-on-first-use``, ``--timeout``, ``--concurrency``); the
live ``audit`` takes the same session flags, its help prefixed ``Live audit:``.
So is what ends a command: its report on stdout (:func:`emit`), a labelled line
on stderr (:func:`notice`, :func:`_fail`) and the exit code (:func:`exit_for`).

The two consoles (:data:`console` on stdout, :data:`err_console` on stderr) are
:class:`ReadableConsole`: output someone must read is wrapped or folded, never
cropped, whatever the width, and it is not squeezed to 80 columns when it goes
to a pipe or a file. They live in :mod:`netwarden.cli.readable` and are imported
from here on first use (Rich is not imported with this module: :func:`is_terminal`).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TextIO, TypeVar

import typer
from pydantic import BaseModel
from typer.models import OptionInfo

from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device, Inventory, Platform

if TYPE_CHECKING:
    from rich.console import Console

    # Handed out by __getattr__ below (re-exported: ``from netwarden.cli.common import console``)
    from netwarden.cli.readable import FOLD_FLOOR as FOLD_FLOOR  # noqa: PLC0414
    from netwarden.cli.readable import PIPE_RULE_WIDTH as PIPE_RULE_WIDTH  # noqa: PLC0414
    from netwarden.cli.readable import PIPE_WIDTH as PIPE_WIDTH  # noqa: PLC0414
    from netwarden.cli.readable import ReadableConsole as ReadableConsole  # noqa: PLC0414
    from netwarden.cli.readable import console as console  # noqa: PLC0414
    from netwarden.cli.readable import err_console as err_console  # noqa: PLC0414
    from netwarden.cli.readable import never_crop as never_crop  # noqa: PLC0414

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2

_READABLE = frozenset(
    {
        "FOLD_FLOOR",
        "PIPE_RULE_WIDTH",
        "PIPE_WIDTH",
        "ReadableConsole",
        "console",
        "err_console",
        "never_crop",
    }
)
"""The names of :mod:`netwarden.cli.readable` this module hands out on first use."""


if not TYPE_CHECKING:  # mypy sees the imports above instead

    def __getattr__(name: str) -> object:
        """``console``, ``err_console``, ``ReadableConsole`` ...: imported (with Rich) when
        first asked for, not with this module (PEP 562)."""
        if name in _READABLE:
            from netwarden.cli import readable  # noqa: PLC0415  (Rich: only when used)

            return getattr(readable, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _may_be_terminal(stream: TextIO | None) -> bool:
    """False when Rich would surely not take ``stream`` for a terminal, True when it might.

    Rich's ``Console.is_terminal`` is True only when ``TTY_COMPATIBLE=1``, when
    ``FORCE_COLOR`` is set, or when the stream (or the file it proxies) says it is a tty;
    everything else it checks (Jupyter, IDLE, ``TTY_COMPATIBLE=0``) can only make it False.
    """
    if os.environ.get("TTY_COMPATIBLE") == "1" or "FORCE_COLOR" in os.environ:
        return True
    stream = getattr(stream, "rich_proxied_file", stream)
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # a closed stream
        return False


def is_terminal(*, stderr: bool = False) -> bool:
    """Whether :data:`console` (``stderr``: :data:`err_console`) writes to a terminal, as Rich
    decides it; without importing Rich when the stream surely is not one (a pipe, a file).
    """
    if not _may_be_terminal(sys.stderr if stderr else sys.stdout):
        return False
    from netwarden.cli import readable  # noqa: PLC0415

    return (readable.err_console if stderr else readable.console).is_terminal


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
LimitOpt = Annotated[
    str | None,
    typer.Option("--limit", "-l", help="fnmatch pattern on device names, or a site/group name."),
]


def _scoped(scope: str, text: str) -> str:
    """``text``, or after ``scope`` with its first letter in lower case.

    Examples:
        >>> _scoped("", "Seconds to wait."), _scoped("Live audit: ", "Seconds to wait.")
        ('Seconds to wait.', 'Live audit: seconds to wait.')
    """
    return f"{scope}{text[:1].lower()}{text[1:]}" if scope else text


def known_hosts_option(scope: str = "") -> OptionInfo:
    """``--known-hosts FILE`` (``scope``: a prefix of the help, ``Live audit: ``)."""
    option: OptionInfo = typer.Option(
        "--known-hosts",
        help=_scoped(
            scope,
            "known_hosts file to check host keys against (default: "
            "<inventory>/known_hosts.txt if present, else ~/.ssh/known_hosts).",
        ),
    )
    return option


def trust_on_first_use_option(scope: str = "") -> OptionInfo:
    """``--trust-on-first-use`` (``scope`` as for :func:`known_hosts_option`)."""
    option: OptionInfo = typer.Option(
        "--trust-on-first-use",
        help=_scoped(
            scope,
            "Record an UNKNOWN host key in the known_hosts file instead of refusing it "
            "(a CHANGED key is always refused).",
        ),
    )
    return option


def timeout_option(scope: str = "") -> OptionInfo:
    """``--timeout SECONDS``, at least 1 (``scope`` as for :func:`known_hosts_option`)."""
    option: OptionInfo = typer.Option(
        "--timeout",
        min=1.0,
        help=_scoped(scope, "Seconds to wait for a device (connect, each command)."),
    )
    return option


def concurrency_option(help_text: str) -> OptionInfo:
    """``--concurrency/-c N``, 1 to 256 devices at once; ``help_text`` says what they do."""
    option: OptionInfo = typer.Option("--concurrency", "-c", min=1, max=256, help=help_text)
    return option


KnownHostsOpt = Annotated[Path | None, known_hosts_option()]
TofuOpt = Annotated[bool, trust_on_first_use_option()]
TimeoutOpt = Annotated[float, timeout_option()]

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}
"""How a severity (its value, of a rule or an event) is shown; the lower ones have their own."""


def notice(label: str, style: str, message: str) -> None:
    """Print ``<label> <message>`` on stderr, the label in ``style``, the message verbatim.

    The message is plain text: never parsed as Rich markup (``[::1]:22``, ``sw[ab]``,
    ``[/]``) nor emoji codes (``:ok:``). A :class:`~rich.text.Text` rather than
    :func:`rich.markup.escape`, which would double a trailing backslash. The line is
    soft-wrapped: the terminal wraps it, a path or a fingerprint in it stays whole.
    """
    from rich.text import Text  # noqa: PLC0415  (Rich: only when something is printed)

    from netwarden.cli.readable import err_console  # noqa: PLC0415

    line = Text.assemble((label, style), " ", message)
    err_console.print(line, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: <message>`` on stderr (:func:`notice`) and return the exit to raise."""
    notice("error:", "bold red", message)
    return typer.Exit(code)


def exit_for(findings: object) -> typer.Exit:
    """The exit to raise at the end of a run: 1 when there are ``findings`` (truthy), else 0."""
    return typer.Exit(EXIT_FINDINGS if findings else EXIT_OK)


OWN_PROCESS = False
"""True when the command is its process's whole work (set by :mod:`netwarden.cli.start`,
the entry point), False inside a caller's process (a test's ``CliRunner``)."""


def exit_process(done: typer.Exit) -> NoReturn:
    """End the command with ``done``'s code. In its own process (:data:`OWN_PROCESS`), with
    no thread but the main one left, the interpreter's teardown is skipped: the ``atexit``
    handlers run (logging's flush, Ansible's temporary directories, finalizers), the
    standard streams are flushed, then ``os._exit``. The teardown (clearing every module,
    freeing the engine's objects one by one) did nothing a user sees and cost ~40-50 ms of
    the auditor's 1M-packet run (decision 107). Otherwise ``done`` is raised as usual."""
    if OWN_PROCESS and all(t.daemon or t is threading.main_thread() for t in threading.enumerate()):
        atexit._run_exitfuncs()  # what a normal exit runs first
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to say
                stream.flush()
        os._exit(done.exit_code)
    raise done


ReportT = TypeVar("ReportT", bound=BaseModel)


def emit(report: ReportT, as_json: bool, printer: Callable[[Console, ReportT], None]) -> None:
    """``report`` as indented JSON on stdout with ``--json``, else ``printer`` shows it on :data:`console`."""
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        from netwarden.cli.readable import console  # noqa: PLC0415

        printer(console, report)


def _load(
    inventory: Path, vault_password_file: Path | None, *, snapshot: bool = False
) -> Inventory:
    """The validated inventory, or exit 2 with every problem printed.

    ``snapshot``: for a command that never reads a secret (the auditor): the
    secret-free snapshot when no input changed (:mod:`netwarden.inventory.snapshot`),
    ~10 ms instead of a full read through Ansible; its secrets are masked.
    """
    if snapshot:
        from netwarden.inventory.snapshot import INVENTORY, read_snapshot  # noqa: PLC0415

        cached = read_snapshot(inventory, vault_password_file, Inventory, INVENTORY)
        if cached is not None:
            return cached
    from netwarden.inventory import read_inventory  # noqa: PLC0415  (Ansible import is slow)

    try:
        inv, problems = read_inventory(inventory, vault_password_file)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    if problems or inv is None:
        from netwarden.cli.readable import err_console  # noqa: PLC0415

        for p in problems:
            err_console.print(str(p), highlight=False, markup=False, soft_wrap=True)
        raise _fail(
            f"{inventory}: {len(problems)} problem(s); run `netwarden inventory check` for the list"
        )
    if snapshot:
        from netwarden.inventory.snapshot import INVENTORY, write_snapshot  # noqa: PLC0415

        write_snapshot(inventory, vault_password_file, inv, INVENTORY)
    if not gc.isenabled():
        # Paused for the start-up (netwarden.cli.app.main), which then freezes what it
        # made: a read through Ansible leaves ~16,000 unreachable objects (~2 MB) that
        # would be frozen with it. That read takes ~0.6 s; this collection ~40 ms.
        gc.collect()
    return inv


PLATFORM_NOTES: dict[Platform, str] = {
    Platform.LINUX: "linux firewalls and servers: coming with issue 15",
}
"""Why a platform's devices are left out of the ios-only commands, and until when."""
RENDER_NOTE = (
    "linux servers: configured by playbooks/servers.yml, read by audit, backup and drift; "
    "linux sensors: no session yet"
)
"""Why ``render`` leaves linux devices other than nftables firewalls out."""


def _described(devices: list[Device], most: int = 12) -> str:
    """``jed-fw1 (firewall), nyc-srv1 (server)``, the first ``most`` of them."""
    from netwarden.inventory.select import first_few  # noqa: PLC0415

    return first_few([f"{d.name} ({d.function.value})" for d in devices], most)


def select_for(
    command: str,
    inv: Inventory,
    limit: str | None,
    platforms: tuple[Platform, ...] = (Platform.IOS,),
    handles: tuple[Callable[[Device], bool], str] | None = None,
) -> list[Device]:
    """The devices ``limit`` selects that ``command`` handles (of ``platforms``), in name order.

    Every usage error is raised as the exit to raise (after the ``error:`` line):

    - a term that selects nothing (:func:`~netwarden.inventory.select.check_limit`);
    - a limit whose every device is of another platform: ``nyc-fw1 is a linux
      device (firewall); render handles ios devices only (linux firewalls and
      servers: configured by playbooks/servers.yml ...)``;
    - no device of ``platforms`` at all.

    A limit that selects some of each goes on with the handled ones and says on
    stderr which were left out and why. Without a limit, the other platforms are
    left out silently: "every device this command handles" is what was asked.
    """
    from netwarden.inventory.select import check_limit, select  # noqa: PLC0415

    try:
        check_limit(limit, inv)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    chosen = select(inv, limit)
    absent = [d.name for d in chosen if d.connection is not None and d.connection.lab_absent]
    if absent:
        chosen = [d for d in chosen if d.connection is None or not d.connection.lab_absent]
        if limit:
            notice(
                "note:",
                "yellow",
                f"--limit {limit!r}: left out {len(absent)} device(s) this lab does not run: "
                f"{', '.join(absent)} (netwarden lab sim simulates switches; netwarden lab up "
                "runs firewalls and servers too)",
            )
        if not chosen:
            raise _fail(f"{command}: every device selected is absent from this lab")
    ok = handles[0] if handles else (lambda d: d.platform in platforms)
    handled = [d for d in chosen if ok(d)]
    left = [d for d in chosen if not ok(d)]
    kinds = handles[1] if handles else " or ".join(p.value for p in platforms)
    if not limit:
        if not handled:
            raise _fail(f"{command}: the inventory has no {kinds} device")
        return handled
    if not left:
        return handled
    notes = sorted({PLATFORM_NOTES[p] for p in {d.platform for d in left} if p in PLATFORM_NOTES})
    if handles:
        notes = [RENDER_NOTE] if any(d.platform is Platform.LINUX for d in left) else []
    why = f"{command} handles {kinds} devices only" + (f" ({'; '.join(notes)})" if notes else "")
    left_platforms = sorted({d.platform.value for d in left})
    if len(left) == 1:
        what = f"{left[0].name} is a {left_platforms[0]} device ({left[0].function.value})"
    else:
        what = f"{len(left)} {'/'.join(left_platforms)} devices: {_described(left)}"
    if not handled:
        if len(left) > 1:
            what = f"--limit {limit!r} selects {what}"
        raise _fail(f"{what}; {why}")
    notice("note:", "yellow", f"--limit {limit!r}: left out {what}; {why}")
    return handled
