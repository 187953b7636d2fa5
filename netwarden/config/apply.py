"""Apply: commit the intended config with a revert timer, post-check, confirm or roll back.

Per device (:func:`apply_device`), under the device's lock (:mod:`netwarden.config.locks`):

1. plan on the session (running, candidate, device diff, remediation); nothing
   to do: discard, ``unchanged``;
2. nobody else is configuring the device: no commit pending, running as planned
   (else ``failed``, nothing committed);
3. ``commit(revert_in=MIN*60)``: the device reverts by itself unless confirmed; a
   refused commit is ``failed`` with the device's words and the verified state;
   the commit's identity (the pending commit: when, by whom, which archive) and
   the running config it produced are recorded;
4. post-checks on a NEW session (:mod:`netwarden.config.checks`);
5. every check passed, the pending commit is still ours and running is still
   what our commit produced: ``confirm`` -> ``changed`` (verified again after the
   confirm); a failed check -> ``rollback`` -> ``rolled_back``. A commit whose
   configuration session is not ours (another session committed or configured
   the device in our window) is ``failed``, never ``changed``.

Statuses are honest: ``rolled_back`` only when something was committed and then
reverted (verified); a commit the device refused, or a device too slow to answer,
is ``failed`` with what happened and "nothing committed" when that is verified.
A session lost during commit, confirm or rollback is never retried blindly:
:func:`~netwarden.config.settle.await_settled` waits for the device (reporting
progress) and says which state it is in.

:func:`plan_for_apply` splits step 1 from the rest for a caller with work in
between (the Ansible route backs up only a device that will change): the device
is planned once, and the commit is made on the session that planned it, after
the same checks (step 2 re-reads the running config).

The fleet (:func:`apply_fleet`) takes the inventory's apply lock (a second apply
of the same inventory is refused naming the holder), is backed up, then applied
in waves (:func:`rollout_waves`): the canary wave (the first N devices, or one
site), then the rest, then each HQ firewall alone (``ApplyOptions.alone_last``); if
any device of a wave ends other than changed/unchanged, the later waves are
``skipped``. Waves keep
the order they are given: ``netwarden apply`` gives rollout order
(:func:`netwarden.config.waves.rollout_order`, the rule ``playbooks/network.yml``
uses too), so its canary is a field office's access switch, never HQ's core. With a
backup repository, the run ends by recording the running configs it left
(:func:`~netwarden.config.backup.record_after_apply`: one commit, the user as
author, the change's reason): the running config each device's session read last,
so recording costs no extra session.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from netwarden.config.backup import fetch_running, record_after_apply, run_backup
from netwarden.config.confirm import DeviceRun
from netwarden.config.locks import (
    Holder,
    device_lock_path,
    inventory_lock_path,
    lock_dir_for,
    locked,
)
from netwarden.config.models import ApplyReport, ApplyStatus, DeviceApplyResult, DevicePlan
from netwarden.config.options import ApplyOptions
from netwarden.config.plan import plan_session
from netwarden.config.playbook_route import PlaybookOptions, apply_by_playbook, playbook_for
from netwarden.config.settle import DeviceState, await_settled, classify
from netwarden.devices import (
    DeviceSession,
    Facts,
    InterfaceState,
    PendingCommit,
    SessionOptions,
    address_of,
    session_for,
)
from netwarden.devices.base import ConfigKind
from netwarden.devices.runner import run_each
from netwarden.errors import LockError, NetwardenError
from netwarden.inventory.models import Device

logger = logging.getLogger(__name__)

__all__ = [
    "Applied",
    "ApplyOptions",
    "DeviceState",
    "PlannedApply",
    "apply_device",
    "apply_device_read",
    "apply_fleet",
    "await_settled",
    "classify",
    "device_locked",
    "plan_for_apply",
    "rollout_waves",
    "running_left",
    "split_waves",
]


@dataclass(frozen=True)
class Applied:
    """One device's apply result and the running config its session read last.

    ``running`` is what apply saw at the end (after the confirm, the rollback, or
    the check that found the device busy); None when the session read none or was
    lost (the device was then only waited for). It is what the backup records.
    """

    result: DeviceApplyResult
    running: str | None = None


def apply_device(
    device: Device,
    intended: str,
    session_options: SessionOptions,
    options: ApplyOptions,
    wave: int = 1,
    *,
    lock_dir: Path | None = None,
    holder: Holder | None = None,
) -> DeviceApplyResult:
    """Apply the intended config to one device; every outcome is a result, nothing raises.

    With ``lock_dir`` the device's lock is held for the run (``holder``, default this
    process's run); a device another run holds is ``failed`` naming that run, untouched.
    """
    return apply_device_read(
        device, intended, session_options, options, wave, lock_dir=lock_dir, holder=holder
    ).result


def apply_device_read(
    device: Device,
    intended: str,
    session_options: SessionOptions,
    options: ApplyOptions,
    wave: int = 1,
    *,
    lock_dir: Path | None = None,
    holder: Holder | None = None,
) -> Applied:
    """:func:`apply_device`, with the running config the session read last (for the backup)."""
    run = DeviceRun(device, intended, session_options, options, wave)
    if lock_dir is None:
        return _apply(run)
    try:
        with device_locked(lock_dir, device, holder or Holder.this_run()):
            return _apply(run)
    except LockError as exc:
        return Applied(run.result(ApplyStatus.FAILED, str(exc)))


def device_locked(lock_dir: Path, device: Device, holder: Holder) -> AbstractContextManager[None]:
    """The device's lock (by name and address) held for ``holder``'s run during the block.

    Raises:
        LockError: another run holds it (the message names that run).
    """
    host, port = address_of(device)
    path = device_lock_path(lock_dir, device.name, host, port)
    return locked(path, holder, f"device {device.name} ({host}:{port})")


def _apply(run: DeviceRun) -> Applied:
    try:
        session = session_for(run.device, run.sopts)
        session.open()
    except NetwardenError as exc:
        return Applied(run.result(ApplyStatus.FAILED, f"{exc}; nothing committed"))
    reading = _LastRunning(session)
    try:
        result = run.run(reading)
    finally:
        session.close()
    return Applied(result, reading.last)


def plan_for_apply(
    device: Device,
    intended: str,
    session_options: SessionOptions,
    options: ApplyOptions,
    wave: int = 1,
) -> PlannedApply:
    """Open a session to ``device`` and plan on it, leaving the candidate loaded to apply.

    For a caller with work to do between the plan and the commit (the Ansible
    route backs up only a device that will change): the device is planned once,
    and :meth:`PlannedApply.apply` commits on the session that planned it, after
    the same checks as :func:`apply_device` (no commit pending, running as
    planned, re-read). An unchanged device's candidate is discarded at once, as
    :func:`~netwarden.config.plan.plan_device` does. No lock is taken: hold the
    device's (:func:`device_locked`) around the plan and the apply.

    Raises:
        NetwardenError: the session could not be opened or the plan failed
            (the session is closed; nothing was changed).
    """
    run = DeviceRun(device, intended, session_options, options, wave)
    session = session_for(device, session_options)
    session.open()
    reading = _LastRunning(session)
    try:
        plan, running = plan_session(reading, intended, device.platform, discard=False)
        if not plan.changed:
            reading.discard()
    except BaseException:
        reading.close()
        raise
    return PlannedApply(run, reading, plan, running)


class PlannedApply:
    """One device planned on an open session (:func:`plan_for_apply`): apply it, or leave it.

    ``plan`` is the plan, ``running`` the running config it was made from. Use it
    as a context manager: leaving the block closes the session, discarding the
    candidate first when it was not applied.
    """

    def __init__(
        self, run: DeviceRun, session: _LastRunning, plan: DevicePlan, running: str
    ) -> None:
        self._run = run
        self._session = session
        self._applied = False
        self.plan = plan
        self.running = running

    def apply(self) -> Applied:
        """Commit-confirm the plan on its session; every outcome is a result, nothing raises."""
        self._applied = True
        result = self._run.run_planned(self._session, self.plan, self.running)
        return Applied(result, self._session.last)

    def __enter__(self) -> PlannedApply:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self.plan.changed and not self._applied:
                self._session.discard()
        except NetwardenError as exc:
            logger.info("%s: discarding an unapplied candidate failed: %s", self._session.name, exc)
        finally:
            self._session.close()


class _LastRunning:
    """A :class:`~netwarden.devices.DeviceSession` that remembers the last running config read.

    Apply reads the running config after every step that changes it (commit, confirm,
    rollback); the last one read is the device's state when the run ended, recorded in
    the backup without a session of its own. A failed call forgets it (the state is
    then unknown).
    """

    def __init__(self, session: DeviceSession) -> None:
        self._session = session
        self.name = session.name
        self.last: str | None = None

    def _changes(self) -> None:
        self.last = None

    def open(self) -> None:
        self._session.open()

    def close(self) -> None:
        self._session.close()

    def get_config(self, which: ConfigKind = "running") -> str:
        if which != "running":
            return self._session.get_config(which)
        self.last = None
        self.last = self._session.get_config(which)
        return self.last

    def load_replace_candidate(self, config: str) -> None:
        self._session.load_replace_candidate(config)

    def compare(self) -> str:
        return self._session.compare()

    def commit(self, revert_in: int | None = None) -> None:
        self._changes()
        self._session.commit(revert_in)

    def confirm(self) -> None:
        self._changes()  # a confirm that fails may end in the revert timer's rollback
        self._session.confirm()

    def rollback(self) -> None:
        self._changes()
        self._session.rollback()

    def discard(self) -> None:
        self._session.discard()

    def has_pending_commit(self) -> bool:
        return self._session.has_pending_commit()

    def pending_commit(self) -> PendingCommit | None:
        return self._session.pending_commit()

    def get_facts(self) -> Facts:
        return self._session.get_facts()

    def get_interfaces(self) -> dict[str, InterfaceState]:
        return self._session.get_interfaces()

    def send_command(self, command: str) -> str:
        return self._session.send_command(command)


def split_waves(
    devices: Sequence[Device], options: ApplyOptions
) -> tuple[list[Device], list[Device]]:
    """The canary wave (empty without ``canary``/``canary_site``) and the rest, in order.

    The canary wave is the first ``canary`` devices in the order given: pass them in
    :func:`netwarden.config.waves.rollout_order` to get the rule the CLI and the
    playbook share. Devices in ``options.alone_last`` are in neither (see
    :func:`rollout_waves`).
    """
    among = [d for d in devices if d.name not in options.alone_last]
    if options.canary_site:
        canary = [d for d in among if d.site == options.canary_site]
    else:
        canary = among[: options.canary]
    return canary, [d for d in among if d not in canary]


def rollout_waves(devices: Sequence[Device], options: ApplyOptions) -> list[list[Device]]:
    """The waves in order: the canary wave, the rest, then each ``alone_last`` device alone.

    Empty waves are left out; the ``alone_last`` devices keep the order given.

    Examples:
        >>> from types import SimpleNamespace as D
        >>> devices = [D(name=n, site="s") for n in ("a", "b", "c", "fw1", "fw2")]
        >>> opts = ApplyOptions(canary=1, alone_last=frozenset({"fw1", "fw2"}))
        >>> [[d.name for d in w] for w in rollout_waves(devices, opts)]  # type: ignore[arg-type]
        [['a'], ['b', 'c'], ['fw1'], ['fw2']]
    """
    canary, rest = split_waves(devices, options)
    last = [[d] for d in devices if d.name in options.alone_last]
    return [wave for wave in (canary, rest, *last) if wave]


@dataclass(frozen=True)
class _Fleet:
    configs: Mapping[str, str]
    session_options: SessionOptions
    options: ApplyOptions
    lock_dir: Path
    holder: Holder
    on_done: Callable[[DeviceApplyResult], None] | None
    devices: Mapping[str, Device]
    playbooks: PlaybookOptions | None = None
    running: dict[str, str] = field(default_factory=dict)  # what each session read last


def _apply_wave(wave: Sequence[Device], number: int, fleet: _Fleet) -> list[DeviceApplyResult]:
    def job(device: Device) -> DeviceApplyResult:
        playbook = playbook_for(device)
        if playbook is not None:
            return _apply_playbook(device, playbook, number, fleet)
        applied = apply_device_read(
            device,
            fleet.configs[device.name],
            fleet.session_options,
            fleet.options,
            number,
            lock_dir=fleet.lock_dir,
            holder=fleet.holder,
        )
        if applied.running is not None:
            fleet.running[device.name] = applied.running  # one key per thread
        return applied.result

    def crashed(device: Device, exc: Exception) -> DeviceApplyResult:
        return DeviceApplyResult(
            device=device.name,
            status=ApplyStatus.FAILED,
            reason=f"internal error: {exc!r}; running config state not verified",
            wave=number,
        )

    return run_each(
        wave, job, crashed, concurrency=fleet.options.concurrency, on_done=fleet.on_done
    )


def apply_fleet(
    inventory: str,
    devices: Sequence[Device],
    configs: Mapping[str, str],
    session_options: SessionOptions,
    options: ApplyOptions,
    *,
    user: str,
    message: str = "",
    backup_repo: Path | None = None,
    on_done: Callable[[DeviceApplyResult], None] | None = None,
    lock_dir: Path | None = None,
    holder: Holder | None = None,
    playbooks: PlaybookOptions | None = None,
) -> ApplyReport:
    """Lock the inventory, back up, then apply wave by wave; a failed wave skips the later ones.

    A device a playbook converges (servers: :mod:`netwarden.config.playbook_route`)
    is applied by running its playbook (``playbooks`` says how) in its wave, under
    its lock, and needs no entry in ``configs``.

    With ``backup_repo``, the running configs the run left are then committed there
    (``change_commit``; a failure to record is ``record_error``, the results are kept).
    ``lock_dir`` defaults to :func:`~netwarden.config.locks.lock_dir_for` the inventory,
    ``holder`` to this process's run.

    Raises:
        LockError: another run is applying this inventory (the message names it);
            nothing was done.
        ValueError: ``canary_site`` selects no device.
    """
    canary, _ = split_waves(devices, options)
    if options.canary_site and not canary:
        raise ValueError(f"no selected device is at canary site {options.canary_site!r}")
    holder = holder or Holder.this_run()
    lock_dir = lock_dir or lock_dir_for(Path(inventory))
    path = inventory_lock_path(lock_dir, Path(inventory))
    with locked(path, holder, f"inventory {inventory}"):
        fleet = _Fleet(
            configs,
            session_options,
            options,
            lock_dir,
            holder,
            on_done,
            devices={d.name: d for d in devices},
            playbooks=playbooks,
        )
        return _apply_locked(
            inventory,
            rollout_waves(devices, options),
            fleet,
            user=user,
            message=message,
            backup_repo=backup_repo,
            canary=canary,
        )


def _apply_locked(
    inventory: str,
    waves: Sequence[Sequence[Device]],
    fleet: _Fleet,
    *,
    user: str,
    message: str,
    backup_repo: Path | None,
    canary: Sequence[Device],
) -> ApplyReport:
    started = datetime.now(UTC)
    options = fleet.options
    backup_commit = None
    if backup_repo is not None:
        backup = run_backup(
            [d for wave in waves for d in wave],
            fleet.session_options,
            backup_repo,
            user=user,
            message=f"before apply: {message}" if message else "before apply",
            concurrency=options.concurrency,
        )
        backup_commit = backup.commit
    results: list[DeviceApplyResult] = []
    stopped = ""  # why the later waves are skipped
    for number, wave in enumerate(waves, start=1):
        if stopped:
            results += _skip(wave, number, stopped, fleet)
            continue
        done = _apply_wave(wave, number, fleet)
        results += done
        bad = [
            r.device for r in done if r.status not in (ApplyStatus.CHANGED, ApplyStatus.UNCHANGED)
        ]
        if bad:
            what = "canary wave" if canary and number == 1 else f"wave {number}"
            stopped = f"{what} failed ({', '.join(bad)}); the run stopped before this device"
    change_commit, record_error = None, None
    if backup_repo is not None:
        outcomes = [(r, _final_running(r, fleet)) for r in results]
        try:
            change_commit = record_after_apply(backup_repo, outcomes, user=user, message=message)
        except NetwardenError as exc:  # the devices are changed: report, never lose the results
            logger.warning("recording the change in %s failed: %s", backup_repo, exc)
            record_error = str(exc)
    return ApplyReport(
        inventory=inventory,
        user=user,
        started_at=started,
        finished_at=datetime.now(UTC),
        confirm_timeout_minutes=options.confirm_timeout_minutes,
        canary=tuple(d.name for d in canary),
        backup_commit=backup_commit,
        change_commit=change_commit,
        record_error=record_error,
        results=tuple(results),
    )


def _apply_playbook(device: Device, playbook: str, number: int, fleet: _Fleet) -> DeviceApplyResult:
    """A device its playbook converges (servers), under the device's lock like the others."""
    if fleet.playbooks is None:
        return DeviceApplyResult(
            device=device.name,
            status=ApplyStatus.FAILED,
            reason=f"{playbook}: no playbook options given; nothing run",
            wave=number,
        )
    try:
        with device_locked(fleet.lock_dir, device, fleet.holder):
            return apply_by_playbook(device, playbook, fleet.playbooks, number)
    except LockError as exc:
        return DeviceApplyResult(
            device=device.name, status=ApplyStatus.FAILED, reason=str(exc), wave=number
        )


