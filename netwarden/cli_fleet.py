"""``netwarden plan|apply|backup|drift``: the commands that touch devices.

Registered on the main app by :func:`register`; output helpers live in ``cli_config``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from netwarden.cli_common import (
    EXIT_FINDINGS,
    EXIT_OK,
    InventoryOpt,
    JsonOpt,
    VaultOpt,
    _fail,
    _load,
    console,
    err_console,
)
from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device, Inventory

LimitOpt = Annotated[
    str | None,
    typer.Option("--limit", "-l", help="fnmatch pattern on device names, or a site/group name."),
]
KnownHostsOpt = Annotated[
    Path | None,
    typer.Option(
        "--known-hosts",
        help="known_hosts file to check host keys against (default: <inventory>/known_hosts.txt "
        "if present, else ~/.ssh/known_hosts).",
    ),
]
TofuOpt = Annotated[
    bool,
    typer.Option(
        "--trust-on-first-use",
        help="Record an UNKNOWN host key in the known_hosts file instead of refusing it "
        "(a CHANGED key is always refused).",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", min=1.0, help="Seconds to wait for a device (connect, each command)."
    ),
]
ConcurrencyOpt = Annotated[
    int, typer.Option("--concurrency", "-c", min=1, max=256, help="Devices worked on at once.")
]
RepoOpt = Annotated[Path, typer.Option("--repo", help="Backup git repository (created if absent).")]


def _selected(inv: Inventory, limit: str | None) -> list[Device]:
    """The ios devices ``--limit`` selects; none, or a term that matches nothing, is a usage error."""
    from netwarden.inventory.select import check_limit  # noqa: PLC0415
    from netwarden.render import select_devices  # noqa: PLC0415

    try:
        check_limit(limit, inv)
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    devices = select_devices(inv, limit)
    if not devices:
        raise _fail(f"no ios device matches --limit {limit!r}" if limit else "no ios device")
    return devices


def _selected_configs(inv: Inventory, limit: str | None) -> tuple[list[Device], dict[str, str]]:
    """The selected ios devices and their intended configs, by device name."""
    from netwarden.render import render_device  # noqa: PLC0415

    devices = _selected(inv, limit)
    try:
        configs = {d.name: render_device(inv, d) for d in devices}
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    return devices, configs


def plan(
    inventory: InventoryOpt,
    *,
    vault_password_file: VaultOpt = None,
    limit: LimitOpt = None,
    as_json: JsonOpt = False,
    known_hosts: KnownHostsOpt = None,
    trust_on_first_use: TofuOpt = False,
    timeout: TimeoutOpt = 30.0,
    concurrency: ConcurrencyOpt = 8,
    summary: Annotated[
        bool, typer.Option("--summary", help="A table of counts instead of the diffs.")
    ] = False,
) -> None:
    """Show what apply would change on each device (device diff + exact commands); change nothing."""
    from netwarden.cli_config import print_plan, progress, session_options  # noqa: PLC0415
    from netwarden.config.plan import plan_fleet  # noqa: PLC0415

    inv = _load(inventory, vault_password_file)
    devices, configs = _selected_configs(inv, limit)
    options = session_options(inventory, known_hosts, trust_on_first_use, timeout)
    with progress(err_console, "plan", len(devices)) as advance:
        report = plan_fleet(
            inv.path, devices, configs, options, concurrency=concurrency, on_done=advance
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_plan(console, report, summary=summary)
    raise typer.Exit(EXIT_FINDINGS if report.failed else EXIT_OK)


def apply(
    inventory: InventoryOpt,
    *,
    vault_password_file: VaultOpt = None,
    limit: LimitOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Really change the devices (without it: plan only).")
    ] = False,
    confirm_timeout: Annotated[
        int,
        typer.Option(
            "--confirm-timeout",
            min=1,
            max=120,
            help="Minutes before a device reverts an unconfirmed change by itself.",
        ),
    ] = 10,
    canary: Annotated[
        int, typer.Option("--canary", min=0, help="The first N devices go first, alone.")
    ] = 0,
    canary_site: Annotated[
        str | None, typer.Option("--canary-site", help="Or: this site's devices go first.")
    ] = None,
    concurrency: ConcurrencyOpt = 8,
    result_file: Annotated[
        Path | None,
        typer.Option(
            "--result-file", help="JSON results (default: var/apply/apply-<UTC time>.json)."
        ),
    ] = None,
    repo: RepoOpt = Path("var/backups"),
    message: Annotated[
        str, typer.Option("--message", "-m", help="Why (in the backup commit).")
    ] = "",
    as_json: JsonOpt = False,
    known_hosts: KnownHostsOpt = None,
    trust_on_first_use: TofuOpt = False,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Back up, commit with a revert timer, post-check, confirm or roll back; canary wave first.

    One apply per inventory at a time: a second one is refused (exit 2) naming the
    run that holds the lock (NETWARDEN_LOCK_DIR, default <inventory>/.netwarden-locks).
    """
    from netwarden.cli_config import (  # noqa: PLC0415
        current_user,
        print_apply,
        progress,
        session_options,
    )
    from netwarden.config.apply import ApplyOptions, apply_fleet  # noqa: PLC0415
    from netwarden.privatefile import write_private  # noqa: PLC0415

    if not yes:
        err_console.print(
            "[bold]apply changes devices:[/] this is the plan; re-run with --yes to apply it"
        )
        with contextlib.suppress(typer.Exit):  # plan's own exit code: apply's is 2
            plan(
                inventory,
                vault_password_file=vault_password_file,
                limit=limit,
                as_json=as_json,
                known_hosts=known_hosts,
                trust_on_first_use=trust_on_first_use,
                timeout=timeout,
                concurrency=concurrency,
            )
        raise _fail("nothing was changed: --yes is required to apply")
    inv = _load(inventory, vault_password_file)
    devices, configs = _selected_configs(inv, limit)
    options = session_options(inventory, known_hosts, trust_on_first_use, timeout)
    try:
        apply_options = ApplyOptions(
            confirm_timeout_minutes=confirm_timeout,
            canary=canary,
            canary_site=canary_site,
            concurrency=concurrency,
            notify=_notify,  # progress while a device is waited for (revert timer)
        )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    try:
        with progress(err_console, "apply", len(devices)) as advance:
            report = apply_fleet(
                inv.path,
                devices,
                configs,
                options,
                apply_options,
                user=current_user(),
                message=message,
                backup_repo=repo,
                on_done=advance,
            )
    except (NetwardenError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    target = result_file or Path("var/apply") / f"apply-{report.started_at:%Y%m%dT%H%M%SZ}.json"
    try:
        write_private(target, report.model_dump_json(indent=2) + "\n")  # 0600, dir 0700
    except OSError as exc:
        err_console.print(f"[bold red]cannot write {target}:[/] {exc.strerror}")
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_apply(console, report)
        console.print(f"results: {target}", highlight=False)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _notify(line: str) -> None:
    """A progress line of apply on stderr, verbatim (device text is never Rich markup)."""
    from rich.text import Text  # noqa: PLC0415

    err_console.print(Text(line, style="yellow"), highlight=False, soft_wrap=True)


def backup(
    inventory: InventoryOpt,
    *,
    vault_password_file: VaultOpt = None,
    limit: LimitOpt = None,
    repo: RepoOpt = Path("var/backups"),
    message: Annotated[str, typer.Option("--message", "-m", help="Why (in the commit).")] = "",
    as_json: JsonOpt = False,
    known_hosts: KnownHostsOpt = None,
    trust_on_first_use: TofuOpt = False,
    timeout: TimeoutOpt = 30.0,
    concurrency: ConcurrencyOpt = 8,
) -> None:
    """Store sanitised running configs in a git repository (one commit per run that changes any)."""
    from netwarden.cli_config import (  # noqa: PLC0415
        current_user,
        print_backup,
        progress,
        session_options,
    )
    from netwarden.config.backup import run_backup  # noqa: PLC0415

    inv = _load(inventory, vault_password_file)
    devices = _selected(inv, limit)
    options = session_options(inventory, known_hosts, trust_on_first_use, timeout)
    try:
        with progress(err_console, "backup", len(devices)) as advance:
            report = run_backup(
                devices,
                options,
                repo,
                user=current_user(),
                message=message,
                concurrency=concurrency,
                on_done=advance,
            )
    except NetwardenError as exc:
        raise _fail(str(exc), EXIT_FINDINGS) from exc
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_backup(console, report)
    raise typer.Exit(EXIT_FINDINGS if report.unreachable else EXIT_OK)


def drift(
    inventory: InventoryOpt,
    *,
    vault_password_file: VaultOpt = None,
    limit: LimitOpt = None,
    repo: RepoOpt = Path("var/backups"),
    as_json: JsonOpt = False,
    known_hosts: KnownHostsOpt = None,
    trust_on_first_use: TofuOpt = False,
    timeout: TimeoutOpt = 30.0,
    concurrency: ConcurrencyOpt = 8,
) -> None:
    """Devices whose running config differs from the intended config or the last backup (exit 1)."""
    from netwarden.cli_config import print_drift, progress, session_options  # noqa: PLC0415
    from netwarden.config.drift import drift_fleet  # noqa: PLC0415

    inv = _load(inventory, vault_password_file)
    devices, configs = _selected_configs(inv, limit)
    options = session_options(inventory, known_hosts, trust_on_first_use, timeout)
    with progress(err_console, "drift", len(devices)) as advance:
        report = drift_fleet(
            inv.path,
            devices,
            configs,
            options,
            repo if (repo / ".git").exists() else None,
            concurrency=concurrency,
            on_done=advance,
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_drift(console, report)
    raise typer.Exit(EXIT_FINDINGS if report.drifted or report.failed else EXIT_OK)


def register(app: typer.Typer) -> None:
    """Add the fleet commands to ``app``."""
    app.command()(plan)
    app.command()(apply)
    app.command()(backup)
    app.command()(drift)
