"""One inventory host at a time: what the Ansible modules call.

``netwarden_config`` and ``netwarden_backup`` are action plugins
(``playbooks/action_plugins``, documented by stubs in ``playbooks/library``): they
run in ansible-playbook's own Python on the controller, because netwarden reads the
inventory with Ansible's controller code, which a module packed by AnsiballZ cannot
import. They stay thin: they validate their options, call one function here, and
turn the result into Ansible's return values. Everything here composes the same
workflows the CLI uses (:mod:`netwarden.config.plan`, ``apply``, ``backup``);
nothing is re-implemented. Each function works on ONE device, because Ansible
runs one task per host; fleet concurrency and canary waves are Ansible's
(forks, ``serial``, ``max_fail_percentage``). The inventory is read once per
process while its files are unchanged (:mod:`netwarden.config.inventory_cache`),
for the lookups as for the action plugins.

Every platform with a registered renderer and device session goes this way: an
ios switch (NAPALM, IOS commit-confirm) and an nftables firewall
(:class:`~netwarden.devices.linux_nft.NftablesSession`: ``nft -c -f``, atomic
load, on-device revert timer) are planned and applied by the same functions as
``netwarden plan`` / ``apply`` use, so there is one apply path for the CLI and
Ansible. A role's variables (``render_vars``: ``nftables_firewall_*`` toggles)
reach the platform's renderer.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netwarden.config.apply import ApplyOptions, device_locked, plan_for_apply, running_left
from netwarden.config.backup import (
    backup_path,
    backup_status,
    fetch_running,
    last_backup,
    record_after_apply,
    record_backup,
    run_backup,
    stored_form,
)
from netwarden.config.inventory_cache import cached_inventory
from netwarden.config.locks import (
    Holder,
    in_worker,
    inventory_lock_path,
    lock_dir_for,
    locked,
)
from netwarden.config.models import (
    ApplyStatus,
    BackupStatus,
    DeviceApplyResult,
    DeviceBackup,
    DevicePlan,
)
from netwarden.config.plan import plan_device
from netwarden.devices import SessionOptions, has_session
from netwarden.errors import NetwardenError, RenderError
from netwarden.identity import current_user
from netwarden.inventory import Device, Inventory
from netwarden.render import render_config, renderer_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Host:
    """One inventory host, validated, with how to reach it."""

    inventory: Inventory
    device: Device
    options: SessionOptions
    render_vars: Mapping[str, Any] | None = None
    """The role's variables for the renderer (None: its defaults, as ``netwarden render``)."""

    @functools.cached_property
    def intended(self) -> str:
        """The intended config by the device's platform renderer (as ``netwarden render`` writes it)."""
        return render_config(self.inventory, self.device, self.render_vars)


def load_host(
    inventory: str | os.PathLike[str],
    name: str,
    *,
    vault_password_file: Path | None = None,
    known_hosts: Path | None = None,
    trust_on_first_use: bool = False,
    timeout: float = 30.0,
    render_vars: Mapping[str, Any] | None = None,
) -> Host:
    """Load the inventory with netwarden and return the device ``name`` with its session options.

    Raises:
        NetwardenError: the inventory is invalid, or ``name`` is not a device of it that
            netwarden renders and has a device session for (ios switches, nftables firewalls).
    """
    path = Path(inventory)
    inv = cached_inventory(path, vault_password_file)
    device = inv.devices.get(name)
    if device is None:
        raise RenderError(f"{name} is not a device of the inventory {path}")
    if renderer_for(device) is None or not has_session(device):
        raise RenderError(
            f"{name} is a {device.platform.value} {device.function.value} "
            f"(model {device.model or 'unset'!r}); netwarden_config manages ios devices and "
            "nftables firewalls"
        )
    options = SessionOptions.for_inventory(path, known_hosts, trust_on_first_use, timeout)
    return Host(inventory=inv, device=device, options=options, render_vars=render_vars)


