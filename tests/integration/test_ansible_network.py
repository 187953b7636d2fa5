"""playbooks/network.yml and playbooks/backup.yml against the simulated fleet of the example inventory.

ansible-playbook runs as a subprocess (the venv's binary) against the lab
inventory; the simulated devices run in this process, so the test reads their
running configs directly. Three devices (one field office and an HQ core
switch) keep the runtime bounded: `--check --diff` shows every device's diff
and changes nothing; a failing canary stops the play before the others; apply
converges them; a second run reports changed=0; the backup playbook commits.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from netwarden.config.backup import git
from netwarden.config.waves import rollout_order
from tests.integration.labfleet import CONFIRM_MINUTES, Lab, running_lines, start_lab, state_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
LIMIT = ("nyc-acc-sw1", "nyc-acc-sw2", "jed-core-sw1")
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=\d+\s+"
    r"failed=(?P<failed>\d+)",
    re.M,
)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    recap: dict[str, tuple[int, int]]  # host: (changed, failed)
    trace: tuple[tuple[int, str, str], ...] = ()  # (process, logger, message): TRACED's lines


TRACED = ("netwarden.config.inventory_cache", "netwarden.config.plan")
"""The loggers whose debug lines (an inventory read, a device planned) a run's trace keeps."""

SITECUSTOMIZE = f"""\
# Written by tests/integration/test_ansible_network.py: ansible-playbook and every worker
# it forks log {TRACED} at debug level, with the process id, to $NETWARDEN_TEST_TRACE.
import logging, os
if os.environ.get("NETWARDEN_TEST_TRACE"):
    _handler = logging.FileHandler(os.environ["NETWARDEN_TEST_TRACE"])
    _handler.setFormatter(logging.Formatter("%(process)d %(name)s %(message)s"))
    for _name in {TRACED!r}:
        logging.getLogger(_name).setLevel(logging.DEBUG)
        logging.getLogger(_name).addHandler(_handler)
"""


def _traced(env: dict[str, str], trace: Path) -> None:
    """Make ``env``'s Python processes log :data:`TRACED` to ``trace`` (a sitecustomize beside it)."""
    site = trace.parent / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    env["NETWARDEN_TEST_TRACE"] = str(trace)


def _read_trace(trace: Path | None) -> tuple[tuple[int, str, str], ...]:
    if trace is None or not trace.exists():
        return ()
    lines = (line.split(" ", 2) for line in trace.read_text().splitlines())
    return tuple((int(pid), name, message) for pid, name, message in lines)


