"""Apply: commit the intended config with a revert timer, post-check, confirm or roll back.

Per device (:func:`apply_device`):

1. plan on the session (running, candidate, device diff, remediation); nothing
   to do: discard, ``unchanged``;
2. ``commit(revert_in=MIN*60)``: the device reverts by itself unless confirmed;
3. post-checks on a NEW session (:mod:`netwarden.config.checks`);
4. every check passed: ``confirm`` -> ``changed``; else ``rollback`` -> ``rolled_back``
   with the failed checks as the reason.

A session lost during commit, confirm or rollback is never retried blindly: the
device's revert timer decides, and :func:`await_settled` reconnects until no
commit is pending, then reads running and says which state it is in (the
previous config, the intended one, or neither). Only ``rolled_back`` and
``changed`` are claimed after verifying the running config.

The fleet (:func:`apply_fleet`) is backed up first, then applied in waves: the
canary wave (the first N devices, or one site), then the rest; if any canary
ends other than changed/unchanged, the rest are ``skipped``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from netwarden.config.backup import run_backup
from netwarden.config.checks import POST_CHECKS, PostCheck, run_post_checks
from netwarden.config.models import ApplyReport, ApplyStatus, DeviceApplyResult
from netwarden.config.normalize import canonical
from netwarden.config.plan import plan_session, remediation
from netwarden.config.runner import DEFAULT_CONCURRENCY, run_each
from netwarden.devices import DeviceSession, SessionOptions, session_for
from netwarden.errors import NetwardenError, SessionLostError
from netwarden.inventory.models import Device

logger = logging.getLogger(__name__)

MIN_CONFIRM_MINUTES = 1
MAX_CONFIRM_MINUTES = 120  # IOS's revert timer range


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply.

    Attributes:
        confirm_timeout_minutes: the device's revert timer (1-120 minutes).
        canary: how many devices (in order) form the canary wave (0: none).
        canary_site: or: every device of this site is the canary wave.
        concurrency: devices worked on at once.
        checks: the post-checks (after the new-session check).
        revert_grace_seconds: how long past the timer to wait for a device to
            settle after a lost session.
        poll_seconds: the pause between reconnection attempts while waiting.
    """

    confirm_timeout_minutes: int = 10
    canary: int = 0
    canary_site: str | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    checks: tuple[PostCheck, ...] = field(default=POST_CHECKS)
    revert_grace_seconds: float = 60.0
    poll_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not MIN_CONFIRM_MINUTES <= self.confirm_timeout_minutes <= MAX_CONFIRM_MINUTES:
            raise ValueError(
                f"confirm timeout {self.confirm_timeout_minutes} min is outside "
                f"{MIN_CONFIRM_MINUTES}-{MAX_CONFIRM_MINUTES} (the IOS revert timer range)"
            )
        if self.canary < 0 or self.concurrency < 1:
            raise ValueError("canary must be >= 0 and concurrency >= 1")


class DeviceState(StrEnum):
    """Where a device's running config is, after something went wrong."""

    PREVIOUS = "the previous config (verified)"
    INTENDED = "the intended config (verified)"
    OTHER = "neither the previous nor the intended config"
    UNKNOWN = "unknown (no session, or a commit still pending)"


def classify(running: str, before: str, intended: str, device: Device) -> DeviceState:
    """Which config ``running`` is: the one before the change, the intended one, or another."""
    if canonical(running) == canonical(before):
        return DeviceState.PREVIOUS
    if not remediation(running, intended, device.platform):
        return DeviceState.INTENDED
    return DeviceState.OTHER


def await_settled(
    device: Device,
    before: str,
    intended: str,
    options: SessionOptions,
    *,
    deadline: float,
    poll_seconds: float = 1.0,
) -> tuple[DeviceState, str]:
    """Reconnect until no commit is pending (the revert timer fired or the commit was confirmed).

    Returns the state and a note on what was seen (the last error if it never settled).
    """
    last = "no attempt"
    while True:
        session = session_for(device, options)
        try:
            session.open()
            if session.has_pending_commit():
                last = "a commit is still pending (the revert timer has not fired yet)"
            else:
                running = session.get_config("running")
                return classify(running, before, intended, device), "reconnected"
        except NetwardenError as exc:
            last = str(exc)
        finally:
            session.close()
        if time.monotonic() + poll_seconds > deadline:
            return DeviceState.UNKNOWN, last
        time.sleep(poll_seconds)


