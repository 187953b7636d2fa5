"""Apply under faults: the device's revert timer and our rollback leave no device in an unknown state.

Faults come from the simulator: a session dropped once the commit is applied, a
refused login, ``% Invalid input`` for the command a post-check needs. Each test
works on its own devices of one fleet; the last test reads every device's
running config: each is either its config from before the apply or its
intended config, with no revert timer pending.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.config.apply import ApplyOptions, apply_device, apply_fleet
from netwarden.config.models import ApplyStatus
from tests.integration.labfleet import CONFIRM_MINUTES, Lab, start_lab, state_of

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


def test_no_device_is_left_in_an_unknown_state(lab: Lab) -> None:
    states = {name: state_of(lab, name) for name in lab.fleet.devices}
    assert set(states.values()) <= {"previous", "intended"}, states
    assert states["gva-acc-sw2"] == "intended"
    assert all(dev.pending is None for dev in lab.fleet)
