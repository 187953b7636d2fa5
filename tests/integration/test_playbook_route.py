"""The playbook route (netwarden.config.playbook_route) with the real ansible-playbook.

A server of the example inventory is planned and applied by a small playbook of the
test's own (``connection: local``, files in the test's directory) run through the
route exactly as ``netwarden plan``/``apply`` run ``playbooks/servers.yml``: the
``netwarden_results`` callback (the project's, copied beside the playbook) reports
the host's task results, from which the route builds the results the other kinds
use: ``--check --diff`` changes nothing and shows the diff, apply is ``changed``
then ``unchanged``, a failing task is ``failed`` with its name and message, and a
``no_log`` task's text never reaches a result.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from netwarden.config.apply import ApplyOptions, apply_fleet
from netwarden.config.models import ApplyStatus
from netwarden.config.playbook_route import (
    PlaybookOptions,
    apply_by_playbook,
    plan_by_playbook,
    playbook_for,
)
from netwarden.devices import SessionOptions
from netwarden.inventory import load_inventory
from netwarden.inventory.models import Device

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

pytestmark = pytest.mark.skipif(
    not ANSIBLE_PLAYBOOK.exists(), reason="needs ansible-playbook beside this Python"
)

PLAY = """\
- name: Converge the test server
  hosts: all
  connection: local
  gather_facts: false
  tasks:
    - name: Write the managed file
      ansible.builtin.copy:
        dest: "{{ target }}"
        content: "PermitRootLogin no\\n"
        mode: "0600"
    - name: A secret task
      ansible.builtin.debug:
        msg: "the secret is hunter2"
      no_log: true
    - name: Fail when asked
      ansible.builtin.fail:
        msg: "the baseline refused: {{ target }}"
      when: fail | default(false) | bool
"""


@pytest.fixture
def server() -> Device:
    device = load_inventory(REPO / "inventory").devices["nyc-srv1"]
    assert playbook_for(device) == "servers.yml"
    return device


def _options(tmp_path: Path, server: Device, **extra: str) -> tuple[PlaybookOptions, Path]:
    playbooks = tmp_path / "playbooks"
    shutil.copytree(REPO / "playbooks" / "callback_plugins", playbooks / "callback_plugins")
    (playbooks / "servers.yml").write_text(PLAY)
    target = tmp_path / "sshd_config"
    target.write_text("PermitRootLogin yes\n")
    variables = " ".join(f"{k}={v}" for k, v in {"target": str(target), **extra}.items())
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"{server.name} ansible_python_interpreter={sys.executable} {variables}\n")
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    options = PlaybookOptions(
        inventory=inventory, known_hosts=known_hosts, playbooks_dir=playbooks, timeout=300
    )
    return options, target


def test_plan_then_apply_then_unchanged(tmp_path: Path, server: Device) -> None:
    options, target = _options(tmp_path, server)
    plan = plan_by_playbook(server, "servers.yml", options)
    assert plan.error is None
    assert plan.changed
    assert plan.commands == ("servers.yml: Write the managed file",)
    assert "-PermitRootLogin yes" in plan.device_diff
    assert "+PermitRootLogin no" in plan.device_diff
    assert target.read_text() == "PermitRootLogin yes\n"  # check mode changed nothing

    applied = apply_by_playbook(server, "servers.yml", options, wave=2)
    assert applied.status is ApplyStatus.CHANGED, applied
    assert applied.wave == 2
    assert target.read_text() == "PermitRootLogin no\n"
    assert "hunter2" not in applied.model_dump_json()

    again = apply_by_playbook(server, "servers.yml", options)
    assert again.status is ApplyStatus.UNCHANGED, again
    assert not plan_by_playbook(server, "servers.yml", options).changed


def test_a_failing_task_is_failed_with_its_message(tmp_path: Path, server: Device) -> None:
    options, target = _options(tmp_path, server, fail="true")
    result = apply_by_playbook(server, "servers.yml", options)
    assert result.status is ApplyStatus.FAILED
    assert "task 'Fail when asked' failed: the baseline refused: " in result.reason
    assert str(target) in result.reason
    assert "changed before the failure: 1 task(s)" in result.reason
    assert "hunter2" not in result.model_dump_json()
    plan = plan_by_playbook(server, "servers.yml", options)
    assert plan.error is not None
    assert "Fail when asked" in plan.error


def test_no_ansible_playbook_is_a_failure_not_a_crash(tmp_path: Path, server: Device) -> None:
    options, _ = _options(tmp_path, server)
    missing = PlaybookOptions(
        inventory=options.inventory,
        known_hosts=options.known_hosts,
        playbooks_dir=options.playbooks_dir,
        ansible_playbook=tmp_path / "no-such-ansible-playbook",
    )
    result = apply_by_playbook(server, "servers.yml", missing)
    assert result.status is ApplyStatus.FAILED
    assert "expected ansible-playbook in netwarden's venv" in result.reason


def test_a_failed_wave_skips_the_hq_firewall_wave(tmp_path: Path, server: Device) -> None:
    """apply_fleet: the server's playbook fails in wave 1; HQ's firewall (alone, last) is skipped."""
    inv = load_inventory(REPO / "inventory")
    options, _ = _options(tmp_path, server, fail="true")
    hq_fw = inv.devices["jed-fw1"]
    report = apply_fleet(
        str(REPO / "inventory"),
        [server, hq_fw],
        {},  # neither needs a rendered config here: the firewall is never reached
        SessionOptions(known_hosts=options.known_hosts),
        ApplyOptions(alone_last=frozenset({"jed-fw1"})),
        user="test",
        lock_dir=tmp_path / "locks",
        playbooks=options,
    )
    by_device = {r.device: r for r in report.results}
    assert by_device[server.name].status is ApplyStatus.FAILED
    assert by_device[server.name].wave == 1
    skipped = by_device["jed-fw1"]
    assert skipped.status is ApplyStatus.SKIPPED
    assert skipped.wave == 2
    assert skipped.reason == f"wave 1 failed ({server.name}); the run stopped before this device"
