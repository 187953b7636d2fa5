"""Apply under faults: the device's revert timer and our rollback leave no device in an unknown state.

Faults come from the simulator: a session dropped once the commit is applied, a
refused login, ``% Invalid input`` for the command a post-check needs or for
``configure replace`` itself, a device answering slowly. Statuses are honest:
``rolled_back`` only when something was committed and reverted. Each test
works on its own devices of one fleet; the last test reads every device's
running config: each is either its config from before the apply or its
intended config, with no revert timer pending.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from netwarden.config.apply import ApplyOptions, apply_device, apply_fleet
from netwarden.config.checks import POST_CHECKS, CheckContext, PostCheck
from netwarden.config.models import ApplyStatus, CheckOutcome
from tests.integration.labfleet import CONFIRM_MINUTES, Lab, start_lab, state_of, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPTIONS = ApplyOptions(
    confirm_timeout_minutes=CONFIRM_MINUTES,
    concurrency=4,
    revert_grace_seconds=30,
    poll_seconds=0.5,
)


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


def test_session_dropped_mid_commit_is_restored_by_the_revert_timer(lab: Lab) -> None:
    name = "bru-acc-sw1"
    sim = lab.sim(name)
    sim.clock.set_scale(600)  # the 30-minute timer fires after 3 s
    lab.fleet.set_fault(name, drop_on_commit=True)
    try:
        result = apply_device(lab.device(name), lab.configs[name], lab.options(), OPTIONS)
    finally:
        lab.fleet.clear_faults(name)
        sim.clock.set_scale(60)
    assert result.status is ApplyStatus.ROLLED_BACK, result.reason
    assert "session lost during commit" in result.reason
    assert "revert timer restored the previous config" in result.reason
    assert any("ROLLBK_CNFMD_CHG_ROLLBACK" in e.facility_mnemonic for e in sim.log)
    assert sim.pending is None
    assert state_of(lab, name) == "previous"


def test_refused_login_fails_with_the_reason_while_the_others_converge(
    lab: Lab, tmp_path: Path
) -> None:
    refusing = "gva-acc-sw1"
    names = [refusing, "gva-acc-sw2", "kbl-acc-sw1"]
    lab.fleet.set_fault(refusing, refuse_login=True)
    try:
        report = apply_fleet(
            str(lab.path),
            [lab.device(n) for n in names],
            lab.configs,
            lab.options(),
            OPTIONS,
            user="tester",
            backup_repo=tmp_path / "backups",
        )
    finally:
        lab.fleet.clear_faults(refusing)
    by_device = {r.device: r for r in report.results}
    assert by_device[refusing].status is ApplyStatus.FAILED
    assert "login refused" in by_device[refusing].reason
    assert refusing in by_device[refusing].reason
    for other in names[1:]:
        assert by_device[other].status is ApplyStatus.CHANGED, by_device[other].reason
        assert state_of(lab, other) == "intended"
    assert state_of(lab, refusing) == "previous"
    assert not report.ok


def test_failed_post_check_rolls_back_and_says_why(lab: Lab) -> None:
    name = "jed-acc-sw1"
    lab.fleet.set_fault(name, invalid_commands={"show interfaces"})
    try:
        result = apply_device(lab.device(name), lab.configs[name], lab.options(), OPTIONS)
    finally:
        lab.fleet.clear_faults(name)
    assert result.status is ApplyStatus.ROLLED_BACK, result.reason
    assert "post-check failed: mgmt_interface_up" in result.reason
    failed = [c.name for c in result.checks if not c.passed]
    assert failed == ["mgmt_interface_up"]
    assert lab.sim(name).pending is None
    assert state_of(lab, name) == "previous"


def test_a_failed_canary_stops_the_run(lab: Lab) -> None:
    canary, rest = "jed-core-sw1", ["jed-core-sw2", "nyc-acc-sw2"]
    lab.fleet.set_fault(canary, refuse_login=True)
    try:
        report = apply_fleet(
            str(lab.path),
            [lab.device(n) for n in [canary, *rest]],
            lab.configs,
            lab.options(),
            ApplyOptions(confirm_timeout_minutes=CONFIRM_MINUTES, canary=1),
            user="tester",
        )
    finally:
        lab.fleet.clear_faults(canary)
    by_device = {r.device: r for r in report.results}
    assert report.canary == (canary,)
    assert by_device[canary].status is ApplyStatus.FAILED
    for name in rest:
        assert by_device[name].status is ApplyStatus.SKIPPED
        assert "canary wave failed (jed-core-sw1)" in by_device[name].reason
        assert state_of(lab, name) == "previous"


def test_a_refused_configure_replace_is_failed_and_nothing_committed(lab: Lab) -> None:
    """NAPALM takes ``% Invalid input`` for a commit; the device's words are reported."""
    name = "jed-acc-sw2"
    lab.fleet.set_fault(name, invalid_commands={"configure replace"})
    try:
        result = apply_device(lab.device(name), lab.configs[name], lab.options(), OPTIONS)
    finally:
        lab.fleet.clear_faults(name)
    assert result.status is ApplyStatus.FAILED, result.reason
    assert "configure replace refused by the device: % Invalid input" in result.reason
    assert "nothing committed, running config unchanged (verified)" in result.reason
    assert result.checks == ()  # nothing to post-check
    assert lab.sim(name).pending is None
    assert state_of(lab, name) == "previous"


