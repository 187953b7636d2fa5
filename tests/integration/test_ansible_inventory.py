"""Ansible's own CLI reads the inventory (vault included) and shows sites and function groups."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE_INVENTORY = Path(sys.executable).parent / "ansible-inventory"


def _run(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    result = subprocess.run(
        [str(ANSIBLE_INVENTORY), "-i", "inventory", *args],
        cwd=repo,  # ansible.cfg there names the example vault password file
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.integration
def test_list_decrypts_and_groups(repo_root: Path) -> None:
    data = json.loads(_run(repo_root, "--list"))
    for group in (
        "hq",
        "field_offices",
        "switches",
        "firewalls",
        "servers",
        "sensors",
        "site_jed",
        "site_kbl",
    ):
        assert group in data, group
    assert "site_jed" in data["hq"]["children"]
    assert {"site_nyc", "site_gva", "site_bru", "site_kbl"} <= set(
        data["field_offices"]["children"]
    )
    assert "jed-core-sw1" in data["switches"]["hosts"]
    hostvars = data["_meta"]["hostvars"]["kbl-acc-sw1"]
    assert hostvars["site"]["name"] == "kbl"
    assert hostvars["platform"] == "ios"


@pytest.mark.integration
def test_host_gets_decrypted_vault_secret(repo_root: Path) -> None:
    data = json.loads(_run(repo_root, "--host", "jed-core-sw1"))
    secret = data["vault_tacacs_key"]
    assert isinstance(secret, str)
    assert "$ANSIBLE_VAULT" not in secret
    assert len(secret) >= 16


@pytest.mark.integration
def test_graph_shows_sites_and_functions(repo_root: Path) -> None:
    graph = _run(repo_root, "--graph")
    for needle in (
        "@hq:",
        "@field_offices:",
        "@site_jed:",
        "@site_kbl:",
        "@switches:",
        "@sensors:",
        "kbl-fw1",
    ):
        assert needle in graph, needle