class _Run:
    """One device's apply: the session, the timings and how to report."""

    def __init__(
        self,
        device: Device,
        intended: str,
        sopts: SessionOptions,
        aopts: ApplyOptions,
        wave: int,
    ) -> None:
        self.device = device
        self.intended = intended
        self.sopts = sopts
        self.aopts = aopts
        self.wave = wave
        self.started = time.monotonic()
        self.extra: dict[str, Any] = {}

    def result(self, status: ApplyStatus, reason: str = "", **extra: Any) -> DeviceApplyResult:
        logger.info("%s: %s %s", self.device.name, status.value, reason)
        return DeviceApplyResult(
            device=self.device.name,
            status=status,
            reason=reason,
            wave=self.wave,
            duration_seconds=round(time.monotonic() - self.started, 3),
            **{**self.extra, **extra},
        )

    def settle(self, before: str) -> tuple[DeviceState, str]:
        revert_seconds = self.aopts.confirm_timeout_minutes * 60
        deadline = time.monotonic() + revert_seconds + self.aopts.revert_grace_seconds
        return await_settled(
            self.device,
            before,
            self.intended,
            self.sopts,
            deadline=deadline,
            poll_seconds=self.aopts.poll_seconds,
        )

    def run(self, session: DeviceSession) -> DeviceApplyResult:
        try:
            plan, before = plan_session(session, self.intended, self.device.platform, discard=False)
        except NetwardenError as exc:
            return self.result(ApplyStatus.FAILED, f"plan failed: {exc}")
        if not plan.changed:
            try:
                session.discard()
            except NetwardenError as exc:
                logger.info(
                    "%s: discarding an unneeded candidate failed: %s", self.device.name, exc
                )
            return self.result(ApplyStatus.UNCHANGED)
        self.extra = {"commands": plan.commands, "device_diff": plan.device_diff}
        try:
            session.commit(revert_in=self.aopts.confirm_timeout_minutes * 60)
        except SessionLostError as exc:
            return self._after_loss(before, f"{exc}")
        except NetwardenError as exc:
            state = self._state_on(session, before)
            return self.result(
                ApplyStatus.FAILED, f"commit refused: {exc}; running config is {state.value}"
            )
        checks = run_post_checks(self.device, self.intended, self.sopts, self.aopts.checks)
        self.extra["checks"] = checks
        failed = [c for c in checks if not c.passed]
        if not failed:
            return self._confirm(session, before)
        why = "post-check failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        return self._rollback(session, before, why)

    def _confirm(self, session: DeviceSession, before: str) -> DeviceApplyResult:
        try:
            session.confirm()
        except NetwardenError as exc:
            state, note = self.settle(before)
            if state is DeviceState.INTENDED:
                return self.result(
                    ApplyStatus.CHANGED, f"confirm reported {exc}, but the change held"
                )
            status = (
                ApplyStatus.ROLLED_BACK if state is DeviceState.PREVIOUS else ApplyStatus.FAILED
            )
            return self.result(
                status, f"confirm failed ({exc}); running config is {state.value} ({note})"
            )
        return self.result(ApplyStatus.CHANGED)

    def _rollback(self, session: DeviceSession, before: str, why: str) -> DeviceApplyResult:
        try:
            session.rollback()
            state = classify(session.get_config("running"), before, self.intended, self.device)
        except NetwardenError as exc:
            logger.warning(
                "%s: rollback failed (%s); waiting for the revert timer", self.device.name, exc
            )
            state, _note = self.settle(before)
        if state is DeviceState.PREVIOUS:
            return self.result(
                ApplyStatus.ROLLED_BACK, f"{why}; rolled back to the previous config"
            )
        return self.result(
            ApplyStatus.FAILED, f"{why}; after rollback, running config is {state.value}"
        )

    def _after_loss(self, before: str, what: str) -> DeviceApplyResult:
        state, note = self.settle(before)
        if state is DeviceState.PREVIOUS:
            return self.result(
                ApplyStatus.ROLLED_BACK,
                f"{what}; the device's revert timer restored the previous config",
            )
        return self.result(ApplyStatus.FAILED, f"{what}; running config is {state.value} ({note})")

    def _state_on(self, session: DeviceSession, before: str) -> DeviceState:
        try:
            return classify(session.get_config("running"), before, self.intended, self.device)
        except NetwardenError:
            return self.settle(before)[0]