def test_a_revert_timer_that_fires_before_the_confirm_is_said(lab: Lab) -> None:
    """Post-checks slower than the timer (a slow device): rolled back by the timer, and why."""
    name = "nyc-acc-sw1"
    sim = lab.sim(name)

    def slow_check(_ctx: CheckContext) -> CheckOutcome:
        sim.clock.set_scale(6000)  # the 30-minute timer fires within a second
        fired = wait_for(lambda: sim.pending is None, 30)
        sim.clock.set_scale(60)
        return CheckOutcome(name="slow", passed=fired, detail="the timer fired meanwhile")

    options = replace(OPTIONS, checks=(*POST_CHECKS, PostCheck("slow", slow_check)))
    result = apply_device(lab.device(name), lab.configs[name], lab.options(), options)
    assert result.status is ApplyStatus.ROLLED_BACK, result.reason
    assert (
        f"the device's revert timer ({CONFIRM_MINUTES} min) fired before this run could confirm"
        in result.reason
    )
    assert "the commit took" in result.reason
    assert "the post-checks took" in result.reason
    assert "restored the previous config (verified)" in result.reason
    assert state_of(lab, name) == "previous"


def test_a_device_too_slow_to_answer_is_failed_with_the_command(lab: Lab) -> None:
    name = "nyc-acc-sw2"
    lab.fleet.set_fault(name, delay_seconds=3)
    try:
        result = apply_device(
            lab.device(name), lab.configs[name], lab.options(read_timeout=1.0), OPTIONS
        )
    finally:
        lab.fleet.clear_faults(name)
    assert result.status is ApplyStatus.FAILED, result.reason
    assert "no answer within 1 s" in result.reason
    assert "too slow" in result.reason
    assert "nothing committed" in result.reason
    assert state_of(lab, name) == "previous"


def test_waiting_for_an_unreachable_device_shows_progress(lab: Lab) -> None:
    """The session drops at the commit; the device refuses logins until its timer fired (and
    until a progress line was shown)."""
    name = "bru-acc-sw1"
    sim = lab.sim(name)
    lines: list[str] = []
    sim.clock.set_scale(600)  # the 30-minute timer fires after 3 s
    lab.fleet.set_fault(name, drop_on_commit=True)

    def back_after_the_timer() -> None:
        wait_for(lambda: sim.pending is not None, 60)
        lab.fleet.set_fault(name, refuse_login=True)
        wait_for(lambda: sim.pending is None and bool(lines), 60)
        lab.fleet.clear_faults(name)

    helper = threading.Thread(target=back_after_the_timer)
    helper.start()
    options = replace(OPTIONS, progress_seconds=0, notify=lines.append)
    try:
        result = apply_device(
            lab.device(name), lab.configs[name], lab.options(read_timeout=5.0), options
        )
    finally:
        helper.join(60)
        lab.fleet.clear_faults(name)
        sim.clock.set_scale(60)
    assert result.status is ApplyStatus.ROLLED_BACK, result.reason
    assert lines, "no progress while waiting for the device"
    assert all(line.startswith(f"{name}: session lost during commit") for line in lines)
    assert "waiting for the device to settle" in lines[0]
    assert "its revert timer fires in" in lines[0]
    assert any("login refused" in line for line in lines)
    assert state_of(lab, name) == "previous"


def test_no_device_is_left_in_an_unknown_state(lab: Lab) -> None:
    states = {name: state_of(lab, name) for name in lab.fleet.devices}
    assert set(states.values()) <= {"previous", "intended"}, states
    assert states["gva-acc-sw2"] == "intended"
    assert all(dev.pending is None for dev in lab.fleet)
