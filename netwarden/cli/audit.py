"""``netwarden audit``: audit configs against the rule packs and write the reports.

``netwarden/cli/app.py`` mounts this sub-app (:func:`register`) when the command is
looked up. Exit codes: 0 everything passes or
is waived, 1 a failure or an error that is not waived, 2 bad input.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from netwarden.cli.common import (
    EXIT_USAGE,
    SEVERITY_STYLE,
    VaultOpt,
    _fail,
    concurrency_option,
    console,
    default_inventory,
    err_console,
    known_hosts_option,
    timeout_option,
    trust_on_first_use_option,
)
from netwarden.cli.session import progress, session_options
from netwarden.errors import NetwardenError
from netwarden.textsafe import printable

if TYPE_CHECKING:
    from netwarden.compliance.engine import Engine
    from netwarden.compliance.models import AuditRun, Result
    from netwarden.compliance.sources import ConfigSource
    from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)

LIVE = "Live audit: "
"""The start of the help of the options only a live audit uses (the session flags)."""

DEFAULT_TOP = 20
"""How many failures ``netwarden audit`` lists on the terminal by default (``--top``)."""

audit_cmd = typer.Typer(
    help="Audit device configs for compliance (offline: --configs DIR; live: from the inventory's devices).",
    invoke_without_command=True,
    no_args_is_help=False,
    add_completion=False,
)


@audit_cmd.callback(invoke_without_command=True)
def audit(  # noqa: PLR0917  (typer maps each parameter to an option)
    configs: Annotated[
        Path | None, typer.Option("--configs", help="Folder of config files (offline audit).")
    ] = None,
    platform: Annotated[
        str | None,
        typer.Option(
            "--platform", help="ios, nftables or linux (default: from each file's shape)."
        ),
    ] = None,
    inventory: Annotated[
        Path | None,
        typer.Option(
            "--inventory",
            "-i",
            help="Inventory for applicability and waivers (default: $NETWARDEN_INVENTORY or ./inventory when present).",
        ),
    ] = None,
    no_inventory: Annotated[
        bool, typer.Option("--no-inventory", help="Audit from the configs alone (no waivers).")
    ] = False,
    vault_password_file: VaultOpt = None,
    limit: Annotated[
        str | None,
        typer.Option("--limit", "-l", help="Devices, sites or glob patterns, comma-separated."),
    ] = None,
    formats: Annotated[
        str, typer.Option("--format", "-f", help="Comma-separated: html,json,csv,sarif.")
    ] = "html,json",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Report folder (the run history lives here too).")
    ] = Path("out/compliance"),
    intended: Annotated[
        bool,
        typer.Option(
            "--intended", help="Also check drift from the configs rendered from the inventory."
        ),
    ] = False,
    known_hosts: Annotated[Path | None, known_hosts_option(LIVE)] = None,
    trust_on_first_use: Annotated[bool, trust_on_first_use_option(LIVE)] = False,
    timeout: Annotated[float, timeout_option(LIVE)] = 30.0,
    concurrency: Annotated[int, concurrency_option("Live audit: devices read at once.")] = 8,
    top: Annotated[
        int,
        typer.Option(
            "--top",
            min=0,
            help="Failures listed on the terminal, most severe first (0: all of them).",
        ),
    ] = DEFAULT_TOP,
) -> None:
    """Audit configs, write the reports, keep the run; exit 1 on any unwaived failure.

    Without ``--configs`` the audit is live, over SSH with host keys checked: the
    running and startup configs of IOS devices, the ``nft -j list ruleset`` of nftables
    firewalls, and the snapshot of linux servers (sshd -T, sysctls, auditd, login.defs,
    PAM, packages, listening sockets) of the inventory's devices (``--limit``).
    The terminal gets the scope, the table per site, then the failures (rule,
    device, evidence), the ``--top`` most severe of them.
    """
    from netwarden.compliance.engine import Engine  # noqa: PLC0415  (keeps `netwarden --help` fast)
    from netwarden.compliance.report import write_reports  # noqa: PLC0415
    from netwarden.compliance.sources import FolderSource  # noqa: PLC0415
    from netwarden.inventory.select import check_limit  # noqa: PLC0415

    try:
        inv = None
        inv_path = inventory or default_inventory()
        if not no_inventory and (inventory is not None or inv_path.exists()):
            from netwarden.inventory import load_inventory  # noqa: PLC0415

            inv = load_inventory(inv_path, vault_password_file)
        if intended and inv is None:
            raise typer.BadParameter("--intended needs the inventory")  # noqa: TRY301  (one exit path for bad input)
        engine = Engine(inventory=inv)
        if configs is not None:
            folder = FolderSource(configs, platform)
            check_limit(limit, inv, folder.names())
            if intended and inv is not None:
                from netwarden.render import render_all  # noqa: PLC0415

                folder.intended = render_all(inv, limit)
            source: ConfigSource = folder
            run = engine.run(source, limit)
        else:
            if inv is None:
                raise typer.BadParameter(  # noqa: TRY301
                    "the live audit (no --configs) needs the inventory: pass -i INVENTORY"
                )
            source, run = _live_audit(
                engine,
                inv,
                inv_path,
                limit,
                intended=intended,
                known_hosts=known_hosts,
                trust_on_first_use=trust_on_first_use,
                timeout=timeout,
                concurrency=concurrency,
            )
        if not run.devices:
            raise typer.BadParameter(_nothing_to_audit(source, inv, limit))  # noqa: TRY301
        written = write_reports(run, out, formats.split(","))
    except (NetwardenError, typer.BadParameter) as exc:
        raise _fail(str(exc), EXIT_USAGE) from exc
    _print_unread(run)
    _print_summary(run, written, top)
    raise typer.Exit(run.exit_code)


def _nothing_to_audit(source: ConfigSource, inv: Inventory | None, limit: str | None) -> str:
    """Why a run audited no device: what ``--limit`` selected, and what the source holds."""
    from netwarden.compliance.sources import FolderSource  # noqa: PLC0415
    from netwarden.inventory.select import first_few, select  # noqa: PLC0415

    held = source.names() if isinstance(source, FolderSource) else []
    if not limit:
        return f"no device to audit: {source.description} holds no config"
    chosen = [d.name for d in select(inv, limit)] if inv is not None else []
    what = f"selects {first_few(chosen, 8)} in the inventory" if chosen else "selects nothing"
    return (
        f"no device to audit: --limit {limit!r} {what}, and {source.description} has no "
        f"config of {'them' if chosen else 'a device it names'}"
        + (f" (it holds {first_few(held, 8)})" if held else " (it holds no config)")
    )


def _live_audit(
    engine: Engine,
    inv: Inventory,
    inv_path: Path,
    limit: str | None,
    *,
    intended: bool,
    known_hosts: Path | None,
    trust_on_first_use: bool,
    timeout: float,
    concurrency: int,
) -> tuple[ConfigSource, AuditRun]:
    """Read the selected devices over SSH (a progress bar on stderr) and audit them."""
    from netwarden.compliance.sources import LiveSource  # noqa: PLC0415
    from netwarden.inventory.select import check_limit, first_few  # noqa: PLC0415
    from netwarden.render import render_device  # noqa: PLC0415

    check_limit(limit, inv)
    selected = [
        d for name, d in sorted(inv.devices.items()) if not limit or engine.selected(name, limit)
    ]
    options = session_options(inv_path, known_hosts, trust_on_first_use, timeout)
    source = LiveSource(selected, options, concurrency=concurrency)
    if source.skipped and source.devices:
        err_console.print(
            f"note: {source.description}", highlight=False, markup=False, soft_wrap=True
        )
    if not source.devices:
        chosen = f"--limit {limit!r} selects" if limit else "the inventory has"
        raise typer.BadParameter(
            f"no device the live audit can read: {chosen} {len(selected)} device(s), none of "
            "a kind it reads (ios devices, nftables firewalls, linux servers): "
            f"{first_few(source.skipped, 8)}; audit their outputs with --configs"
        )
    if intended:
        source.intended = {
            d.name: render_device(inv, d) for d in source.devices if source.packs[d.name] == "ios"
        }
    with progress(err_console, "audit", len(source.devices)) as advance:
        source.on_done = advance
        run = engine.run(source, limit)
    return source, run


def _print_unread(run: AuditRun) -> None:
    for device in run.devices:
        if device.error:
            err_console.print(
                f"not audited: {printable(device.error)}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )


def _print_summary(run: AuditRun, written: dict[str, Path], top: int = DEFAULT_TOP) -> None:
    """The scope, the table per site, the failures (the ``top`` most severe), then the files."""
    from netwarden.compliance.history import posture_by_site  # noqa: PLC0415
    from netwarden.compliance.scope import scope_of  # noqa: PLC0415

    for line in scope_of(run).lines():
        console.print(printable(line), highlight=False, markup=False)
    table = Table(title="Compliance per site")
    for col in ("site", "pass", "fail", "waived", "error", "n/a", "score"):
        table.add_column(col, justify="left" if col == "site" else "right")
    for site, p in posture_by_site(run.results, run.unread).items():
        table.add_row(
            escape(printable(site, multiline=False)),
            str(p.passed),
            str(p.failed),
            str(p.waived),
            str(p.errors),
            str(p.not_applicable),
            "not assessed" if p.score is None else f"{p.score:.0%}",
        )
    console.print(table)
    _print_failures(run, top, written.get("html") or next(iter(written.values()), None))
    for fmt, path in written.items():
        console.print(f"{fmt}: {path}", highlight=False, markup=False)


def open_failures(run: AuditRun) -> list[Result]:
    """The results that fail the run, most severe first (then rule, then device).

    Failures (an expired waiver does not cover one) and checks that raised, of
    the devices that were read: a device that could not be read has every rule
    in error, and is named once by the "not audited" lines instead. Waived
    results are not failures.
    """
    from netwarden.compliance.models import Status  # noqa: PLC0415

    unread = run.unread
    return sorted(
        (
            r
            for r in run.results
            if r.status in (Status.FAIL, Status.ERROR) and r.device not in unread
        ),
        key=lambda r: (-r.severity.rank, r.rule, r.device),
    )


def _finding(result: Result) -> Text:
    """A failure's message, then its first evidence line (``file:line  text``), all as plain text.

    The file's name only: its folder is the audit's source (the scope lines say
    which), and the report has the full path.
    """
    from netwarden.compliance.models import Status  # noqa: PLC0415

    text = Text(printable(result.message, multiline=False) or "(no message)")
    if result.status is Status.ERROR:
        text = Text.assemble("check error: ", text)
    if result.expired_waiver is not None:
        text.append(f" (waiver expired {result.expired_waiver.expires.isoformat()})")
    if result.evidence:
        first = result.evidence[0]
        where = Path(first.file).name + (f":{first.line}" if first.line else "")
        line = where + (f"  {first.text}" if first.text else "")
        line += f"  ({first.note})" if first.note and first.note != result.message else ""
        more = len(result.evidence) - 1
        text.append("\n" + printable(line, multiline=False), style="dim")
        if more:
            text.append(f"\n(+{more} more evidence line{'s' if more > 1 else ''})", style="dim")
    return text


def failures_table(run: AuditRun, top: int = DEFAULT_TOP) -> tuple[Table | None, int]:
    """The failures of ``run`` as a table, the ``top`` most severe (0: all), and how many are left out.

    ``(None, 0)`` when nothing fails. Every cell is plain text (device data is
    never read as Rich markup) with its control characters escaped.
    """
    failures = open_failures(run)
    if not failures:
        return None, 0
    shown = failures if top <= 0 else failures[:top]
    title = f"Failures: {len(failures)}" + (
        f", the {len(shown)} most severe" if len(shown) < len(failures) else ""
    )
    table = Table(title=title, show_lines=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("rule, device", no_wrap=True)
    table.add_column("finding and evidence", overflow="fold")
    for r in shown:
        table.add_row(
            Text(r.severity.value, style=SEVERITY_STYLE.get(r.severity.value, "")),
            Text(printable(r.rule, multiline=False) + "\n" + printable(r.device, multiline=False)),
            _finding(r),
        )
    return table, len(failures) - len(shown)


def _print_failures(run: AuditRun, top: int, report: Path | None) -> None:
    """The failures table, then a line counting the ones left out and where they are."""
    table, left = failures_table(run, top)
    if table is None:
        return
    console.print(table)
    if left:
        where = f" ({report})" if report is not None else ""
        console.print(
            f"and {left} more failure{'s' if left > 1 else ''}: see the report{where}; "
            "--top 0 lists every one",
            highlight=False,
            markup=False,
        )


def register(app: typer.Typer) -> None:
    """Add ``netwarden audit`` to ``app``."""
    app.add_typer(audit_cmd, name="audit")
