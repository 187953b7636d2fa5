"""One device's commit-confirm: commit, check it is ours, post-check, confirm or roll back.

:class:`DeviceRun` is the per-device state machine of :mod:`netwarden.config.apply`
(read that module's docstring for the steps). Every outcome is a
:class:`~netwarden.config.models.DeviceApplyResult` whose status says what really
happened, verified on the device: ``rolled_back`` only when something was
committed and then reverted, ``changed`` only when our own commit was confirmed
and the running config is still what it produced.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from netwarden.config.checks import run_post_checks
from netwarden.config.dialects import dialect_for
from netwarden.config.models import ApplyStatus, DeviceApplyResult, DevicePlan
from netwarden.config.options import ApplyOptions
from netwarden.config.plan import plan_session
from netwarden.config.settle import DeviceState, Wait, await_settled, classify
from netwarden.devices import DeviceSession, PendingCommit, SessionOptions
from netwarden.errors import NetwardenError, SessionLostError
from netwarden.inventory.models import Device

logger = logging.getLogger(__name__)

NOTHING_COMMITTED = "nothing committed, running config unchanged (verified)"


@dataclass(frozen=True)
class Ours:
    """Our commit as the device showed it right after: the pending commit and running."""

    pending: PendingCommit
    running: str
    armed: float  # time.monotonic() when the commit returned: its revert timer runs


class DeviceRun:
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
        self.timings: dict[str, float] = {}

    def canonical(self, text: str) -> str:
        """``text`` as comparisons see it, in the device's dialect."""
        return dialect_for(self.device.platform).canonical(text)

    @property
    def revert_seconds(self) -> int:
        return self.aopts.confirm_timeout_minutes * 60

    def result(self, status: ApplyStatus, reason: str = "", **extra: Any) -> DeviceApplyResult:
        result = DeviceApplyResult(
            device=self.device.name,
            status=status,
            reason=reason,
            wave=self.wave,
            duration_seconds=round(time.monotonic() - self.started, 3),
            **{**self.extra, **extra},
        )
        logger.info("%s: %s %s", self.device.name, status.value, result.reason)  # redacted
        return result

    def timed(self) -> str:
        """``the commit took 28 s and the post-checks 47 s`` (what was measured)."""
        parts = [f"the {what} took {seconds:.0f} s" for what, seconds in self.timings.items()]
        return " and ".join(parts) or "no timing"

    def settle(self, before: str, why: str, armed: float | None = None) -> tuple[DeviceState, str]:
        """Wait for the device (see :mod:`netwarden.config.settle`); ``armed``: when the timer started."""
        timer_ends = (armed if armed is not None else time.monotonic()) + self.revert_seconds
        wait = Wait(
            why=why,
            timer_ends=timer_ends,
            deadline=timer_ends + self.aopts.revert_grace_seconds,
            poll_seconds=self.aopts.poll_seconds,
            progress_seconds=self.aopts.progress_seconds,
            notify=self.aopts.notify,
        )
        return await_settled(self.device, before, self.intended, self.sopts, wait)

    def run(self, session: DeviceSession) -> DeviceApplyResult:
        """Plan on the open ``session``, then :meth:`run_planned`."""
        try:
            plan, before = plan_session(session, self.intended, self.device.platform, discard=False)
        except NetwardenError as exc:
            return self.result(ApplyStatus.FAILED, f"plan failed: {exc}; nothing committed")
        return self.run_planned(session, plan, before)

    def run_planned(
        self, session: DeviceSession, plan: DevicePlan, before: str
    ) -> DeviceApplyResult:
        """Apply what was just planned on this ``session`` (its candidate still loaded).

        ``before`` is the running config the plan was made from: the commit goes
        ahead only if the device still runs it (re-read, with no commit pending).
        """
        if not plan.changed:
            self._discard(session)
            return self.result(ApplyStatus.UNCHANGED)
        self.extra = {"commands": plan.commands, "device_diff": plan.device_diff}
        return self._commit(session, before)

    def _commit(self, session: DeviceSession, before: str) -> DeviceApplyResult:
        """Commit if nobody else is configuring the device; record what the commit did."""
        busy = self._someone_else(session, before)
        if busy:
            self._discard(session)
            return self.result(ApplyStatus.FAILED, f"{busy}; nothing committed by this run")
        sent = time.monotonic()
        try:
            session.commit(revert_in=self.revert_seconds)
        except SessionLostError as exc:
            return self._after_loss(before, str(exc))
        except NetwardenError as exc:
            return self._refused(session, before, exc)
        armed = time.monotonic()
        self.timings["commit"] = armed - sent
        try:
            pending = session.pending_commit()
            running = session.get_config("running")
        except NetwardenError as exc:
            return self._after_loss(
                before, f"the session failed right after the commit: {exc}", armed
            )
        if pending is None:
            return self._no_timer(running, before)
        return self._post_check(
            session, before, Ours(pending=pending, running=running, armed=armed)
        )

    def _post_check(self, session: DeviceSession, before: str, ours: Ours) -> DeviceApplyResult:
        checked = time.monotonic()
        checks = run_post_checks(self.device, self.intended, self.sopts, self.aopts.checks)
        self.timings["post-checks"] = time.monotonic() - checked
        self.extra["checks"] = checks
        failed = [c for c in checks if not c.passed]
        if not failed:
            return self._confirm(session, before, ours)
        why = "post-check failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)
        return self._rollback(session, before, why, ours)

    def _discard(self, session: DeviceSession) -> None:
        try:
            session.discard()
        except NetwardenError as exc:
            logger.info("%s: discarding an unneeded candidate failed: %s", self.device.name, exc)

    def _someone_else(self, session: DeviceSession, before: str) -> str:
        """Why the device is busy with another configuration session ("" when it is not)."""
        try:
            pending = session.pending_commit()
            running = session.get_config("running") if pending is None else before
        except NetwardenError as exc:
            return f"could not check that no other session is configuring the device: {exc}"
        if pending is not None:
            return (
                "another configuration session is in progress on the device: a commit "
                f"{pending.describe()} awaits confirmation"
            )
        if self.canonical(running) != self.canonical(before):
            return (
                "the running config changed since it was planned a moment ago "
                "(another session is configuring the device)"
            )
        return ""

    def _no_timer(self, running: str, before: str) -> DeviceApplyResult:
        state = classify(running, before, self.intended, self.device)
        if state is DeviceState.PREVIOUS:
            return self.result(
                ApplyStatus.FAILED,
                "the device did not apply the commit (it armed no revert timer and the "
                f"running config is unchanged); {NOTHING_COMMITTED}",
            )
        return self.result(
            ApplyStatus.FAILED,
            "no revert timer was pending right after the commit (another session confirmed or "
            f"reverted it); running config is {state.value}; not confirmed by this run",
        )

    def _refused(
        self, session: DeviceSession, before: str, exc: NetwardenError
    ) -> DeviceApplyResult:
        """The device answered the commit with an error: say so and what it runs now."""
        try:
            pending = session.pending_commit()
            running = session.get_config("running")
        except NetwardenError as again:
            state, note = self.settle(before, f"commit failed ({exc}), then {again}")
            status = (
                ApplyStatus.ROLLED_BACK if state is DeviceState.PREVIOUS else ApplyStatus.FAILED
            )
            return self.result(
                status, f"commit failed: {exc}; running config is {state.value} ({note})"
            )
        if pending is None:
            state = classify(running, before, self.intended, self.device)
            if state is DeviceState.PREVIOUS:
                return self.result(ApplyStatus.FAILED, f"{exc}; {NOTHING_COMMITTED}")
            return self.result(
                ApplyStatus.FAILED, f"{exc}; no commit pending; running config is {state.value}"
            )
        ours = Ours(pending=pending, running=running, armed=time.monotonic())
        return self._rollback(session, before, f"commit failed: {exc}", ours)

    def _rollback(
        self,
        session: DeviceSession,
        before: str,
        why: str,
        ours: Ours,
        *,
        status: ApplyStatus = ApplyStatus.ROLLED_BACK,
    ) -> DeviceApplyResult:
        """Revert our pending commit now; ``status`` when the previous config is back (verified)."""
        try:
            now = session.pending_commit()
            if now is None:
                state = classify(session.get_config("running"), before, self.intended, self.device)
                if state is DeviceState.PREVIOUS:
                    return self.result(
                        status,
                        f"{why}; the device's revert timer had already restored the previous "
                        f"config (verified; {self.timed()})",
                    )
                return self.result(
                    ApplyStatus.FAILED,
                    f"{why}; no commit pending any more (another session confirmed or reverted "
                    f"it); running config is {state.value}",
                )
            if now.identity != ours.pending.identity:
                return self._not_ours(session, before, now, ours, why)
            session.rollback()
            state = classify(session.get_config("running"), before, self.intended, self.device)
        except NetwardenError as exc:
            logger.warning(
                "%s: rollback failed (%s); waiting for the revert timer", self.device.name, exc
            )
            state, _note = self.settle(before, f"rollback failed ({exc})", ours.armed)
        if state is DeviceState.PREVIOUS:
            return self.result(status, f"{why}; rolled back to the previous config (verified)")
        return self.result(
            ApplyStatus.FAILED, f"{why}; after rollback, running config is {state.value}"
        )

    def _not_ours(
        self, session: DeviceSession, before: str, now: PendingCommit, ours: Ours, why: str = ""
    ) -> DeviceApplyResult:
        state = self._state_on(session, before, ours)
        return self.result(
            ApplyStatus.FAILED,
            (f"{why}; " if why else "")
            + "the configuration session on the device is not ours: the pending commit is "
            f"{now.describe()}, ours was {ours.pending.describe()} (another session committed "
            "during our confirm window); this run neither confirms nor reverts another "
            f"session's commit; running config is {state.value}",
        )

    def _still_ours(
        self, session: DeviceSession, before: str, ours: Ours
    ) -> DeviceApplyResult | None:
        """None if our commit still waits for confirmation, untouched; else the result."""
        try:
            now = session.pending_commit()
            running = session.get_config("running")
        except NetwardenError as exc:
            return self._confirm_failed(before, exc, ours)
        if now is None:
            state = classify(running, before, self.intended, self.device)
            if state is DeviceState.PREVIOUS:
                return self.result(
                    ApplyStatus.ROLLED_BACK,
                    f"the device's revert timer ({self.aopts.confirm_timeout_minutes} min) fired "
                    f"before this run could confirm ({self.timed()}: a slow device needs a "
                    "longer confirm timeout); the device restored the previous config (verified)",
                )
            return self.result(
                ApplyStatus.FAILED,
                "the commit is no longer pending (another session confirmed or reverted it); "
                f"running config is {state.value}; not confirmed by this run",
            )
        if now.identity != ours.pending.identity:
            return self._not_ours(session, before, now, ours)
        if self.canonical(running) != self.canonical(ours.running):
            return self._rollback(
                session,
                before,
                "the running config changed during our confirm window (another session "
                "configured the device); not confirmed",
                ours,
                status=ApplyStatus.FAILED,
            )
        return None

    def _confirm(self, session: DeviceSession, before: str, ours: Ours) -> DeviceApplyResult:
        """Confirm, if the pending commit and the running config are still ours; verify after."""
        not_ours = self._still_ours(session, before, ours)
        if not_ours is not None:
            return not_ours
        try:
            session.confirm()
        except NetwardenError as exc:
            return self._confirm_failed(before, exc, ours)
        try:
            after = session.get_config("running")
        except NetwardenError as exc:
            return self.result(
                ApplyStatus.CHANGED, f"confirmed; the running config was not re-read ({exc})"
            )
        if self.canonical(after) != self.canonical(ours.running):
            state = classify(after, before, self.intended, self.device)
            return self.result(
                ApplyStatus.FAILED,
                "the running config changed while this run confirmed (another session "
                f"configured the device); running config is {state.value}",
            )
        return self.result(ApplyStatus.CHANGED)

    def _confirm_failed(self, before: str, exc: NetwardenError, ours: Ours) -> DeviceApplyResult:
        state, note = self.settle(before, f"confirm failed ({exc})", ours.armed)
        if state is DeviceState.INTENDED:
            return self.result(ApplyStatus.CHANGED, f"confirm reported {exc}, but the change held")
        status = ApplyStatus.ROLLED_BACK if state is DeviceState.PREVIOUS else ApplyStatus.FAILED
        return self.result(
            status, f"confirm failed ({exc}); running config is {state.value} ({note})"
        )

    def _after_loss(self, before: str, what: str, armed: float | None = None) -> DeviceApplyResult:
        state, note = self.settle(before, what, armed)
        if state is DeviceState.PREVIOUS:
            return self.result(
                ApplyStatus.ROLLED_BACK,
                f"{what}; the device's revert timer restored the previous config (verified)",
            )
        return self.result(ApplyStatus.FAILED, f"{what}; running config is {state.value} ({note})")

    def _state_on(self, session: DeviceSession, before: str, ours: Ours) -> DeviceState:
        try:
            return classify(session.get_config("running"), before, self.intended, self.device)
        except NetwardenError:
            return self.settle(before, "reading the running config failed", ours.armed)[0]
