"""Results of plan, apply, backup and drift: frozen models, the JSON the CLI and Ansible emit.

No result holds a secret: every text field that can quote a config (diffs,
commands, reasons, check details, errors) is :data:`Redacted`, so it goes
through :func:`netwarden.ios.sanitize.redact_text` when the model is built.
Whatever prints or stores a result (terminal, ``--json``, result files, the
Ansible modules' results and ``--diff``) therefore shows ``<removed>`` where a
type 7 key, a ``$9$`` hash or an SNMPv3 key was; a changed secret still shows
as a changed line. Nothing acts on these fields: apply pushes the rendered
config, not ``commands``.

Examples:
    >>> DevicePlan(device="a", commands=("tacacs server t", " key 7 02050D480809")).commands
    ('tacacs server t', ' key 7 <removed>')
    >>> CheckOutcome(name="c", passed=False, detail="needed: no enable secret 9 $9$ab$cd").detail
    'needed: no enable secret 9 <removed>'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from netwarden.basemodel import FrozenModel
from netwarden.ios.sanitize import redact_text

Redacted = Annotated[str, AfterValidator(redact_text)]
"""Text that may quote a config: secrets replaced when the model is built."""


class Result(FrozenModel):
    """A result model: frozen, unknown fields refused (:class:`~netwarden.basemodel.FrozenModel`)."""


class DevicePlan(Result):
    """What applying the intended config would do to one device.

    ``device_diff`` is the device's own diff of running against the candidate
    (``show archive config differences``); ``commands`` is hier_config's
    remediation, the exact commands that turn running into intended. Both are
    normalised (see :mod:`netwarden.ios.normalize`). ``error`` is set when the
    device could not be planned (then the rest is empty).
    """

    device: str
    device_diff: Redacted = ""
    commands: tuple[Redacted, ...] = ()
    error: Redacted | None = None

    @property
    def changed(self) -> bool:
        return bool(self.commands or self.device_diff)


class PlanReport(Result):
    inventory: str
    plans: tuple[DevicePlan, ...]

    @property
    def changed(self) -> list[str]:
        return [p.device for p in self.plans if p.changed]

    @property
    def failed(self) -> list[str]:
        return [p.device for p in self.plans if p.error]


class ApplyStatus(StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    SKIPPED = "skipped"


class CheckOutcome(Result):
    """One post-check: its name, whether it passed, and what it saw."""

    name: str
    passed: bool
    detail: Redacted = ""


class DeviceApplyResult(Result):
    device: str
    status: ApplyStatus
    reason: Redacted = ""
    wave: int = 0
    commands: tuple[Redacted, ...] = ()
    device_diff: Redacted = ""
    checks: tuple[CheckOutcome, ...] = ()
    duration_seconds: float = 0.0


class ApplyReport(Result):
    inventory: str
    user: str
    started_at: datetime
    finished_at: datetime
    confirm_timeout_minutes: int
    canary: tuple[str, ...] = ()
    backup_commit: str | None = Field(
        default=None, description="the backup taken before the change; None when none changed"
    )
    change_commit: str | None = Field(
        default=None, description="the commit recording the running configs the run left"
    )
    record_error: Redacted | None = Field(
        default=None, description="why the running configs the run left could not be recorded"
    )
    results: tuple[DeviceApplyResult, ...] = ()

    def by_status(self, status: ApplyStatus) -> list[str]:
        return [r.device for r in self.results if r.status is status]

    @property
    def ok(self) -> bool:
        return all(r.status in (ApplyStatus.UNCHANGED, ApplyStatus.CHANGED) for r in self.results)


class BackupStatus(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNREACHABLE = "unreachable"


class DeviceBackup(Result):
    device: str
    status: BackupStatus
    path: str | None = None
    error: Redacted | None = None


class BackupReport(Result):
    repo: str
    commit: str | None = Field(
        default=None, description="the commit of this run; None when nothing changed"
    )
    user: str
    message: str
    devices: tuple[DeviceBackup, ...] = ()

    @property
    def unreachable(self) -> list[str]:
        return [d.device for d in self.devices if d.status is BackupStatus.UNREACHABLE]


class DeviceDrift(Result):
    """Differences of one device's running config from the intended config and the last backup.

    ``intended_diff`` and ``backup_diff`` are unified diffs of canonical configs
    (``-`` expected, ``+`` running); empty when in sync. ``backup_diff`` is None
    when the device has no backup to compare with (or none was asked for);
    ``backup_commit`` is the commit of the backup compared with.
    """

    device: str
    intended_diff: Redacted = ""
    intended_compared: bool = True
    """False for a device without an intended config (a linux server): backup only."""
    backup_diff: Redacted | None = None
    backup_commit: str | None = None
    error: Redacted | None = None

    @property
    def drifted(self) -> bool:
        return bool(self.intended_diff or self.backup_diff)


class DriftReport(Result):
    inventory: str
    backup_repo: str | None = None
    devices: tuple[DeviceDrift, ...] = ()

    @property
    def drifted(self) -> list[str]:
        return [d.device for d in self.devices if d.drifted]

    @property
    def failed(self) -> list[str]:
        return [d.device for d in self.devices if d.error]

    @property
    def without_backup(self) -> list[str]:
        """Devices read but not compared with a backup although ``backup_repo`` was asked for."""
        if self.backup_repo is None:
            return []
        return [d.device for d in self.devices if not d.error and d.backup_diff is None]
