"""scrapli 2.x (``Cli`` with the ``cisco_iosxe`` definition), unmodified, against the simulator.

scrapli 2.x is a Python front end to libscrapli, a Zig-built shared library shipped
inside the wheel (x86_64 Linux here). It installs the same ``scrapli`` module as the
1.x line tested in test_scrapli.py, so it runs from its own test-only venv,
``.venv-scrapli2`` (requirements-scrapli2.txt; made by ``scripts/bootstrap.sh
--ansible-full``, which ``make pytest`` runs, or ``--scrapli2``, which the
``scrapli2_python`` fixture runs again, quick once done), as a subprocess script:
tests/data/sim/scrapli2/scrapli2_session.py. The simulator runs in this process, so
the device's state is checked here.

Both transports are tested: ``bin`` (OpenSSH, strict host key checking against the
lab's known_hosts) and ``ssh2`` (libssh2 inside libscrapli, which checks the
known_hosts file it is given). A wrong key fails the open on both (tested).

What the 1.x calls are in 2.x: ``send_command`` is ``send_input``, ``send_configs``
is ``send_inputs(requested_mode="configuration")``, ``acquire_priv`` is
``enter_mode``, ``send_interactive`` is ``send_prompted_input``.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from netwarden.lab.sim.device import SimDevice
from netwarden.lab.sim.fleet import Credentials, SimFleet
from netwarden.lab.sim.server import new_host_key
from netwarden.privatefile import write_private

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-scrapli2"
SCRIPT = REPO / "tests" / "data" / "sim" / "scrapli2" / "scrapli2_session.py"
TRANSPORTS = [
    pytest.param(
        "bin", marks=pytest.mark.skipif(shutil.which("ssh") is None, reason="no OpenSSH client")
    ),
    "ssh2",
]
# each transport changes its own port and file, so the two runs do not see each other's
TARGETS = {"bin": ("GigabitEthernet1/0/3", "flash:scrapli2-bin.cfg"),
           "ssh2": ("GigabitEthernet1/0/4", "flash:scrapli2-ssh2.cfg")}  # fmt: skip


@pytest.fixture(scope="session")
def scrapli2_python() -> Path:
    """``.venv-scrapli2/bin/python``, made by the bootstrap if missing (one installer at a time)."""
    with (Path(tempfile.gettempdir()) / "netwarden-scrapli2.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = subprocess.run(
            [str(REPO / "scripts" / "bootstrap.sh"), "--scrapli2"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    python = VENV / "bin" / "python"
    version = subprocess.run(
        [str(python), "-c", "import scrapli; print(scrapli.__semver_version__)"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert version.stdout.startswith("2."), version.stdout
    return python


def _run(
    python: Path,
    work: Path,
    device: SimDevice,
    credentials: Credentials,
    known_hosts: str,
    **params: str,
) -> dict[str, Any]:
    (work / "known_hosts").write_text(known_hosts, encoding="utf-8")
    settings = {
        "host": device.spec.address,
        "port": device.bound_port,
        "username": credentials.username,
        "password": credentials.password,
        "enable": credentials.enable_secret,
        "known_hosts": str(work / "known_hosts"),
        **params,
    }
    write_private(work / "params.json", json.dumps(settings))  # the lab's credentials
    result = subprocess.run(
        [str(python), str(SCRIPT), str(work / "params.json")],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return outcome


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_session_as_scrapli_2_drives_it(
    transport: str,
    scrapli2_python: Path,
    sim_fleet: SimFleet,
    sim_device: SimDevice,
    sim_credentials: Credentials,
    tmp_path: Path,
) -> None:
    port, file = TARGETS[transport]
    out = _run(
        scrapli2_python,
        tmp_path,
        sim_device,
        sim_credentials,
        sim_fleet.known_hosts(),
        scenario="session",
        transport=transport,
        interface=port,
        file=file,
    )
    host = sim_device.hostname
    assert out["open_prompt"] == f"{host}#"  # on_open: enable, terminal width and length
    assert not out["version"]["failed"]
    assert sim_device.spec.os_version in out["version"]["result"]
    assert out["privilege"] == "Current privilege level is 15"
    assert out["bogus"]["failed"]
    assert out["bogus"]["indicator"] == "% Invalid input detected"
    # send_inputs in configuration mode: the bad line fails the result, the next still lands
    configs = out["configs"]
    assert configs["failed"]
    assert configs["inputs"][2] == "frobnicate the port"
    assert "% Invalid input detected" in configs["results"][2]
    assert not any("%" in r for i, r in enumerate(configs["results"]) if i != 2)
    assert configs["prompt_after"] == f"{host}(config-if)#"
    node = sim_device.running.find(f"interface {port}")
    assert node is not None
    assert "description second" in [c.text for c in node.children]  # in the interface,
    assert sim_device.running.find("description second") is None  # not in global config
    # stop_on_indicated_failure (the default): nothing after the bad line is sent
    stopped = out["stopped"]
    assert stopped["failed"]
    assert stopped["inputs"] == [f"interface {port}", "frobnicate again"]
    assert stopped["prompt_after"] == f"{host}(config-if)#"
    assert "description never" not in [c.text for c in node.children]
    # enter_mode: out of configuration, down to exec, up again with enable and its secret
    assert out["priv_prompt"] == f"{host}#"
    assert out["exec_prompt"] == f"{host}>"
    assert out["enabled_prompt"] == f"{host}#"
    # send_prompted_input: the copy asks for the destination, the empty answer keeps it
    assert not out["prompted"]["failed"]
    assert "bytes copied" in out["prompted"]["result"]
    assert sim_device.read_file(file) == sim_device.running.render_body().encode()
    assert out["after_prompted"] == "Current privilege level is 15"
    assert out["closed"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_wrong_host_key_fails_the_open(
    transport: str,
    scrapli2_python: Path,
    sim_device: SimDevice,
    sim_credentials: Credentials,
    tmp_path: Path,
) -> None:
    other = new_host_key()
    where = f"[{sim_device.spec.address}]:{sim_device.bound_port}"
    for known_hosts in (f"{where} {other.get_name()} {other.get_base64()}\n", ""):
        out = _run(
            scrapli2_python,
            tmp_path,
            sim_device,
            sim_credentials,
            known_hosts,
            scenario="wrong_key",
            transport=transport,
        )
        assert out["opened"] is False, known_hosts
        assert out["error"] == "OperationException"
        assert "host key verification failed" in out["message"] or "known host" in out["message"]
