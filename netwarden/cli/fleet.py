"""``netwarden plan|apply|backup|drift``: the commands that touch devices.

Registered on the main app by :func:`register`. What they print is in
:mod:`netwarden.cli.output`, their session options and progress bar in
:mod:`netwarden.cli.session`. The workflows (:mod:`netwarden.config`) and the
renderer are imported by the command that runs them: they bring NAPALM, Netmiko
and Jinja, which ``netwarden --help`` does not need.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from netwarden.cli.common import (
    EXIT_FINDINGS,
    InventoryOpt,
    JsonOpt,
    KnownHostsOpt,
    LimitOpt,
    TimeoutOpt,
    TofuOpt,
    VaultOpt,
    _fail,
    _load,
    concurrency_option,
    console,
    emit,
    err_console,
    exit_for,
    notice,
    select_for,
)
from netwarden.cli.output import print_apply, print_backup, print_drift, print_plan
from netwarden.cli.session import progress, session_options
from netwarden.config.waves import alone_last_names, rollout_order
from netwarden.errors import NetwardenError
from netwarden.identity import current_user
from netwarden.inventory.models import Device, Inventory
from netwarden.privatefile import write_private

if TYPE_CHECKING:
    from netwarden.config.playbook_route import PlaybookOptions

ConcurrencyOpt = Annotated[int, concurrency_option("Devices worked on at once.")]
RepoOpt = Annotated[Path, typer.Option("--repo", help="Backup git repository (created if absent).")]
DEFAULT_REPO = Path("var/backups")


SESSION_KINDS = "ios, nftables firewall and linux server"
"""What plan and apply handle: a session class and a renderer (the intended config), or a
playbook that converges the device (linux servers: playbooks/servers.yml)."""
READ_KINDS = "ios, nftables firewall and linux server"
"""What backup and drift handle (a session class: linux servers are read, never changed)."""


def _with_session() -> tuple[Callable[[Device], bool], str]:
    """``select_for``'s ``handles`` for plan and apply: a session class and a renderer or a playbook."""
    from netwarden.config.playbook_route import playbook_for  # noqa: PLC0415
    from netwarden.devices import has_session  # noqa: PLC0415  (NAPALM, paramiko)
    from netwarden.render.platforms import renderer_for  # noqa: PLC0415

    def handles(device: Device) -> bool:
        converged = renderer_for(device) is not None or playbook_for(device) is not None
        return has_session(device) and converged

    return handles, SESSION_KINDS


def _playbook_options(
    inventory: Path,
    vault_password_file: Path | None,
    known_hosts: Path | None,
    trust_on_first_use: bool,
) -> PlaybookOptions:
    """How plan and apply run a server's playbook: the same inventory, vault and known_hosts."""
    from netwarden.config.playbook_route import PlaybookOptions  # noqa: PLC0415

    options = session_options(inventory, known_hosts, trust_on_first_use, 30.0)
    return PlaybookOptions(
        inventory=inventory,
        known_hosts=options.known_hosts,
        trust_on_first_use=trust_on_first_use,
        vault_password_file=vault_password_file,
    )


def _readable() -> tuple[Callable[[Device], bool], str]:
    """``select_for``'s ``handles`` for backup and drift: a device a session class serves."""
    from netwarden.devices import has_session  # noqa: PLC0415  (NAPALM, paramiko)

    return has_session, READ_KINDS