def apply_device(
    device: Device,
    intended: str,
    session_options: SessionOptions,
    options: ApplyOptions,
    wave: int = 1,
) -> DeviceApplyResult:
    """Apply the intended config to one device; every outcome is a result, nothing raises."""
    run = _Run(device, intended, session_options, options, wave)
    try:
        session = session_for(device, session_options)
        session.open()
    except NetwardenError as exc:
        return run.result(ApplyStatus.FAILED, str(exc))
    try:
        return run.run(session)
    finally:
        session.close()


def split_waves(
    devices: Sequence[Device], options: ApplyOptions
) -> tuple[list[Device], list[Device]]:
    """The canary wave (empty without ``canary``/``canary_site``) and the rest, in order."""
    if options.canary_site:
        canary = [d for d in devices if d.site == options.canary_site]
    else:
        canary = list(devices[: options.canary])
    return canary, [d for d in devices if d not in canary]


def _apply_wave(
    wave: Sequence[Device],
    number: int,
    configs: Mapping[str, str],
    session_options: SessionOptions,
    options: ApplyOptions,
    *,
    on_done: Callable[[DeviceApplyResult], None] | None,
) -> list[DeviceApplyResult]:
    def job(device: Device) -> DeviceApplyResult:
        return apply_device(device, configs[device.name], session_options, options, number)

    def crashed(device: Device, exc: Exception) -> DeviceApplyResult:
        return DeviceApplyResult(
            device=device.name,
            status=ApplyStatus.FAILED,
            reason=f"internal error: {exc!r}; running config state not verified",
            wave=number,
        )

    return run_each(wave, job, crashed, concurrency=options.concurrency, on_done=on_done)


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
) -> ApplyReport:
    """Back up, then apply wave by wave; a failed canary wave skips the rest."""
    started = datetime.now(UTC)
    canary, rest = split_waves(devices, options)
    if options.canary_site and not canary:
        raise ValueError(f"no selected device is at canary site {options.canary_site!r}")
    backup_commit = None
    if backup_repo is not None:
        backup = run_backup(
            devices,
            session_options,
            backup_repo,
            user=user,
            message=f"before apply: {message}" if message else "before apply",
            concurrency=options.concurrency,
        )
        backup_commit = backup.commit
    results: list[DeviceApplyResult] = []
    if canary:
        results += _apply_wave(canary, 1, configs, session_options, options, on_done=on_done)
    bad = [
        r.device for r in results if r.status not in (ApplyStatus.CHANGED, ApplyStatus.UNCHANGED)
    ]
    number = 2 if canary else 1
    if bad:
        reason = f"canary wave failed ({', '.join(bad)}); the run stopped before this device"
        for device in rest:
            skipped = DeviceApplyResult(
                device=device.name, status=ApplyStatus.SKIPPED, reason=reason, wave=number
            )
            results.append(skipped)
            if on_done is not None:
                on_done(skipped)
    elif rest:
        results += _apply_wave(rest, number, configs, session_options, options, on_done=on_done)
    return ApplyReport(
        inventory=inventory,
        user=user,
        started_at=started,
        finished_at=datetime.now(UTC),
        confirm_timeout_minutes=options.confirm_timeout_minutes,
        canary=tuple(d.name for d in canary),
        backup_commit=backup_commit,
        results=tuple(results),
    )
