"""``netwarden plan|apply|backup|drift``: the commands that touch devices.

Registered on the main app by :func:`register`; output helpers live in :mod:`netwarden.cli.output`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from netwarden.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    InventoryOpt,
    JsonOpt,
    VaultOpt,
    _fail,
    _load,
    console,
    err_console,
    select_for,
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
DEFAULT_REPO = Path("var/backups")


def _selected_configs(
    command: str, inv: Inventory, limit: str | None
) -> tuple[list[Device], dict[str, str]]:
    """The devices ``command`` handles that ``--limit`` selects, and their intended configs.

    Selection errors (a term that matches nothing, only devices of another platform)
    are usage errors naming ``command`` (:func:`~netwarden.cli.common.select_for`).
    """
    from netwarden.render import render_device  # noqa: PLC0415

    devices = select_for(command, inv, limit)
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
    _plan(
        "plan",
        inventory,
        vault_password_file=vault_password_file,
        limit=limit,
        as_json=as_json,
        known_hosts=known_hosts,
        trust_on_first_use=trust_on_first_use,
        timeout=timeout,
        concurrency=concurrency,
        summary=summary,
    )


def _plan(
    command: str,
    inventory: Path,
    *,
    vault_password_file: Path | None,
    limit: str | None,
    as_json: bool,
    known_hosts: Path | None,
    trust_on_first_use: bool,
    timeout: float,
    concurrency: int,
    summary: bool = False,
) -> None:
    """``plan`` (also for ``apply`` without ``--yes``: ``command`` names it in selection errors)."""
    from netwarden.cli.output import print_plan, progress, session_options  # noqa: PLC0415
    from netwarden.config.plan import plan_fleet  # noqa: PLC0415

    inv = _load(inventory, vault_password_file)
    devices, configs = _selected_configs(command, inv, limit)
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
    from netwarden.cli.output import (  # noqa: PLC0415
        current_user,
        print_apply,
        progress,
        session_options,
    )
    from netwarden.config.apply import ApplyOptions, apply_fleet  # noqa: PLC0415
    from netwarden.config.waves import rollout_order  # noqa: PLC0415
    from netwarden.privatefile import write_private  # noqa: PLC0415

    if not yes:
        err_console.print(
            "[bold]apply changes devices:[/] this is the plan; re-run with --yes to apply it"
        )
        with contextlib.suppress(typer.Exit):  # plan's own exit code: apply's is 2
            _plan(
                "apply",
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
    devices, configs = _selected_configs("apply", inv, limit)
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
                rollout_order(inv, devices),  # the canary first: the playbook's rule
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
    if report.record_error:  # on stderr in both modes: the backup history misses this change
        err_console.print(
            Text.assemble(
                ("error:", "bold red"),
                f" the change was not recorded in the backup repository {repo}: "
                f"{report.record_error}; run `netwarden backup --repo {repo}` to record it",
            ),
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(EXIT_OK if report.ok and not report.record_error else EXIT_FINDINGS)


def _notify(line: str) -> None:
    """A progress line of apply on stderr, verbatim (device text is never Rich markup)."""
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
    from netwarden.cli.output import (  # noqa: PLC0415
        current_user,
        print_backup,
        progress,
        session_options,
    )
    from netwarden.config.backup import run_backup  # noqa: PLC0415

    inv = _load(inventory, vault_password_file)
    devices = select_for("backup", inv, limit)
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
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="Backup git repository to compare with (default: var/backups); one given "
            "must exist.",
            show_default=False,
        ),
    ] = None,
    intended_only: Annotated[
        bool,
        typer.Option(
            "--intended-only", help="Compare with the intended config only, not with a backup."
        ),
    ] = False,
    as_json: JsonOpt = False,
    known_hosts: KnownHostsOpt = None,
    trust_on_first_use: TofuOpt = False,
    timeout: TimeoutOpt = 30.0,
    concurrency: ConcurrencyOpt = 8,
) -> None:
    """Devices whose running config differs from the intended config or the last backup (exit 1).

    A device without a backup to compare with is not in sync either (exit 1, said per
    device); a --repo given that is no git repository is a usage error (exit 2).
    """
    from netwarden.cli.output import print_drift, progress, session_options  # noqa: PLC0415
    from netwarden.config.drift import drift_fleet  # noqa: PLC0415

    inv = _load(inventory, vault_password_file)
    devices, configs = _selected_configs("drift", inv, limit)
    baseline = None if intended_only else _drift_repo(repo)
    options = session_options(inventory, known_hosts, trust_on_first_use, timeout)
    with progress(err_console, "drift", len(devices)) as advance:
        report = drift_fleet(
            inv.path, devices, configs, options, baseline, concurrency=concurrency, on_done=advance
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        print_drift(console, report)
    findings = report.drifted or report.failed or report.without_backup
    raise typer.Exit(EXIT_FINDINGS if findings else EXIT_OK)


def _drift_repo(repo: Path | None) -> Path:
    """The backup repository drift compares with; ``--repo`` naming no git repository is exit 2.

    Without ``--repo``, a missing ``var/backups`` is said on stderr and every device
    is then without a backup to compare with (not in sync).
    """
    path = repo or DEFAULT_REPO
    if (path / ".git").exists():
        return path
    what = "no such directory" if not path.exists() else "not a git repository"
    hint = (
        "expected a backup repository made by `netwarden backup` or `netwarden apply`; "
        "--intended-only compares with the intended config only"
    )
    if repo is not None:
        raise _fail(f"--repo {path}: {what}; {hint}")
    err_console.print(
        Text.assemble(
            ("warning:", "yellow"),
            f" no backup repository at {path} ({what}): no device has a backup to compare with; "
            f"{hint}, --repo names another repository",
        ),
        highlight=False,
        soft_wrap=True,
    )
    return path


def register(app: typer.Typer) -> None:
    """Add the fleet commands to ``app``."""
    app.command()(plan)
    app.command()(apply)
    app.command()(backup)
    app.command()(drift)
