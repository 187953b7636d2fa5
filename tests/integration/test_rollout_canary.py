"""`netwarden apply --canary 1` and playbooks/network.yml pick the same canary (issue 11 point 10).

Every simulated switch refuses logins, so each run stops after its canary and no
device changes: the CLI's report names its canary wave, the playbook's recap holds
only its first batch. Run for the example inventory and a generated one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from netwarden.inventory.generate import generate
from tests.integration.labfleet import Lab, start_lab
from tests.integration.test_ansible_network import converged_hosts, play

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(params=["example", "generated"])
def refusing_lab(
    request: pytest.FixtureRequest, example_inventory: Path, tmp_path: Path
) -> Iterator[Lab]:
    source = example_inventory
    if request.param == "generated":
        source = tmp_path / "generated"
        generate(source, 2)
    with start_lab(source, tmp_path / "lab") as lab:
        for device in lab.devices:
            lab.fleet.set_fault(device.name, refuse_login=True)
        yield lab


def test_cli_and_playbook_canary_is_the_same_field_access_switch(
    repo_root: Path, refusing_lab: Lab, tmp_path: Path
) -> None:
    lab = refusing_lab
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "netwarden.cli",
            "apply",
            "-i",
            str(lab.path),
            "--vault-password-file",
            str(lab.path / ".vault-password"),
            "--yes",
            "--canary",
            "1",
            "--json",
            "--repo",
            str(tmp_path / "backups"),
            "--result-file",
            str(tmp_path / "apply.json"),
            "--timeout",
            "10",
        ],
        cwd=repo_root,
        env={**os.environ},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert cli.returncode == 1, cli.stdout + cli.stderr
    (cli_canary,) = json.loads(cli.stdout)["canary"]

    names = tuple(d.name for d in lab.devices)
    run = play(
        repo_root,
        lab,
        "network.yml",
        "-e",
        f"ios_baseline_output_dir={tmp_path / 'configs'}",
        "-e",
        f"netwarden_backup_repo={tmp_path / 'play-backups'}",
        "-e",
        "netwarden_timeout=10",
        limit=names,
    )
    assert run.returncode != 0
    assert converged_hosts(run.stdout) == {cli_canary}, run.stdout[-3000:]  # first batch, alone
    assert run.recap[cli_canary][1] == 1, run.recap

    device = lab.device(cli_canary)
    assert device.role == "access"
    assert device.site != lab.inventory.hq().name
