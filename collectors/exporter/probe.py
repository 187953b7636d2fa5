"""Probes: one device, one module, within the scrape's time budget.

Every probe answers, whatever the device does: ``netwarden_up`` (1: the module
read what it needed), ``netwarden_scrape_duration_seconds`` and
``netwarden_collector_success{collector}`` per reading. The device work runs on a
pool of ``concurrency`` threads (the global limit); the probe waits for it at most
until its deadline and answers ``netwarden_up 0`` if it is not done (the late
thread finishes in the background and its result is dropped). A lock per device
keeps two probes of one device from opening two sessions at once; a probe that
cannot take the lock before its deadline is not up. The lock is taken *before* a
pool thread is: probes waiting for a slow device wait in the HTTP route threads,
so a device that hangs holds one pool thread at most and the other devices are
still probed (Prometheus scrapes a hung device's modules again every interval; had
each waited inside the pool, a few intervals would have filled it).

A probe that succeeded completely leaves its session open for the device's next
probe (either module) in :class:`~collectors.exporter.sessions.SessionCache`, which
says when that is safe (idle and age limits, liveness check, one per device); a
kept session that is lost is closed and the probe retried once with a fresh one
within its budget (every probe only reads). A reaper thread closes idle sessions;
:meth:`Prober.close` closes them all.

Credentials come from the inventory (the device's Ansible connection variables,
vault included, else ``NETWARDEN_*`` from the exporter's environment) through
:func:`~netwarden.devices.session_for`: nothing in a request can name or carry one.
Errors are logged and answered by message only after :func:`scrub` removed every
secret the exporter knows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily, Metric

from collectors.exporter.compliance import (
    ComplianceReports,
    ReportUnavailableError,
    compliance_families,
)
from collectors.exporter.modules import (
    ConfigState,
    config_families,
    diff_lines,
    health_families,
    interface_info_family,
)
from collectors.exporter.sessions import CachedSession, CacheLimits, SessionCache
from netwarden.config.backup import backup_history, last_backup
from netwarden.config.drift import drift_of
from netwarden.devices import (
    DeviceSession,
    HealthSource,
    ReusableSession,
    SessionOptions,
    has_session,
    session_for,
)
from netwarden.errors import NetwardenError, SessionLostError
from netwarden.inventory.models import Device, Inventory
from netwarden.render.platforms import render_config

logger = logging.getLogger(__name__)

MODULES = ("health", "config", "compliance")
RETRY_MIN_SECONDS = 1.0
"""A kept session that failed is replaced by a fresh one only with this much budget left."""


@dataclass(frozen=True)
class ProbeSettings:
    """How the exporter probes.

    Attributes:
        known_hosts: the known_hosts file device host keys are checked against.
        backup_repo: the backup repository (``config`` module; None: no backup metrics).
        reports: the audit report folder (``compliance`` module).
        concurrency: device probes running at once (the global limit).
        connect_timeout: the longest TCP connect/SSH login wait (capped by the budget).
        sessions: when a session is kept for the device's next probe (idle 0: never).
    """

    known_hosts: Path
    backup_repo: Path | None = None
    reports: Path | None = None
    concurrency: int = 8
    connect_timeout: float = 10.0
    sessions: CacheLimits = field(default_factory=CacheLimits)


@dataclass
class ProbeResult:
    """What one probe found: metric families, ``up``, and per-collector success."""

    families: list[Metric] = field(default_factory=list)
    up: bool = False
    collectors: dict[str, bool] = field(default_factory=dict)


@dataclass
class ExporterStats:
    """The exporter's own counters (``/metrics``)."""

    probes: dict[tuple[str, str], int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count_probe(self, module: str, up: bool) -> None:
        with self.lock:
            key = (module, "success" if up else "failure")
            self.probes[key] = self.probes.get(key, 0) + 1

    def count_rejected(self, reason: str) -> None:
        with self.lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1


class Prober:
    """Probes the devices of ``inventory`` (see the module docstring)."""

    def __init__(
        self,
        inventory: Inventory,
        settings: ProbeSettings,
        *,
        secrets: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.inventory = inventory
        self.settings = settings
        self.stats = ExporterStats()
        self.compliance = ComplianceReports(settings.reports)
        self._clock = clock
        self._locks = {name: threading.Lock() for name in inventory.devices}
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, settings.concurrency), thread_name_prefix="probe"
        )
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True))
        self.sessions = SessionCache(settings.sessions)
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        if settings.sessions.enabled:
            self._reaper = threading.Thread(target=self._reap, name="session-reaper", daemon=True)
            self._reaper.start()

    def close(self) -> None:
        """Stop probing: queued probes cancelled, every kept session closed."""
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._reaper is not None:
            self._reaper.join(timeout=30.0)
        self.sessions.close()

    def _reap(self) -> None:
        """Close idle sessions as they expire (else only the next probe of the device would)."""
        limits = self.settings.sessions
        every = min(max(1.0, limits.idle / 4), 15.0)
        while not self._stop.wait(every):
            try:
                self.sessions.reap()
            except Exception:
                logger.exception("closing idle sessions failed; trying again later")

    def targets(self, module: str) -> list[str]:
        """The names ``module`` accepts as ``target``."""
        if module == "compliance":
            return sorted({*self.inventory.devices, *self.inventory.sites})
        return sorted(n for n, d in self.inventory.devices.items() if has_session(d))

    def scrub(self, text: str) -> str:
        """``text`` without any secret the exporter knows (replaced by ``<removed>``)."""
        for secret in self._secrets:
            text = text.replace(secret, "<removed>")
        return text

    def probe(self, target: str, module: str, budget: float) -> list[Metric]:
        """Probe ``target`` with ``module`` within ``budget`` seconds; the families to expose.

        ``target`` and ``module`` must be valid (the HTTP layer checks them).
        """
        started = time.monotonic()
        deadline = started + budget
        with self.stats.lock:
            self.stats.in_flight += 1
        try:
            if module == "compliance":
                result = self._compliance(target)
            else:
                result = self._device_probe(self.inventory.devices[target], module, deadline)
        finally:
            with self.stats.lock:
                self.stats.in_flight -= 1
        self.stats.count_probe(module, result.up)
        return [*result.families, *_probe_families(result, time.monotonic() - started)]

    # ------------------------------------------------------------ device modules
    def _device_probe(self, device: Device, module: str, deadline: float) -> ProbeResult:
        lock = self._locks[device.name]
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            logger.warning("%s: another probe of the device still runs; not probed", device.name)
            return ProbeResult(collectors={module: False})
        try:  # from here the lock is the worker's to release (or ours, if it never starts)
            future: Future[ProbeResult] = self._pool.submit(
                self._locked, device, module, deadline, lock
            )
        except BaseException:
            lock.release()
            raise
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            if future.cancel():  # still queued: it will never run, nor release the lock
                lock.release()
            logger.warning("%s: %s probe not done within the scrape timeout", device.name, module)
            return ProbeResult(collectors={module: False})

    def _locked(
        self, device: Device, module: str, deadline: float, lock: threading.Lock
    ) -> ProbeResult:
        """The probe on a pool thread; ``lock`` (the device's, taken for it) released at the end."""
        try:
            if deadline - time.monotonic() <= 0:
                return ProbeResult(collectors={module: False})  # waited in the queue too long
            return self._with_session(device, module, deadline)
        finally:
            lock.release()

    def _with_session(self, device: Device, module: str, deadline: float) -> ProbeResult:
        """The module's reading through the device's kept session, else a fresh one.

        A kept session that is lost (though it looked alive) is closed and, with :data:`RETRY_MIN_SECONDS` left,
        the probe runs once more on a fresh session (probes only read, so a retry
        never repeats a change). The session is kept afterwards only if its use
        succeeded completely within the deadline.
        """
        result = ProbeResult()
        entry = self.sessions.take(device.name)
        reused = entry is not None
        if entry is not None:
            if isinstance(entry.session, ReusableSession):
                entry.session.retime(max(0.5, deadline - time.monotonic()))
        else:
            entry = self._open(device, module, deadline, result)
            if entry is None:
                return result
        result.collectors["session"] = True
        ok, lost = self._read(device, module, entry.session, result, reused=reused)
        if lost and reused and deadline - time.monotonic() >= RETRY_MIN_SECONDS:
            self.sessions.drop(entry, "error")
            logger.info("%s: the kept session failed; once more with a fresh one", device.name)
            result = ProbeResult()
            entry = self._open(device, module, deadline, result)
            if entry is None:
                return result
            result.collectors["session"] = True
            ok, _ = self._read(device, module, entry.session, result, reused=False)
        if not ok:
            self.sessions.drop(entry, "error")
        elif time.monotonic() > deadline:
            self.sessions.drop(entry, "overrun")  # answered up 0 already; state unknown
        else:
            self.sessions.give(device.name, entry)
        return result

    def _open(
        self, device: Device, module: str, deadline: float, result: ProbeResult
    ) -> CachedSession | None:
        remaining = max(0.5, deadline - time.monotonic())
        options = SessionOptions(
            known_hosts=self.settings.known_hosts,
            conn_timeout=min(self.settings.connect_timeout, remaining),
            timeout=remaining,
            read_timeout=remaining,
        )
        try:
            session = session_for(device, options)
            session.open()
        except NetwardenError as exc:
            logger.warning("%s: %s probe: %s", device.name, module, self.scrub(str(exc)))
            result.collectors["session"] = False
            return None
        return self.sessions.opened(session)

    def _read(
        self,
        device: Device,
        module: str,
        session: DeviceSession,
        result: ProbeResult,
        *,
        reused: bool,
    ) -> tuple[bool, bool]:
        """Run the module on ``session``: (every device reading succeeded, the session was lost).

        Only a lost session (:class:`SessionLostError`) is worth a retry on a fresh one;
        a device refusing a command refuses it on any session.
        """
        try:
            if module == "health":
                return self._health(device, session, result), False
            self._config(device, session, result)
        except NetwardenError as exc:
            kept = " (kept session)" if reused else ""
            logger.warning("%s: %s probe%s: %s", device.name, module, kept, self.scrub(str(exc)))
            result.up = False
            return False, isinstance(exc, SessionLostError)
        return True, False

    def _health(self, device: Device, session: DeviceSession, result: ProbeResult) -> bool:
        """The health reading into ``result``; whether every reading succeeded."""
        if not isinstance(session, HealthSource):
            result.collectors["health"] = False
            logger.warning("%s: its session reports no health", device.name)
            return False
        health = session.get_health()
        for reading in health.readings:
            result.collectors[reading] = reading not in health.failed
        for reading, why in health.failed.items():
            logger.warning("%s: health %s: %s", device.name, reading, self.scrub(why))
        result.families.extend(health_families(health, site=device.site, role=device.role))
        result.families.extend(interface_info_family(device.interfaces, health))
        result.up = not health.failed or len(health.failed) < len(health.readings)
        return not health.failed

    def _config(self, device: Device, session: DeviceSession, result: ProbeResult) -> None:
        running = session.get_config("running")
        result.collectors["running"] = True
        result.up = True
        intended_lines: int | None = None
        try:
            intended = render_config(self.inventory, device)
            result.collectors["intended"] = True
        except NetwardenError as exc:
            logger.warning("%s: intended config: %s", device.name, exc)
            result.collectors["intended"] = False
            intended = None
        repo = self.settings.backup_repo
        backup: str | None = None
        history = None
        if repo is not None:
            try:
                backup = last_backup(repo, device.name)
                history = backup_history(repo, device.name)
                result.collectors["backup"] = True
            except NetwardenError as exc:
                logger.warning("%s: backup history: %s", device.name, exc)
                result.collectors["backup"] = False
        drift = drift_of(device.name, running, intended or "", backup, platform=device.platform)
        if intended is not None:
            intended_lines = diff_lines(drift.intended_diff or "")
        state = ConfigState(
            intended_diff_lines=intended_lines,
            backup_diff_lines=None if drift.backup_diff is None else diff_lines(drift.backup_diff),
            last_backup=history.last_read if history else None,
            last_change=history.last_change if history else None,
            last_change_user=history.last_change_user if history else "",
            now=self._clock(),
        )
        result.families.extend(config_families(state))

    # ------------------------------------------------------------ compliance
    def _compliance(self, target: str) -> ProbeResult:
        result = ProbeResult()
        try:
            run = self.compliance.latest()
        except ReportUnavailableError as exc:
            logger.warning("compliance probe of %s: %s", target, exc)
            result.collectors["report"] = False
            return result
        path = self.compliance.path
        assert path is not None  # noqa: S101 (latest() succeeded, so there is a path)
        result.families.extend(compliance_families(run, path, target))
        result.collectors["report"] = True
        result.up = True
        return result


def _probe_families(result: ProbeResult, duration: float) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "netwarden_up",
        "1 if the probe read what its module needs, else 0.",
        value=1 if result.up else 0,
    )
    yield GaugeMetricFamily(
        "netwarden_scrape_duration_seconds", "How long the probe took.", value=duration
    )
    success = GaugeMetricFamily(
        "netwarden_collector_success",
        "1 if the collector (one reading of the module) succeeded, else 0.",
        labels=["collector"],
    )
    for name, ok in result.collectors.items():
        success.add_metric([name], 1 if ok else 0)
    if success.samples:
        yield success