def _selected_configs(
    command: str, inv: Inventory, limit: str | None
) -> tuple[list[Device], dict[str, str]]:
    """The devices ``command`` handles that ``--limit`` selects, and their intended configs.

    Selection errors (a term that matches nothing, only devices of another platform)
    are usage errors naming ``command`` (:func:`~netwarden.cli.common.select_for`).
    """
    from netwarden.render.platforms import render_config, renderer_for  # noqa: PLC0415  (Jinja)

    devices = select_for(command, inv, limit, handles=_with_session())
    try:  # a device without a renderer is converged by its playbook (servers)
        configs = {d.name: render_config(inv, d) for d in devices if renderer_for(d) is not None}
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
    """Show what apply would change on each device (device diff + exact commands); change nothing.

    Linux servers are planned by their playbook (playbooks/servers.yml --check --diff):
    the files' diffs and the tasks that would change.
    """
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
    from netwarden.config.plan import plan_fleet  # noqa: PLC0415  (NAPALM, Netmiko)

    inv = _load(inventory, vault_password_file)
    devices, configs = _selected_configs(command, inv, limit)
    options = session_options(inventory, known_hosts, trust_on_first_use, timeout)
    with progress(err_console, "plan", len(devices)) as advance:
        report = plan_fleet(
            inv.path,
            devices,
            configs,
            options,
            concurrency=concurrency,
            on_done=advance,
            playbooks=_playbook_options(
                inventory, vault_password_file, known_hosts, trust_on_first_use
            ),
        )
    emit(report, as_json, partial(print_plan, summary=summary))
    raise exit_for(report.failed)


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

    Linux servers are converged by playbooks/servers.yml (no revert timer) in
    their place in the rollout order; HQ's firewalls go last, one wave each.
    """
    from netwarden.config.apply import ApplyOptions, apply_fleet  # noqa: PLC0415  (NAPALM)

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
            alone_last=alone_last_names(inv, devices),  # HQ's firewalls: last, one at a time
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
                playbooks=_playbook_options(
                    inventory, vault_password_file, known_hosts, trust_on_first_use
                ),
            )
    except (NetwardenError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    target = result_file or Path("var/apply") / f"apply-{report.started_at:%Y%m%dT%H%M%SZ}.json"
    try:
        write_private(target, report.model_dump_json(indent=2) + "\n")  # 0600, dir 0700
    except OSError as exc:
        err_console.print(f"[bold red]cannot write {target}:[/] {exc.strerror}")
    emit(report, as_json, print_apply)
    if not as_json:
        console.print(f"results: {target}", highlight=False)
    if report.record_error:  # on stderr in both modes: the backup history misses this change
        notice(
            "error:",
            "bold red",
            f"the change was not recorded in the backup repository {repo}: "
            f"{report.record_error}; run `netwarden backup --repo {repo}` to record it",
        )
    raise exit_for(not report.ok or report.record_error)


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
    from netwarden.config.backup import run_backup  # noqa: PLC0415  (NAPALM, git)

    inv = _load(inventory, vault_password_file)
    devices = select_for("backup", inv, limit, handles=_readable())
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
    emit(report, as_json, print_backup)
    raise exit_for(report.unreachable)


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
    device); a --repo given that is no git repository is a usage error (exit 2). Linux
    servers have no intended config (they are configured by playbooks/servers.yml):
    their snapshot (sshd -T, sysctls, packages, sockets ...) is compared with their
    last backup only, and --intended-only leaves them out.
    """
    from netwarden.config.drift import drift_fleet  # noqa: PLC0415  (NAPALM)
    from netwarden.render.platforms import render_config, renderer_for  # noqa: PLC0415

    inv = _load(inventory, vault_password_file)
    devices = select_for("drift", inv, limit, handles=_readable())
    unrendered = [d.name for d in devices if renderer_for(d) is None]
    if intended_only and unrendered:
        devices = [d for d in devices if renderer_for(d) is not None]
        notice(
            "note:",
            "yellow",
            f"--intended-only: left out {len(unrendered)} device(s) without an intended config "
            f"({', '.join(unrendered)}; linux servers are compared with their last backup only)",
        )
        if not devices:
            raise _fail("drift --intended-only: no selected device has an intended config")
    try:
        configs = {d.name: render_config(inv, d) for d in devices if renderer_for(d) is not None}
    except NetwardenError as exc:
        raise _fail(str(exc)) from exc
    baseline = None if intended_only else _drift_repo(repo)
    options = session_options(inventory, known_hosts, trust_on_first_use, timeout)
    with progress(err_console, "drift", len(devices)) as advance:
        report = drift_fleet(
            inv.path, devices, configs, options, baseline, concurrency=concurrency, on_done=advance
        )
    emit(report, as_json, print_drift)
    raise exit_for(report.drifted or report.failed or report.without_backup)


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
    notice(
        "warning:",
        "yellow",
        f"no backup repository at {path} ({what}): no device has a backup to compare with; "
        f"{hint}, --repo names another repository",
    )
    return path


def register(app: typer.Typer) -> None:
    """Add the fleet commands to ``app``."""
    app.command()(plan)
    app.command()(apply)
    app.command()(backup)
    app.command()(drift)