def _skip(
    wave: Sequence[Device], number: int, reason: str, fleet: _Fleet
) -> list[DeviceApplyResult]:
    """``skipped`` results for a wave after a failed one (reported as done, in order)."""
    skipped = []
    for device in wave:
        result = DeviceApplyResult(
            device=device.name, status=ApplyStatus.SKIPPED, reason=reason, wave=number
        )
        skipped.append(result)
        if fleet.on_done is not None:
            fleet.on_done(result)
    return skipped


def _final_running(result: DeviceApplyResult, fleet: _Fleet) -> str | None:
    """The running config the run left on ``result``'s device (:func:`running_left`)."""
    name = result.device
    return running_left(fleet.devices[name], result, fleet.running.get(name), fleet.session_options)


def running_left(
    device: Device,
    result: DeviceApplyResult,
    running: str | None,
    session_options: SessionOptions,
) -> str | None:
    """The running config a device's apply left, to record: ``running``, as its session read it last.

    A changed device whose session could not re-read it after the confirm is read
    once more (its own session) so that the change is recorded; None if that fails.
    """
    if running is not None or result.status is not ApplyStatus.CHANGED:
        return running
    try:
        return fetch_running(device, session_options)
    except NetwardenError as exc:
        logger.warning("%s: cannot read the running config to record it: %s", device.name, exc)
        return None
