"""After a lost session: wait for the device to settle, saying so, then say which config it runs.

A session lost during commit, confirm or rollback is never retried blindly
(decision 14): the device's revert timer decides. :func:`await_settled`
reconnects every ``poll_seconds`` and returns as soon as the device answers with
no commit pending (the timer fired, or the commit was confirmed), so a device
that comes back early costs seconds, not the whole timer. While it waits it
reports what it is waiting for and how long is left (``notify``, every
``progress_seconds``) and logs it: an unreachable device shows a line of progress
instead of minutes of silence. Only a device that never answers without a pending
commit is waited for until the timer plus the grace period.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from netwarden.config.dialects import dialect_for
from netwarden.config.plan import remediation
from netwarden.devices import SessionOptions, session_for
from netwarden.errors import NetwardenError
from netwarden.inventory.models import Device

logger = logging.getLogger(__name__)

Notify = Callable[[str], None]


class DeviceState(StrEnum):
    """Where a device's running config is, after something went wrong."""

    PREVIOUS = "the previous config (verified)"
    INTENDED = "the intended config (verified)"
    OTHER = "neither the previous nor the intended config"
    UNKNOWN = "unknown (no session, or a commit still pending)"


def classify(running: str, before: str, intended: str, device: Device) -> DeviceState:
    """Which config ``running`` is: the one before the change, the intended one, or another."""
    dialect = dialect_for(device.platform)
    if dialect.canonical(running) == dialect.canonical(before):
        return DeviceState.PREVIOUS
    if not remediation(running, intended, device.platform):
        return DeviceState.INTENDED
    return DeviceState.OTHER


def minutes_seconds(seconds: float) -> str:
    """``9m05s`` (or ``42s``) for a progress line.

    Examples:
        >>> minutes_seconds(545.2), minutes_seconds(42), minutes_seconds(-3)
        ('9m05s', '42s', '0s')
    """
    whole = max(0, int(seconds))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


@dataclass(frozen=True)
class Wait:
    """What to wait for and how to report it.

    Attributes:
        why: what happened (``session lost during commit``), for the progress lines.
        timer_ends: when the device's revert timer fires (``time.monotonic()``).
        deadline: when to give up (the timer plus the grace period).
        poll_seconds: the pause between reconnection attempts.
        progress_seconds: the pause between two progress reports.
        notify: where progress lines go (the CLI's stderr console), besides the log.
    """

    why: str
    timer_ends: float
    deadline: float
    poll_seconds: float = 1.0
    progress_seconds: float = 15.0
    notify: Notify | None = None


def _report(device: Device, wait: Wait, last: str) -> None:
    now = time.monotonic()
    if now < wait.timer_ends:
        left = f"its revert timer fires in {minutes_seconds(wait.timer_ends - now)}"
    else:
        left = f"its revert timer has fired; giving up in {minutes_seconds(wait.deadline - now)}"
    why = wait.why.removeprefix(f"{device.name}: ")
    line = f"{device.name}: {why}; waiting for the device to settle: {left} (last: {last})"
    logger.warning("%s", line)
    if wait.notify is not None:
        wait.notify(line)


def await_settled(
    device: Device,
    before: str,
    intended: str,
    options: SessionOptions,
    wait: Wait,
) -> tuple[DeviceState, str]:
    """Reconnect until no commit is pending (the revert timer fired or the commit was confirmed).

    Returns the state and a note on what was seen (the last error if it never settled).
    """
    last = "no attempt yet"
    reported = float("-inf")
    while True:
        session = session_for(device, options)
        try:
            session.open()
            if session.has_pending_commit():
                last = "a commit is still pending (the revert timer has not fired yet)"
            else:
                running = session.get_config("running")
                state = classify(running, before, intended, device)
                logger.info("%s: reconnected; running config is %s", device.name, state.value)
                return state, "reconnected"
        except NetwardenError as exc:
            last = str(exc)
        finally:
            session.close()
        now = time.monotonic()
        if now + wait.poll_seconds > wait.deadline:
            return DeviceState.UNKNOWN, last
        if now - reported >= wait.progress_seconds:
            _report(device, wait, last)
            reported = now
        time.sleep(wait.poll_seconds)
