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
to a pipe or a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import BaseModel
from rich.align import AlignMethod
from rich.console import Console, ConsoleDimensions, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.table import Table
from rich.text import Text, TextType
from typer.models import OptionInfo

from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device, Inventory, Platform

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2


PIPE_WIDTH = 4096
"""The width of a console that does not write to a terminal (and has no ``$COLUMNS``).

A pipe or a file has no edge: lines stay whole (a table is as wide as its
content up to this), for ``grep``, logs and the demo transcript.
"""
PIPE_RULE_WIDTH = 100
"""How long a horizontal rule is when the console has no edge (:data:`PIPE_WIDTH`)."""


class ReadableConsole(Console):
    """A Rich console whose output is never cropped.

    - Width: a terminal's own width (``$COLUMNS`` overrides it, as Rich does);
      not a terminal: ``$COLUMNS`` when set, else :data:`PIPE_WIDTH`, rather than
      Rich's 80 columns. Decided at each print, so the same console follows the
      stream it writes to (tests swap ``sys.stdout``).
    - Tables (:func:`never_crop`): every column wraps and folds a word too long
      for it instead of cutting it with an ellipsis; a table narrower than its
      content grows taller, it loses nothing. ``no_wrap=True`` columns keep their
      values on one line whenever the table can fit them so, and wrap otherwise.
    - Rules (``console.rule``) are :data:`PIPE_RULE_WIDTH` long on a pipe.

    Examples:
        >>> import io
        >>> c = ReadableConsole(file=io.StringIO(), _environ={})
        >>> c.width == PIPE_WIDTH
        True
        >>> t = Table("key")
        >>> t.add_row("SHA256:" + "A" * 43)
        >>> narrow = ReadableConsole(file=io.StringIO(), width=20)
        >>> with narrow.capture() as cap:
        ...     narrow.print(t)
        >>> "".join(ln.strip("│ ") for ln in cap.get().splitlines()[3:-1])
        'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
    """

    @property
    def size(self) -> ConsoleDimensions:
        """Rich's size, but a console without a terminal and ``$COLUMNS`` is :data:`PIPE_WIDTH` wide."""
        dims = super().size
        if self._width is None and not self._has_edge():
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def _has_edge(self) -> bool:
        """Whether lines must fit a width: a terminal, or a ``$COLUMNS`` someone set."""
        columns = self._environ.get("COLUMNS", "")
        return self.is_terminal or self.is_dumb_terminal or columns.isdigit()

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        """Render ``renderable``; a table's columns fold rather than crop (see the class)."""
        if isinstance(renderable, Table):
            never_crop(renderable, self, options or self.options)
        return super().render(renderable, options)

    def rule(
        self,
        title: TextType = "",
        *,
        characters: str = "─",
        style: str | Style = "rule.line",
        align: AlignMethod = "center",
    ) -> None:
        """A horizontal rule: the console's width, or :data:`PIPE_RULE_WIDTH` on a pipe."""
        if self._width is not None or self._has_edge():
            super().rule(title, characters=characters, style=style, align=align)
            return
        from rich.rule import Rule  # noqa: PLC0415

        rule = Rule(title=title, characters=characters, style=style, align=align)
        self.print(rule, width=PIPE_RULE_WIDTH)


FOLD_FLOOR = 6
"""The fewest characters a wrapping column keeps so that a table's ``no_wrap`` columns stay whole.

``no_wrap`` marks the values that must read whole (names, addresses); the other
columns fold first, down to this; below it the ``no_wrap`` columns wrap too.
"""


def _widths(table: Table, console: Console, options: ConsoleOptions) -> tuple[int, int]:
    """``table``'s natural width (every value on one line) and its narrowest with the
    ``no_wrap`` columns whole: another column then needs its longest word, or
    :data:`FOLD_FLOOR` if that is less (a longer word folds)."""
    wide = options.update_width(10**6)
    # Rich has no public column measure: its own, as Table.__rich_measure__ uses it
    natural = narrowest = table._extra_width
    for column in table.columns:
        measure = table._measure_column(console, wide, column)
        natural += measure.maximum
        if column.no_wrap:
            narrowest += measure.maximum
        else:
            floor = FOLD_FLOOR + table._get_padding_width(column._index)
            narrowest += min(measure.minimum, floor)
    return natural, narrowest


def never_crop(table: Table, console: Console, options: ConsoleOptions) -> None:
    """Make ``table`` wrap or fold its cells instead of cutting them at ``options.max_width``.

    Every column folds a word too long for it (``overflow="fold"``). When the
    table is wider than the console: ``no_wrap`` columns keep their values on one
    line if the table can fit them so (the other columns wrap, and fold below
    :data:`FOLD_FLOOR`), else they wrap too; and ``min_width`` is dropped (Rich
    squeezes a column below it, then widens the table past the edge and cuts it).
    """
    for column in table.columns:
        column.overflow = "fold"
    natural, _ = _widths(table, console, options)
    if natural <= options.max_width:
        return
    for column in table.columns:
        column.min_width = None
    if any(c.no_wrap for c in table.columns):
        _, narrowest = _widths(table, console, options)
        if narrowest > options.max_width:
            for column in table.columns:
                column.no_wrap = False


console = ReadableConsole()
err_console = ReadableConsole(stderr=True)


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
    line = Text.assemble((label, style), " ", message)
    err_console.print(line, highlight=False, soft_wrap=True)


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``error: <message>`` on stderr (:func:`notice`) and return the exit to raise."""
    notice("error:", "bold red", message)
    return typer.Exit(code)


def exit_for(findings: object) -> typer.Exit:
    """The exit to raise at the end of a run: 1 when there are ``findings`` (truthy), else 0."""
    return typer.Exit(EXIT_FINDINGS if findings else EXIT_OK)


ReportT = TypeVar("ReportT", bound=BaseModel)


def emit(report: ReportT, as_json: bool, printer: Callable[[Console, ReportT], None]) -> None:
    """``report`` as indented JSON on stdout with ``--json``, else ``printer`` shows it on :data:`console`."""
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
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
        for p in problems:
            err_console.print(str(p), highlight=False, markup=False, soft_wrap=True)
        raise _fail(
            f"{inventory}: {len(problems)} problem(s); run `netwarden inventory check` for the list"
        )
    if snapshot:
        from netwarden.inventory.snapshot import INVENTORY, write_snapshot  # noqa: PLC0415

        write_snapshot(inventory, vault_password_file, inv, INVENTORY)
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
