"""Two applies at once: the second is refused naming the first; another session's commit is never ours.

The first apply runs in this process (a thread) with a post-check that holds it in
its confirm window; meanwhile a real ``netwarden apply`` process of the same lab
inventory, with other intended configs, is refused (exit 2) naming this process,
and the fleet ends with the first run's configs on every device. The per-device
lock is tested with the inventory lock out of the way, and a commit made by
another session inside our confirm window is ``failed``, never ``changed``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from netmiko import ConnectHandler

from netwarden.config.ansible_api import apply_host, load_host
from netwarden.config.apply import ApplyOptions, apply_device, apply_fleet
from netwarden.config.checks import POST_CHECKS, CheckContext, PostCheck
from netwarden.config.locks import (
    Holder,
    acquire,
    device_lock_path,
    holder_of,
    inventory_lock_path,
    lock_dir_for,
    release,
)
from netwarden.config.models import ApplyReport, ApplyStatus, CheckOutcome
from netwarden.config.plan import remediation
from netwarden.devices import address_of
from netwarden.errors import LockError
from tests.integration.labfleet import (
    CONFIRM_MINUTES,
    Lab,
    netmiko_args,
    running,
    start_lab,
    state_of,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPTIONS = ApplyOptions(
    confirm_timeout_minutes=CONFIRM_MINUTES,
    concurrency=4,
    revert_grace_seconds=30,
    poll_seconds=0.5,
)
REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
THEIRS = ("logging buffered 64000 informational", "logging buffered 32000 informational")


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


def other_configs(lab: Lab) -> dict[str, str]:
    """Intended configs that differ from the lab inventory's on every device."""
    configs = {name: text.replace(*THEIRS) for name, text in lab.configs.items()}
    assert all(configs[n] != lab.configs[n] for n in configs)
    return configs


def check(name: str, action: Callable[[CheckContext], None]) -> PostCheck:
    """A post-check that does ``action`` (what another party does meanwhile), then passes."""

    def run(ctx: CheckContext) -> CheckOutcome:
        action(ctx)
        return CheckOutcome(name=name, passed=True, detail="done")

    return PostCheck(name, run)


def test_a_second_apply_is_refused_naming_the_holder_and_the_fleet_ends_consistent(
    lab: Lab, tmp_path: Path
) -> None:
    names = ["bru-acc-sw1", "gva-acc-sw1", "jed-acc-sw1", "kbl-acc-sw1"]
    ours = other_configs(lab)
    holding, second_done = threading.Event(), threading.Event()

    def wait_for_the_second(_ctx: CheckContext) -> None:
        holding.set()
        second_done.wait(120)

    hold = check("hold", wait_for_the_second)
    options = ApplyOptions(
        confirm_timeout_minutes=120,  # 2 min at 60x: the hold ends long before
        concurrency=4,
        checks=(*POST_CHECKS, hold),
    )
    reports: list[ApplyReport] = []
    first = threading.Thread(
        target=lambda: reports.append(
            apply_fleet(
                str(lab.path),
                [lab.device(n) for n in names],
                ours,
                lab.options(),
                options,
                user="first",
                backup_repo=tmp_path / "backups",
            )
        )
    )
    lock = inventory_lock_path(lock_dir_for(lab.path), lab.path)
    first.start()
    try:
        assert wait_for(holding.is_set, 60), "the first apply did not reach its confirm window"
        assert holder_of(lock) is not None
        second = subprocess.run(
            [sys.executable, "-m", "netwarden.cli", "apply", "-i", str(lab.path), "--yes",
             "--limit", ",".join(names), "--confirm-timeout", "30", "--timeout", "10",
             "--repo", str(tmp_path / "backups2"), "--result-file", str(tmp_path / "r.json")],
            capture_output=True, text=True, check=False, timeout=120,
            env={**os.environ, "COLUMNS": "400"},
        )  # fmt: skip
    finally:
        second_done.set()
        first.join(180)
    assert second.returncode == 2, second.stdout + second.stderr
    refusal = " ".join(second.stderr.split())
    assert "is being applied by another run" in refusal
    assert f"pid {os.getpid()}" in refusal
    assert "nothing was changed" in refusal
    assert not (tmp_path / "backups2").exists()  # refused before the backup
    (report,) = reports
    assert [r.status for r in report.results] == [ApplyStatus.CHANGED] * len(names), [
        r.reason for r in report.results
    ]
    for name in names:  # every device holds the first run's config, none the second's
        assert not remediation(running(lab.sim(name)), ours[name]), name
        assert lab.sim(name).pending is None
    assert holder_of(lock) is None  # released at the end of the run