def host_from_params(params: Mapping[str, Any], task_vars: Mapping[str, Any]) -> Host:
    """:func:`load_host` from a plugin's common options and the play's variables.

    Options: ``device`` (default ``inventory_hostname``), ``inventory`` (default the
    play's first inventory source), ``vault_password_file`` (default
    ansible-playbook's, see :func:`controller_vault_password_file`),
    ``known_hosts``, ``trust_on_first_use``, ``timeout``, ``render_vars`` (the role's
    variables for the renderer).

    Raises:
        NetwardenError: no inventory, an invalid one, or the device is not an ios device of it.
    """

    def path(key: str) -> Path | None:
        return Path(params[key]) if params.get(key) else None

    device = params.get("device") or task_vars.get("inventory_hostname")
    sources = task_vars.get("ansible_inventory_sources") or []
    inventory = params.get("inventory") or (sources[0] if sources else None)
    if not device or not inventory:
        raise RenderError("no device or inventory: set the options or run in a play")
    return load_host(
        inventory,
        str(device),
        vault_password_file=path("vault_password_file") or controller_vault_password_file(),
        known_hosts=path("known_hosts"),
        trust_on_first_use=bool(params.get("trust_on_first_use")),
        timeout=float(params.get("timeout") or 30.0),
        render_vars=params.get("render_vars") or None,
    )


def controller_vault_password_file() -> Path | None:
    """The vault password file of the running ansible-playbook (CLI option, then configuration).

    Only meaningful inside an Ansible controller process (plugins).
    """
    # Imported at call time: only plugins call this, and CLIARGS is set when the CLI starts.
    from ansible.constants import DEFAULT_VAULT_PASSWORD_FILE  # noqa: PLC0415
    from ansible.context import CLIARGS  # noqa: PLC0415

    files = CLIARGS.get("vault_password_files") or ()
    if files:
        return Path(files[0])
    configured = DEFAULT_VAULT_PASSWORD_FILE
    return Path(configured) if configured else None


@contextlib.contextmanager
def lookup_errors() -> Iterator[None]:
    """For a lookup plugin: a NetwardenError of the block raised as ``AnsibleLookupError``.

    The message is ``netwarden: <error>`` with the first five problems of an invalid inventory.
    """
    from ansible.errors import AnsibleLookupError  # noqa: PLC0415  # plugins only, as above

    try:
        yield
    except NetwardenError as exc:
        problems = getattr(exc, "problems", [])
        detail = "; ".join(str(p) for p in problems[:5])
        raise AnsibleLookupError(f"netwarden: {exc}{': ' + detail if detail else ''}") from exc


def _flatten(terms: Any) -> list[str]:
    if isinstance(terms, list | tuple):
        return [name for term in terms for name in _flatten(term)]
    return [str(terms)]


def lookup_inventory(inventory: str, terms: Any) -> tuple[Inventory, list[str]]:
    """For a lookup plugin: the inventory (ansible-playbook's vault password) and the terms' names.

    The names are the terms flattened (nested lists), in order, each as a string.

    Raises:
        AnsibleLookupError: the inventory is invalid (:func:`lookup_errors`).
    """
    with lookup_errors():
        inv = cached_inventory(inventory, controller_vault_password_file())
    return inv, _flatten(terms)


def lookup_per_device(
    inventory: str, terms: Any, value: Callable[[Inventory, Device], Any]
) -> list[dict[str, Any]]:
    """For a role's lookup plugin: ``[{name: value(inv, device)}]`` for each term's device.

    The one loop the roles' lookups share: the inventory read as :func:`lookup_inventory`
    reads it, every name checked against it, and ``value``'s ``ValueError`` (a device the
    role cannot serve, an inconsistent inventory) raised as ``AnsibleLookupError`` with
    its message, as an invalid inventory is (:func:`lookup_errors`).
    """
    from ansible.errors import AnsibleLookupError  # noqa: PLC0415  # plugins only, as above

    inv, names = lookup_inventory(inventory, terms)
    out: dict[str, Any] = {}
    with lookup_errors():
        for name in names:
            device = inv.devices.get(name)
            if device is None:
                raise AnsibleLookupError(f"{name} is not a device of the inventory {inventory}")
            try:
                out[name] = value(inv, device)
            except ValueError as exc:
                raise AnsibleLookupError(str(exc)) from exc
    return [out]


def plan_host(host: Host) -> DevicePlan:
    """The plan of one host (``DevicePlan.error`` set when it could not be planned)."""
    try:
        intended = host.intended
    except NetwardenError as exc:
        return DevicePlan(device=host.device.name, error=str(exc))
    return plan_device(host.device, intended, host.options)