def play(
    repo_root: Path,
    lab: Lab,
    playbook: str,
    *extra: str,
    limit: tuple[str, ...] = LIMIT,
    trace: Path | None = None,
) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = f"{ANSIBLE_PLAYBOOK.parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    if trace is not None:
        _traced(env, trace)
    result = subprocess.run(
        [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            str(lab.path),
            "--vault-password-file",  # the lab's own, fresh (ansible.cfg names the example's)
            str(lab.path / ".vault-password"),
            f"playbooks/{playbook}",
            "--limit",
            ",".join(limit),
            *extra,
        ],
        cwd=repo_root,  # ansible.cfg there: roles path and the example vault password file
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    recap = {
        m["host"]: (int(m["changed"]), int(m["failed"])) for m in RECAP.finditer(result.stdout)
    }
    return Run(result.returncode, result.stdout + result.stderr, recap, _read_trace(trace))


TASK_HOST = re.compile(r"^\w+: \[([^\]\s]+)", re.M)


def converged_hosts(stdout: str) -> set[str]:
    """Hosts with a task result in the converge play (after the rollout-order play)."""
    start = stdout.find("PLAY [Converge the switches")
    end = stdout.find("PLAY RECAP")
    return set(TASK_HOST.findall(stdout[start:end])) if start >= 0 else set()


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ansible")


def network(repo_root: Path, lab: Lab, work: Path, *extra: str) -> Run:
    runs = sorted(work.glob("trace-*.log"))
    return play(
        repo_root,
        lab,
        "network.yml",
        "-e",
        f"ios_baseline_output_dir={work / 'configs'}",
        "-e",
        f"netwarden_backup_repo={work / 'apply-backups'}",
        "-e",
        f"netwarden_confirm_timeout={CONFIRM_MINUTES}",
        *extra,
        trace=work / f"trace-{len(runs):02d}.log",
    )


@pytest.fixture(scope="module")
def checked(repo_root: Path, lab: Lab, work: Path) -> tuple[Run, dict[str, list[str]]]:
    before = {name: running_lines(lab.sim(name)) for name in LIMIT}
    return network(repo_root, lab, work, "--check", "--diff"), before


@pytest.fixture(scope="module")
def canary_failed(
    repo_root: Path, lab: Lab, work: Path, checked: object
) -> tuple[str, Run, dict[str, list[str]]]:
    del checked
    # The play runs hosts in netwarden's rollout order: a field office's access switch first.
    canary = rollout_order(lab.inventory, [lab.device(n) for n in LIMIT])[0].name
    assert canary == "nyc-acc-sw1"
    before = {name: running_lines(lab.sim(name)) for name in LIMIT}
    lab.fleet.set_fault(canary, refuse_login=True)
    try:
        run = network(repo_root, lab, work)
    finally:
        lab.fleet.clear_faults(canary)
    return canary, run, before


@pytest.fixture(scope="module")
def applied(repo_root: Path, lab: Lab, work: Path, canary_failed: object) -> Run:
    del canary_failed
    return network(repo_root, lab, work)


def test_check_diff_shows_every_diff_and_changes_nothing(
    lab: Lab, work: Path, checked: tuple[Run, dict[str, list[str]]]
) -> None:
    run, before = checked
    assert run.returncode == 0, run.stdout
    assert set(run.recap) == set(LIMIT), run.stdout
    assert all(changed >= 1 and failed == 0 for changed, failed in run.recap.values()), run.recap
    for name in LIMIT:
        assert f"--- {name} (running)\n+++ {name} (intended)\n" in run.stdout, name
        assert running_lines(lab.sim(name)) == before[name], name
        assert lab.sim(name).pending is None, name
        assert lab.sim(name).archive_count == 0, name
    assert "+aaa new-model" in run.stdout.splitlines()
    assert not (work / "configs").exists(), "check mode wrote the rendered configs"
    assert not (work / "apply-backups").exists(), "check mode took a backup"


def test_failed_canary_stops_the_play_and_says_why(
    lab: Lab, canary_failed: tuple[str, Run, dict[str, list[str]]]
) -> None:
    canary, run, before = canary_failed
    assert run.returncode != 0
    assert run.recap[canary][1] == 1, run.recap
    assert f"fatal: [{canary}]" in run.stdout
    assert "login" in run.stdout.lower() or "auth" in run.stdout.lower(), run.stdout[-3000:]
    assert converged_hosts(run.stdout) == {canary}, run.stdout  # the others never started
    for name in LIMIT:
        assert running_lines(lab.sim(name)) == before[name], name


def test_apply_converges_every_device(lab: Lab, work: Path, applied: Run) -> None:
    assert applied.returncode == 0, applied.stdout
    assert set(applied.recap) == set(LIMIT)
    assert all(failed == 0 for _c, failed in applied.recap.values()), applied.recap
    for name in LIMIT:
        assert state_of(lab, name) == "intended", name
        assert lab.sim(name).pending is None, name  # confirmed
    assert {p.stem for p in (work / "configs").glob("*.cfg")} == set(LIMIT)
    log = git(work / "apply-backups", "log", "--format=%B").stdout
    assert log.count("why: before apply: playbooks/network.yml") == len(LIMIT)


def test_second_apply_reports_changed_0(
    repo_root: Path, lab: Lab, work: Path, applied: Run
) -> None:
    del applied
    commits = git(work / "apply-backups", "rev-list", "--count", "HEAD").stdout
    run = network(repo_root, lab, work)
    assert run.returncode == 0, run.stdout
    assert run.recap == dict.fromkeys(LIMIT, (0, 0)), run.stdout
    # a converged device is not backed up again
    assert git(work / "apply-backups", "rev-list", "--count", "HEAD").stdout == commits


def test_backup_playbook_commits_sanitised_configs(
    repo_root: Path, lab: Lab, work: Path, applied: Run
) -> None:
    del applied
    repo = work / "backups"
    args = ("-e", f"netwarden_backup_repo={repo}", "-e", "netwarden_backup_message=nightly")
    check = play(repo_root, lab, "backup.yml", "--check", *args)
    assert check.returncode == 0, check.stdout
    assert check.recap == dict.fromkeys(LIMIT, (1, 0))
    assert not repo.exists()

    first = play(repo_root, lab, "backup.yml", *args)
    assert first.returncode == 0, first.stdout
    assert first.recap == dict.fromkeys(LIMIT, (1, 0))
    log = git(repo, "log", "--format=%an|%B").stdout
    assert log.count("netwarden|backup: 1 new") == len(LIMIT)
    assert "why: nightly" in log
    for name in LIMIT:
        stored = (repo / f"{name}.cfg").read_text()
        assert f"hostname {name}" in stored
        assert "$9$" not in stored  # secrets removed

    second = play(repo_root, lab, "backup.yml", *args)
    assert second.recap == dict.fromkeys(LIMIT, (0, 0)), second.stdout


def test_check_on_a_converged_fleet_is_changed_0_and_drift_shows_only_there(
    repo_root: Path, lab: Lab, work: Path, applied: Run
) -> None:
    """--check reports changed only where apply would change the device (issue 11 point 9)."""
    del applied
    same = network(repo_root, lab, work, "--check", "--diff")
    assert same.returncode == 0, same.stdout
    assert same.recap == dict.fromkeys(LIMIT, (0, 0)), same.stdout

    # One run for both of these (each was a run of its own): a fresh output directory
    # (fresh clone, moved directory) is not a change - the devices that did not drift,
    # the canary among them (its batch's directory task is its own), report changed=0 -
    # and a manual change on one device is a change there only.
    fresh = work / "fresh-configs"
    drifted = "nyc-acc-sw2"
    lab.manual_change(drifted, ["ntp server 10.9.9.9"])
    try:
        run = network(
            repo_root, lab, work, "--check", "--diff", "-e", f"ios_baseline_output_dir={fresh}"
        )
    finally:
        lab.manual_change(drifted, ["no ntp server 10.9.9.9"])
    assert run.returncode == 0, run.stdout
    assert run.recap == {name: (int(name == drifted), 0) for name in LIMIT}, run.stdout
    assert not fresh.exists(), "check mode wrote the rendered configs"


def planned(run: Run) -> Counter[str]:
    """How many times the run planned each device."""
    return Counter(
        message.split(":", 1)[0] for _p, name, message in run.trace if name.endswith(".plan")
    )


def inventory_reads(run: Run) -> Counter[int]:
    """How many times each process of the run read the inventory (not from memory)."""
    return Counter(
        pid for pid, name, message in run.trace if name.endswith("_cache") and "loaded" in message
    )


def test_each_device_is_planned_once_and_each_process_reads_the_inventory_once(
    checked: tuple[Run, dict[str, list[str]]], applied: Run
) -> None:
    """Issue 12: --check plans each device once, and so does apply (it used to plan twice).

    Ansible forks a worker per task and host, so the inventory is read once per
    process: by each host's netwarden_config task and each lookup's task.
    """
    for run in (checked[0], applied):
        assert planned(run) == Counter(LIMIT), run.trace
        reads = inventory_reads(run)
        assert reads, run.trace
        assert set(reads.values()) == {1}, run.trace
