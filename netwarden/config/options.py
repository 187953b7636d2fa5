"""How to apply (:class:`ApplyOptions`): the revert timer, the waves, the post-checks, the waits.

A module of its own, below both :mod:`netwarden.config.apply` (the fleet and the
device's session) and :mod:`netwarden.config.confirm` (the commit-confirm state
machine), which both read it: neither imports the other back.
:mod:`netwarden.config.apply` re-exports :class:`ApplyOptions`, the name callers use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from netwarden.config.checks import POST_CHECKS, PostCheck
from netwarden.config.settle import Notify
from netwarden.devices.runner import DEFAULT_CONCURRENCY

MIN_CONFIRM_MINUTES = 1
MAX_CONFIRM_MINUTES = 120  # IOS's revert timer range


@dataclass(frozen=True)
class ApplyOptions:
    """How to apply.

    Attributes:
        confirm_timeout_minutes: the device's revert timer (1-120 minutes).
        canary: how many devices (in order) form the canary wave (0: none).
        canary_site: or: every device of this site is the canary wave.
        alone_last: devices (by name) applied after all others, each in a wave of
            its own (HQ's firewalls: :func:`netwarden.config.waves.alone_last_names`).
        concurrency: devices worked on at once.
        checks: the post-checks (after the new-session check).
        revert_grace_seconds: how long past the timer to wait for a device to
            settle after a lost session.
        poll_seconds: the pause between reconnection attempts while waiting.
        progress_seconds: the pause between two progress lines while waiting.
        notify: where progress lines go (the CLI: its stderr console), besides the log.

    Examples:
        >>> ApplyOptions(confirm_timeout_minutes=0)
        Traceback (most recent call last):
        ...
        ValueError: confirm timeout 0 min is outside 1-120 (the IOS revert timer range)
    """

    confirm_timeout_minutes: int = 10
    canary: int = 0
    canary_site: str | None = None
    alone_last: frozenset[str] = frozenset()
    concurrency: int = DEFAULT_CONCURRENCY
    checks: tuple[PostCheck, ...] = field(default=POST_CHECKS)
    revert_grace_seconds: float = 60.0
    poll_seconds: float = 1.0
    progress_seconds: float = 15.0
    notify: Notify | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not MIN_CONFIRM_MINUTES <= self.confirm_timeout_minutes <= MAX_CONFIRM_MINUTES:
            raise ValueError(
                f"confirm timeout {self.confirm_timeout_minutes} min is outside "
                f"{MIN_CONFIRM_MINUTES}-{MAX_CONFIRM_MINUTES} (the IOS revert timer range)"
            )
        if self.canary < 0 or self.concurrency < 1:
            raise ValueError("canary must be >= 0 and concurrency >= 1")