@dataclass(frozen=True)
class HostApply:
    """What applying to one host did: the apply result and, if one was taken, the backup.

    ``change_commit`` records the running config the apply left (None: nothing to
    record, or no repository); ``record_error`` says why it could not be recorded.
    """

    result: DeviceApplyResult
    backup: DeviceBackup | None = None
    backup_commit: str | None = None
    change_commit: str | None = None
    record_error: str | None = None


def apply_host(
    host: Host,
    options: ApplyOptions,
    *,
    backup_repo: Path | None = None,
    user: str = "",
    message: str = "",
    lock_dir: Path | None = None,
    holder: Holder | None = None,
) -> HostApply:
    """Plan; if the device would change, back it up (optional) and apply with commit-confirm.

    The device is planned once, on the session that then commits: a changed
    device costs that session and the post-checks' own; an unchanged device one
    session and no backup, so a converged fleet's run changes nothing, not even
    the backup repository. With ``backup_repo``, a device that changed (or was
    left different from its backup) then gets a commit of its own recording the
    running config the apply left, authored by ``user`` with ``message``
    (decision 19: each host commits its own).

    Locks (:mod:`netwarden.config.locks`): the inventory's apply lock for the run
    (``holder``, default this process's run: in an Ansible fork, the
    ansible-playbook controller, so the forks of one play share it; a fork keeps
    it until the controller exits, so another play or a CLI apply is refused while
    this play runs), and the device's lock while it is planned, backed up and
    applied.

    Raises:
        LockError: another run holds the inventory or the device; nothing was done.
    """
    holder = holder or Holder.this_run()
    inventory = Path(host.inventory.path)
    lock_dir = lock_dir or lock_dir_for(inventory)
    with (
        locked(
            inventory_lock_path(lock_dir, inventory),
            holder,
            f"inventory {inventory}",
            keep=in_worker(),
        ),
        device_locked(lock_dir, host.device, holder),
    ):
        return _apply_host(host, options, backup_repo=backup_repo, user=user, message=message)


def _apply_host(
    host: Host, options: ApplyOptions, *, backup_repo: Path | None, user: str, message: str
) -> HostApply:
    """:func:`apply_host` under its locks (the device's lock is held: the apply takes none).

    One session plans, and, if the device would change, commits on the plan it
    made (:func:`~netwarden.config.apply.plan_for_apply`): the backup records the
    running config that plan was made from, and the commit goes ahead only if the
    device still runs it.
    """
    name = host.device.name
    try:
        ready = plan_for_apply(host.device, host.intended, host.options, options)
    except NetwardenError as exc:
        return HostApply(DeviceApplyResult(device=name, status=ApplyStatus.FAILED, reason=str(exc)))
    with ready:
        if not ready.plan.changed:
            return HostApply(DeviceApplyResult(device=name, status=ApplyStatus.UNCHANGED))
        backup, commit = None, None
        user = user or current_user()
        if backup_repo is not None:
            report = record_backup(
                backup_repo,
                {name: ready.running},
                user=user,
                message=f"before apply: {message}" if message else "before apply",
            )
            backup, commit = report.devices[0], report.commit
        applied = ready.apply()
    if backup_repo is None:
        return HostApply(applied.result, backup, commit)
    running = running_left(host.device, applied.result, applied.running, host.options)
    try:
        change = record_after_apply(
            backup_repo, [(applied.result, running)], user=user, message=message
        )
    except NetwardenError as exc:  # the device is changed: report it, keep the result
        return HostApply(applied.result, backup, commit, record_error=str(exc))
    return HostApply(applied.result, backup, commit, change_commit=change)


def backup_host(
    host: Host, repo: Path, *, user: str, message: str = ""
) -> tuple[DeviceBackup, str | None]:
    """Back up one host into ``repo`` (created if absent); return its result and the commit.

    The commit is None when the stored config did not change.
    """
    report = run_backup([host.device], host.options, repo, user=user, message=message)
    return report.devices[0], report.commit


def backup_preview(host: Host, repo: Path) -> DeviceBackup:
    """What :func:`backup_host` would record (check mode): reads the device, writes nothing."""
    name = host.device.name
    try:
        running = fetch_running(host.device, host.options)
    except NetwardenError as exc:
        return DeviceBackup(device=name, status=BackupStatus.UNREACHABLE, error=str(exc))
    status = backup_status(last_backup(repo, name), stored_form(running))
    return DeviceBackup(device=name, status=status, path=str(backup_path(repo, name)))
