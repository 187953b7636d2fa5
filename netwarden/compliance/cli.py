"""``netwarden audit``: audit configs against the rule packs and write the reports.

The lead's ``netwarden/cli.py`` mounts this sub-app with
``app.add_typer(audit_cmd, name="audit")``. Exit codes: 0 everything passes or
is waived, 1 a failure or an error that is not waived, 2 bad input.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from netwarden.cli_common import (
    EXIT_USAGE,
    VaultOpt,
    _fail,
    console,
    default_inventory,
    err_console,
)
from netwarden.errors import NetwardenError

if TYPE_CHECKING:
    from netwarden.compliance.engine import Engine
    from netwarden.compliance.models import AuditRun
    from netwarden.compliance.sources import ConfigSource
    from netwarden.inventory.models import Inventory

logger = logging.getLogger(__name__)

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
    known_hosts: Annotated[
        Path | None,
        typer.Option(
            "--known-hosts",
            help="Live audit: known_hosts file to check host keys against (default: "
            "<inventory>/known_hosts.txt if present, else ~/.ssh/known_hosts).",
        ),
    ] = None,
    trust_on_first_use: Annotated[
        bool,
        typer.Option(
            "--trust-on-first-use",
            help="Live audit: record an UNKNOWN host key in the known_hosts file instead of "
            "refusing it (a CHANGED key is always refused).",
        ),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=1.0,
            help="Live audit: seconds to wait for a device (connect, each command).",
        ),
    ] = 30.0,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency", "-c", min=1, max=256, help="Live audit: devices read at once."
        ),
    ] = 8,
) -> None:
    """Audit configs, write the reports, keep the run; exit 1 on any unwaived failure.

    Without ``--configs`` the audit is live: the running and startup configs of
    the inventory's devices (``--limit``) are read over SSH, host keys checked.
    """
    from netwarden.compliance.engine import Engine  # noqa: PLC0415  (keeps `netwarden --help` fast)
    from netwarden.compliance.report import write_reports  # noqa: PLC0415
    from netwarden.compliance.sources import FolderSource  # noqa: PLC0415

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
            rendered: dict[str, str] = {}
            if intended and inv is not None:
                from netwarden.render import render_all  # noqa: PLC0415

                rendered = render_all(inv, limit)
            source: ConfigSource = FolderSource(configs, platform, rendered)
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
            raise typer.BadParameter(f"no device to audit in {source.description}")  # noqa: TRY301
        written = write_reports(run, out, formats.split(","))
    except (NetwardenError, typer.BadParameter) as exc:
        raise _fail(str(exc), EXIT_USAGE) from exc
    _print_unread(run)
    _print_summary(run.results, written)
    raise typer.Exit(run.exit_code)


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
    from netwarden.cli_config import progress, session_options  # noqa: PLC0415
    from netwarden.compliance.sources import LiveSource  # noqa: PLC0415
    from netwarden.render import render_device  # noqa: PLC0415

    selected = [
        d for name, d in sorted(inv.devices.items()) if not limit or engine.selected(name, limit)
    ]
    options = session_options(inv_path, known_hosts, trust_on_first_use, timeout)
    source = LiveSource(selected, options, concurrency=concurrency)
    if source.skipped:
        err_console.print(
            f"note: {source.description}", highlight=False, markup=False, soft_wrap=True
        )
    if not source.devices:
        raise typer.BadParameter(
            f"no device the live audit can read matches --limit {limit!r}"
            if limit
            else "no device the live audit can read in the inventory"
        )
    if intended:
        source.intended = {d.name: render_device(inv, d) for d in source.devices}
    with progress(err_console, "audit", len(source.devices)) as advance:
        source.on_done = advance
        run = engine.run(source, limit)
    return source, run


def _print_unread(run: AuditRun) -> None:
    for device in run.devices:
        if device.error:
            err_console.print(
                f"not audited: {device.error}", highlight=False, markup=False, soft_wrap=True
            )


def _print_summary(results: tuple[object, ...], written: dict[str, Path]) -> None:
    from netwarden.compliance.history import posture_by_site  # noqa: PLC0415
    from netwarden.compliance.models import Result  # noqa: PLC0415

    res = [r for r in results if isinstance(r, Result)]
    table = Table(title="Compliance per site")
    for col in ("site", "pass", "fail", "waived", "error", "n/a", "score"):
        table.add_column(col, justify="left" if col == "site" else "right")
    for site, p in posture_by_site(res).items():
        table.add_row(
            site,
            str(p.passed),
            str(p.failed),
            str(p.waived),
            str(p.errors),
            str(p.not_applicable),
            f"{p.score:.0%}",
        )
    console.print(table)
    for fmt, path in written.items():
        console.print(f"{fmt}: {path}", highlight=False, markup=False)
