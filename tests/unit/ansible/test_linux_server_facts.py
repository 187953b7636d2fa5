"""roles/linux_server: the service manager the role picks, and the handlers for each.

Lab servers have no systemd, so the role's systemd path (handlers through
``ansible.builtin.service``, units stopped with ``systemd_service``) never runs in
the lab; what decides it is this module's answer, tested here on temporary roots
laid out as a systemd server, a namespace lab server, both, and neither
(decision 66: systemd when ``/run/systemd/system`` exists, ``netwarden-lab`` when
the holder's ``/usr/local/sbin/netwarden-lab-unit`` exists, else ``none``). The
handlers file is read as data: for each change topic, the handler used outside the
lab goes through ``ansible.builtin.service`` with Debian's unit name, and the lab's
through the holder's unit control, each under the opposite condition (which one
runs is tested on a lab server in check mode, tests/lab/test_linux_server_role.py).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[3] / "roles/linux_server"
MODULE = ROLE / "library/linux_server_facts.py"
NOT_LAB = "linux_server_facts.service_manager != 'netwarden-lab'"
LAB = "linux_server_facts.service_manager == 'netwarden-lab'"


@pytest.fixture(scope="module")
def facts() -> ModuleType:
    spec = importlib.util.spec_from_file_location("linux_server_facts", MODULE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _systemd(root: Path) -> None:
    (root / "run/systemd/system").mkdir(parents=True)


def _lab_holder(root: Path) -> None:
    script = root / "usr/local/sbin/netwarden-lab-unit"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ((_systemd,), "systemd"),
        ((_lab_holder,), "netwarden-lab"),
        ((_systemd, _lab_holder), "systemd"),  # a real server that has the script too
        ((), "none"),
    ],
    ids=["systemd", "lab-holder", "both", "neither"],
)
def test_the_service_manager_follows_the_server_tree(
    facts: ModuleType, tmp_path: Path, layout: tuple[Callable[[Path], None], ...], expected: str
) -> None:
    for make in layout:
        make(tmp_path)
    assert facts._service_manager(tmp_path) == expected


def test_a_file_named_like_systemd_run_dir_is_not_systemd(
    facts: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "run/systemd").mkdir(parents=True)
    (tmp_path / "run/systemd/system").write_text("")  # sd_booted wants a directory
    assert facts._service_manager(tmp_path) == "none"


def test_the_default_root_is_the_running_system(facts: ModuleType) -> None:
    expected = "systemd" if Path("/run/systemd/system").is_dir() else None
    got = facts._service_manager()
    assert got in ("systemd", "netwarden-lab", "none")
    if expected:
        assert got == expected


@pytest.mark.parametrize(
    ("topic", "unit", "state"),
    [
        ("linux_server sshd changed", "ssh", "reloaded"),
        ("linux_server chrony changed", "chrony", "restarted"),
        ("linux_server rsyslog changed", "rsyslog", "restarted"),
    ],
)
def test_each_change_has_a_service_handler_and_a_lab_handler(
    topic: str, unit: str, state: str
) -> None:
    handlers = yaml.safe_load((ROLE / "handlers/main.yml").read_text(encoding="utf-8"))
    mine = [h for h in handlers if h.get("listen") == topic]
    assert len(mine) == 2, mine

    def conditions(handler: dict[str, object]) -> list[object]:
        when = handler.get("when", [])
        return when if isinstance(when, list) else [when]

    service = [h for h in mine if NOT_LAB in conditions(h)]
    lab = [h for h in mine if LAB in conditions(h)]
    assert len(service) == 1, mine
    assert len(lab) == 1, mine
    assert service[0]["ansible.builtin.service"] == {"name": unit, "state": state}
    assert lab[0]["linux_server_lab_unit"] == {"name": unit, "state": "restarted"}
