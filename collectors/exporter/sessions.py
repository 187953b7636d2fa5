"""Device sessions kept open between probes of one device (the exporter's session cache).

Prometheus probes each device every scrape interval (health every 15-30 s, config
less often); opening an IOS session for each probe costs an SSH handshake, a login
and Netmiko's session preparation (``terminal length 0``, prompt discovery), which
is most of a probe's time and of the exporter's CPU. The cache keeps the session a
probe used, so that the device's next probe (either module) reuses it.

"Where safe" (decision 7X):

- A session is in the cache only while no probe uses it: :meth:`SessionCache.take`
  removes it, the probe gives it back with :meth:`SessionCache.give` only when it
  succeeded completely, and the prober does both under the device's lock, so a
  session is never used by two probes at once. One session per device at most
  (a real IOS has 5 or 16 vty lines, shared with the engineers and backups).
- Anything short of complete success (an error, a failed reading, a deadline
  overrun) closes the session instead of giving it back.
- A session idle for ``idle`` seconds is closed (``idle`` 0: no reuse at all, a fresh
  session per probe, the blackbox_exporter way); one opened ``max_age`` seconds ago
  is closed whatever its use, so rotated credentials and host keys are picked up.
- At most ``max_sessions`` idle sessions are kept; beyond that the least recently
  used is closed.
- Before reuse, the session's own liveness check (no round trip) must pass; the
  prober retries once with a fresh session when a reused one fails anyway (read-only
  probe work only).

Expired sessions are closed by :meth:`SessionCache.take` and :meth:`SessionCache.reap`
(the prober's reaper thread); :meth:`SessionCache.close` closes them all and closes
any session given back afterwards (exporter stop). Sessions are closed outside the
cache's lock: a slow close (the device's ``exit`` answer) never holds up other
devices' probes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from netwarden.devices import DeviceSession, ReusableSession

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CacheLimits:
    """How long and how many sessions are kept (seconds; ``idle`` 0 disables reuse)."""

    idle: float = 60.0
    max_age: float = 1800.0
    max_sessions: int = 1024

    @property
    def enabled(self) -> bool:
        return self.idle > 0 and self.max_age > 0 and self.max_sessions > 0


@dataclass
class CachedSession:
    """A session and its times (``clock`` seconds): opened, and last given back."""

    session: DeviceSession
    opened: float
    used: float


@dataclass
class SessionCounts:
    """Sessions opened, reused, and closed by reason (the exporter's self-metrics)."""

    opened: int = 0
    reused: int = 0
    closed: dict[str, int] = field(default_factory=dict)


CLOSE_REASONS = ("error", "overrun", "idle", "max_age", "dead", "evicted", "disabled", "shutdown")
"""Why a session was closed (``netwarden_exporter_sessions_closed_total{reason}``)."""


class SessionCache:
    """Idle sessions by device name (see the module docstring); thread-safe."""

    def __init__(self, limits: CacheLimits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._idle: OrderedDict[str, CachedSession] = OrderedDict()  # least recently used first
        self._closed = False
        self.counts = SessionCounts()

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)

    def now(self) -> float:
        return self._clock()

    def take(self, name: str) -> CachedSession | None:
        """The device's idle session, removed from the cache, if it is still fit for use.

        An expired one (idle or max age) or one whose liveness check fails is closed
        and None returned: the caller opens a fresh session.
        """
        with self._lock:
            entry = self._idle.pop(name, None)
        if entry is None:
            return None
        why = self._expired(entry, self._clock())
        if why is None and isinstance(entry.session, ReusableSession):
            try:
                alive = entry.session.is_alive()
            except Exception:  # noqa: BLE001 - a check that fails says the session is not fit
                alive = False
            if not alive:
                why = "dead"
        if why is not None:
            self._close(entry.session, why)
            return None
        self._count(reused=1)
        return entry

    def opened(self, session: DeviceSession) -> CachedSession:
        """Record a freshly opened session (counted); what :meth:`give` takes back."""
        self._count(opened=1)
        now = self._clock()
        return CachedSession(session, opened=now, used=now)

    def give(self, name: str, entry: CachedSession) -> None:
        """Keep ``entry`` (its last use succeeded completely) for the device's next probe.

        Closed instead when reuse is disabled, the cache is shut, or it is too old;
        keeping it may close the least recently used other session (``max_sessions``).
        """
        now = self._clock()
        entry.used = now
        if not self.limits.enabled:
            self._close(entry.session, "disabled")
            return
        if now - entry.opened >= self.limits.max_age:
            self._close(entry.session, "max_age")
            return
        evicted: list[CachedSession] = []
        replaced: CachedSession | None = None
        with self._lock:
            if self._closed:
                shut = True
            else:
                shut = False
                replaced = self._idle.pop(name, None)  # never two per device
                self._idle[name] = entry
                while len(self._idle) > self.limits.max_sessions:
                    evicted.append(self._idle.popitem(last=False)[1])
        if shut:
            self._close(entry.session, "shutdown")
        if replaced is not None:
            self._close(replaced.session, "evicted")
        for old in evicted:
            self._close(old.session, "evicted")

    def drop(self, entry: CachedSession, why: str = "error") -> None:
        """Close a session that is not given back (its use failed, or overran its deadline)."""
        self._close(entry.session, why)

    def reap(self) -> int:
        """Close every expired idle session; how many were closed."""
        now = self._clock()
        expired: list[tuple[CachedSession, str]] = []
        with self._lock:
            for name, entry in list(self._idle.items()):
                why = self._expired(entry, now)
                if why is not None:
                    del self._idle[name]
                    expired.append((entry, why))
        for entry, why in expired:
            self._close(entry.session, why)
        return len(expired)

    def close(self) -> None:
        """Close every idle session; sessions given back from now on are closed too."""
        with self._lock:
            self._closed = True
            entries = list(self._idle.values())
            self._idle.clear()
        for entry in entries:
            self._close(entry.session, "shutdown")

    def snapshot(self) -> tuple[int, int, dict[str, int], int]:
        """(opened, reused, closed by reason, idle now): for the self-metrics."""
        with self._lock:
            closed = dict(self.counts.closed)
            return self.counts.opened, self.counts.reused, closed, len(self._idle)

    # ------------------------------------------------------------ internals
    def _expired(self, entry: CachedSession, now: float) -> str | None:
        if now - entry.used >= self.limits.idle:
            return "idle"
        if now - entry.opened >= self.limits.max_age:
            return "max_age"
        return None

    def _count(self, *, opened: int = 0, reused: int = 0, closed: str | None = None) -> None:
        with self._lock:
            self.counts.opened += opened
            self.counts.reused += reused
            if closed is not None:
                self.counts.closed[closed] = self.counts.closed.get(closed, 0) + 1

    def _close(self, session: DeviceSession, why: str) -> None:
        self._count(closed=why)
        logger.debug("%s: closing the cached session (%s)", session.name, why)
        session.close()  # never raises (the DeviceSession contract)
