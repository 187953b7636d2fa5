"""Ansible's ``cisco.ios`` collection, unmodified, against the simulator over ``network_cli``.

``ansible-playbook`` runs from the test-only venv ``.venv-ansible-full`` (the full
``ansible`` package, pinned in requirements-ansible-full.txt; made by
``scripts/bootstrap.sh --ansible-full``, which ``make pytest`` runs and the
``ansible_full`` fixture runs again, quick once done). The playbooks are data files
in tests/data/sim/cisco_ios/.

Host keys are checked: ``network_cli`` over paramiko reads ``~/.ssh/known_hosts``
(and /etc/ssh/ssh_known_hosts) and nothing else, so each run gets a HOME of its
own whose ``.ssh/known_hosts`` is the lab fleet's, with ``host_key_checking``
on and ``host_key_auto_add`` off: an unknown or changed key fails the run (tested).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from netwarden.lab.sim import passwords
from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet, synthetic_fleet
from netwarden.lab.sim.server import new_host_key

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO / "tests" / "data" / "sim" / "cisco_ios"
VENV = REPO / ".venv-ansible-full"
RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unr>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.M,
)
ALICE_SECRET = "Al1ce-s3cret"
OPS_SECRET = "0ps-s3cret"


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    changed: int
    failed: int
    unreachable: int


@pytest.fixture(scope="session")
def ansible_full() -> Path:
    """``.venv-ansible-full/bin``, made by the bootstrap if missing (one installer at a time)."""
    with (Path(tempfile.gettempdir()) / "netwarden-ansible-full.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            [str(REPO / "scripts" / "bootstrap.sh"), "--ansible-full"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    return VENV / "bin"


@pytest.fixture(scope="module")
def credentials() -> Credentials:
    return Credentials.generate()


@pytest.fixture(scope="module")
def fleet(credentials: Credentials) -> Iterator[SimFleet]:
    started = synthetic_fleet(1, credentials, access_ports=4)
    with started:
        device = started.device("sim-sw001")
        # a second account at privilege 1: its tasks must go through `enable`
        errors = device.merge(f"username ops privilege 1 secret {OPS_SECRET}\n")
        assert errors == []
        yield started


@pytest.fixture(scope="module")
def device(fleet: SimFleet) -> SimDevice:
    return fleet.device("sim-sw001")


def _inventory(path: Path, device: SimDevice, user: str, password: str, enable: str) -> Path:
    host = {
        "ansible_host": device.spec.address,
        "ansible_port": device.bound_port,
        "ansible_user": user,
        "ansible_password": password,
        "ansible_connection": "ansible.netcommon.network_cli",
        "ansible_network_os": "cisco.ios.ios",
        "ansible_become": True,
        "ansible_become_method": "ansible.netcommon.enable",
        "ansible_become_password": enable,
    }
    path.write_text(yaml.safe_dump({"all": {"hosts": {device.spec.name: host}}}), "utf-8")
    return path


def play(
    bin_dir: Path,
    work: Path,
    inventory: Path,
    known_hosts: str,
    playbook: str,
    *extra: str,
) -> Run:
    """Run one playbook of tests/data/sim/cisco_ios with host keys checked against ``known_hosts``."""
    home = work / "home"
    (home / ".ssh").mkdir(parents=True, exist_ok=True)
    (home / ".ssh" / "known_hosts").write_text(known_hosts, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        {
            "HOME": str(home),
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(work / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_NOCOLOR": "1",
        }
    )
    (work / "ansible.cfg").write_text(
        "[defaults]\n"
        "host_key_checking = True\n"
        "deprecation_warnings = False\n"
        "[paramiko_connection]\n"
        "host_key_auto_add = False\n"
        "record_host_keys = False\n"
        "[persistent_connection]\n"
        "command_timeout = 60\n",
        encoding="utf-8",
    )
    # the persistent connection's socket: a short path (a Unix socket path has 108 bytes)
    control = tempfile.mkdtemp(prefix="nw-pc-")
    env["ANSIBLE_PERSISTENT_CONTROL_PATH_DIR"] = control
    try:
        result = subprocess.run(
            [
                str(bin_dir / "ansible-playbook"),
                "-i",
                str(inventory),
                str(PLAYBOOKS / playbook),
                "-e",
                f"netwarden_out={work}",
                "-e",
                f"netwarden_alice_secret={ALICE_SECRET}",
                "-e",
                "ansible_network_cli_ssh_type=paramiko",
                *extra,
            ],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    finally:
        shutil.rmtree(control, ignore_errors=True)
    output = result.stdout + result.stderr
    recap = RECAP.search(result.stdout)
    assert recap is not None, output[-4000:]
    return Run(
        result.returncode,
        output,
        int(recap["changed"]),
        int(recap["failed"]),
        int(recap["unr"]),
    )


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def admin_inventory(work: Path, device: SimDevice, credentials: Credentials) -> Path:
    return _inventory(
        work / "hosts.yml",
        device,
        credentials.username,
        credentials.password,
        credentials.enable_secret,
    )


def test_ios_facts_gathers_every_subset(
    ansible_full: Path, work: Path, admin_inventory: Path, fleet: SimFleet, device: SimDevice
) -> None:
    run = play(ansible_full, work, admin_inventory, fleet.known_hosts(), "facts.yml")
    assert (run.returncode, run.failed) == (0, 0), run.output[-4000:]
    facts = json.loads((work / "facts.json").read_text())
    assert facts["ansible_net_hostname"] == device.hostname
    assert facts["ansible_net_version"] == device.spec.os_version
    assert facts["ansible_net_serialnum"] == device.spec.serial
    assert facts["ansible_net_model"]
    assert facts["ansible_net_config"].rstrip().endswith("end")
    assert "GigabitEthernet1/0/1" in facts["ansible_net_interfaces"]
    assert facts["ansible_net_memtotal_mb"] > 0
    assert set(facts["ansible_net_gather_subset"]) >= {"hardware", "config", "interfaces"}


def test_ios_command_runs_and_waits_for(
    ansible_full: Path, work: Path, admin_inventory: Path, fleet: SimFleet, device: SimDevice
) -> None:
    run = play(ansible_full, work, admin_inventory, fleet.known_hosts(), "command.yml")
    assert (run.returncode, run.failed) == (0, 0), run.output[-4000:]
    outputs = json.loads((work / "command.json").read_text())
    assert outputs[1] == "Current privilege level is 15"
    assert outputs[2] == f"hostname {device.hostname}"
    assert outputs[3].startswith("line vty 0 4")


def test_enable_from_privilege_1(
    ansible_full: Path, work: Path, fleet: SimFleet, device: SimDevice, credentials: Credentials
) -> None:
    """A privilege-1 account: the terminal plugin sends enable, answers Password:, checks 15."""
    inventory = _inventory(work / "ops.yml", device, "ops", OPS_SECRET, credentials.enable_secret)
    run = play(ansible_full, work, inventory, fleet.known_hosts(), "command.yml")
    assert (run.returncode, run.failed) == (0, 0), run.output[-4000:]
    assert json.loads((work / "command.json").read_text())[1] == "Current privilege level is 15"


def test_host_keys_are_checked(
    ansible_full: Path, work: Path, admin_inventory: Path, device: SimDevice
) -> None:
    """An unknown host key, then a changed one: no task runs."""
    unknown = play(ansible_full, work, admin_inventory, "", "command.yml")
    assert unknown.returncode != 0
    assert unknown.unreachable + unknown.failed == 1
    other = new_host_key()
    wrong = f"[{device.spec.address}]:{device.bound_port} {other.get_name()} {other.get_base64()}\n"
    changed = play(ansible_full, work, admin_inventory, wrong, "command.yml")
    assert changed.returncode != 0
    assert "host key mismatch" in changed.output


def test_ios_config_check_apply_rerun(
    ansible_full: Path, work: Path, admin_inventory: Path, fleet: SimFleet, device: SimDevice
) -> None:
    known = fleet.known_hosts()
    before = device.render_running()
    checked = play(
        ansible_full, work, admin_inventory, known, "config.yml", "--check", "--diff", "-v"
    )
    assert (checked.returncode, checked.failed) == (0, 0), checked.output[-4000:]
    assert checked.changed == 4
    assert "description managed by ansible" in checked.output  # the task's "updates"
    assert device.render_running() == before  # --check changes nothing

    applied = play(ansible_full, work, admin_inventory, known, "config.yml", "--diff")
    assert (applied.returncode, applied.failed, applied.changed) == (0, 0, 4), applied.output[
        -4000:
    ]
    port = device.running.find("interface GigabitEthernet1/0/2")
    assert port is not None
    assert {"description managed by ansible", "switchport access vlan 20"} <= {
        c.text for c in port.children
    }
    assert device.running.find("ntp server 192.0.2.123") is not None
    users = device.running.top_starting("username alice")
    assert len(users) == 1
    words = users[0].words()
    assert words[:6] == ["username", "alice", "privilege", "15", "secret", "9"]
    assert passwords.verify(" ".join(words[5:]), ALICE_SECRET)
    banner = device.running.top_starting("banner motd")
    assert "Authorised access only? Yes" in banner[0].text

    rerun = play(ansible_full, work, admin_inventory, known, "config.yml", "--diff")
    assert (rerun.returncode, rerun.failed, rerun.changed) == (0, 0, 0), rerun.output[-4000:]


def test_resource_modules_merge_idempotently_and_gather(
    ansible_full: Path, work: Path, admin_inventory: Path, fleet: SimFleet, device: SimDevice
) -> None:
    known = fleet.known_hosts()
    first = play(ansible_full, work, admin_inventory, known, "resources.yml")
    assert (first.returncode, first.failed, first.changed) == (0, 0, 3), first.output[-4000:]
    port = device.running.find("interface GigabitEthernet1/0/3")
    assert port is not None
    assert {"description printer port", "switchport access vlan 30"} <= {
        c.text for c in port.children
    }
    again = play(ansible_full, work, admin_inventory, known, "resources.yml")
    assert (again.returncode, again.failed, again.changed) == (0, 0, 0), again.output[-4000:]
    gathered = json.loads((work / "resources.json").read_text())
    assert {"vlan_id": 30, "name": "voice"}.items() <= next(
        v for v in gathered["vlans"] if v["vlan_id"] == 30
    ).items()
    l2 = next(i for i in gathered["l2"] if i["name"] == "GigabitEthernet1/0/3")
    assert l2["access"] == {"vlan": 30}


def test_ios_facts_gathers_every_network_resource(
    ansible_full: Path, work: Path, admin_inventory: Path, fleet: SimFleet, device: SimDevice
) -> None:
    """``gather_network_resources: all`` runs every resource's show commands (snmp user, vrf...)."""
    run = play(ansible_full, work, admin_inventory, fleet.known_hosts(), "network_resources.yml")
    assert (run.returncode, run.failed) == (0, 0), run.output[-4000:]
    resources = json.loads((work / "network_resources.json").read_text())
    assert {"interfaces", "l2_interfaces", "vlans", "snmp_server", "static_routes"} <= set(
        resources
    )
    names = {i["name"] for i in resources["interfaces"]}
    assert "GigabitEthernet1/0/1" in names
    assert {v["vlan_id"] for v in resources["vlans"]} >= {vlan for vlan, _ in device.spec.vlans}
    assert resources["hostname"]["hostname"] == device.hostname
