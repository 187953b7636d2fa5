"""The Ansible route plans a device once: the session that plans it is the one that commits.

``apply_host`` (what the ``netwarden_config`` action plugin calls) used to plan a
device, back it up on a session of its own, then open a third session that
planned it again before committing. Now one session plans, the backup records
the running config that plan read, and the commit is made on the same session
after the same checks: the post-checks' new session is the only other one.
The safety check between plan and commit still re-reads the running config: a
change made on the device after the plan is never overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from netwarden.config import ansible_api
from netwarden.config.ansible_api import apply_host, load_host
from netwarden.config.apply import ApplyOptions
from netwarden.config.backup import git, last_backup, record_backup, stored_form
from netwarden.config.models import ApplyStatus, BackupReport
from netwarden.lab.sim.showmodel import LogEntry
from tests.integration.labfleet import CONFIRM_MINUTES, Lab, running, start_lab, state_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPTIONS = ApplyOptions(confirm_timeout_minutes=CONFIRM_MINUTES)
LOGIN = "SEC_LOGIN-5-LOGIN_SUCCESS"


@pytest.fixture(scope="module")
def lab(example_inventory: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with start_lab(example_inventory, tmp_path_factory.mktemp("lab") / "inventory") as lab:
        yield lab


def new_logins(lab: Lab, name: str, before: list[LogEntry]) -> int:
    seen = {id(entry) for entry in before}
    log = list(lab.sim(name).log)
    return sum(1 for e in log if id(e) not in seen and e.facility_mnemonic == LOGIN)


def plans(caplog: pytest.LogCaptureFixture, name: str) -> int:
    return sum(
        1
        for r in caplog.records
        if r.name == "netwarden.config.plan" and r.getMessage().startswith(f"{name}: planned")
    )


def test_a_changed_host_is_planned_once_on_the_session_that_commits(
    lab: Lab, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name = "gva-acc-sw1"
    repo = tmp_path / "backups"
    host = load_host(lab.path, name, known_hosts=lab.known_hosts)
    before_run = running(lab.sim(name))
    log = list(lab.sim(name).log)
    with caplog.at_level(logging.DEBUG, logger="netwarden.config.plan"):
        done = apply_host(host, OPTIONS, backup_repo=repo, user="bob", message="ntp")
    assert done.result.status is ApplyStatus.CHANGED, done.result.reason
    assert plans(caplog, name) == 1
    # the session that plans, commits and confirms (and its SCP copy of the candidate), and
    # the post-checks' new session; it was 6 (a plan, a backup, then an apply that planned again)
    assert new_logins(lab, name, log) == 3
    assert done.backup is not None
    assert done.backup_commit is not None
    assert state_of(lab, name) == "intended"
    # the backup is the running config the plan was made from, as a session of its own read it
    shown = git(repo, "show", f"{done.backup_commit}:{name}.cfg").stdout
    assert shown == stored_form(before_run)

    caplog.clear()
    log = list(lab.sim(name).log)
    with caplog.at_level(logging.DEBUG, logger="netwarden.config.plan"):
        again = apply_host(host, OPTIONS, backup_repo=repo, user="bob")
    assert again.result.status is ApplyStatus.UNCHANGED
    assert plans(caplog, name) == 1
    assert new_logins(lab, name, log) == 2  # one session and its SCP copy, as before
    assert last_backup(repo, name) == stored_form(running(lab.sim(name)))


def test_a_change_made_after_the_plan_is_never_overwritten(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone configures the device while the backup is taken: the commit does not go ahead."""
    name = "nyc-acc-sw2"

    def backup_meanwhile(
        repo: Path, configs: Mapping[str, str], *, user: str, message: str = ""
    ) -> BackupReport:
        lab.manual_change(name, ["logging buffered 32000 informational"])
        return record_backup(repo, configs, user=user, message=message)

    monkeypatch.setattr(ansible_api, "record_backup", backup_meanwhile)
    host = load_host(lab.path, name, known_hosts=lab.known_hosts)
    try:
        done = apply_host(host, OPTIONS, backup_repo=tmp_path / "backups", user="bob")
        assert done.result.status is ApplyStatus.FAILED, done.result.reason
        assert "the running config changed since it was planned" in done.result.reason
        assert "nothing committed by this run" in done.result.reason
        assert lab.sim(name).pending is None
        assert lab.sim(name).archive_count == 0
        assert "logging buffered 32000 informational" in running(lab.sim(name))
    finally:
        lab.manual_change(name, ["no logging buffered 32000 informational"])