def test_a_device_held_by_another_run_is_failed_and_untouched(lab: Lab, tmp_path: Path) -> None:
    """The per-device lock, with the inventory lock out of the way (apply_device alone)."""
    name = "nyc-acc-sw2"
    device = lab.device(name)
    host, port = address_of(device)
    lock_dir = tmp_path / "locks"
    someone = Holder(host="ops-jump-2", pid=4242, started="1", user="alice",
                     command="ansible-playbook playbooks/network.yml", since="2026-12-05T08:00:00Z")  # fmt: skip
    acquire(device_lock_path(lock_dir, name, host, port), someone, f"device {name}")
    result = apply_device(device, lab.configs[name], lab.options(), OPTIONS, lock_dir=lock_dir)
    assert result.status is ApplyStatus.FAILED
    assert f"device {name} ({host}:{port}) is being applied by another run" in result.reason
    assert "user alice on host ops-jump-2, pid 4242" in result.reason
    assert state_of(lab, name) == "previous"
    assert lab.sim(name).pending is None


def test_a_commit_by_another_session_in_our_window_is_failed_never_changed(lab: Lab) -> None:
    """Another tool re-commits (``configure replace ... revert timer``) while we post-check:
    the pending commit is not ours any more, so this run neither confirms nor reverts it."""
    name = "jed-core-sw1"
    sim = lab.sim(name)

    def other_commit(_ctx: CheckContext) -> None:
        with ConnectHandler(**netmiko_args(sim, lab.credentials)) as conn:
            conn.enable()
            conn.send_command(
                "configure replace flash:candidate_config.txt force revert timer 30",
                expect_string=r"#",
            )

    options = ApplyOptions(
        confirm_timeout_minutes=CONFIRM_MINUTES, checks=(*POST_CHECKS, check("other", other_commit))
    )
    result = apply_device(lab.device(name), lab.configs[name], lab.options(), options)
    try:
        assert result.status is ApplyStatus.FAILED, result.reason
        assert "the configuration session on the device is not ours" in result.reason
        assert "neither confirms nor reverts" in result.reason
        assert sim.pending is not None  # the other session's commit, left to its owner
    finally:  # the other session confirms its own commit
        with ConnectHandler(**netmiko_args(sim, lab.credentials)) as conn:
            conn.enable()
            conn.send_command("configure confirm", expect_string=r"#")
    assert sim.pending is None
    assert state_of(lab, name) == "intended"


def test_a_manual_change_in_our_window_is_failed_and_rolled_back(lab: Lab) -> None:
    name = "jed-core-sw2"
    options = ApplyOptions(
        confirm_timeout_minutes=CONFIRM_MINUTES,
        checks=(*POST_CHECKS, check("manual", lambda _c: lab.manual_change(name, [THEIRS[1]]))),
    )
    result = apply_device(lab.device(name), lab.configs[name], lab.options(), options)
    assert result.status is ApplyStatus.FAILED, result.reason
    assert "the running config changed during our confirm window" in result.reason
    assert "rolled back to the previous config (verified)" in result.reason
    assert lab.sim(name).pending is None
    assert state_of(lab, name) == "previous"


def test_the_ansible_route_is_refused_while_another_run_holds_the_inventory(
    lab: Lab, tmp_path: Path
) -> None:
    """``netwarden_config`` (ansible-playbook's forks) takes the same inventory lock."""
    name = "nyc-acc-sw1"
    lock = inventory_lock_path(lock_dir_for(lab.path), lab.path)
    someone = Holder(host="ops-jump-2", pid=4242, started="1", user="alice",
                     command="netwarden apply -i inventory --yes", since="2026-12-05T08:00:00Z")  # fmt: skip
    acquire(lock, someone, f"inventory {lab.path}")
    try:
        with pytest.raises(LockError, match="being applied by another run: user alice"):
            apply_host(load_host(lab.path, name, known_hosts=lab.known_hosts), OPTIONS)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{env.get('PATH', '')}"
        play = subprocess.run(
            [str(ANSIBLE_PLAYBOOK), "-i", str(lab.path), "--vault-password-file",
             str(lab.path / ".vault-password"), "playbooks/network.yml", "--limit", name,
             "-e", f"netwarden_confirm_timeout={CONFIRM_MINUTES}"],
            cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
    finally:
        release(lock, someone)
    output = " ".join((play.stdout + play.stderr).split())
    assert play.returncode != 0, output
    assert "is being applied by another run: user alice on host ops-jump-2, pid 4242" in output
    assert state_of(lab, name) == "previous"
    assert lab.sim(name).pending is None


def test_the_ansible_route_releases_the_inventory_outside_a_fork(lab: Lab) -> None:
    """Called from a plain process (not a fork of ansible-playbook), apply_host keeps nothing."""
    name = "nyc-acc-sw1"
    done = apply_host(load_host(lab.path, name, known_hosts=lab.known_hosts), OPTIONS)
    assert done.result.status is ApplyStatus.CHANGED, done.result.reason
    assert holder_of(inventory_lock_path(lock_dir_for(lab.path), lab.path)) is None
    assert state_of(lab, name) == "intended"
