"""Shared logic of the password-guessing detectors (ssh, rdp, telnet, ftp).

A *failure* is either a failed-login reply the detector recognises in clear text
(FTP ``530``, telnet ``Login incorrect``) or, for encrypted protocols, a *short
session*: established, carrying client data, closed within
``short_session_max_seconds`` with at most ``short_session_max_server_bytes`` from
the server (a failed SSH/RDP login transfers a few kilobytes; a backup or an
interactive session transfers far more or lasts longer). Failures are counted per
client over all servers of the service inside ``window_seconds`` (password
spraying counts too); at ``threshold`` one incident per client is opened, key
``(detector, src)``.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field

from collectors.auditor.batch import Batch
from collectors.auditor.config import DetectorSettings
from collectors.auditor.detectors._sessions import (
    Selection,
    ServicePackets,
    Session,
    SessionTracker,
)
from collectors.auditor.detectors._util import BoundedDict, ip_str
from collectors.auditor.detectors.base import DetectorContext
from collectors.auditor.events import Severity


class BruteForceSettings(DetectorSettings):
    threshold: int = Field(default=10, ge=2, description="failures from one client in the window")
    window_seconds: float = Field(default=600.0, gt=0)
    short_session_max_seconds: float = Field(default=30.0, gt=0)
    short_session_max_server_bytes: int = Field(default=8192, ge=0)
    high_factor: int = Field(default=5, ge=1, description="threshold x this = severity high")
    session_idle_seconds: float = Field(default=60.0, gt=0)
    max_clients: int = Field(default=50_000, ge=100)


@dataclass
class _Client:
    failures: deque[tuple[float, int, str]] = field(default_factory=deque)
    total: int = 0
    first: float = 0.0
    reported: int = 0
    success_after: bool = False


class BruteForceDetector:
    """Base class; subclasses set ``name``, ``service``, ``ports`` and may inspect payloads."""

    name: ClassVar[str]
    service: ClassVar[str]
    ports: ClassVar[tuple[int, ...]]
    count_short_sessions: ClassVar[bool] = True
    Settings: ClassVar[type[DetectorSettings]] = BruteForceSettings
    needs_inventory: ClassVar[bool] = False

    def __init__(self, settings: BruteForceSettings, ctx: DetectorContext) -> None:
        self.s = settings
        self.ctx = ctx
        self.sessions = SessionTracker(
            self.ports,
            self._closed,
            idle_timeout=settings.session_idle_seconds,
            shared=ctx.shared_helper("service_packets", ServicePackets),
        )
        self.clients: BoundedDict[int, _Client] = BoundedDict(settings.max_clients)
        self.marked: BoundedDict[tuple[int, int, int, int], int] = BoundedDict(100_000)
        self.active: set[int] = set()

    # -- failures -------------------------------------------------------------------
    def _closed(self, sess: Session) -> None:
        if self.marked and self.marked.pop(sess.key, 0):
            return  # failures already counted from the protocol's own replies
        if not self.count_short_sessions or not sess.established or sess.c2s_bytes == 0:
            return
        if (
            sess.duration <= self.s.short_session_max_seconds
            and sess.s2c_bytes <= self.s.short_session_max_server_bytes
        ):
            self.failure(sess.client, sess.server, sess.last, "short_session")

    def failure(
        self,
        client: int,
        server: int,
        ts: float,
        kind: str,
        flow: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Count one failed login of ``client`` against ``server``."""
        if flow is not None:
            self.marked[flow] = self.marked.get(flow, 0) + 1
        st = self.clients.get(client)
        if st is None:
            st = _Client(first=ts)
            self.clients[client] = st
        else:
            self.clients.touch(client)
        st.failures.append((ts, server, kind))
        st.total += 1
        horizon = ts - self.s.window_seconds
        while st.failures and st.failures[0][0] < horizon:
            st.failures.popleft()
        if len(st.failures) >= self.s.threshold:
            if client not in self.active:
                st.first = st.failures[0][0]
            self.active.add(client)
        # keep memory bounded for floods: the window never needs more than a few x threshold
        while len(st.failures) > 50 * self.s.threshold:
            st.failures.popleft()

    def success(self, client: int) -> None:
        """A login succeeded (clear-text protocols): worth telling if it follows guessing."""
        st = self.clients.get(client)
        if st is not None and client in self.active:
            st.success_after = True

    # -- detector contract ----------------------------------------------------------
    def process(self, batch: Batch, ctx: DetectorContext) -> None:  # noqa: ARG002  (contract)
        self.sessions.observe(batch, self.inspect)

    def inspect(self, batch: Batch, sel: Selection) -> None:
        """Look at payloads of the service's packets (override for clear-text protocols)."""

    def expire(self, now: float) -> None:
        self.sessions.expire(now)
        for client in list(self.active):
            st = self.clients.get(client)
            if st is None:
                self.active.discard(client)
                continue
            if st.total != st.reported:
                self._report(client, st)
            if not st.failures or now - st.failures[-1][0] > self.s.window_seconds:
                self.active.discard(client)
                del self.clients[client]

    def _report(self, client_ip: int, st: _Client) -> None:
        client = ip_str(client_ip)
        st.reported = st.total
        last = st.failures[-1][0] if st.failures else st.first
        servers = Counter(ip_str(s) for _, s, _ in st.failures)
        kinds = Counter(k for _, _, k in st.failures)
        in_window = len(st.failures)
        severity = (
            Severity.HIGH
            if st.success_after or in_window >= self.s.high_factor * self.s.threshold
            else Severity.MEDIUM
        )
        top = servers.most_common(1)[0][0] if servers else ""
        what = (
            "failed logins" if "short_session" not in kinds else "failed logins or short sessions"
        )
        self.ctx.report(
            self.name,
            (client,),
            ts=last,
            first_seen=st.first,
            severity=severity,
            src=client,
            dst=top if len(servers) == 1 else "",
            count=st.total,
            summary=f"{client}: {st.total} {self.service} {what} against "
            f"{len(servers)} server(s) (at least {self.s.threshold} within {self.s.window_seconds:.0f} s)"
            + ("; then a login succeeded" if st.success_after else ""),
            evidence={
                "service": self.service,
                "failures_in_window": in_window,
                "failures_total": st.total,
                "kinds": dict(sorted(kinds.items())),
                "servers": dict(servers.most_common(10)),
                "login_succeeded_after": st.success_after,
                "threshold": self.s.threshold,
                "window_seconds": self.s.window_seconds,
            },
        )
