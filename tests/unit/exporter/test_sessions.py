"""The exporter's session cache: when a device session is kept, reused, and closed.

The cache itself runs on a hand-driven clock; the prober's use of it runs real
probes of the example inventory's devices through stand-in sessions (no device
is reached: ``session_for`` is replaced by a factory of sessions that count
their opens and closes). The simulated fleet's side is the integration test's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import collectors.exporter.probe as probe_module
from collectors.exporter.http import SelfCollector
from collectors.exporter.probe import Prober, ProbeSettings
from collectors.exporter.sessions import CacheLimits, SessionCache
from netwarden.devices import (
    DeviceSession,
    HealthSource,
    ReusableSession,
    SessionOptions,
    session_for,
)
from netwarden.devices.health import DeviceHealth, InterfaceHealth
from netwarden.errors import DeviceError, SessionLostError
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Device, Inventory

SWITCH = "nyc-acc-sw1"
OTHER = "nyc-acc-sw2"


class FakeSession:
    """A session that counts what is done with it; ``fail``, ``partial``, ``alive`` steer it."""

    fail: str | None = None  # "lost": SessionLostError, "error": DeviceError
    partial = False  # a reading fails (the others answer)

    def __init__(self, name: str, log: list[FakeSession]) -> None:
        self.name = name
        self.opened = self.closed = 0
        self.readings = 0
        self.alive = True
        self.read_timeout = 0.0
        log.append(self)

    def open(self) -> None:
        self.opened += 1

    def close(self) -> None:
        self.closed += 1

    def is_alive(self) -> bool:
        return self.alive and not self.closed

    def retime(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout

    def get_health(self) -> DeviceHealth:
        assert self.opened == 1
        assert not self.closed, "a closed session was used"
        self.readings += 1
        if self.fail == "lost":
            raise SessionLostError(self.name, "session lost during get facts: EOF")
        if self.fail == "error":
            raise DeviceError(self.name, "get facts failed")
        return DeviceHealth(
            interfaces=(InterfaceHealth("Gi1/0/1", True, True),),
            readings=("facts", "interfaces"),
            failed={"facts": "refused"} if self.partial else {},
        )

    def get_config(self, which: str = "running") -> str:
        assert which == "running"
        self.readings += 1
        return "hostname x\n"


def test_the_fake_is_a_reusable_health_session() -> None:
    fake = FakeSession("x", [])
    assert isinstance(fake, HealthSource)
    assert isinstance(fake, ReusableSession)


# ------------------------------------------------------------------ the cache alone
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _cache(**limits: float) -> tuple[SessionCache, Clock]:
    clock = Clock()
    return SessionCache(CacheLimits(**limits), clock=clock), clock  # type: ignore[arg-type]


def _session(name: str = SWITCH) -> FakeSession:
    s = FakeSession(name, [])
    s.open()
    return s


def _as(s: FakeSession) -> DeviceSession:
    return s  # type: ignore[return-value]  # the fake has only what the exporter uses


def test_a_session_given_back_is_taken_again_and_counted() -> None:
    cache, clock = _cache()
    s = _session()
    entry = cache.opened(_as(s))
    cache.give(SWITCH, entry)
    clock.now += 10
    again = cache.take(SWITCH)
    assert again is entry
    assert cache.take(SWITCH) is None, "taken out while in use: never handed out twice"
    assert cache.take(OTHER) is None
    assert not s.closed
    opened, reused, closed, idle = cache.snapshot()
    assert (opened, reused, closed, idle) == (1, 1, {}, 0)


def test_an_idle_session_expires() -> None:
    cache, clock = _cache(idle=60)
    s = _session()
    cache.give(SWITCH, cache.opened(_as(s)))
    clock.now += 60
    assert cache.take(SWITCH) is None
    assert s.closed == 1
    assert cache.snapshot()[2] == {"idle": 1}


def test_a_session_in_use_is_closed_at_max_age() -> None:
    cache, clock = _cache(idle=60, max_age=600)
    s = _session()
    entry = cache.opened(_as(s))
    for _ in range(19):  # used every 30 s: never idle, 570 s old
        cache.give(SWITCH, entry)
        clock.now += 30
        taken = cache.take(SWITCH)
        assert taken is entry
    clock.now += 30  # 600 s old when given back
    cache.give(SWITCH, entry)
    assert s.closed == 1
    assert cache.take(SWITCH) is None
    assert cache.snapshot()[2] == {"max_age": 1}


def test_max_age_also_applies_to_an_idle_session() -> None:
    cache, clock = _cache(idle=60, max_age=100)
    s = _session()
    entry = cache.opened(_as(s))
    clock.now += 90
    cache.give(SWITCH, entry)
    clock.now += 20  # idle 20 s, but 110 s old
    assert cache.reap() == 1
    assert s.closed == 1
    assert cache.snapshot()[2] == {"max_age": 1}


def test_idle_0_disables_reuse() -> None:
    cache, _ = _cache(idle=0)
    s = _session()
    cache.give(SWITCH, cache.opened(_as(s)))
    assert s.closed == 1
    assert cache.take(SWITCH) is None
    assert len(cache) == 0


def test_a_dead_session_is_not_reused() -> None:
    cache, _ = _cache()
    s = _session()
    cache.give(SWITCH, cache.opened(_as(s)))
    s.alive = False  # the device closed it (exec-timeout, reload)
    assert cache.take(SWITCH) is None
    assert s.closed == 1
    assert cache.snapshot()[2] == {"dead": 1}


def test_the_least_recently_used_is_closed_beyond_max_sessions() -> None:
    cache, clock = _cache(max_sessions=2)
    sessions = {n: _session(n) for n in ("a", "b", "c")}
    for name, s in sessions.items():
        cache.give(name, cache.opened(_as(s)))
        clock.now += 1
    assert [s.closed for s in sessions.values()] == [1, 0, 0]
    assert len(cache) == 2
    assert cache.take("a") is None
    assert cache.take("b") is not None


def test_reap_closes_only_the_expired() -> None:
    cache, clock = _cache(idle=60)
    old, new = _session("old"), _session("new")
    cache.give("old", cache.opened(_as(old)))
    clock.now += 50
    cache.give("new", cache.opened(_as(new)))
    clock.now += 10
    assert cache.reap() == 1
    assert (old.closed, new.closed) == (1, 0)
    assert cache.take("new") is not None


def test_close_closes_every_session_and_any_given_back_later() -> None:
    cache, _ = _cache()
    kept, busy = _session("kept"), _session("busy")
    cache.give("kept", cache.opened(_as(kept)))
    in_use = cache.opened(_as(busy))
    cache.close()
    assert kept.closed == 1
    cache.give("busy", in_use)  # a probe that was running at shutdown
    assert busy.closed == 1
    assert len(cache) == 0
    assert cache.snapshot()[2] == {"shutdown": 2}


# ------------------------------------------------------------------ the prober's use
@pytest.fixture(scope="module")
def inv(example_inventory: Path) -> Inventory:
    return load_inventory(example_inventory)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[FakeSession]:
    log: list[FakeSession] = []

    def factory(device: Device, options: SessionOptions) -> FakeSession:
        return FakeSession(device.name, log)

    monkeypatch.setattr(probe_module, "session_for", factory)
    return log


def _prober(inv: Inventory, tmp_path: Path, idle: float = 60.0) -> Prober:
    limits = CacheLimits(idle=idle)
    return Prober(inv, ProbeSettings(known_hosts=tmp_path / "kh", sessions=limits))


@pytest.fixture
def prober(inv: Inventory, tmp_path: Path) -> Iterator[Prober]:
    p = _prober(inv, tmp_path)
    yield p
    p.close()


def _up(prober: Prober, target: str, module: str = "health") -> float:
    families = prober.probe(target, module, budget=20.0)
    return next(f.samples[0].value for f in families if f.name == "netwarden_up")


def _self_metrics(prober: Prober) -> dict[str, float]:
    return {
        f"{s.name}{s.labels.get('reason', '')}": s.value
        for family in SelfCollector(prober).collect()
        for s in family.samples
        if s.name.startswith("netwarden_exporter_sessions")
    }


def test_probes_of_a_device_share_one_session(prober: Prober, opened: list[FakeSession]) -> None:
    assert _up(prober, SWITCH) == 1.0
    assert _up(prober, SWITCH, "config") == 1.0  # the other module reuses it too
    assert _up(prober, SWITCH) == 1.0
    assert _up(prober, OTHER) == 1.0
    assert [s.name for s in opened] == [SWITCH, OTHER]
    assert opened[0].readings == 3
    assert opened[0].read_timeout > 0, "a reused session gets the new probe's budget"
    assert not any(s.closed for s in opened)
    metrics = _self_metrics(prober)
    assert metrics["netwarden_exporter_sessions_opened_total"] == 2
    assert metrics["netwarden_exporter_sessions_reused_total"] == 2
    assert metrics["netwarden_exporter_sessions_idle"] == 2


def test_a_failed_probe_closes_its_session(prober: Prober, opened: list[FakeSession]) -> None:
    assert _up(prober, SWITCH) == 1.0
    opened[0].fail = "error"  # the device refuses a getter: no retry, session dropped
    assert _up(prober, SWITCH) == 0.0
    assert opened[0].closed == 1
    assert len(opened) == 1, "an error on a kept session that is not a lost one: no retry"
    assert _up(prober, SWITCH) == 1.0
    assert len(opened) == 2, "the next probe opens a fresh session"


def test_a_partial_reading_is_not_reused(
    prober: Prober, opened: list[FakeSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeSession, "partial", True)
    assert _up(prober, SWITCH) == 1.0  # up (one reading of two), but not complete
    monkeypatch.setattr(FakeSession, "partial", False)
    assert opened[0].closed == 1
    assert _up(prober, SWITCH) == 1.0
    assert len(opened) == 2


def test_a_kept_session_lost_is_replaced_once_within_the_probe(
    prober: Prober, opened: list[FakeSession]
) -> None:
    assert _up(prober, SWITCH) == 1.0
    opened[0].fail = "lost"  # looks alive, but the device dropped it
    assert _up(prober, SWITCH) == 1.0, "retried on a fresh session"
    assert opened[0].closed == 1
    assert len(opened) == 2
    assert _self_metrics(prober)["netwarden_exporter_sessions_closed_totalerror"] == 1


def test_a_fresh_session_that_fails_is_not_retried(
    prober: Prober, opened: list[FakeSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(FakeSession, "fail", "lost")
    assert _up(prober, SWITCH) == 0.0
    assert len(opened) == 1
    assert opened[0].closed == 1


def test_a_dead_kept_session_is_reopened(prober: Prober, opened: list[FakeSession]) -> None:
    assert _up(prober, SWITCH) == 1.0
    opened[0].alive = False
    assert _up(prober, SWITCH) == 1.0
    assert opened[0].readings == 1, "the dead session was not used"
    assert len(opened) == 2


def test_session_idle_0_opens_a_session_per_probe(
    inv: Inventory, tmp_path: Path, opened: list[FakeSession]
) -> None:
    prober = _prober(inv, tmp_path, idle=0)
    try:
        for _ in range(3):
            assert _up(prober, SWITCH) == 1.0
    finally:
        prober.close()
    assert len(opened) == 3
    assert all(s.closed == 1 for s in opened)


def test_closing_the_prober_closes_the_kept_sessions(
    inv: Inventory, tmp_path: Path, opened: list[FakeSession]
) -> None:
    prober = _prober(inv, tmp_path)
    assert _up(prober, SWITCH) == 1.0
    assert _up(prober, OTHER) == 1.0
    assert not any(s.closed for s in opened)
    prober.close()
    assert [s.closed for s in opened] == [1, 1]


def test_the_reaper_closes_an_idle_session_without_a_next_probe(
    inv: Inventory, tmp_path: Path, opened: list[FakeSession]
) -> None:
    prober = _prober(inv, tmp_path, idle=0.05)
    try:
        assert _up(prober, SWITCH) == 1.0
        deadline = time.monotonic() + 30  # a bound on the wait, never asserted on
        while not opened[0].closed and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened[0].closed == 1
        assert len(prober.sessions) == 0
        assert prober.sessions.snapshot()[2] == {"idle": 1}
    finally:
        prober.close()


@pytest.mark.parametrize("name", [SWITCH, "jed-mon1"])
def test_a_real_session_never_opened_is_not_alive(
    inv: Inventory, tmp_path: Path, name: str
) -> None:
    session = session_for(inv.devices[name], SessionOptions(known_hosts=tmp_path / "kh"))
    assert isinstance(session, ReusableSession)
    assert session.is_alive() is False
    session.retime(3.0)  # before open: recorded for the session's commands, no error
