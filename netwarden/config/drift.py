"""Drift: running configs that differ from the intended config or from the last backup.

Both comparisons are of canonical configs in the device's dialect
(:mod:`netwarden.config.dialects`; IOS: :func:`~netwarden.ios.normalize.canonical`,
noise removed and order-insensitive parts sorted; nftables: the ruleset without
counter values, rule order kept), so a diff shows only real changes. Against the backup, running is sanitised first (backups hold no secrets).

A device without an intended config (a linux server: configured by Ansible, not
rendered) is compared with its last backup only (``intended`` None:
``DeviceDrift.intended_compared`` is false). A device without a backup to
compare with (no repository, or none of the device in it) is not "in sync": its ``backup_diff`` is None, and the report lists it in
:attr:`~netwarden.config.models.DriftReport.without_backup`; it is still compared
with its intended config.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from netwarden.config.backup import fetch_running, last_backup, last_backup_commit, stored_form
from netwarden.config.dialects import dialect_for
from netwarden.config.models import DeviceDrift, DriftReport
from netwarden.devices import SessionOptions
from netwarden.devices.runner import DEFAULT_CONCURRENCY, run_each
from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device, Platform
from netwarden.ios.sanitize import sanitize_line

logger = logging.getLogger(__name__)


def unified(
    expected: str,
    running: str,
    expected_name: str,
    running_name: str,
    platform: Platform = Platform.IOS,
) -> str:
    """A unified diff of two canonical configs (``-`` expected, ``+`` running); "" when equal.

    Examples:
        >>> print(unified("hostname a\\nntp server 10.0.0.1", "ntp server 10.0.0.9\\nhostname a",
        ...               "intended", "running"))
        --- intended
        +++ running
        @@ -1,2 +1,2 @@
         hostname a
        -ntp server 10.0.0.1
        +ntp server 10.0.0.9
    """
    lines = dialect_for(platform).canonical_lines
    diff = difflib.unified_diff(
        lines(expected),
        lines(running),
        fromfile=expected_name,
        tofile=running_name,
        lineterm="",
    )
    # Compared raw (a changed secret is drift), shown sanitised (type 7 is reversible).
    return "\n".join(_shown(line) for line in diff)


def _shown(line: str) -> str:
    if line.startswith(("---", "+++", "@@")) or not line:
        return line
    return line[0] + sanitize_line(line[1:])


def drift_of(
    device: str,
    running: str,
    intended: str | None,
    backup: str | None,
    backup_commit: str | None = None,
    *,
    platform: Platform = Platform.IOS,
) -> DeviceDrift:
    """Drift of one device from a running config already read (``backup`` None: none to compare;
    ``intended`` None: the device has no intended config)."""
    here, there = f"running/{device}", stored_form(running)
    return DeviceDrift(
        device=device,
        intended_diff=""
        if intended is None
        else unified(intended, running, f"intended/{device}", here, platform),
        intended_compared=intended is not None,
        backup_diff=None
        if backup is None
        else unified(backup, there, f"backup/{device}", here, platform),
        backup_commit=None if backup is None else backup_commit,
    )


def drift_device(
    device: Device, intended: str | None, options: SessionOptions, repo: Path | None
) -> DeviceDrift:
    """Read one device's running config and compare; failures are reported, never raised."""
    try:
        running = fetch_running(device, options)
    except NetwardenError as exc:
        return DeviceDrift(device=device.name, error=str(exc))
    if repo is None:
        return drift_of(device.name, running, intended, None, platform=device.platform)
    try:
        backup = last_backup(repo, device.name)
        commit = last_backup_commit(repo, device.name) if backup is not None else None
    except NetwardenError as exc:  # git missing or failing: the backup could not be read
        return DeviceDrift(device=device.name, error=f"{device.name}: last backup: {exc}")
    return drift_of(device.name, running, intended, backup, commit, platform=device.platform)


def drift_fleet(
    inventory: str,
    devices: Sequence[Device],
    configs: Mapping[str, str],
    options: SessionOptions,
    repo: Path | None,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[DeviceDrift], None] | None = None,
) -> DriftReport:
    """Compare every device with its intended config and, with ``repo``, its last backup there.

    A device with no entry in ``configs`` (a linux server) is compared with its backup only.

    ``repo`` need not exist: every device is then without a backup to compare with.
    """
    results = run_each(
        devices,
        lambda d: drift_device(d, configs.get(d.name), options, repo),
        lambda d, exc: DeviceDrift(device=d.name, error=f"{d.name}: internal error: {exc!r}"),
        concurrency=concurrency,
        on_done=on_done,
    )
    return DriftReport(
        inventory=inventory,
        backup_repo=str(repo) if repo is not None else None,
        devices=tuple(results),
    )
